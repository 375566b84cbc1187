"""Reading a layer from a table (CSV or a workbook) with a WKT column or lon/lat columns."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_grid.errors import InvalidInput
from geo_grid.importing.fields import VOCABULARIES, looks_like_header
from geo_grid.importing.raw import RawLayer
from geo_grid.importing.sources import LayerSource
from geo_grid.tables import read_table


def read_tabular(src: LayerSource, layer: str, wkt: str | None = None) -> RawLayer:
    """Read a table whose rows are features: geometry from WKT, or points from lon/lat.

    The header may sit below merged title rows; text may be UTF-8, UTF-16 or GB18030.

    Parameters
    ----------
    src : LayerSource
        The file; ``layer`` names the sheet of a workbook.
    layer : str
        Which layer this is (its header vocabulary is used to find the header row).
    wkt : str, optional
        The WKT column named by the caller.

    Raises
    ------
    InvalidInput
        No header with a WKT or lon/lat column, or a cell that is not WKT.
    """
    vocab = VOCABULARIES[layer]
    table = read_table(src.path, lambda cells: looks_like_header(layer, cells), sheet=src.layer,
                       vocabulary=vocab, missing="a WKT column or lon and lat columns",
                       hint="add a WKT column (or 经度/纬度) or name it with --field LAYER.wkt=COLUMN")
    frame = table.frame
    cols = list(frame.columns)
    wkt_col = vocab.find(cols, "wkt", wkt)
    if wkt_col is not None:
        text = frame[wkt_col].astype(str).str.strip()
        try:
            geoms = shapely.from_wkt(text.where(text != "", None).to_numpy(dtype=object))
        except shapely.errors.GEOSException as exc:
            raise InvalidInput(f"{src.path.name}: column {wkt_col!r} holds text that is not WKT: "
                               f"{exc}", file=str(src.path), column=wkt_col) from exc
        used = [wkt_col]
    else:
        lon_col, lat_col = vocab.find(cols, "lon"), vocab.find(cols, "lat")
        lon = pd.to_numeric(frame[lon_col], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(frame[lat_col], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(lon) & np.isfinite(lat)
        geoms = np.full(len(frame), None, dtype=object)
        geoms[ok] = shapely.points(lon[ok], lat[ok])
        used = [lon_col, lat_col]
    attrs = frame.drop(columns=used)
    gdf = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms, index=attrs.index), crs=None)
    fmt = "csv" if table.format == "csv" else "xlsx"
    enc = table.encoding if fmt == "csv" else None
    return RawLayer(gdf, "none", enc, "detected" if enc and enc.startswith("gb") else "utf-8",
                    fmt, table.sheet)
