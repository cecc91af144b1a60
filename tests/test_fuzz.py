"""Fuzzing the ledger with hostile import lines and CLI arguments, on both backends.

For every generated case: the command exits 0, 1 or 2; a refusal prints one `Error:` line (an import
names its bad lines first) and never a traceback or an internal error; a refused command stores
nothing; stderr never carries a raw control character; and afterwards every read still answers,
and now and then `replay`, both reports and the exports too.

CI runs a few hundred cases (LEDGER_FUZZ_EXAMPLES, default 100 per test and backend);
`python tests/bench/fuzz.py` runs 10,000 and prints the tally.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import STORY, Runner

EXAMPLES = int(os.environ.get("LEDGER_FUZZ_EXAMPLES", "100"))
TALLY = os.environ.get("LEDGER_FUZZ_TALLY")  # a file to add this run's counts to
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("LEDGER_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

PAYLOADS = [
    "\x00", "\x1b[31m", "\x1b]0;pwned\x07", "\x9b2J", "\u202e", "\u2066", "\u200f", "\x85", "\x7f", "\r", "\n", "\t",
    "\u2028", "\ufeff", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '=HYPERLINK("http://x","x")',
    "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "# heading", "> quote", "```", "[x](javascript:alert(1))",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "//evil.example", "https://ok.example/?q=\"'><",
    "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+01:00", "9999", "0000", "2023-02-30", "2023-13", "٢٠٢٣",
    "2023-12-07T25:00", "1e400", "-1", "NaN", "Infinity", "x" * 10_001, "", " ", "null", "KP", "kp", "JP", "zz",
    "chiba-lexus", "han-tae-song", "asahi-2023-12-08", "chiba-seizure", "../../etc/passwd", "'; DROP TABLE x; --",
    "%s%s%n", "{{7*7}}", "\\", "\"", "é", "e\u0301", "😀", "\U0010ffff",
]
text = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(max_size=24),
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=4), st.sampled_from(PAYLOADS), st.text(max_size=4)),
)
value = st.one_of(text, st.integers(min_value=-2**70, max_value=2**70), st.floats(), st.booleans(), st.none(),
                  st.lists(text, max_size=3), st.dictionaries(text, text, max_size=2))
fresh_id = st.from_regex(r"fz-[a-z0-9]{1,6}", fullmatch=True)

SOURCE, CASE, PERSON, ITEM = "asahi-2023-12-08", "chiba-lexus", "han-tae-song", "lexus-sedan"
RECORD_BASE = {"case": CASE, "on": "2023-12-09", "sources": [SOURCE]}


def base_lines(ident: str) -> dict[str, dict]:
    """A valid line of every op, about the story's records or a fresh id."""
    return {
        "source.add": {"id": ident, "publisher": "P", "title": "T", "url": "https://x.example/a", "published": "2023",
                       "reliability": "B", "credibility": 2},
        "entity.add": {"id": ident, "kind": "person", "name": "N", "aliases": ["A"], "country": "KP",
                       "identifiers": {"passport": "1"}},
        "entity.alias": {"id": PERSON, "alias": "Alias"},
        "entity.merge": {"duplicate": ident, "survivor": PERSON, "reason": "same"},
        "case.open": {"id": ident, "title": "T", "jurisdiction": "JP", "regime": "R", "summary": "S"},
        "case.status": {"id": CASE, "status": "referred", "reason": "r"},
        "record.raid": {**RECORD_BASE, "authority": "JP", "target": ITEM},
        "record.seizure": {**RECORD_BASE, "item": ITEM, "value": 1, "currency": "USD", "place": "Chiba"},
        "record.questioning": {**RECORD_BASE, "subjects": [PERSON]},
        "record.recall": {**RECORD_BASE, "envoy": PERSON, "sending_state": "KP", "post": "CH", "reason": "r"},
        "record.expulsion": {**RECORD_BASE, "persons": [PERSON], "expelling_state": "ZW", "note": "n"},
        "record.probe": {**RECORD_BASE, "authority": "JP", "subjects": [PERSON]},
        "amend": {"incident": "chiba-seizure", "reason": "r", "set": {"note": "n"}},
        "retract": {"incident": "chiba-seizure", "reason": "r"},
    }


