"""Giving a grid (and, in the same edit, some of its neighbours) a new outline.

The grids of a community must still tile it afterwards. Only what the edit changes is checked,
so an old flaw elsewhere in the community does not block an edit (``geo-grid validate`` reports
those): area the changed grids covered before and no grid covers now is a gap, area of a changed
grid outside the community that was not outside before is outside its parent, and area a changed
grid now shares with another grid of the community, beyond what the two shared before, is an
overlap. Anything over the tolerance (1 m² by default) is a violation, reported with a lon/lat
point inside it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import shapely

from geo_grid.district import District
from geo_grid.editing.common import (
    POLYGONAL,
    as_geometry,
    buildings_of,
    grid_row,
    grids_frame,
    lonlat_of,
    tidy,
    to_metric,
)
from geo_grid.editing.edit import Edit
from geo_grid.editing.place import place_buildings
from geo_grid.errors import InvalidInput, NotFound, TopologyError


def _violation(kind: str, code: str, message: str, where_m, epsg: int) -> dict:
    lon, lat = lonlat_of(where_m, epsg)
    return {"kind": kind, "layer": "grids", "code": code, "message": message,
            "lon": lon, "lat": lat}


def _pieces(geom, tol: float):
    return [p for p in shapely.get_parts(geom) if p.area > tol]


def tiling_violations(district: District, community: str, new: Mapping[str, object],
                      tolerance_m2: float = 1.0) -> list[dict]:
    """What giving some grids of a community new outlines would break in its tiling.

    Parameters
    ----------
    district : District
    community : str
        The community whose grids change.
    new : mapping
        Grid code → new lon/lat outline, for the changed grids (all in ``community``).
    tolerance_m2 : float
        Gaps, overlaps and areas outside the community up to this size are accepted.

    Returns
    -------
    list of dict
        One ``{kind, layer, code, message, lon, lat}`` per gap, overlap or area outside the
        community the change creates (``kind`` is ``gap``, ``overlap`` or ``outside_parent``;
        an overlap's ``code`` names both grids, ``"A,B"``).
    """
    epsg = district.metric_epsg
    grids = district.grids[district.grids["community_code"].astype(str) == community]
    codes = grids["code"].astype(str).to_numpy()
    changed = np.isin(codes, list(new))
    old_m = to_metric(grids.geometry.to_numpy(), epsg)
    now = grids.geometry.to_numpy().copy()
    for i in np.flatnonzero(changed):
        now[i] = new[codes[i]]
    now_m = to_metric(now, epsg)
    comm = district.communities[district.communities["code"].astype(str) == community]
    comm_m = to_metric(comm.geometry.iloc[0], epsg) if len(comm) else None
    out: list[dict] = []

    # gaps: area the changed grids held before that no grid holds now
    lost = shapely.difference(shapely.union_all(old_m[changed]), shapely.union_all(now_m))
    if comm_m is not None:
        lost = shapely.intersection(lost, comm_m)
    for gap in _pieces(lost, tolerance_m2):
        was = [c for c, g in zip(codes[changed], old_m[changed], strict=True)
               if shapely.intersection(g, gap).area > tolerance_m2]
        out.append(_violation(
            "gap", ",".join(was) or community,
            f"{gap.area:.1f} m² of community {community} would be in no grid"
            + (f" (it was in grid {', '.join(was)})" if was else ""), gap, epsg))

    # outside the community, beyond what already was
    if comm_m is not None:
        for i in np.flatnonzero(changed):
            extra = shapely.difference(shapely.difference(now_m[i], comm_m), old_m[i])
            for piece in _pieces(extra, tolerance_m2):
                out.append(_violation(
                    "outside_parent", codes[i],
                    f"{piece.area:.1f} m² of grid {codes[i]} would lie outside community "
                    f"{community}", piece, epsg))

    # overlaps of a changed grid with any other grid of the community (each pair once)
    n = len(codes)
    for i in np.flatnonzero(changed):
        others = np.array([j for j in range(n) if j != i and not (changed[j] and j < i)], dtype=int)
        if others.size == 0:
            continue
        both = shapely.intersection(now_m[i], now_m[others])
        before = shapely.intersection(old_m[i], old_m[others])
        extra = shapely.difference(both, before)
        for j, geom in zip(others, extra, strict=True):
            for piece in _pieces(geom, tolerance_m2):
                out.append(_violation(
                    "overlap", f"{codes[i]},{codes[j]}",
                    f"grids {codes[i]} and {codes[j]} would overlap by {piece.area:.1f} m²",
                    piece, epsg))
    return out


def reshape_grid(district: District, code: str, geometry, neighbours: Mapping | None = None,
                 tolerance_m2: float = 1.0) -> Edit:
    """Give a grid a new outline, and optionally some neighbours too (to move a shared border).

    Parameters
    ----------
    district : District
    code : str
        The grid to reshape; it keeps its code.
    geometry : shapely Polygon or MultiPolygon
        Its new outline in lon/lat (EPSG:4490); a GeoJSON-like mapping is accepted too.
    neighbours : mapping, optional
        Grid code → new outline, for other grids of the same community changed in the same
        edit.
    tolerance_m2 : float
        Gaps, overlaps and areas outside the community up to this size (m²) are accepted.

    Returns
    -------
    Edit
        Of kind ``geometry``; ``reshaped`` holds the changed grids with their new outlines,
        ``moved`` the buildings of those grids that now lie mostly in another of them.

    Raises
    ------
    NotFound
        If a grid does not exist.
    InvalidGeometry
        If an outline is not a valid, non-empty lon/lat Polygon or MultiPolygon.
    InvalidInput
        If a neighbour is in another community or is the grid itself.
    TopologyError
        If the community would no longer be tiled: ``details["violations"]`` lists every gap,
        overlap and area outside the community over the tolerance, with a lon/lat point in it.
    """
    row = grid_row(district, code)
    code = str(code)
    community = str(row["community_code"])
    new = {code: as_geometry(geometry, POLYGONAL, f"the new outline of grid {code}")}
    rows = {code: row}
    for other, geom in dict(neighbours or {}).items():
        other = str(other)
        if other == code:
            raise InvalidInput(f"grid {code} is given as its own neighbour", grid=code)
        try:
            nrow = grid_row(district, other)
        except NotFound as exc:
            raise NotFound(f"neighbour grid {other!r} does not exist", grid=other) from exc
        if str(nrow["community_code"]) != community:
            raise InvalidInput(
                f"neighbour grid {other} is in community {nrow['community_code']}, grid {code} "
                f"in community {community}: only grids of one community can be reshaped together",
                grid=other)
        new[other] = as_geometry(geom, POLYGONAL, f"the new outline of grid {other}")
        rows[other] = nrow
    # a needle left by the caller's own overlays would be a self-intersection in metres
    epsg = district.metric_epsg
    new = {c: tidy(g, epsg) for c, g in new.items()}
    violations = tiling_violations(district, community, new, tolerance_m2)
    if violations:
        raise TopologyError(
            f"the new outline{'s' if len(new) > 1 else ''} of grid{'s' if len(new) > 1 else ''} "
            f"{', '.join(new)} would break the tiling of community {community}: "
            + "; ".join(v["message"] for v in violations[:5])
            + (f" (and {len(violations) - 5} more)" if len(violations) > 5 else ""),
            violations=violations)
    order = list(new)
    reshaped = grids_frame([{"code": c, "name": rows[c]["name"], "community_code": community,
                             "kind": rows[c]["kind"], "geometry": new[c]} for c in order])
    b = buildings_of(district, order)
    where = place_buildings(b.geometry.to_numpy(), [new[c] for c in order])
    target = np.asarray(order, dtype=object)[where]
    old = b["grid_code"].astype(str).to_numpy()
    moved = {str(bc): str(t) for bc, o, t in zip(b["code"], old, target, strict=True) if o != t}
    before = shapely.area(to_metric(np.array([rows[c].geometry for c in order], dtype=object), epsg))
    after = shapely.area(to_metric(np.array([new[c] for c in order], dtype=object), epsg))
    return Edit(kind="geometry", reshaped=reshaped, moved=moved, detail={
        "grids": [{"code": c, "area_m2_before": round(float(a0), 1),
                   "area_m2_after": round(float(a1), 1)}
                  for c, a0, a1 in zip(order, before, after, strict=True)]})
