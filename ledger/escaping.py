"""One escaping function per output format, so that stored text cannot act where it is written.

Every writer of a format calls the function of that format here, and nothing else:

- terminal: `terminal` (a line, or a table cell with `cell=True`): control and format characters
  are shown escaped (`\\x1b`, `\\u202e`), never written raw;
- HTML: Jinja2's autoescape, plus `safe_url`, which says whether a URL may be a link (http and
  https only) and `link`, which makes one or shows the URL as text;
- Markdown: `md` for text inside a line (a table cell, a heading, a list item's first line) and
  `md_block` for stored text that keeps its lines (each line escaped, hard breaks between them);
- CSV and TSV: `csv_cell` for one cell, `delimited` for a whole document.

Only the standard library at import time: `ledger --help` imports this module.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

# ---------------------------------------------------------------------- terminal

_SAFE_CATEGORIES = {"Zs"}  # spaces other than " " are not printable to Python, but harmless


_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escaped_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _needs_escape(ch: str) -> bool:
    return not ch.isprintable() and unicodedata.category(ch) not in _SAFE_CATEGORIES


def terminal(value: Any, cell: bool = False) -> str:
    """A stored value as text a terminal shows and does not obey.

    C0 and C1 control characters, DEL, bidirectional controls (U+202A-202E, U+2066-2069,
    U+200E/U+200F) and every other non-printable or format character come out escaped, as
    `\\x1b` or `\\u202e`. In a table cell (`cell=True`) a newline stays a line break within the
    cell and a tab becomes a space; on a line of its own they are escaped too.
    """
    text = "" if value is None else str(value)
    if text.isprintable():  # the common case, checked in C
        return text
    out = []
    for ch in text:
        if cell and ch == "\n":
            out.append(ch)
        elif cell and ch == "\t":
            out.append(" ")
        elif _needs_escape(ch):
            out.append(_escaped_char(ch))
        else:
            out.append(ch)
    return "".join(out)


def terminal_lines(value: Any) -> list[str]:
    """Stored multi-line text (a summary, a note) as escaped lines, its line breaks kept."""
    text = "" if value is None else str(value)
    return [terminal(line.replace("\t", " ")) for line in text.split("\n")]


# ---------------------------------------------------------------------- HTML

_URL_NOISE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def safe_url(value: Any) -> str | None:
    """The URL to put in an href, or None when it must not be a link.

    Browsers drop whitespace and control characters in a URL and read its scheme in any case, so
    they are dropped here first, and only an `http:` or `https:` URL with a host is linked.
    """
    if not value:
        return None
    url = _URL_NOISE.sub("", str(value))
    scheme = _SCHEME.match(url)
    if scheme is None or scheme.group(1).lower() not in ("http", "https"):
        return None
    if not url[scheme.end():].startswith("//") or len(url) <= scheme.end() + 2:
        return None
    return _URL_NOISE.sub("", str(value).strip().replace(" ", "%20"))


def link(value: Any) -> Any:
    """An HTML link to an http(s) URL, or the URL as escaped text: for Jinja2 (returns Markup)."""
    from markupsafe import Markup, escape

    if value is None:
        return Markup("")
    href = safe_url(value)
    if href is None:
        return escape(str(value))
    return Markup('<a href="{}" rel="noopener noreferrer nofollow">{}</a>').format(href, str(value))


# ---------------------------------------------------------------------- Markdown

_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")
# block markup at the start of a line, after the inline escapes: headings, quotes, list markers,
# thematic breaks, setext underlines, fences (already `\`` after the inline pass), tables, HTML
_MD_LINE_START = re.compile(r"^([#+\-=:]|\d{1,9}(?=[.)]))")


def _md_line(line: str) -> str:
    line = terminal(line.replace("\t", " "))  # a Markdown report is read in a terminal too: no raw controls
    line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    line = _MD_INLINE.sub(r"\\\1", line).strip()  # leading spaces would make a code block
    match = _MD_LINE_START.match(line)
    if match is None:
        return line
    if match.group(1)[0].isdigit():  # `1.` / `1)`: escape the dot or parenthesis
        end = match.end()
        return line[:end] + "\\" + line[end:]
    return "\\" + line


def md(value: Any) -> str:
    """Stored text for one place in a Markdown line: inline markup escaped, no markup at the
    start of any of its lines, no HTML (`<` `>` `&` as entities), its lines joined by spaces."""
    text = "" if value is None else str(value)
    return " ".join(filter(None, (_md_line(line) for line in text.splitlines())))


def md_block(value: Any, indent: str = "") -> str:
    """Stored multi-line text that keeps its lines: each escaped as `md` does, joined by Markdown
    hard breaks; `indent` keeps the continuation lines inside a list item."""
    text = "" if value is None else str(value)
    lines = [line for line in (_md_line(line) for line in text.splitlines()) if line]
    return ("\\\n" + indent).join(lines)


# ---------------------------------------------------------------------- CSV and TSV

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows and does not run: one that starts with `=`, `+`, `-`, `@`, a tab
    or a carriage return gets a `'` in front."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def delimited(rows: Iterable[dict[str, Any]], columns: Sequence[str], fmt: str = "csv") -> str:
    """A CSV (RFC 4180, quoted where needed) or TSV (one line per row, `\\t` `\\n` `\\r` `\\\\`
    escaped) document with a header line; every cell through `csv_cell`."""
    if fmt == "tsv":
        lines = ["\t".join(c.translate(_TSV_ESCAPES) for c in columns)]
        lines += ["\t".join(csv_cell(row.get(c)).translate(_TSV_ESCAPES) for c in columns) for row in rows]
        return "\n".join(lines) + "\n"
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([csv_cell(row.get(c)) for c in columns] for row in rows)
    return buffer.getvalue()
