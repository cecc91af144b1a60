"""Search terms: text as the search index holds it and as a search asks for it.

Normalisation is FollowTheMoney's, from the libraries it brings, not folded by hand here:

- **Script and accents**: text not in ASCII is transliterated by rigour (`maybe_ascii`: Latin,
  Cyrillic, Greek, Armenian, Georgian and Hangul, with rigour's spellings: `Chibá` -> `Chiba`,
  `Straße` -> `Strasse`, `Ким` -> `Kim`, `한태성` -> `hantaeseong`), and what that leaves (Han,
  Arabic, ...) by normality's ICU transliteration (`rigour.text.translit.ascii_text`, the same
  two steps; ICU is imported only when such text comes).
- **Case and punctuation**: the ASCII text is cut into tokens by the rules of rigour's name
  tokeniser (`rigour.names.tokenize_name`), casefolded: letters and digits make tokens, `$ ' . ^`
  and the backtick are dropped inside them (`O'Brien` -> `obrien`, `U.N.` -> `un`, McCune-Reischauer's `T'ae` ->
  `tae`), anything else separates. On ASCII those rules are one byte table (`_FOLD`, `_DROPPED`),
  which a test checks against `tokenize_name` character by character: one C call per text, where
  calling the tokeniser itself would cost a replay 5% more.
- **Spelling variants of names** (romanisations of Korean above all: Tae/Thae, Song/Sung,
  Jong/Jeong, Choe/Choi, Pyongyang/Phyongyang): each word of a name or title also gets its
  Soundex key (rigour's `soundex`), which keeps the first letter and codes the consonants after
  it, so an aspirate's `h` or a vowel spelled otherwise does not count; two words sound alike
  (`alike`) when their keys are equal and their spellings differ by at most one edit in three
  letters (rigour's Levenshtein distance), which keeps Soundex's coarseness out (`smug` and
  `song` share S520, `the` and `tae` T000). Soundex, not Metaphone:
  Metaphone reads `th` as one sound (`thae` -> `0`, `tae` -> `T`), which is English spelling, not
  romanisation. What Soundex cannot bridge is a different first letter (Kim/Gim, Pak/Bak,
  Lee/Ri): such a spelling is best recorded as an alias. Only names and titles get sound keys:
  in free text (notes, reasons) they would match too many unrelated words (`tae`, `the` and
  `to` share T000).

rigour's Rust functions are imported from `rigour._core`, which `rigour.text.phonetics` and
`rigour.names.tokenize` wrap (with a cache each): importing `rigour.text` loads normality and ICU
(60-90 ms), more than a write's whole start-up, and every write's catch-up indexes what it wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from rigour._core import maybe_ascii, raw_levenshtein
from rigour._core import soundex as _soundex

# a word of more letters is kept as its first ones: PostgreSQL's tsvector takes words of at most
# 2047 bytes (a 10,000-character word is valid text), and nobody searches for more
LONGEST = 200
_LONG = re.compile(f"[a-z0-9]{{{LONGEST + 1},}}")
# ASCII as rigour.names.tokenize_name treats it: letters (casefolded) and digits kept, these
# dropped, anything else a separator (tests/test_search.py checks it against the tokeniser)
_DROPPED = b"$'.^`"
_FOLD = bytes(c + 32 if 65 <= c <= 90 else c if 48 <= c <= 57 or 97 <= c <= 122 else 32 for c in range(256))


def ascii_text(text: str) -> str:
    """Text in ASCII: as it is, or transliterated by rigour (and, for the scripts it leaves, by
    normality's ICU transliteration)."""
    if text.isascii():
        return text
    out = maybe_ascii(text)
    if not out.isascii():
        from rigour.text.translit import ascii_text as transliterated

        out = transliterated(out)
    return out


def _folded(text: str) -> str:
    """ASCII text, casefolded, with what separates words made spaces (runs of them); a word longer
    than `LONGEST` cut there."""
    out = (text if text.isascii() else ascii_text(text)).encode().translate(_FOLD, _DROPPED).decode()
    if len(out) > LONGEST and _LONG.search(out):
        out = _LONG.sub(lambda m: m.group(0)[:LONGEST], out)
    return out


def words(text: str | None) -> list[str]:
    """The words of a text: ASCII, casefolded, cut by rigour's name tokeniser's rules."""
    return _folded(text).split() if text else []


def words_text(texts: Iterable[str | None]) -> str:
    """The words of several texts as the index holds them: one string, words separated by spaces
    (runs of them where punctuation was: collapsing them would cost a replay 2.5%)."""
    return _folded(" ".join(filter(None, texts)))


@lru_cache(maxsize=65536)
def sound(word: str) -> str | None:
    """A word's Soundex key, lowercase (`thae` and `tae`: `t000`); None for a word of fewer than
    two letters or with a digit, which has none worth matching."""
    if len(word) < 2 or not word.isalpha():
        return None
    return _soundex(word).lower() or None


def sounds_text(texts: Iterable[str | None]) -> str:
    """The Soundex keys of the words of names or titles, as the index holds them."""
    keys = (sound(word) for text in texts for word in words(text))
    return " ".join(dict.fromkeys(key for key in keys if key))


def alike(word: str, other: str) -> bool:
    """Whether two words sound alike: the same Soundex key, and spellings at most one edit in three
    letters apart (`thae`/`tae`, `sung`/`song`, `jeong`/`jong`; not `smug`/`song`)."""
    key = sound(word)
    return (key is not None and key == sound(other)
            and raw_levenshtein(word, other) <= max(1, min(len(word), len(other)) // 3))
