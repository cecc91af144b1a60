"""Rendering of the case report: Markdown, or one self-contained HTML page with an SVG timeline.

Every stored string is escaped for its format by ledger.escaping: Jinja2's autoescape and the
`link` filter (http(s) URLs only) for HTML, the `md` and `md_block` filters for Markdown. Nothing
here reads the clock.
"""

from __future__ import annotations

from typing import Any

from ledger.escaping import link, md, md_block
from ledger.report.chart import timeline_chart


def plain(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    return str(value)


def named(refs: Any, names: dict[str, str]) -> str:
    """Entity ids as a person reads them, `Chiba Prefectural Police (chiba-police)`, comma-separated;
    escaped afterwards, as every stored string, by the format's own escaping."""
    if not refs:
        return plain(refs)
    return ", ".join(f"{names[ref]} ({ref})" if names.get(ref) else str(ref)
                     for ref in (refs if isinstance(refs, list) else [refs]))


def claimed(value: Any, names: dict[str, str], roles: bool) -> str:
    """A claimed value as a person reads it: entities by name and id, an amount with its currency."""
    from ledger.domain.claims import shown_value

    return named(value, names) if roles else shown_value(value)


def render(data: dict[str, Any], fmt: str) -> str:
    from importlib.resources import files

    from jinja2 import Environment, StrictUndefined

    env = Environment(autoescape=fmt == "html", undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=False)
    env.filters.update(md=md, md_block=md_block, link=link, plain=plain, named=named, claimed=claimed)
    template = env.from_string(files("ledger.report").joinpath(f"report.{fmt}.j2").read_text(encoding="utf-8"))
    extra = {"chart": timeline_chart(data["case"]["incidents"])} if fmt == "html" else {}
    return template.render(data=data, **extra)
