"""One declaration per incident kind (ledger.domain.kinds), and the two kinds added by it alone:
an arrest and a designation, through every path a kind takes: the CLI, import, amend, the reads,
the exports, the report, replay and an export imported into a new ledger."""

from __future__ import annotations

import csv
import io
import json

import pytest

from ledger.app import inputs as m
from ledger.domain.kinds import (
    DETAILS,
    EVENT_CODES,
    KINDS,
    ROLES,
    Detail,
    Kind,
    Role,
    amendable_fields,
    columns_of,
    shown_details,
)
from ledger.errors import InvalidInput
from tests.conftest import Runner

ARREST = ("record", "arrest", "chiba-lexus", "--on", "2023-12-08", "--source", "asahi-2023-12-08",
          "--authority", "chiba-police", "--person", "dealer-owners", "--person", "h-t-song",
          "--charge", "Unlicensed export of a luxury car and false customs papers", "--key", "arrest-1")
DESIGNATION = ("record", "designation", "han-ivory", "--on", "2017-03", "--source", "scmp-2023-12-12",
               "--authority", "CH", "--subject", "han-tae-song", "--regime", "UNSCR 1718", "--entry", "KPi.900",
               "--key", "designation-1")


# ---------------------------------------------------------------------- the declaration, in memory


def test_every_kind_has_an_input_model_made_from_its_declaration():
    assert set(m.RECORDS) == set(KINDS) >= {"raid", "seizure", "questioning", "recall", "expulsion", "probe",
                                             "arrest", "designation"}
    for name, kind in KINDS.items():
        model = m.RECORDS[name]
        assert model.op == f"record.{name}" and model.kind == name and m.OPS[model.op] is model
        assert model.roles == {r.name: r.field for r in kind.roles}
        for role in kind.roles:
            assert model.model_fields[role.field].is_required() == role.required, (name, role.name)
        for detail in kind.details:
            assert model.model_fields[detail.name].is_required() == detail.required, (name, detail.name)
        own = set(model.model_fields) - set(m.Record.model_fields)
        assert own == {r.field for r in kind.roles} | {d.name for d in kind.details}, name


def test_the_new_kinds_carry_their_codes_in_both_ontologies():
    assert EVENT_CODES["arrest"] == {"cameo": "173", "plover": "COERCE", "plover_mode": "arrest"}
    assert EVENT_CODES["designation"] == {"cameo": "163", "plover": "SANCTION", "plover_mode": None}
    assert EVENT_CODES["expulsion"] == {"cameo": "174", "plover": "SANCTION", "plover_mode": "expel"}


def test_what_amend_takes_comes_from_the_kind():
    assert amendable_fields("arrest") == ["on", "place", "country", "note", "sources", "charge", "authority", "person"]
    assert amendable_fields("designation")[-4:] == ["regime", "entry", "authority", "subject"]
    assert amendable_fields("seizure")[5:7] == ["value", "currency"]


def test_details_and_roles_are_each_one_column():
    assert list(DETAILS) == ["value", "currency", "reason", "charge", "regime", "entry"]
    assert DETAILS["value"] == "amount" and DETAILS["currency"] == "currency" and DETAILS["regime"] == "text"
    assert ROLES.count("authority") == 1 and "person" in ROLES and "subject" in ROLES


def _arrest(**extra):
    data = {"case": "c", "on": "2023-12-08", "sources": ["s"], "authority": "police", "persons": ["a", "b"], **extra}
    return m.parse(m.RECORDS["arrest"], data)


def test_an_arrest_validates_like_every_incident():
    arrest = _arrest(charge="  Customs Act violation ")
    assert arrest.fields() == {"on": "2023-12-08", "precision": "day", "sources": ["s"], "place": None,
                               "country": None, "note": None, "charge": "Customs Act violation",
                               "authority": ["police"], "person": ["a", "b"]}
    assert _arrest().fields()["charge"] is None  # the charge is optional
    with pytest.raises(InvalidInput, match="persons"):
        _arrest(persons=[])  # at least one person
    with pytest.raises(InvalidInput, match="control character"):
        _arrest(charge="bad\x1b[31m")
    with pytest.raises(InvalidInput, match="not the code of an arrest"):
        _arrest(cameo="174")
    assert _arrest(cameo="173", plover="COERCE", plover_mode="arrest").digest() == _arrest().digest()


