"""Reading the geometries an edit is given (a cutting line, a redrawn outline) from GeoJSON.

The coordinates may be in any CRS :func:`geo_grid.crs.normalize_crs` accepts (lon/lat WGS-84,
CGCS2000, GCJ-02 as traced on Amap, BD-09, or metres of a Gauss-Kruger zone); they are checked
(out of range, swapped lon/lat) and brought to CGCS2000 lon/lat, the store's CRS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import shapely

from geo_grid.crs import to_cgcs2000
from geo_grid.errors import InvalidGeometry


def _type_name(obj: Any) -> str:
    return type(obj).__name__ if not isinstance(obj, Mapping) else str(obj.get("type"))


def _geometry(obj: Any, where: str, kinds: tuple[str, ...]):
    """The shapely geometry of a GeoJSON geometry or Feature of one of ``kinds``."""
    if isinstance(obj, Mapping) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
        if obj is None:
            raise InvalidGeometry(f"{where} is a Feature with no geometry")
    if not isinstance(obj, Mapping) or obj.get("type") not in kinds:
        raise InvalidGeometry(f"{where} must be a GeoJSON {' or '.join(kinds)}, not "
                              f"{_type_name(obj)}", geometry_type=_type_name(obj))
    try:
        geom = shapely.geometry.shape(obj)
    except Exception as exc:  # noqa: BLE001 - any parse failure is an input error
        raise InvalidGeometry(f"{where} is not a valid GeoJSON {obj.get('type')}: {exc}") from exc
    if geom.is_empty:
        raise InvalidGeometry(f"{where} is empty (no coordinates)")
    return geom


def _to_store(geom, crs: str | None, where: str):
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise InvalidGeometry(f"{where} has a coordinate that is not a finite number")
    lon, lat = to_cgcs2000(coords[:, 0], coords[:, 1], crs)  # range and swap checks
    return shapely.set_coordinates(geom, np.column_stack([lon, lat]))


def read_line(obj: Any, crs: str | None = "wgs84", where: str = "line") -> shapely.LineString:
    """A cutting line from GeoJSON, in CGCS2000 lon/lat.

    Parameters
    ----------
    obj : mapping
        A GeoJSON LineString (or a Feature of one).
    crs : str
        The CRS of its coordinates (WGS-84 per RFC 7946 by default).
    where : str
        How the message names it.

    Raises
    ------
    InvalidGeometry
        If it is not a LineString of at least two distinct points.
    InvalidCoordinate
        If a coordinate is out of range or lon/lat look swapped.
    """
    line = _to_store(_geometry(obj, where, ("LineString",)), crs, where)
    if line.length == 0:
        raise InvalidGeometry(f"{where} has no length (all its points are the same)")
    return line


def read_outline(obj: Any, crs: str | None = "wgs84", where: str = "geometry"):
    """A grid outline from GeoJSON, in CGCS2000 lon/lat.

    Parameters
    ----------
    obj : mapping
        A GeoJSON Polygon or MultiPolygon (or a Feature of one).
    crs : str
        The CRS of its coordinates (WGS-84 per RFC 7946 by default).
    where : str
        How the message names it.

    Raises
    ------
    InvalidGeometry
        If it is not a valid, non-empty (Multi)Polygon (the reason and its place are given).
    InvalidCoordinate
        If a coordinate is out of range or lon/lat look swapped.
    """
    geom = _to_store(_geometry(obj, where, ("Polygon", "MultiPolygon")), crs, where)
    if not shapely.is_valid(geom):
        reason = shapely.is_valid_reason(geom)
        raise InvalidGeometry(f"{where} is not a valid polygon: {reason}", reason=reason)
    return geom


__all__ = ["read_line", "read_outline"]
