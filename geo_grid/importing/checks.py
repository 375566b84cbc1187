"""Checks beyond topology: what the store, the address matcher and the service cannot hold."""

from __future__ import annotations

import numpy as np
import shapely

from geo_grid.district import District
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
    """Errors: duplicate addresses (the address matcher needs each compound + number once) and
    counts that cannot be true (negative households or rooms, fewer than one floor or unit)."""
    out: list[Violation] = []
    b = district.buildings
    seen: dict[tuple, int] = {}
    for i, (code, comp, num, addr) in enumerate(zip(b["code"], b["compound"], b["number"],
                                                    b["address"], strict=True)):
        for key in (("address", addr), ("number", comp, int(num))):
            if key in seen:
                other = b["code"].iloc[seen[key]]
                what = addr if key[0] == "address" else f"{comp}{num}"
                out.append(Violation(
                    "duplicate_address", "buildings", f"{other},{code}",
                    f"buildings {other} and {code} share the address {what}; give each building "
                    "its own address (e.g. 12栋 and 13栋)", *_where(b, i)))
                break
            seen[key] = i
    for col, low in (("households", 0), ("floors", 1), ("units", 1), ("rooms_per_floor", 0)):
        vals = np.asarray(b[col], dtype=np.int64)
        for i in np.flatnonzero(vals < low):
            out.append(Violation("bad_attribute", "buildings", str(b["code"].iloc[i]),
                                 f"{col} is {vals[i]}, must be at least {low}", *_where(b, i)))
    return out


def warnings_of(district: District, households_given: bool) -> list[Violation]:
    """Warnings: grids whose households (when the building layer gives them) fall outside
    :data:`HOUSEHOLD_RANGE`."""
    if not households_given:
        return []
    g = district.grids
    per = district.buildings.groupby("grid_code")["households"].sum()
    out = []
    lo, hi = HOUSEHOLD_RANGE
    for i, code in enumerate(g["code"]):
        n = int(per.get(code, 0))
        if g["kind"].iloc[i] in ("residential", "mixed") and not lo <= n <= hi:
            out.append(Violation("household_range", "grids", str(code),
                                 f"{n} households, outside {lo}–{hi}: consider splitting or "
                                 "merging the grid", *_where(g, i)))
    return out
