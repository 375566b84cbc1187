"""Splitting a grid: along a line drawn by the user, or into k parts balanced by households."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import split as split_along

from geo_grid.district import District
from geo_grid.editing.common import (
    LINEAR,
    as_geometry,
    buildings_of,
    fresh_codes,
    grid_row,
    grids_frame,
    households,
    tidy,
    to_metric,
)
from geo_grid.editing.edit import CodeSource, Edit
from geo_grid.editing.partition import partition
from geo_grid.editing.place import part_households, place_buildings, place_members
from geo_grid.errors import InvalidGeometry, InvalidInput

#: A line may not cut off a piece smaller than this (m²): it only grazes the grid's edge.
MIN_PART_M2 = 1.0


def split_grids(district: District, plans: Sequence[tuple[pd.Series, list[BaseGeometry]]],
                codes: CodeSource, buildings: Mapping[str, pd.DataFrame] | None = None,
                ) -> tuple[list[dict], dict[str, str], dict[str, str], list[dict]]:
    """Turn grids and their parts into new grids, placed buildings and members.

    Parameters
    ----------
    district : District
    plans : sequence of (grid row, parts)
        Each grid to retire with the lon/lat geometries of its parts, in naming order.
    codes : CodeSource
        Asked once per community for all the codes its new grids need.
    buildings : mapping, optional
        Grid code → its buildings, where the caller already has them.

    Returns
    -------
    added rows, moved buildings, moved members, and one detail dict per grid
        ``{"grid", "households", "parts": [{"code", "name", "households", "buildings"}]}``.
    """
    wanted: dict[str, int] = {}
    for row, parts in plans:
        c = str(row["community_code"])
        wanted[c] = wanted.get(c, 0) + len(parts)
    pool = {c: fresh_codes(codes, district, c, n) for c, n in wanted.items()}
    rows: list[dict] = []
    moved: dict[str, str] = {}
    parts_of: dict[str, list[str]] = {}
    hh_of: dict[str, int] = {}
    details: list[dict[str, Any]] = []
    for row, parts in plans:
        code, community = str(row["code"]), str(row["community_code"])
        new = [pool[community].pop(0) for _ in parts]
        for i, (c, g) in enumerate(zip(new, parts, strict=True), start=1):
            rows.append({"code": c, "name": f"{row['name']}-{i}", "community_code": community,
                         "kind": row["kind"], "geometry": g})
        b = buildings[code] if buildings is not None else buildings_of(district, [code])
        where = place_buildings(b.geometry.to_numpy(), parts)
        placed = [new[i] for i in where]
        hh = households(b)
        moved.update(zip(b["code"].astype(str), placed, strict=True))
        sums = part_households(new, placed, hh)
        counts = pd.Series(placed, dtype=object).value_counts()
        parts_of[code] = new
        hh_of.update(sums)
        details.append({
            "grid": code, "households": int(round(float(hh.sum()))),
            "parts": [{"code": c, "name": f"{row['name']}-{i}", "households": sums[c],
                       "buildings": int(counts.get(c, 0))}
                      for i, c in enumerate(new, start=1)],
        })
    members = place_members(district, parts_of, moved, hh_of)
    return rows, moved, members, details


def split_edit(kind: str, plans, rows, moved, members, detail) -> Edit:
    """The :class:`Edit` of a split or densify from the results of :func:`split_grids`."""
    return Edit(kind=kind, retired=tuple(str(r["code"]) for r, _ in plans),
                added=grids_frame(rows), moved=moved, members=members, detail=detail)


def split_by_line(district: District, code: str, line, codes: CodeSource) -> Edit:
    """Cut a grid in two (or more) along a line.

    Parameters
    ----------
    district : District
    code : str
        The grid to split; its code is retired.
    line : shapely LineString or MultiLineString
        Lon/lat (EPSG:4490); it must cross the grid from edge to edge. A line crossing it
        several times makes as many parts.
    codes : CodeSource
        Gives the parts' fresh codes.

    Returns
    -------
    Edit
        Of kind ``split``: each part is a new grid named ``"{old name}-{i}"`` with the old
        grid's community and kind; buildings go to the part holding most of their footprint,
        members to the part with most of their assigned buildings.

    Raises
    ------
    NotFound
        If the grid does not exist.
    InvalidGeometry
        If the line is not a valid lon/lat line, does not cut the grid into two or more parts,
        or cuts off a piece smaller than 1 m².
    """
    row = grid_row(district, code)
    line = as_geometry(line, LINEAR, "the split line")
    grid = row.geometry
    pieces = [p for p in shapely.get_parts(split_along(grid, line))
              if p.geom_type == "Polygon"]
    if len(pieces) < 2:
        raise InvalidGeometry(
            f"the line does not cut grid {code} into two or more parts: it must cross the "
            "grid's boundary on both sides", grid=str(code))
    epsg = district.metric_epsg
    pieces = [tidy(p, epsg) for p in pieces]
    areas = shapely.area(to_metric(np.asarray(pieces, dtype=object), epsg))
    small = np.flatnonzero(areas < MIN_PART_M2)
    if small.size:
        raise InvalidGeometry(
            f"the line cuts off a piece of only {areas[small[0]]:.2f} m² of grid {code}; "
            "draw it across the grid, not along its edge", grid=str(code))
    plans = [(row, pieces)]
    rows, moved, members, details = split_grids(district, plans, codes)
    coords = [[round(float(x), 7), round(float(y), 7)] for x, y in shapely.get_coordinates(line)]
    return split_edit("split", plans, rows, moved, members, {**details[0], "line": coords})


def parts_of_grid(district: District, row: pd.Series, k: int,
                  buildings: pd.DataFrame | None = None) -> list[BaseGeometry]:
    """The ``k`` parts :func:`split_into_parts` cuts a grid into (see
    :mod:`geo_grid.editing.partition`); ``buildings`` are the grid's buildings if the caller
    already has them."""
    b = buildings if buildings is not None else buildings_of(district, [str(row["code"])])
    if k > len(b):
        raise InvalidInput(
            f"grid {row['code']} has {len(b)} buildings; it cannot be split into {k} parts "
            "that each hold a building", grid=str(row["code"]), k=k, buildings=len(b))
    try:
        return partition(row.geometry, b.geometry.to_numpy(), households(b), k,
                         district.metric_epsg)
    except ValueError as exc:
        raise InvalidInput(f"grid {row['code']} cannot be cut into {k} parts that each hold a "
                           "building (its buildings overlap)", grid=str(row["code"])) from exc


def split_into_parts(district: District, code: str, k: int, codes: CodeSource) -> Edit:
    """Split a grid into ``k`` contiguous parts balanced by households.

    The cuts are straight lines put in gaps between buildings where there are gaps, so no
    footprint is cut (see :mod:`geo_grid.editing.partition`); every part is a single polygon
    holding at least one building.

    Parameters
    ----------
    district : District
    code : str
        The grid to split; its code is retired.
    k : int
        Number of parts, from 2 to the number of buildings of the grid.
    codes : CodeSource
        Gives the parts' fresh codes.

    Returns
    -------
    Edit
        Of kind ``split``; ``detail["parts"]`` gives each part's code, name, households and
        buildings.

    Raises
    ------
    NotFound
        If the grid does not exist.
    InvalidInput
        If ``k`` is not an integer ≥ 2 or is more than the grid's buildings.
    """
    row = grid_row(district, code)
    k = parts_count(k)
    parts = parts_of_grid(district, row, k)
    plans = [(row, parts)]
    rows, moved, members, details = split_grids(district, plans, codes)
    return split_edit("split", plans, rows, moved, members, {**details[0], "k": k})


def parts_count(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise InvalidInput(f"k must be an integer of at least 2, got {k!r}", k=str(k))
    return int(k)
