"""``--repair``: the small drawing errors an importer can fix without asking, each one listed.

Everything is done in metres of the street's Gauss-Kruger zone (``District.metric_epsg``), and
"small" means *narrower than the tolerance* (1 m by default): a shape is narrower than ``t``
when shrinking it by ``t / 2`` on every side leaves nothing. A 0.3 m strip between two grids is
a drawing error however long it is; a 5 m one is a real question for the office and stays a
violation.

The repairs, in the order they are made:

1. invalid polygons (a self-intersecting "bow-tie", a ring touching itself) are made valid with
   :func:`shapely.make_valid`, keeping only their polygonal parts;
2. in each tiling (communities in the street, grids in their community):

   - *slivers*: parts of a multi-part feature narrower than the tolerance are removed;
   - *overlaps* narrower than the tolerance are cut out of the smaller of the two features
     (the later one when they are the same size);
   - parts *outside the parent* narrower than the tolerance are clipped off;
   - *gaps* narrower than the tolerance are given to the neighbour sharing the longest border
     with them;

3. a building *straddling grids* is given to the grid holding most of its area; the straddle
   itself is then accepted (it is no longer an error; the repair says so).

Geometries nothing was done to are returned untouched (no round trip through the metric CRS).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import geopandas as gpd
import numpy as np
import shapely

from geo_grid.crs import STORE_EPSG, transformer
from geo_grid.district import District

#: Areas below this (m²) are floating-point noise: not a part, not an intersection.
_NOISE_M2 = 1e-6
#: How near (m) a feature's edge must be to a gap's edge for the two to count as sharing it.
_TOUCH_M = 1e-3


@dataclass(frozen=True)
class Repair:
    """One repair made by :func:`repair`: what was wrong (``kind``, as the violation it fixes),
    the feature, what was done, and where (lon/lat)."""

    kind: str
    layer: str
    code: str
    action: str
    lon: float | None = None
    lat: float | None = None

    def to_dict(self) -> dict:
        """The repair as the import report lists it."""
        return asdict(self)

    def __str__(self) -> str:
        where = f" at ({self.lon:.6f}, {self.lat:.6f})" if self.lon is not None else ""
        return f"[repaired {self.kind}] {self.layer} {self.code}: {self.action}{where}"


def narrower_than(geom, tolerance_m: float) -> bool:
    """True when a metric polygon is narrower than ``tolerance_m`` everywhere (shrinking it by
    half the tolerance on every side leaves nothing)."""
    if tolerance_m <= 0 or geom is None or geom.is_empty:
        return False
    return bool(shapely.buffer(geom, -tolerance_m / 2, quad_segs=2).is_empty)


def _polygons(geom) -> list:
    """The polygons of any geometry (a collection's lines and points dropped)."""
    if geom is None or geom.is_empty:
        return []
    out = []
    for part in shapely.get_parts(geom):
        if part.geom_type == "Polygon":
            if part.area > _NOISE_M2:
                out.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(_polygons(part))
    return out


def _polygonal(parts: list):
    """One Polygon, a MultiPolygon, or None for no part."""
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


class _Log:
    """Repairs in the making: places are metric until :meth:`done` turns them into lon/lat."""

    def __init__(self, epsg: int):
        self.epsg = epsg
        self.items: list[Repair] = []

    def add(self, kind: str, layer: str, code: str, action: str, where=None) -> None:
        x = y = None
        if where is not None and not where.is_empty:
            p = shapely.point_on_surface(where) if where.area > 0 else shapely.centroid(where)
            x, y = float(p.x), float(p.y)
        self.items.append(Repair(kind, layer, code, action, x, y))

    def done(self) -> list[Repair]:
        placed = [i for i, r in enumerate(self.items) if r.lon is not None]
        out = list(self.items)
        if placed:
            lon, lat = transformer(self.epsg, STORE_EPSG).transform(
                np.array([out[i].lon for i in placed]), np.array([out[i].lat for i in placed]))
            for k, i in enumerate(placed):
                out[i] = replace(out[i], lon=float(lon[k]), lat=float(lat[k]))
        return out


def _make_valid(layer: str, codes, geoms: np.ndarray, changed: np.ndarray, log: _Log) -> None:
    for i, g in enumerate(geoms):
        if g is None or g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon") or g.is_valid:
            continue
        parts = _polygons(shapely.make_valid(g))
        fixed = _polygonal(parts)
        if fixed is None:  # nothing polygonal left: the violation stays for the office
            continue
        geoms[i] = fixed
        changed[i] = True
        log.add("invalid_geometry", layer, str(codes[i]),
                f"invalid geometry made valid (make_valid): {len(parts)} polygon part(s), "
                f"{fixed.area:.1f} m² kept", fixed)


def _usable(g) -> bool:
    return g is not None and not g.is_empty and g.geom_type in ("Polygon", "MultiPolygon") \
        and g.is_valid


def _tile(parent_layer: str, parent_code: str, parent, child_layer: str, codes: list[str],
          geoms: np.ndarray, changed: np.ndarray, idx: np.ndarray, tol: float,
          log: _Log) -> None:
    """Snap away the slivers, overlaps, outside parts and gaps narrower than ``tol`` of the
    children ``idx`` (indices into ``geoms``) of one parent."""
    idx = np.asarray([i for i in idx if _usable(geoms[i])], dtype=np.int64)
    if parent is None or not _usable(parent) or len(idx) == 0:
        return
    unit = child_layer[:-1]  # "grid", "community" → the report speaks of one feature

    def set_geom(i: int, g) -> None:
        geoms[i] = g
        changed[i] = True

    # slivers: narrow parts of a feature that has a wider part too
    for i in idx:
        parts = _polygons(geoms[i])
        if len(parts) < 2:
            continue
        thin = [p for p in parts if narrower_than(p, tol)]
        if thin and len(thin) < len(parts):
            set_geom(i, _polygonal([p for p in parts if not narrower_than(p, tol)]))
            for p in thin:
                log.add("sliver", child_layer, codes[i],
                        f"removed a part {p.area:.2f} m² narrower than {tol:g} m", p)
    # overlaps: cut out of the smaller feature (the later one when equal)
    tree = shapely.STRtree(geoms[idx])
    left, right = tree.query(geoms[idx], predicate="intersects")
    for a, b in zip(left, right, strict=True):
        if a >= b:
            continue
        i, j = int(idx[a]), int(idx[b])
        if geoms[i] is None or geoms[j] is None:
            continue
        for part in _polygons(shapely.intersection(geoms[i], geoms[j])):
            if not narrower_than(part, tol) or geoms[i] is None or geoms[j] is None:
                continue
            loser = i if geoms[i].area < geoms[j].area else j
            set_geom(loser, _polygonal(_polygons(shapely.difference(geoms[loser], part))))
            log.add("overlap", child_layer, f"{codes[i]},{codes[j]}",
                    f"overlap of {part.area:.2f} m² narrower than {tol:g} m cut out of "
                    f"{unit} {codes[loser]}", part)
    # parts outside the parent
    for i in idx:
        if geoms[i] is None:
            continue
        for part in _polygons(shapely.difference(geoms[i], parent)):
            if geoms[i] is not None and narrower_than(part, tol):
                set_geom(i, _polygonal(_polygons(shapely.difference(geoms[i], part))))
                log.add("outside_parent", child_layer, codes[i],
                        f"{part.area:.2f} m² outside {parent_layer} {parent_code}, narrower than "
                        f"{tol:g} m, clipped off", part)
    # gaps: to the neighbour sharing the longest border
    live = np.asarray([i for i in idx if geoms[i] is not None], dtype=np.int64)
    if len(live) == 0:
        return
    union = shapely.union_all(geoms[live])
    for gap in _polygons(shapely.difference(parent, union)):
        if not narrower_than(gap, tol):
            continue
        edge = gap.boundary
        shared = [(shapely.intersection(edge, shapely.buffer(geoms[i], _TOUCH_M)).length, int(i))
                  for i in live]
        length, best = max(shared, key=lambda t: (t[0], -t[1]))
        if length <= 0:
            continue
        set_geom(best, _polygonal(_polygons(shapely.union(geoms[best], gap))))
        log.add("gap", parent_layer, parent_code,
                f"gap of {gap.area:.2f} m² narrower than {tol:g} m given to {unit} "
                f"{codes[best]} (longest shared border, {length:.1f} m)", gap)


def _straddlers(district: District, grids_m: np.ndarray, builds_m: np.ndarray,
                log: _Log) -> tuple[list, list]:
    """Give each building crossing grid edges to the grid holding most of its area."""
    g, b = district.grids, district.buildings
    gcodes = [str(c) for c in g["code"]]
    gcomm = dict(zip(gcodes, (str(c) for c in g["community_code"]), strict=True))
    grid_code = [str(c) for c in b["grid_code"]]
    comm_code = [str(c) for c in b["community_code"]]
    ok_g = np.flatnonzero([_usable(x) for x in grids_m])
    ok_b = np.flatnonzero([_usable(x) for x in builds_m])
    if len(ok_g) == 0 or len(ok_b) == 0:
        return grid_code, comm_code
    tree = shapely.STRtree(grids_m[ok_g])
    bi, gi = tree.query(builds_m[ok_b], predicate="intersects")
    bi, gi = ok_b[bi], ok_g[gi]
    areas = shapely.area(shapely.intersection(builds_m[bi], grids_m[gi]))
    hits: dict[int, list[tuple[float, int]]] = {}
    for i, j, a in zip(bi, gi, areas, strict=True):
        if a > _NOISE_M2:
            hits.setdefault(int(i), []).append((float(a), int(j)))
    for i, found in sorted(hits.items()):
        if len(found) < 2:
            continue
        found.sort(key=lambda t: (-t[0], t[1]))
        total = sum(a for a, _ in found)
        best = gcodes[found[0][1]]
        shares = ", ".join(f"{gcodes[j]} {100 * a / total:.0f}%" for a, j in found)
        before = grid_code[i]
        grid_code[i] = best
        comm_code[i] = gcomm.get(best, comm_code[i])
        verb = "kept in" if before == best else f"moved from grid {before} to"
        log.add("building_crosses_edge", "buildings", str(b["code"].iloc[i]),
                f"building straddles grids ({shares}): {verb} grid {best}, which holds most "
                "of its area; the straddle is no longer an error", builds_m[i])
    return grid_code, comm_code


def repair(district: District, tolerance_m: float = 1.0) -> tuple[District, list[Repair]]:
    """Repair what can be repaired without asking the office (see the module's docstring).

    Parameters
    ----------
    district : District
        The layers as imported (EPSG:4490).
    tolerance_m : float
        Slivers, gaps, overlaps and outside parts narrower than this (metres) are snapped
        away; ``0`` snaps nothing (invalid geometries and straddling buildings are still
        repaired).

    Returns
    -------
    district : District
        The repaired layers (a new District; the argument is not changed).
    repairs : list of Repair
        Every repair made, in the order made.
    """
    epsg = district.metric_epsg
    log = _Log(epsg)
    names = ("street", "communities", "grids", "buildings")
    frames = {k: getattr(district, k) for k in names}
    metric = {k: np.asarray(f.geometry.to_crs(epsg).array, dtype=object).copy()
              for k, f in frames.items()}
    changed = {k: np.zeros(len(f), dtype=bool) for k, f in frames.items()}
    codes = {k: [str(c) for c in f["code"]] for k, f in frames.items()}
    for k in names:
        _make_valid(k, codes[k], metric[k], changed[k], log)

    if len(frames["street"]) == 1:
        _tile("street", codes["street"][0], metric["street"][0], "communities",
              codes["communities"], metric["communities"], changed["communities"],
              np.arange(len(frames["communities"])), tolerance_m, log)
    gcomm = np.asarray([str(c) for c in frames["grids"]["community_code"]], dtype=object)
    for ci, ccode in enumerate(codes["communities"]):
        _tile("communities", ccode, metric["communities"][ci], "grids", codes["grids"],
              metric["grids"], changed["grids"], np.flatnonzero(gcomm == ccode), tolerance_m, log)
    grid_code, comm_code = _straddlers(district, metric["grids"], metric["buildings"], log)

    out = {}
    for k in names:
        f = frames[k]
        idx = np.flatnonzero(changed[k])
        if len(idx):
            f = f.copy()
            back = gpd.GeoSeries(list(metric[k][idx]), crs=epsg).to_crs(f.crs)
            geoms = np.asarray(f.geometry.array, dtype=object).copy()
            geoms[idx] = np.asarray(back.array, dtype=object)
            f[f.geometry.name] = gpd.GeoSeries(list(geoms), index=f.index, crs=f.crs)
        out[k] = f
    b = out["buildings"]
    if list(b["grid_code"].astype(str)) != grid_code or \
            list(b["community_code"].astype(str)) != comm_code:
        b = b.copy()
        b["grid_code"] = grid_code
        b["community_code"] = comm_code
        out["buildings"] = b
    return replace(district, **out), log.done()
