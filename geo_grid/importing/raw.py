"""A layer as read from its file, before its fields are recognised or its CRS converted."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd


@dataclass(frozen=True)
class RawLayer:
    """One layer as read.

    Attributes
    ----------
    frame : geopandas.GeoDataFrame
        The file's own columns and geometry, in the file's CRS (``crs`` None when it has none).
    crs_source : str
        Where the CRS came from: ``file`` (``.prj``, GeoPackage srs, GeoJSON ``crs`` member),
        ``rfc7946`` (plain GeoJSON is WGS-84), ``kml`` (always WGS-84) or ``none``.
    encoding : str or None
        The attribute encoding used when the importer chose one (a Shapefile without ``.cpg``,
        a CSV file), else None.
    encoding_note : str
        How the encoding was found (``cpg``, ``detected``, ``utf-8``, ``given``...).
    format : str
        ``geojson``, ``gpkg``, ``shapefile``, ``kml``, ``csv`` or ``xlsx``.
    layer : str or None
        The layer or sheet read inside the file.
    """

    frame: gpd.GeoDataFrame
    crs_source: str
    encoding: str | None
    encoding_note: str
    format: str
    layer: str | None = None
