"""Rendering of the case report: Markdown, or one self-contained HTML page with an SVG timeline.

Every stored string is escaped for its format: Jinja2's autoescape for HTML, the `md` filter
for Markdown. Nothing here reads the clock.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(value: Any) -> str:
    """Escape a stored string for Markdown: its syntax characters and any markup in it."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = MD_SPECIAL.sub(r"\\\1", text)
    return " ".join(text.splitlines())


def plain(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    return str(value)


def render(data: dict[str, Any], fmt: str) -> str:
    from importlib.resources import files

    from jinja2 import Environment, StrictUndefined

    env = Environment(autoescape=fmt == "html", undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=False)
    env.filters["md"] = md
    env.filters["plain"] = plain
    template = env.from_string(files("commands").joinpath(f"report.{fmt}.j2").read_text(encoding="utf-8"))
    extra = {"chart": timeline_chart(data["case"]["incidents"])} if fmt == "html" else {}
    return template.render(data=data, **extra)


# ---------------------------------------------------------------------- the SVG timeline

WIDTH, LEFT, ROW, TOP = 900, 170, 26, 30


def _day(text: str) -> float:
    moment = datetime.fromisoformat(text)
    return moment.toordinal() + (moment.hour * 3600 + moment.minute * 60 + moment.second) / 86400


def _span(start: str, precision: str) -> tuple[float, float]:
    """A date's range in days: a year or a month is a span, a day or a time a point."""
    first = datetime.fromisoformat(start)
    if precision == "year":
        return first.toordinal(), date(first.year + 1, 1, 1).toordinal()
    if precision == "month":
        nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        return first.toordinal(), nxt.toordinal()
    point = _day(start)
    return point, point


def timeline_chart(incidents: list[dict[str, Any]]) -> dict[str, Any]:
    spans = [_span(i["start"], i["precision"]) for i in incidents]
    if not spans:
        return {"width": WIDTH, "height": TOP + ROW, "rows": [], "ticks": []}
    low, high = min(s for s, _ in spans), max(e for _, e in spans)
    if high - low < 30:
        low, high = low - 15, high + 15
    scale = (WIDTH - LEFT - 20) / (high - low)
    rows = []
    for n, (inc, (start, end)) in enumerate(zip(incidents, spans)):
        x = LEFT + (start - low) * scale
        rows.append({
            "y": TOP + n * ROW, "x": round(x, 2), "width": round(max((end - start) * scale, 0), 2),
            "span": end > start, "label": f"{inc['on']} {inc['kind']}", "status": inc["status"],
            "title": f"{inc['kind']} on {inc['on']} ({inc['precision']}), {inc['status']}: {inc['id']}",
        })
    first, last = date.fromordinal(int(low)), date.fromordinal(int(high))
    if high - low <= 400:  # a short case: a tick at each month
        marks = [date(y, m, 1) for y in range(first.year, last.year + 1) for m in range(1, 13)]
        label = "%Y-%m"
    else:
        step = max(1, (last.year - first.year) // 8 + 1)
        marks = [date(y, 1, 1) for y in range(first.year, last.year + 2, step)]
        label = "%Y"
    ticks = [{"x": round(LEFT + (d.toordinal() - low) * scale, 2), "label": d.strftime(label)}
             for d in marks if low <= d.toordinal() <= high]
    return {"width": WIDTH, "height": TOP + len(rows) * ROW + 10, "rows": rows, "ticks": ticks}
