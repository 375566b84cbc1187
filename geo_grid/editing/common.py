"""Helpers every edit shares: looking grids up, checking input shapes, metric transforms,
fresh codes from the code source and the frame of new grids.

Nothing here reads more of the district than the rows an edit names: an edit on a city-sized
district must stay fast, so no helper rebuilds a district-wide index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo_grid.crs import STORE_EPSG, transformer
from geo_grid.district import District
from geo_grid.editing.edit import GRID_COLUMNS, CodeSource
from geo_grid.errors import InvalidGeometry, InvalidInput, NotFound

POLYGONAL = ("Polygon", "MultiPolygon")
LINEAR = ("LineString", "MultiLineString")


def grid_row(district: District, code: str) -> pd.Series:
    """The row of grid ``code`` in ``district.grids``.

    Raises
    ------
    NotFound
        If no grid has that code.
    """
    grids = district.grids
    hit = np.flatnonzero(grids["code"].to_numpy() == str(code))
    if hit.size == 0:
        raise NotFound(f"grid {code!r} does not exist", grid=str(code))
    return grids.iloc[int(hit[0])]


def grid_rows(district: District, codes: Iterable[str]) -> gpd.GeoDataFrame:
    """The rows of several grids, in the order given (each must exist, see :func:`grid_row`)."""
    codes = [str(c) for c in codes]
    grids = district.grids
    found = grids[grids["code"].isin(codes)].set_index("code", drop=False)
    missing = [c for c in codes if c not in found.index]
    if missing:
        raise NotFound(f"grid {missing[0]!r} does not exist", grid=missing[0])
    return found.loc[codes].reset_index(drop=True)


def buildings_of(district: District, grid_codes: Iterable[str]) -> gpd.GeoDataFrame:
    """The buildings of the given grids (a filtered view of ``district.buildings``)."""
    b = district.buildings
    return b[b["grid_code"].isin([str(c) for c in grid_codes])]


def households(buildings: pd.DataFrame) -> np.ndarray:
    """Households of each building as floats (missing values count as 0)."""
    if "households" not in buildings.columns:
        return np.zeros(len(buildings))
    return pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy(dtype=float)


def _apply(geoms, src: int, dst: int):
    t = transformer(src, dst)

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def to_metric(geoms, epsg: int):
    """Lon/lat geometries (a geometry or an array of them) in metres of ``epsg``."""
    return _apply(geoms, STORE_EPSG, epsg)


def to_lonlat(geoms, epsg: int):
    """Metric geometries of ``epsg`` back in EPSG:4490 lon/lat."""
    return _apply(geoms, epsg, STORE_EPSG)


def lonlat_of(geom_m: BaseGeometry, epsg: int) -> tuple[float | None, float | None]:
    """Lon/lat of a representative point of a metric geometry (where a violation is)."""
    if geom_m is None or geom_m.is_empty:
        return None, None
    p = geom_m.representative_point()
    lon, lat = transformer(epsg, STORE_EPSG).transform(p.x, p.y)
    return round(float(lon), 7), round(float(lat), 7)


def _check_lonlat_bounds(geom: BaseGeometry, what: str) -> None:
    minx, miny, maxx, maxy = geom.bounds
    if not all(np.isfinite([minx, miny, maxx, maxy])):
        raise InvalidGeometry(f"{what} has coordinates that are not finite numbers")
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise InvalidGeometry(
            f"{what} has coordinates out of lon/lat range (x {minx:.1f}..{maxx:.1f}, "
            f"y {miny:.1f}..{maxy:.1f}); give EPSG:4490 longitude/latitude in degrees, "
            "not metres", bounds=[minx, miny, maxx, maxy])


def as_geometry(value, kinds: tuple[str, ...], what: str) -> BaseGeometry:
    """A caller's geometry (shapely, or a GeoJSON-like mapping) checked to be a valid,
    non-empty geometry of one of ``kinds`` in lon/lat.

    Raises
    ------
    InvalidGeometry
        With the reason (wrong type, empty, invalid with GEOS's reason, not lon/lat).
    """
    geom = value
    if isinstance(value, Mapping):
        try:
            geom = shape(value)
        except Exception as exc:  # shapely raises several types for malformed GeoJSON
            raise InvalidGeometry(f"{what} is not a GeoJSON geometry: {exc}") from exc
    if not isinstance(geom, BaseGeometry):
        raise InvalidGeometry(f"{what} must be a {' or '.join(kinds)}, got {type(value).__name__}")
    if geom.geom_type not in kinds:
        raise InvalidGeometry(f"{what} must be a {' or '.join(kinds)}, got a {geom.geom_type}")
    if geom.is_empty:
        raise InvalidGeometry(f"{what} is empty")
    _check_lonlat_bounds(geom, what)
    if not geom.is_valid:
        raise InvalidGeometry(f"{what} is not valid: {shapely.is_valid_reason(geom)}")
    return geom


def fresh_codes(codes: CodeSource, district: District, community: str, n: int) -> list[str]:
    """``n`` new grid codes of ``community`` from the code source, checked.

    The source is the only place codes come from; a code it gives must be a 15-digit code of
    the community that no current grid holds (the source also knows retired codes, which this
    check cannot see).

    Raises
    ------
    InvalidInput
        If the source gives the wrong number of codes, a malformed one or one in use.
    """
    got = [str(c) for c in codes(str(community), int(n))]
    if len(got) != n or len(set(got)) != n:
        raise InvalidInput(f"the code source gave {len(got)} distinct codes for community "
                           f"{community}, {n} were asked for", codes=got)
    in_use = set(district.grids["code"][district.grids["code"].isin(got)])
    for c in got:
        if len(c) != 15 or not c.isdigit() or not c.startswith(str(community)):
            raise InvalidInput(f"the code source gave {c!r}, not a 15-digit grid code of "
                               f"community {community}", code=c)
        if c in in_use:
            raise InvalidInput(f"the code source gave {c!r}, a code a grid already holds", code=c)
    return got


def grids_frame(rows: list[dict]) -> gpd.GeoDataFrame:
    """A frame of grids (``code, name, community_code, kind, geometry``) in EPSG:4490."""
    data = {c: [str(r[c]) for r in rows] for c in GRID_COLUMNS}
    return gpd.GeoDataFrame(data, geometry=[r["geometry"] for r in rows], crs=STORE_EPSG)


def polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Only the polygons of a geometry (a cut can leave lines or points in a collection):
    a Polygon, a MultiPolygon, or an empty Polygon."""
    if geom is None or geom.is_empty:
        return shapely.Polygon()
    if geom.geom_type in POLYGONAL:
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in POLYGONAL]
    parts = [q for p in parts for q in shapely.get_parts(p)]
    if not parts:
        return shapely.Polygon()
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def clean(geom: BaseGeometry) -> BaseGeometry:
    """A valid polygonal geometry (``make_valid`` only where needed)."""
    geom = polygonal(geom)
    if not geom.is_valid:
        geom = polygonal(shapely.make_valid(geom))
    return geom


