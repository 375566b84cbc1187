"""Where buildings and members go after an edit, and moving one building to another grid.

The rules every edit follows:

- a building of a changed grid goes to the new or reshaped grid holding most of its footprint
  (a building cut by a new border follows its larger part; one in no candidate grid at all,
  which only a gap in the edit can cause, goes to the nearest);
- a member of a retired grid goes to the new grid holding most of the buildings the member is
  assigned to, or else to the new grid with the most households. The assignment itself is not
  touched: members keep their buildings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import shapely

from geo_grid.district import District
from geo_grid.editing.common import grid_row
from geo_grid.editing.edit import Edit
from geo_grid.errors import InvalidInput, NotFound


def place_buildings(footprints, parts) -> np.ndarray:
    """Index of the part holding most of each footprint.

    Areas are compared in lon/lat: over a district the ratio of a degree² to a m² is the same
    for every candidate of a building, so the part with most area is the same as in metres.

    Parameters
    ----------
    footprints : array_like of shapely geometries
        Building footprints (lon/lat).
    parts : array_like of shapely geometries
        Candidate grids (lon/lat).

    Returns
    -------
    numpy.ndarray of int
        For each footprint, the index of its part in ``parts``.
    """
    footprints = np.asarray(footprints, dtype=object)
    parts = np.asarray(parts, dtype=object)
    out = np.full(len(footprints), -1, dtype=np.int64)
    if len(footprints) == 0 or len(parts) == 0:
        return out
    tree = shapely.STRtree(parts)
    bi, pi = tree.query(footprints, predicate="intersects")
    if bi.size:
        area = shapely.area(shapely.intersection(footprints[bi], parts[pi]))
        # per building, the candidate with the largest shared area: sort by building, then by
        # area descending, and keep each building's first row
        order = np.lexsort((-area, bi))
        bi, pi, area = bi[order], pi[order], area[order]
        first = np.r_[True, bi[1:] != bi[:-1]]
        keep = first & (area > 0)
        out[bi[keep]] = pi[keep]
    lost = np.flatnonzero(out < 0)
    if lost.size:
        _, nearest = tree.query_nearest(footprints[lost], all_matches=False)
        out[lost] = nearest
    return out


def part_households(codes: Sequence[str], placed: Sequence[str], hh: np.ndarray) -> dict[str, int]:
    """Households of each new grid from the buildings placed in it."""
    sums = pd.Series(hh, dtype=float).groupby(np.asarray(placed, dtype=object)).sum()
    return {c: int(round(float(sums.get(c, 0.0)))) for c in codes}


def place_members(district: District, parts_of: Mapping[str, Sequence[str]],
                  building_grid: Mapping[str, str],
                  households: Mapping[str, float]) -> dict[str, str]:
    """New grid of every member of a retired grid.

    Parameters
    ----------
    district : District
        Its ``members`` (``id``, ``grid_code``) and ``assignment`` (``member_id``,
        ``building_code``) are read.
    parts_of : mapping
        Retired grid code → the new grid codes its area went to.
    building_grid : mapping
        Building code → grid code after the edit, for the buildings of the changed grids.
    households : mapping
        New grid code → its households (the fallback choice).

    Returns
    -------
    dict
        Member id → new grid code.
    """
    members = district.members
    if members is None or len(members) == 0 or "grid_code" not in members.columns:
        return {}
    mine = members[members["grid_code"].astype(str).isin(list(parts_of))]
    if len(mine) == 0:
        return {}
    ids = mine["id"].astype(str).to_numpy()
    old = mine["grid_code"].astype(str).to_numpy()
    asg = district.assignment
    counts: dict[str, pd.Series] = {}
    if asg is not None and len(asg) and {"member_id", "building_code"} <= set(asg.columns):
        rows = asg[asg["member_id"].astype(str).isin(ids)]
        grid = rows["building_code"].astype(str).map(building_grid)
        rows = pd.DataFrame({"member": rows["member_id"].astype(str).to_numpy(),
                             "grid": grid.to_numpy()}).dropna()
        for member, g in rows.groupby("member", sort=False)["grid"]:
            counts[member] = g.value_counts()
    out: dict[str, str] = {}
    for member, grid in zip(ids, old, strict=True):
        parts = list(parts_of[grid])
        # most assigned buildings first, then most households, then the order of the parts
        n = counts.get(member, pd.Series(dtype=int))
        best = max(parts, key=lambda p: (int(n.get(p, 0)), households.get(p, 0), -parts.index(p)))
        out[member] = best
    return out


def move_building(district: District, building_code: str, grid_code: str) -> Edit:
    """Put a building in another grid of its community (its footprint does not change).

    Parameters
    ----------
    district : District
    building_code : str
        The building to move.
    grid_code : str
        Its new grid, in the same community.

    Returns
    -------
    Edit
        Of kind ``building_grid``; ``moved`` holds the one building.

    Raises
    ------
    NotFound
        If the building or the grid does not exist.
    InvalidInput
        If the grid is in another community, or the building is already in it.
    """
    b = district.buildings
    hit = np.flatnonzero(b["code"].to_numpy() == str(building_code))
    if hit.size == 0:
        raise NotFound(f"building {building_code!r} does not exist", building=str(building_code))
    row = b.iloc[int(hit[0])]
    grid = grid_row(district, grid_code)
    old_grid = str(row["grid_code"])
    community = str(row["community_code"])
    if str(grid["community_code"]) != community:
        raise InvalidInput(
            f"building {building_code} is in community {community}; grid {grid_code} is in "
            f"community {grid['community_code']}: a building can only move to a grid of its "
            "own community", building=str(building_code), grid=str(grid_code))
    if old_grid == str(grid_code):
        raise InvalidInput(f"building {building_code} is already in grid {grid_code}",
                           building=str(building_code), grid=str(grid_code))
    return Edit(kind="building_grid", moved={str(building_code): str(grid_code)},
                detail={"building": str(building_code), "from": old_grid, "to": str(grid_code)})
