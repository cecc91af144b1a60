"""Search that knows names: `ledger search`, `entity show NAME`, `incidents --text`, on both backends.

The story (ledger/story.jsonl): entity han-tae-song "Han Tae-song" (alias "Han Tae Song"), and
h-t-song "Han Thae Song" merged into it; cases han-ivory and han-zimbabwe-1992 whose titles name
him; the expulsion whose reason is "Accused of trafficking rhino horn"; chiba-police "Chiba
Prefectural Police", the authority of the Chiba raid, seizure and questioning.
"""

from __future__ import annotations

import random
import string

import pytest

from projections import terms

SPELLINGS = ["han tae song", "Han Thae-song", "HAN TAE SONG", "han thae-song", "Hán  Taé-Sòng", "han,tae;song",
             "Han T'ae-song"]


def incident_id(run, key: str) -> str:
    return next(i["id"] for i in run.json("timeline", "--include-retracted") if i["key"] == key)


def found(run, *args: str) -> list[tuple[str, str]]:
    return [(hit["type"], hit["id"]) for hit in run.json("search", *args)]


# ---------------------------------------------------------------------- normalisation


def test_ascii_is_cut_into_words_as_rigour_tokenises_names():
    from rigour.names.tokenize import tokenize_name

    for c in map(chr, range(128)):
        text = f"Ab{c}cD 9{c}"
        assert terms.words(text) == tokenize_name(text.casefold()), repr(c)
    rnd = random.Random(7)
    for _ in range(2000):
        text = "".join(rnd.choice(string.printable) for _ in range(rnd.randrange(30)))
        assert terms.words(text) == tokenize_name(text.casefold()), repr(text)


def test_script_accents_case_and_punctuation_do_not_matter():
    assert terms.words("CHIBÁ Rhíno O'Brien U.N. Straße") == ["chiba", "rhino", "obrien", "un", "strasse"]
    assert terms.words("Ким Чен Ын") == ["kim", "chen", "yn"]
    assert terms.words("韓泰成") == ["han", "tai", "cheng"]  # what rigour leaves, ICU transliterates
    assert terms.sound("thae") == terms.sound("tae") == "t000" and terms.sound("sung") == terms.sound("song")
    assert terms.sound("t") is None and terms.sound("1718") is None
    assert terms.words("x" * 10_000 + " b") == ["x" * terms.LONGEST, "b"]


# ---------------------------------------------------------------------- search


@pytest.mark.parametrize("text", SPELLINGS)
def test_every_spelling_of_a_name_finds_the_person_first_and_the_cases_named_after_him(story, text):
    hits = story.json("search", text)
    assert (hits[0]["type"], hits[0]["id"], hits[0]["label"]) == ("entity", "han-tae-song", "Han Tae-song")
    assert {("case", "han-ivory"), ("case", "han-zimbabwe-1992")} <= {(h["type"], h["id"]) for h in hits}
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert all(set(h) == {"type", "id", "label", "field", "score"} for h in hits)


def test_a_duplicate_answers_as_the_entity_it_was_merged_into(story):
    assert story.json("search", "Han Thae Song", "--type", "entity") == [
        {"type": "entity", "id": "han-tae-song", "label": "Han Tae-song", "field": "merged_from", "score": 1.0}]
    assert story.json("search", "Han Tae-song", "--type", "entity")[0]["field"] == "name"
    # the probe names the duplicate, h-t-song: it is found under the survivor's name too
    probe = incident_id(story, "han-probe")
    hits = {h["id"]: h for h in story.json("search", "han tae song", "--type", "incident")}
    assert hits[probe]["field"] == "subject" and hits[probe]["label"] == "probe 2023-12"
    assert {incident_id(story, k) for k in ("han-recall", "han-expulsion", "han-probe")} == set(hits)


def test_accents_and_spacing_and_the_field_that_matched(story):
    assert story.json("search", "  Rhíno ") == [{"type": "incident", "id": incident_id(story, "han-expulsion"),
                                                  "label": "expulsion 1992", "field": "reason", "score": 0.6}]
    hits = story.json("search", "CHIBÁ   prefectural")
    assert (hits[0]["id"], hits[0]["field"]) == ("chiba-police", "name")
    assert sorted(found(story, "lexus", "--type", "source")) == [
        ("source", "asahi-2023-12-07"), ("source", "asahi-2023-12-08"), ("source", "newsonjapan-2023-12-09")]
    assert found(story, "smug", "--type", "case") == [("case", "han-ivory")]  # the start of a word
    assert found(story, "sm", "--type", "case") == []  # too short to be a start
    assert found(story, "nobody at all") == []


def test_types_limit_and_offset(story):
    everything = found(story, "chiba")
    assert {t for t, _ in everything} == {"entity", "case", "source", "incident"}
    only = found(story, "chiba", "--type", "case", "--type", "source")
    assert only == [hit for hit in everything if hit[0] in ("case", "source")]
    assert found(story, "chiba", "--limit", "2", "--offset", "1") == everything[1:3]
    bad = story("search", "chiba", "--type", "ship", code=2)
    assert "ship" in bad.stderr
    assert "no words" in story("search", "--", "-- !", code=2).stderr


def test_the_table_for_people(story):
    out = story("search", "han thae-song").stdout
    assert out.splitlines()[0].split() == ["type", "id", "score", "field", "label"]
    assert "han-tae-song" in out and "merged_from" in out
    assert story("search", "rhino", "--format", "csv").stdout.splitlines()[0] == "type,id,score,field,label"


