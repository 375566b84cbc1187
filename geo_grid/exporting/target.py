"""The CRS an export is written in, and the layers converted to it.

Any name ``geo-grid import`` accepts (:func:`geo_grid.importing.reproject.parse_crs`): an EPSG
code, ``wgs84``, ``cgcs2000``, ``gcj02`` or ``bd09``; the store's CGCS2000 lon/lat
(EPSG:4490) when none is given. WGS-84 and CGCS2000 agree within a metre here, so the store's
coordinates are written unchanged for either (the importer treats them alike too).

GCJ-02 (Amap, Tencent) and BD-09 (Baidu) are not in PROJ and no file format can declare them:
their coordinates are converted with :func:`geo_grid.crs.from_cgcs2000` and the file names no
CRS (no ``.prj``, an undefined GeoPackage srs), so re-importing needs ``--crs LAYER=gcj02``.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from geo_grid.crs import STORE_EPSG, from_cgcs2000
from geo_grid.importing.reproject import parse_crs


@dataclass(frozen=True)
class Target:
    """The CRS of an export.

    Attributes
    ----------
    label : str
        ``EPSG:4490``, ``EPSG:4549``, ``gcj02``...
    epsg : int or None
        The EPSG code the file declares; None for GCJ-02 and BD-09 (undeclarable).
    obfuscated : str or None
        ``gcj02`` or ``bd09`` when the coordinates are shifted so.
    """

    label: str
    epsg: int | None
    obfuscated: str | None = None

    @property
    def geographic(self) -> bool:
        """True when coordinates are lon/lat degrees (every CRS but a projected one)."""
        return self.epsg is None or CRS.from_epsg(self.epsg).is_geographic

    @property
    def wgs84(self) -> bool:
        """True for WGS-84 or CGCS2000 lon/lat: what GeoJSON (RFC 7946) and KML require."""
        return self.epsg in (4326, STORE_EPSG)


def target_crs(name: str | None) -> Target:
    """The export CRS named by the caller (the store's EPSG:4490 when None).

    Raises
    ------
    UnknownCRS
        If the name is not an EPSG code, wgs84, cgcs2000, gcj02 or bd09.
    """
    if name is None or not str(name).strip():
        return Target(f"EPSG:{STORE_EPSG}", STORE_EPSG)
    crs = parse_crs(name)
    if isinstance(crs, str):
        return Target(crs, None, crs)
    return Target(f"EPSG:{crs}", int(crs))


def to_target(gdf: gpd.GeoDataFrame, target: Target) -> gpd.GeoDataFrame:
    """A layer (in EPSG:4490) with its geometry in the export CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        With ``crs`` set to the target's EPSG code, or None for GCJ-02 and BD-09.
    """
    if target.obfuscated is not None:
        def shift(xy: np.ndarray) -> np.ndarray:
            lon, lat = from_cgcs2000(xy[:, 0], xy[:, 1], target.obfuscated)
            return np.column_stack([lon, lat])

        geoms = shapely.transform(np.asarray(gdf.geometry.array, dtype=object), shift)
        return gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name),
                                geometry=gpd.GeoSeries(geoms, index=gdf.index), crs=None)
    if target.wgs84:  # the same lon/lat (see the module's note)
        return gdf.set_crs(target.epsg, allow_override=True)
    return gdf.to_crs(target.epsg)


__all__ = ["Target", "target_crs", "to_target"]