def test_a_designation_needs_its_regime_and_a_one_line_entry():
    base = {"case": "c", "on": "2017-03", "sources": ["s"], "authority": "CH", "subjects": ["han"]}
    with pytest.raises(InvalidInput, match="regime: missing"):
        m.parse(m.RECORDS["designation"], base)
    with pytest.raises(InvalidInput, match="regime"):
        m.parse(m.RECORDS["designation"], {**base, "regime": "   "})
    with pytest.raises(InvalidInput, match="newline"):
        m.parse(m.RECORDS["designation"], {**base, "regime": "UNSCR 1718", "entry": "KPi\n900"})
    ok = m.parse(m.RECORDS["designation"], {**base, "regime": "UNSCR 1718"})
    assert ok.fields()["entry"] is None and ok.fields()["subject"] == ["han"]


def test_shown_details_read_as_a_person_reads_them():
    assert shown_details("seizure", {"value": 70000, "currency": "USD"}) == [
        {"name": "value", "label": "Value", "text": "70,000 USD", "plain": "70000 USD", "para": False,
         "amount": True}]
    assert shown_details("designation", {"regime": "UNSCR 1718", "entry": None}) == [
        {"name": "regime", "label": "Regime", "text": "UNSCR 1718", "plain": "UNSCR 1718", "para": False,
         "amount": False}]
    assert shown_details("raid", {}) == []


# ---------------------------------------------------------------------- the CLI and import, on both backends


def _recorded(story: Runner) -> tuple[dict, dict]:
    story(*ARREST)
    story(*DESIGNATION)
    timeline = {i["key"]: i for i in story.json("timeline")}
    return timeline["arrest-1"], timeline["designation-1"]


def test_record_arrest_and_designation_show_in_the_reads(story):
    arrest, designation = _recorded(story)
    assert arrest["kind"] == "arrest" and arrest["case"] == "chiba-lexus"
    assert arrest["roles"] == {"authority": ["chiba-police"], "person": ["dealer-owners", "h-t-song"]}
    assert arrest["charge"] == "Unlicensed export of a luxury car and false customs papers"
    assert "value" not in arrest and "regime" not in arrest  # an incident shows its own kind's fields
    assert designation["roles"] == {"authority": ["CH"], "subject": ["han-tae-song"]}
    assert (designation["regime"], designation["entry"], designation["precision"]) == ("UNSCR 1718", "KPi.900",
                                                                                       "month")
    # h-t-song was merged into han-tae-song: the survivor's page shows the arrest it was recorded in
    han = story.json("entity", "show", "han-tae-song")
    assert sorted((i["kind"], i["role"]) for i in han["incidents"] if i["kind"] in ("arrest", "designation")) == [
        ("arrest", "person"), ("designation", "subject")]
    assert [i["kind"] for i in story.json("entity", "show", "CH")["incidents"]].count("designation") == 1
    show = story.json("case", "show", "chiba-lexus")
    assert any(i["kind"] == "arrest" and i["charge"].startswith("Unlicensed") for i in show["incidents"])


def test_the_same_facts_by_import_are_recognised_as_recorded(story, tmp_path):
    _recorded(story)
    lines = [{"op": "record.arrest", "case": "chiba-lexus", "on": "2023-12-08", "sources": ["asahi-2023-12-08"],
              "authority": "chiba-police", "persons": ["dealer-owners", "h-t-song"],
              "charge": "Unlicensed export of a luxury car and false customs papers", "key": "arrest-1"},
             {"op": "record.designation", "case": "han-ivory", "on": "2017-03", "sources": ["scmp-2023-12-12"],
              "authority": "CH", "subjects": ["han-tae-song"], "regime": "UNSCR 1718", "entry": "KPi.900",
              "key": "designation-1"}]
    f = tmp_path / "kinds.jsonl"
    f.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert story.json("import", str(f)) | {"position": 0} == {"imported": 0, "skipped": 2, "position": 0}
    lines[0]["charge"] = "something else"
    f.write_text(json.dumps(lines[0]) + "\n")
    refused = story("import", str(f), code=2)
    assert "line 1" in refused.stderr and "charge" in refused.stderr


