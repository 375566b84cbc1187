"""The store's columns as the Chinese fields an exported file carries.

Every field name is one that ``geo-grid import`` recognises again
(:mod:`geo_grid.importing.fields`), so an exported file imports back with no ``--field``
option. A Shapefile's DBF keeps at most 10 bytes of a field name and a Chinese character
takes 3 bytes in UTF-8, so each field also has a short name of at most 3 characters
(``网格编码`` is 12 bytes; ``网格``, which the importer also reads as the building's grid,
is 6).

Grid kinds and building categories are written as Chinese words (``住宅``, ``板楼``) that the
importer maps back to the store's values (``residential``, ``slab``).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from geo_grid.errors import InvalidInput

#: The most bytes a DBF field name holds.
DBF_NAME_BYTES = 10


@dataclass(frozen=True)
class Field:
    """One exported field.

    Attributes
    ----------
    column : str
        The store's column (``community_code``).
    label : str
        The Chinese field name (``社区编码``).
    short : str
        The name in a Shapefile, at most :data:`DBF_NAME_BYTES` bytes in UTF-8 (``社区``).
    """

    column: str
    label: str
    short: str


_CODE = Field("code", "编码", "编码")
_NAME = Field("name", "名称", "名称")
_COMMUNITY = Field("community_code", "社区编码", "社区")

#: The fields of each layer, in the order they are written.
LAYER_FIELDS: dict[str, tuple[Field, ...]] = {
    "street": (_CODE, _NAME),
    "communities": (_CODE, _NAME, Field("short_name", "简称", "简称")),
    "grids": (_CODE, _NAME, _COMMUNITY, Field("kind", "类型", "类型")),
    "buildings": (
        _CODE,
        Field("grid_code", "网格编码", "网格"),
        _COMMUNITY,
        Field("address", "地址", "地址"),
        Field("compound", "小区", "小区"),
        Field("number", "楼号", "楼号"),
        Field("category", "类别", "类别"),
        Field("floors", "层数", "层数"),
        Field("units", "单元数", "单元数"),
        # doors per floor of a unit: 梯户, as in 一梯两户
        Field("rooms_per_floor", "每层户数", "梯户"),
        Field("households", "户数", "户数"),
    ),
}

#: Grid kinds in Chinese (read back by the importer's kind words).
KIND_LABELS = {"residential": "住宅", "commercial": "商业", "industrial": "工业", "mixed": "混合"}
#: Building categories in Chinese (read back by the importer's category words).
CATEGORY_LABELS = {"slab": "板楼", "point": "点式楼", "shop": "商铺", "factory": "厂房",
                   "dormitory": "宿舍", "office": "办公楼"}
_VALUE_LABELS = {"kind": KIND_LABELS, "category": CATEGORY_LABELS}

#: The Placemark name of a KML feature (buildings have no name: their address is shown).
PLACEMARK_NAME = {"street": "name", "communities": "name", "grids": "name",
                  "buildings": "address"}


def field_names(layer: str, short: bool = False) -> list[str]:
    """The exported field names of ``layer`` in order (the Shapefile ones when ``short``)."""
    return [f.short if short else f.label for f in LAYER_FIELDS[layer]]


def attributes(layer: str, gdf: gpd.GeoDataFrame, short: bool = False) -> gpd.GeoDataFrame:
    """A layer with the exported fields only, named in Chinese, and its geometry.

    Parameters
    ----------
    layer : str
        ``street``, ``communities``, ``grids`` or ``buildings``.
    gdf : geopandas.GeoDataFrame
        The layer in the store's columns (:class:`geo_grid.district.District`).
    short : bool
        Use the short names that fit a DBF.

    Returns
    -------
    geopandas.GeoDataFrame
        Text fields as ``object`` columns of str (None where blank), counts as int64, in the
        CRS of ``gdf``.

    Raises
    ------
    InvalidInput
        If the layer lacks a column the store always has.
    """
    fields = LAYER_FIELDS[layer]
    missing = [f.column for f in fields if f.column not in gdf.columns]
    if missing:
        raise InvalidInput(f"{layer}: the layer has no column {', '.join(missing)}", layer=layer)
    data = {}
    for f in fields:
        s = gdf[f.column]
        if pd.api.types.is_integer_dtype(s.dtype):
            values = s.astype("int64")
        else:
            labels = _VALUE_LABELS.get(f.column, {})
            values = pd.Series([None if pd.isna(v) else labels.get(str(v), str(v)) for v in s],
                               index=gdf.index, dtype=object)
        data[f.short if short else f.label] = values
    return gpd.GeoDataFrame(data, geometry=gdf.geometry.values, crs=gdf.crs, index=gdf.index)


__all__ = ["CATEGORY_LABELS", "DBF_NAME_BYTES", "KIND_LABELS", "LAYER_FIELDS", "PLACEMARK_NAME",
           "Field", "attributes", "field_names"]
