"""Safe output and files out: stored text cannot act in the formats it is written to
(HTML, Markdown, CSV, the terminal), and `-o FILE` writes with the user's umask, keeps an existing
file's mode and leaves nothing behind when it fails."""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from ledger.escaping import csv_cell, delimited, link, md, md_block, safe_url, terminal, terminal_lines

SUMMARY = ["# zq heading", "> zq quote", "- zq item", "1. zq number", "```zq fence"]
NOTE = ["<img src=x onerror=alert(1)> zq img", "# zq note heading", "> zq note quote", "+ zq plus", "1) zq paren",
        "~~~zq tilde", "===", "    zq indented code", "[zq link](javascript:alert(2))"]


def _hostile(run):
    """A case, a source and three raids whose stored text is markup or a formula."""
    run("source", "add", "zq-src", "--publisher", "<script>alert(4)</script> zq pub",
        "--title", 'zq"><svg onload=alert(5)>', "--url", "https://example.org/zq", "--reliability", "B",
        "--credibility", "2")
    run("case", "open", "zq", "--title", "# zq title <svg onload=alert(3)>", "--summary", "\n".join(SUMMARY))
    raid = ("record", "raid", "zq", "--source", "zq-src", "--authority", "JP", "--target", "JP")
    run(*raid, "--on", "2023-12-07", "--place", '=HYPERLINK("http://x.example","x")', "--note", "\n".join(NOTE),
        "--key", "zq-1")
    run(*raid, "--on", "2023-12-08", "--place", "+cmd|' /C calc'!A0", "--note", "@SUM(1+1) zq at", "--key", "zq-2")
    run(*raid, "--on", "2023-12-09", "--place", "-2+3", "--note", "\t=1+2 zq tab", "--key", "zq-3")
    return run


