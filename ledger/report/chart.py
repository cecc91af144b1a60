"""The report's SVG timeline: one row per incident, a year or a month drawn as a span, a day or a
time as a point, on an axis set by the incidents that stand."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

# The axis is set by the incidents that stand (retracted ones left out) and, of those, not by a
# few far outliers (a date typed 2099 for 2009): those, and retracted incidents beyond the axis,
# are drawn at its edge with an arrow and the words "off the chart". The labels' column is as
# wide as its longest label; a time is labelled to the minute, its full value in the tooltip.

WIDTH, ROW, TOP, RIGHT, CHAR = 900, 26, 30, 40, 7.2
MIN_LEFT, MAX_LEFT = 120, 400


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


def _axis(spans: list[tuple[float, float]]) -> tuple[float, float]:
    """The range the axis shows: every span, less far outliers at either end (at most a tenth of
    them, and only while three or more are left). An outlier lies further from the others than
    twice their own range, and more than two years away."""
    limit = max(1, len(spans) // 10)
    kept = _trim_late(spans, limit)
    mirrored = _trim_late([(-end, -start) for start, end in kept], limit)  # the early end, mirrored
    return -max(e for _, e in mirrored), -min(s for s, _ in mirrored)


def _trim_late(spans: list[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    """The spans less up to `limit` far outliers at the late end."""
    kept = sorted(spans)
    for _ in range(limit):
        if len(kept) < 3:
            break
        rest = kept[:-1]
        low, high = min(s for s, _ in rest), max(e for _, e in rest)
        if kept[-1][0] - high <= max(2 * (high - low), 731):
            break
        kept = rest
    return kept


def _label(inc: dict[str, Any]) -> str:
    on = inc["on"]
    if inc["precision"] == "time":
        on = on[:16].replace("T", " ")  # to the minute; the tooltip has it whole
    return f"{on} {inc['kind']}"


def timeline_chart(incidents: list[dict[str, Any]]) -> dict[str, Any]:
    spans = [_span(i["start"], i["precision"]) for i in incidents]
    labels = [_label(i) for i in incidents]
    left = int(min(MAX_LEFT, max(MIN_LEFT, max((len(t) for t in labels), default=0) * CHAR + 20)))
    if not spans:
        return {"width": WIDTH, "height": TOP + ROW, "left": left, "rows": [], "ticks": [], "off": 0}
    standing = [s for s, i in zip(spans, incidents) if i["status"] != "retracted"] or spans
    low, high = _axis(standing)
    if high - low < 30:
        low, high = low - 15, high + 15
    right_edge = WIDTH - RIGHT
    scale = (right_edge - left) / (high - low)
    rows = []
    for n, (inc, (start, end), label) in enumerate(zip(incidents, spans, labels)):
        title = f"{inc['kind']} on {inc['on']} ({inc['precision']}), {inc['status']}: {inc['id']}"
        row = {"y": TOP + n * ROW, "label": label, "status": inc["status"], "off": None, "title": title}
        if start > high or end < low:  # beyond the axis: an arrow at the edge it lies past
            row["off"] = "right" if start > high else "left"
            row["x"] = right_edge if start > high else left
            row["title"] = title + "; it lies off the chart"
        else:
            x0, x1 = max(start, low), min(end, high)
            row.update(x=round(left + (x0 - low) * scale, 2), width=round(max((x1 - x0) * scale, 0), 2),
                       span=end > start)
        rows.append(row)
    first, last = date.fromordinal(int(low)), date.fromordinal(int(high))
    if high - low <= 400:  # a short case: a tick at each month
        marks = [date(y, m, 1) for y in range(first.year, last.year + 1) for m in range(1, 13)]
        fmt = "%Y-%m"
    else:
        step = max(1, (last.year - first.year) // 8 + 1)
        marks = [date(y, 1, 1) for y in range(first.year, min(last.year + 2, 9999), step)]
        fmt = "%Y"
    ticks = [{"x": round(left + (d.toordinal() - low) * scale, 2), "label": d.strftime(fmt)}
             for d in marks if low <= d.toordinal() <= high]
    return {"width": WIDTH, "height": TOP + len(rows) * ROW + 10, "left": left, "rows": rows, "ticks": ticks,
            "off": sum(1 for r in rows if r["off"])}
