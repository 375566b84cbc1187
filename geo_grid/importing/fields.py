"""The fields of each layer, recognised by the common Chinese and English headers.

Every layer has its own :class:`~geo_grid.tables.headers.Vocabulary`: on a grid layer ``网格编码``
is the grid's own code, on a building layer it names the grid the building belongs to. Kinds
that name a parent (``community_code``, ``grid_code``) come first, so ``社区编码`` on a grid
layer is the grid's community and not its code. ``--field LAYER.FIELD=COLUMN`` overrides any.
"""

from __future__ import annotations

from collections.abc import Sequence

from geo_grid.errors import InvalidInput
from geo_grid.tables.headers import ADDRESS, LATITUDE, LONGITUDE, ColumnKind, Vocabulary

_CODE_WORDS = ("编码", "代码", "编号", "code")


def _code(*own: str) -> ColumnKind:
    return ColumnKind("code", exact=(*own, "编码", "代码", "编号", "code"),
                      contains=("编码", "代码", "编号"))


def _name(*own: str, avoid: Sequence[str] = ()) -> ColumnKind:
    return ColumnKind("name", exact=(*own, "名称", "name", "名字"), contains=("名称",),
                      avoid=tuple(avoid))


COMMUNITY_REF = ColumnKind(
    "community_code",
    exact=("社区编码", "社区代码", "所属社区", "社区编号", "community_code", "community", "社区"),
    contains=("所属社区", "社区编码", "社区代码"))
GRID_REF = ColumnKind(
    "grid_code", exact=("网格编码", "网格代码", "所属网格", "网格编号", "grid_code", "grid", "网格"),
    contains=("所属网格", "网格编码", "网格代码"))
WKT = ColumnKind("wkt", exact=("wkt", "geometry", "geom", "the_geom", "几何", "边界", "轮廓",
                               "范围", "shape"), prefixes=("wkt",))
KIND = ColumnKind("kind", exact=("kind", "类型", "网格类型", "类别", "性质"))
BUILDING_ADDRESS = ColumnKind(
    "address", exact=("地址", "楼栋地址", "门牌地址", "标准地址", "建筑地址", *ADDRESS.exact),
    contains=ADDRESS.contains, avoid=ADDRESS.avoid)

VOCABULARIES: dict[str, Vocabulary] = {
    "street": Vocabulary((
        _code("街道编码", "街道代码", "街道编号"),
        _name("街道名称", "街道"),
        WKT, LONGITUDE, LATITUDE,
    )),
    "communities": Vocabulary((
        _code("社区编码", "社区代码", "社区编号", "村居编码", "统计编码"),
        ColumnKind("short_name", exact=("简称", "社区简称", "short_name")),
        _name("社区名称", "社区", "居委会名称", "居委会"),
        WKT, LONGITUDE, LATITUDE,
    )),
    "grids": Vocabulary((
        COMMUNITY_REF,
        _code("网格编码", "网格代码", "网格编号"),
        _name("网格名称", "网格", avoid=("社区",)),
        KIND,
        WKT, LONGITUDE, LATITUDE,
    )),
    "buildings": Vocabulary((
        GRID_REF,
        COMMUNITY_REF,
        _code("楼栋编码", "楼栋代码", "建筑编码", "房屋编码", "楼栋编号"),
        BUILDING_ADDRESS,
        ColumnKind("compound", exact=("compound", "小区", "小区名称", "道路", "街路巷")),
        ColumnKind("number", exact=("number", "楼号", "栋号", "门牌号", "幢号")),
        ColumnKind("category", exact=("category", "建筑类别", "建筑类型", "类别", "类型", "用途")),
        ColumnKind("floors", exact=("层数", "楼层数", "地上层数", "floors", "总层数"),
                   contains=("层数",)),
        ColumnKind("units", exact=("单元数", "units"), contains=("单元数",)),
        ColumnKind("rooms_per_floor", exact=("每层户数", "梯户", "rooms_per_floor")),
        ColumnKind("households", exact=("户数", "住户数", "households", "总户数", "实有户数"),
                   contains=("户数",), avoid=("每层",)),
        ColumnKind("residents", exact=("人口", "常住人口", "residents", "人数", "实有人口",
                                       "居住人口"), contains=("人口",)),
        WKT, LONGITUDE, LATITUDE,
    )),
}

#: The fields a caller may name with ``--field LAYER.FIELD=COLUMN``.
FIELDS = {layer: tuple(k.name for k in v.kinds) for layer, v in VOCABULARIES.items()}


def parse_field_options(options: Sequence[str]) -> dict[str, dict[str, str]]:
    """``["grids.code=网格号", ...]`` → ``{"grids": {"code": "网格号"}}``.

    Raises
    ------
    InvalidInput
        If an option is not ``LAYER.FIELD=COLUMN`` with a known layer and field.
    """
    out: dict[str, dict[str, str]] = {}
    for opt in options:
        left, eq, column = opt.partition("=")
        layer, dot, field = left.strip().partition(".")
        if not eq or not dot or not column.strip():
            raise InvalidInput(f"--field {opt!r}: write LAYER.FIELD=COLUMN, e.g. grids.code=网格号")
        if layer not in VOCABULARIES:
            raise InvalidInput(f"--field {opt!r}: layer must be one of {', '.join(VOCABULARIES)}")
        if field not in FIELDS[layer]:
            raise InvalidInput(f"--field {opt!r}: {layer} fields are {', '.join(FIELDS[layer])}")
        out.setdefault(layer, {})[field] = column.strip()
    return out


def recognise(layer: str, columns: Sequence[str],
              explicit: dict[str, str] | None = None) -> dict[str, str]:
    """The file column of every field found on ``layer`` (fields not found are left out).

    Parameters
    ----------
    layer : str
        ``street``, ``communities``, ``grids`` or ``buildings``.
    columns : sequence of str
        The file's column names (geometry excluded).
    explicit : dict, optional
        Field → column named by the caller (wins over the headers).
    """
    found = VOCABULARIES[layer].resolve(list(columns), explicit)
    return {k: v for k, v in found.items() if v is not None}


def looks_like_header(layer: str, cells: list[str]) -> bool:
    """True for a table row that holds a geometry header (WKT, or lon and lat)."""
    v = VOCABULARIES[layer]
    kinds = {v.classify(c) for c in cells}
    return "wkt" in kinds or {"lon", "lat"} <= kinds


__all__ = ["FIELDS", "VOCABULARIES", "looks_like_header", "parse_field_options", "recognise"]