class _Page(HTMLParser):
    """What in a page could act: on* attributes, scripts, links and sources that are not http(s)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems, self.text, self.hrefs = [], [], []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}>")
            if name in ("href", "src", "xlink:href", "action"):
                self.hrefs.append(value)
                if not re.match(r"https?://", value or ""):
                    self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            self.problems.append("<script>")

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


# ---------------------------------------------------------------------- HTML


def test_the_html_report_shows_stored_markup_as_text_and_nothing_in_it_acts(run):
    page = _parse(_hostile(run)("report", "zq", "--format", "html").stdout)
    assert page.problems == []
    text = "".join(page.text)
    for shown in ("<img src=x onerror=alert(1)> zq img", "[zq link](javascript:alert(2))",
                  "<script>alert(4)</script> zq pub", 'zq"><svg onload=alert(5)>', "# zq title <svg onload=alert(3)>"):
        assert shown in text, shown
    assert page.hrefs == ["https://example.org/zq"] * 3  # one link per raid that cites it


def test_a_stored_url_that_is_not_http_is_shown_as_text_never_as_a_link(run):
    """Old ledgers may hold such URLs (they were accepted before "URLs" was in the contract)."""
    from ledger.api import Ledger
    from ledger.report.render import render

    _hostile(run)
    with Ledger(run.db, actor="tester") as ledger:
        data = ledger.report_data("zq", "html")
    urls = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " java\tscript:alert(1)", "data:text/html,<script>x</script>",
            "vbscript:x", "file:///etc/passwd", "//evil.example/x", "https:alert(1)"]
    for url in urls:
        data["sources"]["zq-src"]["url"] = url
        page = _parse(render(data, "html"))
        assert page.problems == [] and page.hrefs == [], url
        assert url in "".join(page.text), url


@pytest.mark.parametrize("url, href", [
    ("https://example.org/a?b=1", "https://example.org/a?b=1"), ("HTTP://EXAMPLE.ORG", "HTTP://EXAMPLE.ORG"),
    (" https://example.org/x ", "https://example.org/x"), ("javascript:alert(1)", None), ("JAVASCRIPT:alert(1)", None),
    ("java\nscript:alert(1)", None), ("\x01javascript:alert(1)", None), ("data:text/html;base64,PHNjcmlwdD4=", None),
    ("vbscript:msgbox", None), ("file:///etc/passwd", None), ("//evil.example", None), ("https:evil", None),
    ("http://", None), ("", None), (None, None)])
def test_safe_url_links_only_http_and_https(url, href):
    assert safe_url(url) == href


def test_link_makes_an_escaped_link_or_escaped_text():
    assert str(link('https://x.example/?q="><svg onload=alert(1)>')) == (
        '<a href="https://x.example/?q=&#34;&gt;&lt;svg%20onload=alert(1)&gt;" rel="noopener noreferrer nofollow">'
        'https://x.example/?q=&#34;&gt;&lt;svg onload=alert(1)&gt;</a>')
    assert str(link("javascript:alert('<x>')")) == "javascript:alert(&#39;&lt;x&gt;&#39;)"


# ---------------------------------------------------------------------- Markdown


def test_a_summary_starting_with_a_hash_is_not_a_heading_in_the_markdown_report(run):
    run("case", "open", "c1", "--title", "T", "--summary", "# not a heading")
    report = run("report", "c1").stdout
    assert "\n\\# not a heading\n" in report
    assert not re.search(r"^# not a heading", report, re.MULTILINE)


def test_the_markdown_report_keeps_stored_lines_but_no_stored_markup_starts_a_line(run):
    report = _hostile(run)("report", "zq").stdout
    assert ("\n\\# zq heading\\\n&gt; zq quote\\\n\\- zq item\\\n1\\. zq number\\\n\\`\\`\\`zq fence\n"
            in report)  # the summary: each line escaped, hard breaks between them
    assert ("- Note: &lt;img src=x onerror=alert(1)&gt; zq img\\\n  \\# zq note heading\\\n  &gt; zq note quote\\\n"
            "  \\+ zq plus\\\n  1\\) zq paren\\\n  \\~\\~\\~zq tilde\\\n  \\===\\\n  zq indented code\\\n"
            "  \\[zq link\\](javascript:alert(2))\n") in report  # the note stays inside its list item
    assert "# Case report: zq: \\# zq title &lt;svg onload=alert(3)&gt;\n" in report
    assert not re.search(r"<(img|svg|script)\b", report)
    assert not re.search(r"(?<!\\)\[zq link\]\(", report)
    stored = [line.strip() for line in SUMMARY + NOTE]
    for line in report.splitlines():
        bare = re.sub(r"^(?:[ \t]*(?:[-*+]|\d{1,9}[.)])(?=[ \t]|$))*[ \t]*", "", line)
        assert not any(bare.startswith(s) for s in stored if s[0] in "#>-+1`~="), line
    assert "- Place: \\=HYPERLINK(\"http://x.example\",\"x\")\n" in report


def test_a_place_left_out_shows_just_the_country_in_both_reports(story):
    story("record", "raid", "chiba-lexus", "--on", "2023-12-08", "--source", "asahi-2023-12-07", "--country", "eg",
          "--authority", "chiba-police", "--target", "chiba-dealer", "--key", "no-place")
    story("record", "raid", "chiba-lexus", "--on", "2023-12-09", "--source", "asahi-2023-12-07", "--country", "eg",
          "--place", "Cairo", "--authority", "chiba-police", "--target", "chiba-dealer", "--key", "a-place")
    report = story("report", "chiba-lexus").stdout
    assert "- Place: EG\n" in report and "- Place: Cairo (EG)\n" in report and "Place:  (" not in report
    page = story("report", "chiba-lexus", "--format", "html").stdout
    assert "<tr><th>Place</th><td>EG</td></tr>" in page and "<tr><th>Place</th><td>Cairo (EG)</td></tr>" in page


@pytest.mark.parametrize("text, escaped", [
    ("# h", "\\# h"), ("###### h", "\\###### h"), ("> q", "&gt; q"), ("- i", "\\- i"), ("+ i", "\\+ i"),
    ("* i", "\\* i"), ("1. x", "1\\. x"), ("12) x", "12\\) x"), ("```py", "\\`\\`\\`py"), ("~~~", "\\~\\~\\~"),
    ("===", "\\==="), ("---", "\\---"), ("___", "\\_\\_\\_"), ("    code", "code"), ("\tcode", "code"),
    ("| a | b |", "\\| a \\| b \\|"), ("[x](javascript:y)", "\\[x\\](javascript:y)"), ("![i](http://x/y.png)", "!\\[i\\](http://x/y.png)"),
    ("<b>&amp;</b>", "&lt;b&gt;&amp;amp;&lt;/b&gt;"),
    ("a *b* _c_ `d` ~e~ \\f", "a \\*b\\* \\_c\\_ \\`d\\` \\~e\\~ \\\\f"),
    ("plain 1. text # here", "plain 1. text # here")])
def test_md_escapes_inline_markup_and_markup_at_the_start_of_a_line(text, escaped):
    assert md(text) == escaped
    assert md_block(text) == escaped


def test_md_joins_lines_with_spaces_and_md_block_with_hard_breaks_inside_the_indent():
    assert md("# a\n\n- b") == "\\# a \\- b"
    assert md_block("# a\n\n- b\n   1. c", "  ") == "\\# a\\\n  \\- b\\\n  1\\. c"
    assert md_block(None) == md(None) == ""


# ---------------------------------------------------------------------- CSV


def test_the_csv_export_prefixes_every_cell_a_spreadsheet_would_run(run):
    out = _hostile(run)("export", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["place"], r["note"]) for r in rows] == [
        ("'=HYPERLINK(\"http://x.example\",\"x\")", "\n".join(NOTE)),
        ("'+cmd|' /C calc'!A0", "'@SUM(1+1) zq at"),
        ("'-2+3", rows[2]["note"])]
    assert rows[2]["note"] in ("'\t=1+2 zq tab", "'=1+2 zq tab")  # the tab may be kept or dropped on the way in
    cells = [c for row in csv.reader(io.StringIO(out)) for c in row]
    assert [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")] == []


@pytest.mark.parametrize("value, cell", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("a=1", "a=1"), ("'=x", "'=x"), (None, ""), (72000, "72000"), (-5, "'-5")])
def test_csv_cell(value, cell):
    assert csv_cell(value) == cell


def test_delimited_writes_csv_and_tsv_with_every_cell_made_safe():
    rows = [{"a": "=x", "b": "line\none\ttab"}, {"a": None, "b": "back\\slash"}]
    assert delimited(rows, ["a", "b"], "csv") == "a,b\n'=x,\"line\none\ttab\"\n,back\\slash\n"
    assert delimited(rows, ["a", "b"], "tsv") == "a\tb\n'=x\tline\\none\\ttab\n\tback\\\\slash\n"


# ---------------------------------------------------------------------- terminal


@pytest.mark.parametrize("text, shown", [
    ("a\x1b]0;pwned\x07b", "a\\x1b]0;pwned\\x07b"), ("\x1b[31mred", "\\x1b[31mred"), ("c1\x9bx\x85", "c1\\x9bx\\x85"),
    ("del\x7f", "del\\x7f"), ("bidi\u202eevil\u202c", "bidi\\u202eevil\\u202c"),
    ("iso\u2066x\u2069", "iso\\u2066x\\u2069"), ("mark\u200e\u200f", "mark\\u200e\\u200f"),
    ("zw\u200bsp\ufeff", "zw\\u200bsp\\ufeff"), ("tag\U000e0041", "tag\\U000e0041"),
    ("nl\nand\ttab\r", "nl\\nand\\ttab\\r"), ("Han Tae-song 韓 café", "Han Tae-song 韓 café"),
    ("nb\u00a0sp", "nb\u00a0sp")])
def test_terminal_shows_control_and_format_characters_escaped(text, shown):
    assert terminal(text) == shown


def test_a_terminal_cell_keeps_newlines_as_breaks_and_tabs_as_spaces():
    assert terminal("a\tb\nc\x1b", cell=True) == "a b\nc\\x1b"
    assert terminal_lines("one\x1b\n\ttwo") == ["one\\x1b", " two"]


def test_the_table_function_never_writes_an_escape_sequence_raw():
    from commands.output import render

    lines = render([{"id": "e1", "name": "evil\x1b]0;pwned\x07\u202e", "kind": "person"}], ["id", "name", "kind"], 80)
    assert lines == ["id  name" + " " * 24 + "kind", "--  " + "-" * 26 + "  ------",
                     "e1  evil\\x1b]0;pwned\\x07\\u202e  person"]


def test_case_show_and_entity_show_escape_every_line_they_print():
    from commands import reads

    doc = {"id": "c1", "title": "T\x1b[2J", "status": "open", "jurisdiction": None, "regime": "R\u202e",
           "summary": "s1\x1b\n\ts2", "position": 3, "incidents": [], "entities": []}
    entity = {"id": "e1", "kind": "person", "name": "N\x1b]0;x\x07", "aliases": ["A\x9b"], "merged_from": [],
              "cases": ["c1"], "identifiers": {"k\x1b": "v\u2066"}, "country": "JP", "incidents": [], "position": 3}
    out = CliRunner().invoke(_printer(reads), ["case"], obj=doc).stdout + \
        CliRunner().invoke(_printer(reads), ["entity"], obj=entity).stdout
    assert "\x1b" not in out and "\u202e" not in out and "\x9b" not in out and "\u2066" not in out
    assert out.splitlines()[:4] == ["c1: T\\x1b[2J", "status open; jurisdiction -; regime R\\u202e", "s1\\x1b", " s2"]
    assert "e1 (person): N\\x1b]0;x\\x07" in out and "aliases: A\\x9b" in out and "identifiers: k\\x1b=v\\u2066" in out


def _printer(reads):
    import click

    @click.command()
    @click.argument("what")
    @click.pass_obj
    def show(doc, what):
        (reads._show_case if what == "case" else reads._show_entity)(doc)

    return show


# ---------------------------------------------------------------------- files out


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o027, 0o002, 0o077])
def test_o_gives_a_new_file_the_mode_of_the_users_umask(story, tmp_path, mask):
    old = os.umask(mask)
    try:
        story("report", "chiba-lexus", "--format", "html", "-o", str(tmp_path / "r.html"))
        story("export", "--format", "csv", "-o", str(tmp_path / "e.csv"))
        story("export", "-o", str(tmp_path / "e.jsonl"))
    finally:
        os.umask(old)
    for name in ("r.html", "e.csv", "e.jsonl"):
        assert _mode(tmp_path / name) == 0o666 & ~mask, name


def test_o_over_an_existing_file_keeps_its_mode(story, tmp_path):
    for mode in (0o600, 0o644, 0o640):
        kept = tmp_path / "kept.md"
        kept.write_text("old\n")
        kept.chmod(mode)
        story("report", "chiba-lexus", "-o", str(kept))
        assert _mode(kept) == mode
        assert kept.read_text().startswith("# Case report: chiba-lexus")


def test_a_failed_report_or_export_leaves_no_file_and_no_temporary_file(story, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert story("report", "no-such-case", "-o", str(out / "r.md"), code=1).stderr == "Error: no case no-such-case\n"
    assert story("export", "--case", "no-such-case", "--format", "csv", "-o", str(out / "e.csv"), code=1).stderr \
        == "Error: no case no-such-case\n"
    assert list(out.iterdir()) == []


def test_a_write_that_fails_half_way_removes_its_temporary_file(tmp_path):
    from commands.exporting import write_out

    def chunks():
        yield "half"
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        write_out(chunks(), str(tmp_path / "x.txt"))
    assert list(tmp_path.iterdir()) == []


def test_o_into_a_missing_folder_is_one_line_and_exit_1(story, tmp_path):
    target = tmp_path / "no" / "such" / "r.md"
    result = story("report", "chiba-lexus", "-o", str(target), code=1)
    assert result.stderr == f"Error: -o {target}: there is no folder {target.parent}\n"
    result = story("export", "-o", str(tmp_path), code=1)
    assert result.stderr == f"Error: -o {tmp_path}: that is a folder, not a file\n"
    assert not (tmp_path / "no").exists()


# ---------------------------------------------------------------------- the HTML timeline chart


def _inc(n, on, precision, status="active", kind="raid"):
    from ledger.domain.values import range_start

    return {"id": f"i{n}", "kind": kind, "on": on, "precision": precision, "status": status,
            "start": range_start(on, precision)}


def test_the_chart_axis_is_set_by_the_standing_incidents_and_far_outliers_are_marked_off_the_chart():
    from ledger.report.chart import RIGHT, WIDTH, timeline_chart

    incidents = [_inc(1, "2023-12", "month"), _inc(2, "2023-12-07", "day"),
                 _inc(3, "2023-12-09T14:30:00+09:00", "time"), _inc(4, "2099-01-01", "day", "retracted")]
    chart = timeline_chart(incidents)
    assert [t["label"] for t in chart["ticks"]] == ["2023-12", "2024-01"]  # about a month, not 76 years
    assert [r["off"] for r in chart["rows"]] == [None, None, None, "right"]
    assert chart["off"] == 1 and chart["rows"][3]["title"].endswith("; it lies off the chart")
    assert all(chart["left"] <= r["x"] <= WIDTH - RIGHT for r in chart["rows"])
    assert chart["rows"][2]["label"] == "2023-12-09 14:30 raid"  # to the minute; the tooltip has it whole
    assert chart["left"] >= len(chart["rows"][2]["label"]) * 7  # the label column holds the longest label
    many = [_inc(n, f"2023-{1 + n % 12:02d}-01", "day") for n in range(12)] + [_inc(99, "2099-06-01", "day")]
    chart = timeline_chart(many)  # an outlier that stands is clipped too, and said to be
    assert [r["off"] for r in chart["rows"]] == [None] * 12 + ["right"]
    assert max(t["x"] for t in chart["ticks"]) <= WIDTH - RIGHT  # the last tick's label has room on the right


def test_the_html_report_draws_an_off_chart_marker_and_says_so(story):
    story("record", "raid", "chiba-lexus", "--on", "2099-01-01", "--source", "asahi-2023-12-07", "--authority", "JP",
          "--target", "JP", "--key", "typo-2099")
    story("retract", "typo-2099", "--reason", "typo")
    page = story("report", "chiba-lexus", "--format", "html").stdout
    assert page.count('class="off-chart"') == 1 and "off the chart: 2099-01-01 raid &#8594;" in page
    assert "1 incident lies off the chart, marked by an arrow at the edge" in page
    assert re.findall(r'y="11" text-anchor="middle" fill="#777">([^<]+)<', page) == ["2023-12", "2024-01"]


def test_markdown_shows_control_characters_escaped_not_raw():
    from ledger.escaping import md, md_block

    for text in (md("a\x1b]0;pwned\x07b\u202ec"), md_block("x\x1b[31m\nline two\x9b")):
        assert not any(c in text for c in "\x1b\x07\u202e\x9b")
        assert "\\x1b" in text


def test_output_to_a_symlink_writes_its_target_and_to_a_pipe_writes_into_it(tmp_path):
    import os
    import threading

    from commands.exporting import write_out

    target = tmp_path / "target.md"
    target.write_text("old")
    (tmp_path / "link.md").symlink_to(target)
    write_out(["new"], str(tmp_path / "link.md"))
    assert (tmp_path / "link.md").is_symlink() and target.read_text() == "new"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    write_out(["through the pipe"], str(fifo))
    reader.join(10)
    assert got == ["through the pipe"] and fifo.is_fifo()