def test_a_designation_without_its_regime_is_refused_in_one_line(story):
    before = len(story.json("history"))
    args = [a for a in DESIGNATION if a not in ("--regime", "UNSCR 1718")]
    result = story(*args, code=2)
    assert result.stderr.strip().splitlines()[-1].startswith("Error:") and "--regime" in result.stderr
    assert len(story.json("history")) == before


def test_amend_the_new_kinds_own_fields(story):
    _recorded(story)
    story("amend", "arrest-1", "--reason", "charge as filed", "--set", "charge=Customs Act violation")
    story("amend", "designation-1", "--reason", "entry corrected", "--set", "entry=KPi.901",
          "--set", "subject=han-tae-song,chiba-dealer")
    timeline = {i["key"]: i for i in story.json("timeline")}
    assert timeline["arrest-1"]["charge"] == "Customs Act violation" and timeline["arrest-1"]["status"] == "amended"
    assert timeline["designation-1"]["entry"] == "KPi.901"
    assert timeline["designation-1"]["roles"]["subject"] == ["han-tae-song", "chiba-dealer"]
    assert "designation" in [i["kind"] for i in story.json("entity", "show", "chiba-dealer")["incidents"]]
    wrong = story("amend", "arrest-1", "--reason", "r", "--set", "regime=X", code=2)
    assert "cannot amend 'regime' of an arrest" in wrong.stderr and "charge" in wrong.stderr
    empty = story("amend", "designation-1", "--reason", "r", "--set", "regime=", code=2)
    assert "regime" in empty.stderr
    assert story.json("replay")["replayed"] == len(story.json("history"))
    assert {i["key"]: i for i in story.json("timeline")}["designation-1"]["entry"] == "KPi.901"


def test_exports_and_reports_carry_the_new_kinds(story, tmp_path):
    _recorded(story)
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(story("export", "--format", "csv").stdout))}
    assert rows["arrest-1"]["charge"].startswith("Unlicensed export") and rows["arrest-1"]["person"] == \
        "dealer-owners;h-t-song"
    assert (rows["arrest-1"]["cameo"], rows["arrest-1"]["plover"], rows["arrest-1"]["plover_mode"]) == (
        "173", "COERCE", "arrest")
    assert (rows["designation-1"]["regime"], rows["designation-1"]["entry"], rows["designation-1"]["cameo"]) == (
        "UNSCR 1718", "KPi.900", "163")
    ftm = [json.loads(line) for line in story("export", "--format", "ftm").stdout.splitlines()]
    events = [e for e in ftm if e["schema"] == "Event"]
    arrest = next(e for e in events if "arrest" in e["properties"]["keywords"])
    assert "CAMEO:173" in arrest["properties"]["keywords"] and "PLOVER-mode:arrest" in arrest["properties"]["keywords"]
    assert "charge: Unlicensed export of a luxury car" in arrest["properties"]["description"][0]
    designation = next(e for e in events if "designation" in e["properties"]["keywords"])
    assert "regime: UNSCR 1718; entry: KPi.900" in designation["properties"]["description"][0]
    md = story("report", "chiba-lexus").stdout
    assert "- Charge: Unlicensed export of a luxury car and false customs papers" in md
    assert "- Regime: UNSCR 1718\n- List entry: KPi.900" in story("report", "han-ivory").stdout
    html = story("report", "han-ivory", "--format", "html").stdout
    assert "<tr><th>Regime</th><td>UNSCR 1718</td></tr>" in html and "<th>List entry</th><td>KPi.900</td>" in html


