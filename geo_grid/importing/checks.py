"""Checks beyond topology: attributes only an import fills, and the household range."""

from __future__ import annotations

import re

import numpy as np
import shapely

from geo_grid.district import District
from geo_grid.errors import InvalidInput
from geo_grid.topology import Violation

#: Households a grid is expected to hold; outside this range is a warning.
HOUSEHOLD_RANGE = (300, 500)


def _where(gdf, i: int) -> tuple[float | None, float | None]:
    g = gdf.geometry.iloc[i]
    if g is None or g.is_empty:
        return None, None
    p = shapely.point_on_surface(g)
    return float(p.x), float(p.y)


def store_checks(district: District) -> list[Violation]:
    """Errors the topology checks leave to the importer: a negative ``rooms_per_floor``
    (zero is fine: offices and factories have no flats). Duplicate addresses, categories,
    floors, units and households are checked by :func:`geo_grid.topology.validate`."""
    out: list[Violation] = []
    b = district.buildings
    vals = np.asarray(b["rooms_per_floor"], dtype=np.int64)
    for i in np.flatnonzero(vals < 0):
        out.append(Violation("bad_attribute", "buildings", str(b["code"].iloc[i]),
                             f"rooms_per_floor is {vals[i]}, must be at least 0", *_where(b, i)))
    return out


def parse_household_range(text: str) -> tuple[int, int]:
    """``"300-500"`` (or ``300–500``, ``300,500``) → ``(300, 500)``.

    Raises
    ------
    InvalidInput
        Not two whole numbers, or the first above the second.
    """
    parts = [p.strip() for p in re.split(r"[-–,~]", str(text)) if p.strip()]
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or int(parts[0]) > int(parts[1]):
        raise InvalidInput(f"household range {text!r}: give LOW-HIGH, e.g. 300-500")
    return int(parts[0]), int(parts[1])


def warnings_of(district: District, households_given: bool,
                household_range: tuple[int, int] = HOUSEHOLD_RANGE) -> list[Violation]:
    """Warnings: residential and mixed grids whose households (when the building layer gives
    them) fall outside ``household_range`` (:data:`HOUSEHOLD_RANGE` by default)."""
    if not households_given:
        return []
    g = district.grids
    per = district.buildings.groupby("grid_code")["households"].sum()
    out = []
    lo, hi = household_range
    for i, code in enumerate(g["code"]):
        n = int(per.get(code, 0))
        if g["kind"].iloc[i] in ("residential", "mixed") and not lo <= n <= hi:
            out.append(Violation("household_range", "grids", str(code),
                                 f"{n} households, outside {lo}–{hi}: consider splitting or "
                                 "merging the grid", *_where(g, i)))
    return out
