"""Importing a street office's own layers: any common GIS or table format, any common CRS.

- :mod:`~geo_grid.importing.sources` — ``FILE`` or ``FILE:layername``, SHA-256 of the files;
- :mod:`~geo_grid.importing.vector` — GeoJSON, GeoPackage, Shapefile (or a zip), KML/KMZ with
  GDAL; :mod:`~geo_grid.importing.encoding` — the DBF's encoding when no ``.cpg`` names it;
- :mod:`~geo_grid.importing.tabular` — CSV/xlsx with a WKT or lon/lat columns;
- :mod:`~geo_grid.importing.reproject` — the file's or the caller's CRS (GCJ-02 and BD-09
  included) to EPSG:4490;
- :mod:`~geo_grid.importing.fields` — fields recognised by Chinese and English headers;
- :mod:`~geo_grid.importing.numbering` and :mod:`~geo_grid.importing.assemble` — missing codes
  and the store's columns with defaults;
- :mod:`~geo_grid.importing.checks` — what the store and the address matcher cannot hold;
- :mod:`~geo_grid.importing.run` — :func:`read_layers` and :func:`import_store`.
"""

from geo_grid.importing.assemble import DEFAULTS
from geo_grid.importing.run import ImportResult, import_store, read_layers

__all__ = ["DEFAULTS", "ImportResult", "import_store", "read_layers"]
