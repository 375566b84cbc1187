"""Exporting a street's layers in the formats ``geo-grid import`` reads.

- :mod:`~geo_grid.exporting.columns` — the store's columns as Chinese field names the importer
  recognises (short ones for a Shapefile's DBF), kinds and categories as Chinese words;
- :mod:`~geo_grid.exporting.target` — the CRS to write in (EPSG code, wgs84, cgcs2000, gcj02,
  bd09) and the layers converted to it;
- :mod:`~geo_grid.exporting.write` — :func:`export_layers` for gpkg, geojson, shp, kml, xlsx
  and csv (a directory or a zip for the multi-file ones);
- :mod:`~geo_grid.exporting.load` — :func:`district_of`, the layers of a boundary version.

Households and members (personal data) are never exported.
"""

from geo_grid.exporting.load import district_of
from geo_grid.exporting.write import FORMATS, export_layers

__all__ = ["FORMATS", "district_of", "export_layers"]