def test_retracted_incidents_are_left_out(story):
    raid = incident_id(story, "chiba-raid")
    assert ("incident", raid) in found(story, "showroom")
    story("retract", raid, "--reason", "wrong raid")
    assert found(story, "showroom") == []
    assert ("incident", raid) not in found(story, "chiba police")


def test_the_index_follows_aliases_amendments_and_new_records_and_replay_rebuilds_it(story):
    story("entity", "alias", "chiba-police", "Chiba-ken Keisatsu")
    story("amend", incident_id(story, "chiba-seizure"), "--reason", "retold", "--set", "note=Sedan held at Chiba port")
    story("record", "questioning", "chiba-lexus", "--on", "2024-01", "--source", "asahi-2023-12-07",
          "--subject", "dealer-owners", "--note", "Ōsaka branch visited")
    seizure = incident_id(story, "chiba-seizure")
    assert found(story, "keisatsu")[0] == ("entity", "chiba-police")
    assert len(found(story, "keisatsu", "--type", "incident")) == 3  # its raid, seizure and questioning
    assert ("incident", seizure) in found(story, "sedan held")
    assert found(story, "bangladesh", "--type", "incident") == []  # the old note's words are gone
    assert [h["label"] for h in story.json("search", "osaka")] == ["questioning 2024-01"]
    queries = ["han thae-song", "chiba", "keisatsu", "sedan", "osaka", "rhino", "lexus bound"]
    before = {q: story.json("search", q) for q in queries}
    story("replay")
    assert {q: story.json("search", q) for q in queries} == before
    assert story.json("verify", "--deep")["ok"]


def test_source_amend_retitles_the_source_in_the_index(story):
    if "amend" not in story("source", "--help").stdout:
        pytest.skip("source amend is not there yet")
    story("source", "amend", "asahi-2023-12-08", "--reason", "retitled", "--set", "title=Sedan worth ten million yen")
    assert found(story, "sedan worth") == [("source", "asahi-2023-12-08")]
    assert ("source", "asahi-2023-12-08") not in found(story, "lexus worth")
    story("replay")
    assert found(story, "sedan worth") == [("source", "asahi-2023-12-08")]


def test_the_python_api_searches_too(story):
    from ledger.api import Ledger

    with Ledger(story.db) as ledger:
        assert ledger.search("han thae-song", "case") == story.json("search", "han thae-song", "--type", "case")
        assert [h["id"] for h in ledger.search("chiba", ["entity"], limit=1)] == ["chiba-police"]


def test_the_command_knows_the_types_the_query_knows():
    from commands.search import TYPES
    from projections import search

    assert TYPES == search.TYPES


# ---------------------------------------------------------------------- entity show NAME


def test_entity_show_takes_a_name_or_alias_that_names_one_entity(story):
    by_id = story.json("entity", "show", "han-tae-song")
    assert story.json("entity", "show", "Han Tae Song") == by_id  # its alias
    assert story.json("entity", "show", "han tae-song") == by_id  # its name, spelled otherwise
    assert story.json("entity", "show", "Han Thae Song") == by_id  # a merged duplicate's name
    assert story.json("entity", "show", "Chiba Prefectural Police")["id"] == "chiba-police"
    assert story.json("entity", "show", "chiba-police")["id"] == "chiba-police"
    assert story("entity", "show", "Chiba Police Department", code=1).stderr == (
        "Error: no entity Chiba Police Department\n")


def test_a_name_of_several_entities_is_refused_with_the_candidates(story):
    story("entity", "add", "kim-1", "--kind", "person", "--name", "Kim Chol")
    story("entity", "add", "kim-2", "--kind", "person", "--name", "Kim Chŏl", "--alias", "Kim Chol-su")
    refused = story("entity", "show", "kim chol", code=1)
    assert refused.stderr == ("Error: 'kim chol' names 2 entities: kim-1 (Kim Chol), kim-2 (Kim Chŏl); "
                              "give one of their ids\n")
    assert story.json("entity", "show", "Kim Chol-su")["id"] == "kim-2"
    assert story.json("entity", "show", "kim-1")["id"] == "kim-1"  # an id first


# ---------------------------------------------------------------------- incidents --text


def test_incidents_text_is_blind_to_case_and_accents_and_reads_the_names_in_roles(story):
    if "--text" not in story("incidents", "--help").stdout:
        pytest.skip("incidents --text is not there yet")
    keys = {i["id"]: i["key"] for i in story.json("timeline", "--include-retracted")}

    def text(words: str) -> set[str]:
        return {keys[i["id"]] for i in story.json("incidents", "--text", words)}

    # the raid and the seizure by their place, the questioning by its authority's name
    assert text("CHIBÁ") == {"chiba-raid", "chiba-seizure", "chiba-questioning"}
    assert text("Rhíno") == {"han-expulsion"}
    # the probe names h-t-song, merged into han-tae-song: every name of either finds it
    assert text("thae song") == text("Han Tae-song") == {"han-recall", "han-expulsion", "han-probe"}
    assert text("chiba rhino") == set()  # every word, in one field or one entity's names
    assert text("prefectural police") == {"chiba-raid", "chiba-seizure", "chiba-questioning"}
