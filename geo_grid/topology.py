"""Topology validation of a district's layers.

Checks, in metres of the street's Gauss-Kruger zone (``District.metric_epsg``):

- every geometry is a valid, non-empty Polygon or MultiPolygon;
- codes are unique and well formed (street 9 digits, community 12, grid 15, building 17 digits)
  and extend their parent's code;
- references are consistent (grid → community, building → grid and community);
- the communities tile the street and the grids tile their community: a gap or an overlap of more
  than ``tolerance_m2`` (1 m² by default) is a violation;
- every building lies in exactly one grid, the one it names, and crosses no grid edge;
- building attributes are usable: a known category, floors ≥ 1, units ≥ 1, households ≥ 0, a
  building or door number (``12``, ``12A``, ``12-1``), and no two buildings share an address
  (the same address text, or the same compound and number), which the address matcher, the
  lookup service and the store could not tell apart.

Every violation names its feature and where it is in lon/lat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_grid import codes as codes_mod
from geo_grid.address.normalize import _basic
from geo_grid.address.parse import number_key
from geo_grid.crs import STORE_EPSG, transformer
from geo_grid.district import BUILDING_CATEGORIES, GRID_KINDS, District

# the position GEOS puts in an invalidity reason: "Self-intersection[x y]"
_REASON_POINT = re.compile(r"\[(-?[\d.eE+-]+) (-?[\d.eE+-]+)\]")


@dataclass(frozen=True)
class Violation:
    """One topology or consistency problem, with the feature it concerns and where it is."""

    kind: str
    layer: str
    code: str
    message: str
    lon: float | None = None
    lat: float | None = None

    def __str__(self) -> str:
        where = f" at ({self.lon:.6f}, {self.lat:.6f})" if self.lon is not None else ""
        return f"[{self.kind}] {self.layer} {self.code}: {self.message}{where}"


def _where(geom_m) -> tuple[float | None, float | None]:
    """A point of a metric geometry, still in metres: :func:`validate` turns every violation's
    place into lon/lat at the end, in one transform."""
    if geom_m is None or geom_m.is_empty:
        return None, None
    try:
        p = geom_m.representative_point()
    except shapely.errors.GEOSException:  # some invalid shapes have none
        p = shapely.centroid(geom_m)
    return float(p.x), float(p.y)


def _to_lonlat(out: list[Violation], epsg: int) -> list[Violation]:
    """The violations with their metric places turned into lon/lat."""
    placed = [i for i, v in enumerate(out) if v.lon is not None]
    if not placed:
        return out
    x = np.array([out[i].lon for i in placed])
    y = np.array([out[i].lat for i in placed])
    lon, lat = transformer(epsg, STORE_EPSG).transform(x, y)
    out = list(out)
    for k, i in enumerate(placed):
        out[i] = replace(out[i], lon=float(lon[k]), lat=float(lat[k]))
    return out


def _check_geometries(name: str, gdf: gpd.GeoDataFrame, geoms: np.ndarray, out: list[Violation],
                      epsg: int):
    ok = np.ones(len(gdf), dtype=bool)
    for i, (code, g) in enumerate(zip(gdf["code"], geoms, strict=True)):
        if g is None or g.is_empty:
            out.append(Violation("empty_geometry", name, str(code), "geometry is empty"))
            ok[i] = False
        elif g.geom_type not in ("Polygon", "MultiPolygon"):
            out.append(Violation("wrong_geometry_type", name, str(code),
                                 f"geometry is {g.geom_type}, expected Polygon or MultiPolygon",
                                 *_where(g)))
            ok[i] = False
        elif not g.is_valid:
            reason, where = _reason_lonlat(shapely.is_valid_reason(g), epsg)
            out.append(Violation("invalid_geometry", name, str(code), f"invalid geometry: {reason}",
                                 *(where or _where(g))))
            ok[i] = False
    return ok


def _reason_lonlat(reason: str, epsg: int) -> tuple[str, tuple[float, float] | None]:
    """GEOS's invalidity reason with its metric position rewritten in lon/lat, and that place
    (in metres, like every place until :func:`validate` converts them)."""
    m = _REASON_POINT.search(reason)
    if m is None:
        return reason, None
    x, y = float(m.group(1)), float(m.group(2))
    lon, lat = transformer(epsg, STORE_EPSG).transform(x, y)
    return f"{reason[:m.start()]} at lon/lat ({lon:.6f}, {lat:.6f}){reason[m.end():]}", (x, y)


def _check_buildings(b: gpd.GeoDataFrame, geoms: np.ndarray, out: list[Violation]) -> None:
    """Attributes the matcher, the population and the store need, and unique addresses."""
    codes = [str(c) for c in b["code"]]

    def bad(i: int, message: str, kind: str = "bad_attribute") -> None:
        out.append(Violation(kind, "buildings", codes[i], message, *_where(geoms[i])))

    category = b["category"].astype(object).to_numpy()
    for i in np.flatnonzero(~np.isin(category, BUILDING_CATEGORIES)):
        bad(int(i), f"category {category[i]!r} is not one of {', '.join(BUILDING_CATEGORIES)}")
    for col, low in (("floors", 1), ("units", 1), ("households", 0)):
        values = pd.to_numeric(b[col], errors="coerce").to_numpy(dtype=float)
        raw = b[col].to_numpy()
        wrong = ~np.isfinite(values) | (values < low) | (values != np.round(values))
        for i in np.flatnonzero(wrong):
            bad(int(i), f"{col} is {raw[i]!r}; it must be a whole number ≥ {low}")
    first_address: dict[str, int] = {}
    first_key: dict[tuple[str, str], int] = {}
    # a city has some 150,000 buildings but far fewer distinct numbers and compounds: each is
    # normalised once (the type is part of the number's key: 1, 1.0 and True are equal keys)
    number_keys: dict[tuple[type, object], tuple[int, str] | None] = {}
    basics: dict[str, str] = {}
    for i, (address, compound, number) in enumerate(
            zip(b["address"], b["compound"], b["number"], strict=True)):
        ck = (type(number), number)
        try:
            nk = number_keys[ck]
        except KeyError:
            nk = number_keys[ck] = number_key(number)
        except TypeError:  # an unhashable cell
            nk = number_key(number)
        if nk is None:
            bad(i, f"number {number!r} is not a building or door number (12, 12A, 12-1)")
        else:
            text = str(compound)
            basic = basics.get(text)
            if basic is None:
                basic = basics[text] = _basic(text)
            key = (basic, f"{nk[0]}{nk[1]}")
            j = first_key.setdefault(key, i)
            if j != i:
                bad(i, f"same compound and number as building {codes[j]}: {compound} {number} "
                       "(the address lookup could not tell them apart)", "duplicate_address")
        j = first_address.setdefault(str(address), i)
        if j != i:
            bad(i, f"address {address!r} is also the address of building {codes[j]}",
                "duplicate_address")


def _check_codes(name: str, gdf: gpd.GeoDataFrame, geoms: np.ndarray,
                 out: list[Violation]) -> None:
    seen: set[str] = set()
    for code, g in zip(gdf["code"], geoms, strict=True):
        if not codes_mod.well_formed(name, code):
            out.append(Violation("malformed_code", name, str(code),
                                 f"code {code!r} does not match {codes_mod.PATTERNS[name].pattern}",
                                 *_where(g)))
        if code in seen:
            out.append(Violation("duplicate_code", name, str(code), "code is used more than once",
                                 *_where(g)))
        seen.add(code)


def _tiling(parent_name, parent_code, parent_geom, child_name, child_codes, child_geoms, tol, out):
    """Gaps of children inside the parent, overlaps between children, children outside."""
    if parent_geom is None or len(child_geoms) == 0:
        return
    union = shapely.union_all(child_geoms)
    for gap in shapely.get_parts(shapely.difference(parent_geom, union)):
        if gap.area > tol:
            out.append(Violation("gap", parent_name, parent_code,
                                 f"{gap.area:.1f} m² of {parent_name} {parent_code} is in no {child_name[:-1]}",
                                 *_where(gap)))
    for outside in shapely.get_parts(shapely.difference(union, parent_geom)):
        if outside.area > tol:
            # name the child it belongs to
            hit = [c for c, g in zip(child_codes, child_geoms, strict=True)
                   if g.intersection(outside).area > tol]
            out.append(Violation("outside_parent", child_name, ",".join(hit) or "?",
                                 f"{outside.area:.1f} m² lies outside {parent_name} {parent_code}",
                                 *_where(outside)))
    tree = shapely.STRtree(child_geoms)
    left, right = tree.query(child_geoms, predicate="intersects")
    mask = left < right
    for i, j in zip(left[mask], right[mask], strict=True):
        inter = shapely.intersection(child_geoms[i], child_geoms[j])
        if inter.area > tol:
            out.append(Violation("overlap", child_name, f"{child_codes[i]},{child_codes[j]}",
                                 f"{child_codes[i]} and {child_codes[j]} overlap by {inter.area:.1f} m²",
                                 *_where(inter)))


def validate(district: District, tolerance_m2: float = 1.0) -> list[Violation]:
    """Check a district's layers and return every violation found (empty list when clean).

    Parameters
    ----------
    district : District
        The layers (tables are not checked).
    tolerance_m2 : float
        Gaps and overlaps up to this area are accepted (rounding noise).

    Returns
    -------
    list of Violation
        Sorted by kind, layer and code.
    """
    out: list[Violation] = []
    layers = {
        "street": district.street,
        "communities": district.communities,
        "grids": district.grids,
        "buildings": district.buildings,
    }
    metric = {}
    valid = {}
    epsg = district.metric_epsg  # the street's own Gauss-Kruger zone
    for name, gdf in layers.items():
        geoms = np.asarray(gdf.geometry.to_crs(epsg).array, dtype=object)
        metric[name] = geoms
        valid[name] = _check_geometries(name, gdf, geoms, out, epsg)
        _check_codes(name, gdf, geoms, out)

    street = district.street
    if len(street) != 1:
        out.append(Violation("street_count", "street", "-", f"expected 1 street feature, found {len(street)}"))
    street_code = str(street["code"].iloc[0]) if len(street) else ""
    street_geom = metric["street"][0] if len(street) and valid["street"][0] else None

    comm = district.communities
    comm_codes = list(comm["code"])
    comm_geom = dict(zip(comm_codes, metric["communities"], strict=True))
    for code, g in zip(comm_codes, metric["communities"], strict=True):
        if not str(code).startswith(street_code):
            out.append(Violation("bad_reference", "communities", str(code),
                                 f"community code does not extend the street code {street_code}",
                                 *_where(g)))

    grids = district.grids
    grid_comm = dict(zip(grids["code"], grids["community_code"], strict=True))
    for code, ccode, kind, g in zip(grids["code"], grids["community_code"], grids["kind"],
                                    metric["grids"], strict=True):
        if ccode not in comm_geom:
            out.append(Violation("bad_reference", "grids", str(code), f"community {ccode} does not exist",
                                 *_where(g)))
        elif not str(code).startswith(str(ccode)):
            out.append(Violation("bad_reference", "grids", str(code),
                                 f"grid code does not extend its community code {ccode}", *_where(g)))
        if kind not in GRID_KINDS:
            out.append(Violation("bad_attribute", "grids", str(code),
                                 f"kind {kind!r} is not one of {', '.join(GRID_KINDS)}", *_where(g)))

    b = district.buildings
    _check_buildings(b, metric["buildings"], out)
    for code, gcode, ccode, g in zip(b["code"], b["grid_code"], b["community_code"],
                                     metric["buildings"], strict=True):
        if gcode not in grid_comm:
            out.append(Violation("bad_reference", "buildings", str(code), f"grid {gcode} does not exist",
                                 *_where(g)))
        elif grid_comm[gcode] != ccode:
            out.append(Violation("bad_reference", "buildings", str(code),
                                 f"community_code {ccode} differs from its grid's community {grid_comm[gcode]}",
                                 *_where(g)))
        if not str(code).startswith(str(ccode)):
            out.append(Violation("bad_reference", "buildings", str(code),
                                 f"building code does not extend its community code {ccode}", *_where(g)))

    # tiling: communities in the street, grids in each community
    cvalid = [g for g, ok in zip(metric["communities"], valid["communities"], strict=True) if ok]
    ccodes_valid = [c for c, ok in zip(comm_codes, valid["communities"], strict=True) if ok]
    _tiling("street", street_code, street_geom, "communities", ccodes_valid, np.asarray(cvalid, dtype=object),
            tolerance_m2, out)
    gvalid = valid["grids"]
    ggeoms = metric["grids"]
    gcodes = np.asarray(grids["code"], dtype=object)
    gcomm = np.asarray(grids["community_code"], dtype=object)
    for ccode in comm_codes:
        sel = (gcomm == ccode) & gvalid
        pg = comm_geom.get(ccode)
        if pg is None or not pg.is_valid:
            continue
        if not sel.any():
            out.append(Violation("gap", "communities", str(ccode), "community has no grid", *_where(pg)))
            continue
        _tiling("communities", str(ccode), pg, "grids", list(gcodes[sel]), ggeoms[sel], tolerance_m2, out)
    # overlaps between grids of different communities
    gtree = shapely.STRtree(ggeoms[gvalid])
    gv_codes, gv_comm, gv_geoms = gcodes[gvalid], gcomm[gvalid], ggeoms[gvalid]
    left, right = gtree.query(gv_geoms, predicate="intersects")
    mask = (left < right) & (gv_comm[left] != gv_comm[right])
    for i, j in zip(left[mask], right[mask], strict=True):
        area = shapely.intersection(gv_geoms[i], gv_geoms[j]).area
        if area > tolerance_m2:
            out.append(Violation("overlap", "grids", f"{gv_codes[i]},{gv_codes[j]}",
                                 f"grids of different communities overlap by {area:.1f} m²",
                                 *_where(shapely.intersection(gv_geoms[i], gv_geoms[j]))))

    # buildings: in exactly one grid, the one they name, crossing no edge
    bvalid = valid["buildings"]
    bgeoms = metric["buildings"]
    bcodes = np.asarray(b["code"], dtype=object)
    bgrid = np.asarray(b["grid_code"], dtype=object)
    bvalid_idx = np.flatnonzero(bvalid)
    bi, gi = gtree.query(bgeoms[bvalid_idx], predicate="intersects")
    bi = bvalid_idx[bi]
    areas = shapely.area(shapely.intersection(bgeoms[bi], gv_geoms[gi])) if len(bi) else np.array([])
    keep = areas > 1e-6
    bi, gi = bi[keep], gi[keep]
    counts = np.bincount(bi, minlength=len(bgeoms))
    first = {}
    for i, j in zip(bi, gi, strict=True):
        first.setdefault(int(i), []).append(gv_codes[j])
    for i in np.flatnonzero(bvalid):
        code = str(bcodes[i])
        hits = first.get(int(i), [])
        if counts[i] == 0:
            out.append(Violation("building_outside", "buildings", code, "building lies in no grid",
                                 *_where(bgeoms[i])))
        elif counts[i] > 1:
            out.append(Violation("building_crosses_edge", "buildings", code,
                                 f"building crosses a grid edge: it lies in {', '.join(hits)}",
                                 *_where(bgeoms[i])))
        elif hits[0] != bgrid[i]:
            out.append(Violation("building_wrong_grid", "buildings", code,
                                 f"building names grid {bgrid[i]} but lies in {hits[0]}", *_where(bgeoms[i])))
    # part of a building outside the street (and so outside every grid)
    if street_geom is not None:
        # a building the street covers has nothing outside it: a prepared ``covers`` test
        # spares those the overlay, which against a street outline of thousands of vertices
        # is by far the slowest step for a city's buildings
        inside_geoms = bgeoms[bvalid]
        shapely.prepare(street_geom)
        covered = shapely.covers(street_geom, inside_geoms)
        outside = np.zeros(len(inside_geoms))
        outside[~covered] = shapely.area(shapely.difference(inside_geoms[~covered], street_geom))
        for code, a, g in zip(bcodes[bvalid], outside, inside_geoms, strict=True):
            if a > 1e-6:
                out.append(Violation("building_outside", "buildings", str(code),
                                     f"{a:.1f} m² of the building lies outside the street", *_where(g)))
    out = _to_lonlat(out, epsg)
    out.sort(key=lambda v: (v.kind, v.layer, v.code))
    return out