#: Pieces smaller than this (degrees², about 0.01 m²) are floating-point noise of a cut.
SPECK_DEG2 = 1e-12
#: The grid (degrees, about 0.1 mm) an outline is snapped to when a cut left a needle in it.
SNAP_DEG = 1e-9


def without_specks(geom: BaseGeometry) -> BaseGeometry:
    """The geometry without pieces of less than :data:`SPECK_DEG2`."""
    pieces = [p for p in shapely.get_parts(polygonal(geom)) if p.area > SPECK_DEG2]
    if len(pieces) == 1:
        return pieces[0]
    return shapely.MultiPolygon(pieces) if pieces else shapely.Polygon()


def tidy(geom: BaseGeometry, epsg: int) -> BaseGeometry:
    """A cut outline made valid in lon/lat and in metres.

    Overlaying polygons in floating point can leave a needle a nanometre wide where a cut runs
    along an edge: valid in lon/lat, but a self-intersection once projected to metres (where
    the topology check works). Such an outline is snapped to a 0.1 mm grid, which collapses the
    needle; an outline valid both ways is returned as it is, keeping its vertices exactly.
    """
    geom = without_specks(geom)
    if geom.is_valid and shapely.is_valid(to_metric(geom, epsg)):
        return geom
    snapped = without_specks(shapely.set_precision(geom, SNAP_DEG))
    if not shapely.is_valid(to_metric(snapped, epsg)):
        snapped = without_specks(shapely.make_valid(snapped))
    return snapped
