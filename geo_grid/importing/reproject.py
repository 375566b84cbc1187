"""A layer's coordinates converted to the store's CGCS2000 lon/lat (EPSG:4490).

The CRS is the file's own unless the caller names one: any EPSG code (``3857``,
``EPSG:4549``), ``wgs84``, ``cgcs2000``, ``gcj02`` (Amap, Tencent) or ``bd09`` (Baidu). GCJ-02
and BD-09 are not in PROJ; their lon/lat are converted with :func:`geo_grid.crs.to_cgcs2000`.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from geo_grid.crs import STORE_EPSG, to_cgcs2000
from geo_grid.errors import InvalidInput, UnknownCRS
from geo_grid.importing.raw import RawLayer

_OBFUSCATED = {"gcj02": "gcj02", "gcj-02": "gcj02", "bd09": "bd09", "bd-09": "bd09"}
_NAMED = {"wgs84": 4326, "wgs-84": 4326, "cgcs2000": 4490}


def parse_crs(name: str) -> str | int:
    """A caller's CRS name → ``"gcj02"``, ``"bd09"`` or an EPSG code.

    Raises
    ------
    UnknownCRS
        If the name is none of these and PROJ does not know it.
    """
    key = str(name).strip().lower()
    if key in _OBFUSCATED:
        return _OBFUSCATED[key]
    if key in _NAMED:
        return _NAMED[key]
    m = re.fullmatch(r"(?:epsg:)?(\d{4,6})", key)
    try:
        crs = CRS.from_epsg(int(m.group(1))) if m else CRS.from_user_input(name)
    except CRSError as exc:
        raise UnknownCRS(f"unknown crs {name!r}: give an EPSG code, wgs84, cgcs2000, gcj02 or "
                         "bd09", crs=str(name)) from exc
    epsg = crs.to_epsg()
    if epsg is None:
        raise UnknownCRS(f"crs {name!r} has no EPSG code", crs=str(name))
    return int(epsg)


def parse_crs_options(options) -> dict[str, str]:
    """``["grids=gcj02", ...]`` → ``{"grids": "gcj02"}`` (names checked by :func:`parse_crs`)."""
    from geo_grid.district import LAYERS

    out = {}
    for opt in options:
        layer, eq, name = opt.partition("=")
        if not eq or layer.strip() not in LAYERS:
            raise InvalidInput(f"--crs {opt!r}: write LAYER=CRS with LAYER one of "
                               f"{', '.join(LAYERS)}, e.g. grids=gcj02")
        parse_crs(name)
        out[layer.strip()] = name.strip()
    return out


def _lonlat_bounds(gdf: gpd.GeoDataFrame) -> bool:
    x0, y0, x1, y1 = gdf.total_bounds
    return bool(np.isfinite([x0, y0, x1, y1]).all() and -180 <= x0 <= x1 <= 180
                and -90 <= y0 <= y1 <= 90)


def to_store_crs(raw: RawLayer, given: str | None, name: str) -> tuple[gpd.GeoDataFrame, str]:
    """The layer in EPSG:4490, and a label of the CRS it was converted from.

    Parameters
    ----------
    raw : RawLayer
        As read.
    given : str, optional
        The CRS named by the caller (``--crs``); wins over the file's.
    name : str
        The layer's name, for messages.

    Raises
    ------
    InvalidInput
        If the file has no CRS and its coordinates are not lon/lat (the caller must name one).
    """
    gdf = raw.frame
    if given is not None:
        crs = parse_crs(given)
        label = f"{crs} (--crs)" if isinstance(crs, str) else f"EPSG:{crs} (--crs)"
    elif gdf.crs is not None:
        epsg = gdf.crs.to_epsg()
        crs = int(epsg) if epsg is not None else gdf.crs
        label = (f"EPSG:{epsg}" if epsg is not None else gdf.crs.to_string()) + f" ({raw.crs_source})"
    elif _lonlat_bounds(gdf) or len(gdf) == 0:
        crs, label = 4326, "EPSG:4326 (assumed: the file names no CRS)"
    else:
        raise InvalidInput(f"{name}: the file names no CRS and its coordinates are not lon/lat; "
                           f"give one with --crs {name}=EPSG:CODE", layer=name)
    if isinstance(crs, str):  # GCJ-02 / BD-09 lon/lat
        def convert(xy: np.ndarray) -> np.ndarray:
            lon, lat = to_cgcs2000(xy[:, 0], xy[:, 1], crs, validate=False)
            return np.column_stack([lon, lat])

        geoms = shapely.transform(np.asarray(gdf.geometry.array, dtype=object), convert)
        out = gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name),
                               geometry=gpd.GeoSeries(geoms, index=gdf.index), crs=STORE_EPSG)
        return out, label
    out = gdf.set_crs(crs, allow_override=True)
    if out.crs.to_epsg() in (4326, STORE_EPSG):  # WGS-84 and CGCS2000 agree within a metre here
        return out.set_crs(STORE_EPSG, allow_override=True), label
    return out.to_crs(STORE_EPSG), label
