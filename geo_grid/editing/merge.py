"""Merging adjacent grids of one community into one new grid."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from geo_grid.district import District
from geo_grid.editing.common import (
    buildings_of,
    clean,
    fresh_codes,
    grid_rows,
    grids_frame,
    households,
    tidy,
    to_lonlat,
    to_metric,
)
from geo_grid.editing.edit import CodeSource, Edit
from geo_grid.editing.place import place_members
from geo_grid.errors import InvalidInput

#: Grids closer than twice this (metres) count as touching; the merged outline closes such
#: slivers (a buffer out and back in by this much).
SNAP_M = 0.5
#: Two grids are adjacent when their borders run together for about a metre or more: the
#: overlap of their outlines grown by SNAP_M is at least this many m² (a corner-to-corner
#: touch gives well under 1 m²).
ADJACENT_M2 = 1.5


def _adjacency(geoms_m: np.ndarray) -> np.ndarray:
    """Boolean matrix of which grids share a border (within :data:`SNAP_M`)."""
    grown = shapely.buffer(geoms_m, SNAP_M)
    n = len(geoms_m)
    i, j = np.triu_indices(n, 1)
    shared = shapely.area(shapely.intersection(grown[i], grown[j])) >= ADJACENT_M2
    adj = np.zeros((n, n), dtype=bool)
    adj[i[shared], j[shared]] = True
    return adj | adj.T


def _reached(adj: np.ndarray) -> np.ndarray:
    """Which grids are connected to the first one through shared borders."""
    seen = np.zeros(len(adj), dtype=bool)
    seen[0] = True
    frontier = seen.copy()
    while frontier.any():
        new = adj[frontier].any(axis=0) & ~seen
        seen |= new
        frontier = new
    return seen


def merge_grids(district: District, grid_codes: Sequence[str], codes: CodeSource,
                name: str | None = None) -> Edit:
    """Merge two or more adjacent grids of one community into a new grid.

    Parameters
    ----------
    district : District
    grid_codes : sequence of str
        The grids to merge (at least two, all in one community, together one connected area:
        each shares a border with another). Their codes are retired.
    codes : CodeSource
        Gives the new grid's fresh code.
    name : str, optional
        Name of the new grid; by default the name of the first grid. Its kind is the first
        grid's kind.

    Returns
    -------
    Edit
        Of kind ``merge``; every building of the merged grids and every member of them goes
        to the new grid.

    Raises
    ------
    NotFound
        If a grid does not exist.
    InvalidInput
        If fewer than two distinct grids are given, they are in different communities, or a
        grid is not adjacent to the others.
    """
    if isinstance(grid_codes, str):
        raise InvalidInput("grid_codes must be a list of grid codes, not one string")
    wanted = [str(c) for c in grid_codes]
    if len(set(wanted)) != len(wanted):
        dup = next(c for c in wanted if wanted.count(c) > 1)
        raise InvalidInput(f"grid {dup} is named more than once", grid=dup)
    if len(wanted) < 2:
        raise InvalidInput(f"a merge needs at least two grids, got {len(wanted)}",
                           grids=wanted)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise InvalidInput("the new grid's name must be a non-empty string")
    rows = grid_rows(district, wanted)
    community = str(rows["community_code"].iloc[0])
    others = rows[rows["community_code"].astype(str) != community]
    if len(others):
        listed = ", ".join(f"{c} (community {cc})"
                           for c, cc in zip(others["code"], others["community_code"], strict=True))
        raise InvalidInput(
            f"grids of different communities cannot be merged: {wanted[0]} is in community "
            f"{community}, but {listed}", grids=list(others["code"].astype(str)))
    epsg = district.metric_epsg
    geoms = rows.geometry.to_numpy()
    geoms_m = to_metric(geoms, epsg)
    reached = _reached(_adjacency(geoms_m))
    if not reached.all():
        apart = [wanted[i] for i in np.flatnonzero(~reached)]
        raise InvalidInput(
            f"grid{'s' if len(apart) > 1 else ''} {', '.join(apart)} "
            f"{'are' if len(apart) > 1 else 'is'} not adjacent to {wanted[0]} or the grids "
            "merged with it: the merged grid would not be one polygon", grids=apart)
    merged = clean(shapely.union_all(geoms))
    if merged.geom_type != "Polygon":
        # the grids touch across a sliver of up to 2 * SNAP_M: close it
        closed = shapely.buffer(shapely.buffer(shapely.union_all(geoms_m), SNAP_M, join_style="mitre"),
                                -SNAP_M, join_style="mitre")
        merged = clean(shapely.union_all([merged, to_lonlat(closed, epsg)]))
    merged = tidy(merged, epsg)
    new = fresh_codes(codes, district, community, 1)[0]
    first = rows.iloc[0]
    new_name = name.strip() if name is not None else str(first["name"])
    added = grids_frame([{"code": new, "name": new_name, "community_code": community,
                          "kind": first["kind"], "geometry": merged}])
    b = buildings_of(district, wanted)
    moved = dict.fromkeys(b["code"].astype(str), new)
    hh = int(round(float(households(b).sum())))
    members = place_members(district, {c: [new] for c in wanted}, moved, {new: hh})
    return Edit(kind="merge", retired=tuple(wanted), added=added, moved=moved, members=members,
                detail={"grids": wanted, "grid": new, "name": new_name, "households": hh,
                        "buildings": len(b)})
