"""One layer file read into a :class:`~geo_grid.importing.raw.RawLayer`, whatever its format."""

from __future__ import annotations

from geo_grid.importing.raw import RawLayer
from geo_grid.importing.sources import TABLE_SUFFIXES, LayerSource
from geo_grid.importing.tabular import read_tabular
from geo_grid.importing.vector import read_vector


def read_raw(src: LayerSource, layer: str, encoding: str | None = None,
             fields: dict[str, str] | None = None) -> RawLayer:
    """Read ``src`` as the ``layer`` layer: tables by their WKT or lon/lat columns, the rest
    with GDAL."""
    if src.suffix in TABLE_SUFFIXES:
        return read_tabular(src, layer, wkt=(fields or {}).get("wkt"))
    return read_vector(src, encoding)