def test_an_export_imported_into_a_new_ledger_gives_the_same_kinds(story, tmp_path):
    _recorded(story)
    story("amend", "arrest-1", "--reason", "charge as filed", "--set", "charge=Customs Act violation")
    exported = tmp_path / "all.jsonl"
    story("export", "-o", str(exported))
    copy = Runner(tmp_path / "copy.db")
    copy("import", str(exported))

    def kinds(run: Runner) -> list[dict]:
        return [{k: v for k, v in i.items() if k not in ("recorded_at", "recorded_by")}
                for i in run.json("timeline") if i["kind"] in ("arrest", "designation")]

    assert kinds(copy) == kinds(story) and len(kinds(copy)) == 2
    assert copy.json("import", str(exported))["imported"] == 0


def test_record_help_comes_from_the_declaration(run):
    text = run("record", "arrest", "--help").stdout
    assert "Record an arrest. People detained by an authority." in text
    assert "--person" in text and "Who was arrested: entity ids or country codes" in text
    assert "--charge" in text and "--regime" not in text
    designation = run("record", "designation", "--help").stdout
    assert "--regime TEXT" in designation and "[required]" in designation.split("--regime", 1)[1].split("--entry")[0]


@pytest.mark.parametrize(("kind", "why"), [
    (Kind("bad", "h", (Role("authority", "a"),), cameo="1", plover="P", details=(Detail("status", "text", "h", "S"),)),
     "'status' is reserved"),
    (Kind("bad", "h", (Role("key", "a"),), cameo="1", plover="P"), "'key' is reserved"),
    (Kind("bad", "h", (Role("authority", "a"),), cameo="1", plover="P", details=(Detail("order", "text", "h", "O"),)),
     "'order' is reserved"),
    (Kind("bad", "h", (Role("authority", "a"),), cameo="1", plover="P",
          details=(Detail("authority", "text", "h", "A"),)), "share a name"),
    (Kind("bad", "h", (Role("person", "a", many=True),), cameo="1", plover="P",
          details=(Detail("persons", "text", "h", "P"),)), "share a name"),
    (Kind("bad", "h", (Role("authority", "a"),), cameo="1", plover="P", details=(Detail("target", "text", "h", "T"),)),
     "is a role's name elsewhere"),
    (Kind("bad", "h", (Role("authority", "a"),), cameo="1", plover="P", details=(Detail("value", "text", "h", "V"),)),
     "is a text, elsewhere an amount"),
    (Kind("Bad-Kind", "h", (Role("authority", "a"),), cameo="1", plover="P"), "not a name"),
])
def test_a_kind_whose_names_would_clash_is_refused_when_declared(kind, why):
    """A detail named `status` would be a second status column: every read would fail, for good,
    since the event that carries it stays in the log. So such a declaration never loads."""
    with pytest.raises(TypeError, match=why):
        columns_of([*KINDS.values(), kind])
    assert columns_of(KINDS.values()) == DETAILS


def test_case_show_text_shows_each_kinds_own_fields_and_a_charge_is_one_line(story):
    _recorded(story)
    text = story("case", "show", "han-ivory").stdout
    assert "Regime: UNSCR 1718" in text and "List entry: KPi.900" in text
    chiba = story("case", "show", "chiba-lexus").stdout
    assert "Charge: Unlicensed" in chiba and "10,000,000 JPY" in chiba  # the story's seizure: its accepted claim
    refused = story(*[a if a != "arrest-1" else "arrest-2" for a in ARREST[:-4]], "--charge", "two\nlines", code=2)
    assert "newline" in refused.stderr


def test_the_csv_keeps_its_published_columns_in_place_and_appends_new_ones():
    from ledger.export.delimited import CSV_COLUMNS, PUBLISHED

    assert CSV_COLUMNS[:len(PUBLISHED)] == PUBLISHED
    assert CSV_COLUMNS[len(PUBLISHED):] == ["charge", "regime", "entry", "disputed"]  # disputed: issue 12
    assert set(DETAILS) | set(ROLES) <= set(CSV_COLUMNS) and len(set(CSV_COLUMNS)) == len(CSV_COLUMNS)