@st.composite
def hostile_line(draw) -> bytes:
    """One import line: a valid op with up to three fields made hostile, or raw bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=60)).replace(b"\n", b" ")
    ident = draw(fresh_id)
    lines = base_lines(ident)
    op = draw(st.sampled_from([*lines, "no.such.op"]))
    data = dict(lines.get(op, {}))
    for _ in range(draw(st.integers(0, 3))):  # none: a valid line, stored, that later reads must bear
        field = draw(st.sampled_from([*data, "op", "key", "extra", "set"] if data else ["id", "key"]))
        if field == "set" and op == "amend":
            name = draw(st.one_of(st.sampled_from(["on", "note", "place", "value", "currency", "country", "sources",
                                                   "item", "authority", "reason"]), text))
            data["set"] = {name: draw(value)}
        else:
            data[field] = draw(value)
    line = {"op": op, **data} if "op" not in data else data
    return json.dumps(line, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@st.composite
def hostile_args(draw) -> list[str]:
    """One writing command line with hostile option values."""
    t = lambda: draw(text)  # noqa: E731
    ident = draw(st.one_of(fresh_id, text))
    choices = [
        ["source", "add", ident, "--publisher", t(), "--title", t(), "--url", t(), "--published", t(),
         "--reliability", t(), "--credibility", t()],
        ["entity", "add", ident, "--kind", draw(st.sampled_from(["person", "vessel", t()])), "--name", t(),
         "--alias", t(), "--identifier", t(), "--country", t()],
        ["entity", "alias", draw(st.sampled_from([PERSON, t()])), t()],
        ["case", "open", ident, "--title", t(), "--summary", t(), "--regime", t(), "--jurisdiction", t()],
        ["case", "status", draw(st.sampled_from([CASE, t()])), draw(st.sampled_from(["referred", "open", t()])),
         "--reason", t()],
        ["record", "raid", CASE, "--on", t(), "--source", SOURCE, "--authority", t(), "--target", "JP",
         "--place", t(), "--note", t(), "--key", t()],
        ["record", "seizure", CASE, "--on", "2023", "--source", draw(st.sampled_from([SOURCE, t()])), "--item", ITEM,
         "--value", t(), "--currency", t(), "--country", t()],
        ["amend", draw(st.sampled_from(["chiba-seizure", t()])), "--reason", t(), "--set",
         f"{draw(st.sampled_from(['on', 'note', 'place', 'value', 'sources', 'item', t()]))}={t()}"],
        ["retract", draw(st.sampled_from(["chiba-seizure", t()])), "--reason", t()],
    ]
    return draw(st.sampled_from(choices))


# ---------------------------------------------------------------------- the checks

RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_loaded: dict[str, Runner] = {}
tally: Counter[str] = Counter()


def ledger(db_url: str, tmp_path: Path) -> Runner:
    """One story ledger per test and backend (the fixtures give each test a fresh one), grown by
    every case that is accepted."""
    key = f"{db_url} {tmp_path}"
    if key not in _loaded:
        _loaded.clear()
        run = Runner(db_url)
        run("import", str(STORY))
        _loaded[key] = run
    return _loaded[key]


def events(run: Runner) -> int:
    return run.json("verify")["events"]


def check(run: Runner, result, before: int, tmp: Path) -> None:
    tally["cases"] += 1
    problems = []
    out = (result.stderr or "") + (result.stdout or "")
    if "Traceback" in out or (result.exception is not None and not isinstance(result.exception, SystemExit)):
        problems.append("traceback")
    if "LEDGER_DEBUG" in result.stderr:
        problems.append("internal error")
    if RAW_CONTROL.search(result.stderr):
        problems.append("raw control character on stderr")
    if result.exit_code not in (0, 1, 2):
        problems.append(f"exit {result.exit_code}")
    stored = events(run) - before
    if result.exit_code != 0:
        tally[f"refused (exit {result.exit_code})"] += 1
        lines = result.stderr.strip().splitlines()
        if not lines or not lines[-1].startswith("Error: "):
            problems.append("a refusal without an Error line")
        if stored:
            problems.append(f"partial write: {stored} events stored by a refused command")
    else:
        tally["accepted"] += 1
    # the ledger stays readable whatever was accepted
    try:
        for args in [("cases",), ("entities",), ("timeline", "--include-retracted")]:
            run.json(*args)
        if result.exit_code == 0:
            for case in run.json("cases"):
                run.json("case", "show", case["id"])
            run("timeline")
            run("report", CASE, "--format", "md")
            run("report", CASE, "--format", "html", "-o", str(tmp / "r.html"))
            run("export", "--format", "csv", "-o", str(tmp / "e.csv"))
            if tally["accepted"] % 10 == 1:
                run.json("replay")
                run("export", "--format", "jsonl", "-o", str(tmp / "e.jsonl"))
    except AssertionError as error:
        problems.append(f"ledger left unreadable: {str(error)[:300]}")
    for problem in problems:
        tally[problem.split(":")[0]] += 1
    if TALLY:
        _save_tally()
    assert not problems, (problems, result.stderr[-500:])


def _save_tally() -> None:
    path = Path(TALLY)
    path.write_text(json.dumps(dict(tally), indent=1, sort_keys=True))


@FUZZ
@given(lines=st.lists(hostile_line(), min_size=1, max_size=3))
def test_hostile_import_lines_are_refused_whole_or_stored_safely(db_url, tmp_path, lines):
    run = ledger(db_url, tmp_path)
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    before = events(run)
    result = run.runner.invoke(run_cli(), ["--db", str(run.db), "--actor", "fuzzer", "import", str(path)])
    check(run, result, before, tmp_path)
    if result.exit_code == 2:
        assert re.search(r"^line \d+: ", result.stderr, re.MULTILINE), result.stderr


@FUZZ
@given(args=hostile_args())
def test_hostile_arguments_are_refused_or_stored_safely(db_url, tmp_path, args):
    run = ledger(db_url, tmp_path)
    before = events(run)
    result = run.runner.invoke(run_cli(), ["--db", str(run.db), "--actor", "fuzzer", *args])
    check(run, result, before, tmp_path)


def run_cli():
    from commands.cli import cli

    return cli


@pytest.fixture(autouse=True, scope="module")
def _forget_ledgers():
    yield
    _loaded.clear()
