"""The summary of a batch and the data problems of each row."""

from __future__ import annotations

from collections import Counter
from typing import Any

from geo_grid.status import PLACED, MatchStatus
from geo_grid.tables.ids import id_problems
from geo_grid.tables.table import Table

__all__ = ["id_problem_notes", "summary"]


def id_problem_notes(table: Table) -> list[str]:
    """Per row, the problems of its ID-number cells (``列名: what is wrong``), or ''."""
    notes: list[list[str]] = [[] for _ in range(len(table.frame))]
    for lab in table.columns_of("id"):
        found = id_problems(table.frame[lab].tolist(), table.numeric.get(lab))
        for i, msg in enumerate(found):
            if msg:
                notes[i].append(f"{lab}: {msg}")
    return ["; ".join(p) for p in notes]


def summary(cells: dict[str, list[Any]], table: Table, *, addr_col: str | None,
            points: tuple[str, str] | None, crs: str) -> dict[str, Any]:
    """The report of a batch: counts per status, matches per community, columns used, layout.

    Every row is counted once: the status counts add up to ``rows``.
    """
    status = cells["status"]
    counts = Counter(status)
    by_community = Counter(c for c, s in zip(cells["community"], status, strict=True)
                           if s in PLACED and c)
    problems = sum(1 for p in cells["data_problems"] if p)
    report = {
        "rows": len(status),
        "matched": counts.get(MatchStatus.MATCHED, 0),
        "ambiguous": counts.get(MatchStatus.AMBIGUOUS, 0),
        "unmatched": counts.get(MatchStatus.UNMATCHED, 0),
        "located": counts.get(MatchStatus.LOCATED, 0),
        "not_covered": counts.get(MatchStatus.NOT_COVERED, 0),
        "errors": counts.get(MatchStatus.ERROR, 0),
        "by_community": dict(sorted(by_community.items(), key=lambda kv: -kv[1])),
        "id_problems": problems,
        "address_column": addr_col,
        "coordinate_columns": list(points) if points else None,
        "crs": crs if points else None,
        "header_row": table.header_row + 1,
        "title_rows": len(table.title_rows),
        "trimmed_blank_rows": table.trimmed_blank_rows,
        "format": table.format,
    }
    if sum(counts.values()) != len(status) or set(counts) - set(MatchStatus):
        raise AssertionError(f"rows not accounted for: {dict(counts)}")
    return report
