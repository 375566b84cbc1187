"""A campaign's progress: households reached, percentages and overdue buildings.

A building's households reached is the sum of its visits' ``households_reached``, capped at
its households; a building is *done* when all its households were reached, and *overdue* when
it is not done and the deadline has passed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from geo_grid.campaigns.model import Campaign, CampaignBuilding, Visit
from geo_grid.campaigns.records import parse_time


def _pct(reached: int, households: int) -> float:
    return round(100.0 * reached / households, 1) if households else 100.0


def _tally(rows: list[dict[str, Any]]) -> dict[str, Any]:
    households = sum(r["households"] for r in rows)
    reached = sum(r["reached"] for r in rows)
    return {"buildings": len(rows), "households": households, "reached": reached,
            "percent": _pct(reached, households),
            "done_buildings": sum(r["done"] for r in rows),
            "overdue_buildings": sum(r["overdue"] for r in rows)}


def progress(campaign: Campaign, buildings: Sequence[CampaignBuilding], visits: Sequence[Visit],
             now: datetime, keep: Callable[[CampaignBuilding], bool] = lambda b: True
             ) -> dict[str, Any]:
    """The campaign's progress at ``now``.

    Parameters
    ----------
    campaign, buildings, visits
        As kept (:mod:`geo_grid.campaigns.records`).
    now : datetime
        With a time zone; buildings not done after the deadline are overdue.
    keep : callable, optional
        Which buildings to count (the caller's scope).

    Returns
    -------
    dict
        ``totals``, ``grids``, ``communities``, ``members`` (each: buildings, households,
        reached, percent, done_buildings, overdue_buildings), ``buildings`` (code, grid,
        member, households, reached, done, overdue) and ``overdue`` (codes).
    """
    late = now > parse_time(campaign.deadline, "deadline")
    reached: dict[str, int] = defaultdict(int)
    for v in visits:
        reached[v.building] += int(v.households_reached)
    rows = []
    for b in buildings:
        if not keep(b):
            continue
        r = min(b.households, reached.get(b.building_code, 0))
        done = r >= b.households
        rows.append({"code": b.building_code, "grid": b.grid_code,
                     "community": b.community_code, "member": b.member_id,
                     "households": b.households, "reached": r, "done": done,
                     "overdue": late and not done})

    def by(key: str) -> list[dict[str, Any]]:
        groups: dict[Any, list] = defaultdict(list)
        for r in rows:
            groups[r[key]].append(r)
        return [{key: k, **_tally(g)} for k, g in sorted(groups.items(), key=lambda kv: str(kv[0]))]

    return {"id": campaign.id, "name": campaign.name, "deadline": campaign.deadline,
            "as_of": now.isoformat(timespec="seconds"), "past_deadline": late,
            "totals": _tally(rows), "grids": by("grid"), "communities": by("community"),
            "members": by("member"), "buildings": rows,
            "overdue": [r["code"] for r in rows if r["overdue"]]}
