"""What an office should do about each kind of violation: one short sentence in Chinese and
English, put beside the violation in the import and validation reports and on the report map.

The sentences name the ``--repair`` option where the importer can fix the problem itself
(:mod:`geo_grid.importing.repair`), so an office knows which problems need its GIS editor and
which do not.
"""

from __future__ import annotations

from geo_grid.topology import Violation

#: kind → (Chinese, English). Every kind :func:`geo_grid.topology.validate` and
#: :mod:`geo_grid.importing.checks` report has one; :func:`fix_for` has a fallback for others.
FIXES: dict[str, tuple[str, str]] = {
    "empty_geometry": ("为该要素绘制图形，或删除该要素",
                       "draw the feature's shape or delete the feature"),
    "wrong_geometry_type": ("改为面（Polygon/MultiPolygon）图层，点或线不能作为边界",
                            "give polygons (Polygon/MultiPolygon): points and lines are no outline"),
    "invalid_geometry": ("修正自相交或重复节点，或使用 --repair 自动修复",
                         "remove the self-intersection or repeated vertices, or run with --repair"),
    "malformed_code": ("按规则改正编码位数：街道9位、社区12位、网格15位、楼栋17位",
                       "correct the code's digits: street 9, community 12, grid 15, building 17"),
    "duplicate_code": ("为重复的要素分配唯一编码，或删除重复要素",
                       "give each duplicate its own code, or delete the duplicate feature"),
    "bad_reference": ("改正所属上级的编码，使其存在且与本编码前缀一致",
                      "correct the parent code so that it exists and starts this code"),
    "bad_attribute": ("按提示改正该属性的取值", "correct the attribute's value as the message says"),
    "duplicate_address": ("改正其中一栋的地址或门牌号，使每栋楼地址唯一",
                          "correct one building's address or number so that each is unique"),
    "street_count": ("街道图层只保留一个要素（合并为一个面）",
                     "keep exactly one feature in the street layer (merge it into one polygon)"),
    "gap": ("将相邻网格延伸覆盖空隙，或使用 --repair 消除小于容差的空隙",
            "extend the neighbouring grid over the gap or run with --repair"),
    "overlap": ("从其中一个网格中去掉重叠部分，或使用 --repair 消除小于容差的重叠",
                "cut the overlap out of one of the grids or run with --repair"),
    "outside_parent": ("将超出部分裁剪到上级边界以内，或改正所属上级",
                       "clip the part outside to its parent's outline or correct the parent"),
    "building_outside": ("将楼栋纳入某个网格（延伸网格边界），或改正楼栋位置",
                         "extend a grid over the building or correct the building's position"),
    "building_crosses_edge": ("调整网格边界使楼栋完整落在一个网格内，或使用 --repair 将其划归面积最大的网格",
                              "move the grid edge off the building, or run with --repair to give "
                              "it to the grid holding most of it"),
    "building_wrong_grid": ("将楼栋的所属网格改为其实际所在的网格",
                            "set the building's grid to the grid it lies in"),
    "household_range": ("拆分户数过多的网格，或合并户数过少的相邻网格",
                        "split a grid with too many households or merge one with too few"),
}

_FALLBACK = ("按提示改正后重新导入", "correct it as the message says and import again")


def fix_for(kind: str) -> str:
    """The suggested fix of a violation kind, Chinese then English.

    Parameters
    ----------
    kind : str
        A :class:`~geo_grid.topology.Violation` kind (``gap``, ``overlap``…).

    Returns
    -------
    str
        ``"<中文>；<English>"``, e.g. ``"将相邻网格延伸覆盖空隙…；extend the neighbouring grid
        over the gap or run with --repair"``.
    """
    zh, en = FIXES.get(kind, _FALLBACK)
    return f"{zh}；{en}"


def violation_dict(v: Violation, severity: str) -> dict:
    """A violation as the reports write it: severity, kind, layer, code, lon/lat, message and
    the suggested fix."""
    return {"severity": severity, "kind": v.kind, "layer": v.layer, "code": v.code,
            "lon": v.lon, "lat": v.lat, "message": v.message, "fix": fix_for(v.kind)}
