"""The case report, auditable by people who never had the database.

What it says is gathered once, from read models built afresh from an audited log at one position
(`data.report_data`: the case, its timeline with each kind's own fields, sources with their
grading, entities, corrections, the position, the verified head and the latest receipt), then
rendered by a Jinja2 template beside this code (`render.render`: `report.md.j2`, `report.html.j2`,
every stored string escaped for its format by `ledger.escaping`), the HTML with an SVG timeline
(`chart`). A new format is a template `report.FMT.j2` here, named in FORMATS.
"""

FORMATS = ("md", "html")
