"""A roster as an xlsx: a summary sheet, one sheet per post (its shifts) and one per person
(their shifts). Person ids only; every text cell goes through
:func:`geo_grid.tables.cells.neutralize` (ids and post names come from requests)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from geo_grid.tables.cells import neutralize


def _title(name: str, used: set[str]) -> str:
    """A unique sheet name Excel accepts (≤ 31 characters, none of ``[]:*?/\\``)."""
    base = re.sub(r"[\[\]:*?/\\]", "_", name).strip("'")[:28] or "sheet"
    t, n = base, 1
    while t.lower() in used:
        n += 1
        t = f"{base[:28 - len(str(n))]}~{n}"
    used.add(t.lower())
    return t


def write_roster_xlsx(result: dict[str, Any], path: str | Path) -> Path:
    """Write ``result`` (a roster as :func:`geo_grid.rosters.run.run_spec` returns it)."""
    from openpyxl import Workbook

    path = Path(path)
    wb = Workbook(write_only=True)
    used: set[str] = set()

    def sheet(name: str, header: list[str], rows: list[list[Any]]) -> None:
        ws = wb.create_sheet(_title(name, used))
        ws.append([neutralize(h) for h in header])
        for row in rows:
            ws.append([neutralize(v) for v in row])

    sheet("summary", ["status", "gap", "shifts", "unfilled"],
          [[result["status"], result["gap"], len(result["shifts"]), len(result["unfilled"])]])
    sheet("unfilled", ["post", "start", "end", "missing", "missing_security"],
          [[u["post"], u["start"], u["end"], u["missing"], u.get("missing_security", 0)]
           for u in result["unfilled"]])
    by_post: dict[str, list] = {}
    by_person: dict[str, list] = {}
    for s in result["shifts"]:
        by_post.setdefault(s["post"], []).append([s["start"], s["end"], ", ".join(s["people"])])
        for p in s["people"]:
            by_person.setdefault(p, []).append([s["start"], s["end"], s["post"]])
    for post, rows in by_post.items():
        sheet(f"post {post}", ["start", "end", "people"], rows)
    for person, rows in by_person.items():
        sheet(f"person {person}", ["start", "end", "post"], sorted(rows))
    wb.save(path)
    return path
