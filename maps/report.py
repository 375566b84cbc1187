"""The report map of an import or a validation: where each problem is and what to do about it.

``report_map(district, report)`` draws the layers as read (communities, grids, buildings) and
one marker per violation placed in lon/lat, coloured by severity (error red, warning orange),
plus one per repair made with ``--repair`` (blue). A click on a marker shows its kind, code,
message and suggested fix; a panel counts them, including the violations that have no place
(a malformed code, say) and so no marker. ``write_report_map`` writes it as one HTML file that
works offline (``geo-grid import … --report-map FILE.html``, ``geo-grid validate …``).

As on every geo-grid map, the data (office-given names and addresses included) goes to the page
as ``|tojson`` data and is put into the page with ``textContent``: nothing is HTML.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import folium
import shapely

from geo_grid.district import District
from maps import _data as D  # noqa: N812
from maps._base import base_map, finish
from maps.assets import render_html
from maps.elements import GeoLayer, Legend, Panel

SEVERITY_COLORS = {"error": "#d7191c", "warning": "#f28e2b", "repair": "#2b83ba"}
SEVERITY_LABELS = {"error": "错误（阻止导入）", "warning": "警告", "repair": "已修复"}
KIND_LABELS = {
    "empty_geometry": "空图形", "wrong_geometry_type": "图形类型错误",
    "invalid_geometry": "无效图形", "malformed_code": "编码格式错误", "duplicate_code": "编码重复",
    "bad_reference": "上级引用错误", "bad_attribute": "属性错误", "duplicate_address": "地址重复",
    "street_count": "街道要素数量", "gap": "空隙", "overlap": "重叠",
    "outside_parent": "超出上级边界", "building_outside": "楼栋不在网格内",
    "building_crosses_edge": "楼栋跨网格", "building_wrong_grid": "楼栋所属网格不符",
    "household_range": "网格户数超出范围", "sliver": "细碎多边形",
}
PROBLEM_POPUP = {
    "heading": "问题",
    "title": "kind_label",
    "subtitle": "code",
    "fields": [["severity_label", "级别"], ["kind", "类型"], ["layer", "图层"],
               ["message", "说明"], ["fix", "建议"]],
}
REPAIR_POPUP = {
    "heading": "修复",
    "title": "kind_label",
    "subtitle": "code",
    "fields": [["kind", "类型"], ["layer", "图层"], ["action", "处理"]],
}
GRID_POPUP = {"heading": "网格", "title": "name", "subtitle": "code",
              "fields": [["community", "社区"], ["kind", "类型"]]}
GRID_STYLE = {"color": "#555", "weight": 1.2, "fillColor": "#9ecae1", "fillOpacity": 0.25}
COMMUNITY_STYLE = {"color": "#222", "weight": 2.5, "fill": False}
BUILDING_STYLE = {"color": "#666", "weight": 0.8, "fillColor": "#bbb", "fillOpacity": 0.6}
MARKER = {"radius": 7, "weight": 2, "color": "#fff", "fillOpacity": 0.95}


def _text(v) -> str:
    return "" if v is None else str(v)


def _points(items: list[dict], severity_of) -> tuple[list, list[dict]]:
    """Point geometries (lon/lat) and popup properties of the placed items."""
    geoms, props = [], []
    for it in items:
        if it.get("lon") is None or it.get("lat") is None:
            continue
        sev = severity_of(it)
        kind = _text(it.get("kind"))
        geoms.append(shapely.Point(float(it["lon"]), float(it["lat"])))
        props.append({
            "kind": kind, "kind_label": KIND_LABELS.get(kind, kind), "layer": _text(it.get("layer")),
            "code": _text(it.get("code")), "message": _text(it.get("message")),
            "fix": _text(it.get("fix")), "action": _text(it.get("action")),
            "severity": sev, "severity_label": SEVERITY_LABELS[sev],
            "color": SEVERITY_COLORS[sev], "_cls": "gg-" + sev,
        })
    return geoms, props


def report_map(district: District, report: dict, *, tiles="none", tiles_key: str | None = None,
               tiles_attr: str | None = None, asset_mode: str = "inline",
               static_prefix: str = "/static") -> folium.Map:
    """Build the report map of an import or validation report.

    Parameters
    ----------
    district : District
        The layers the report is about (EPSG:4490), as imported (repaired with ``--repair``).
    report : dict
        With ``violations`` (dicts with ``severity``, ``kind``, ``layer``, ``code``, ``lon``,
        ``lat``, ``message``, ``fix``) and, optionally, ``repairs`` (``kind``, ``layer``,
        ``code``, ``action``, ``lon``, ``lat``).
    tiles, tiles_key, tiles_attr, asset_mode, static_prefix
        As for :func:`maps.coverage.coverage_map`; the default page needs no network.

    Returns
    -------
    folium.Map
        Render it with :func:`maps.assets.render_html`.
    """
    violations = list(report.get("violations", []))
    repairs = list(report.get("repairs", []))
    street_name = _text(D.street_title(district))
    m, proj = base_map(district, tiles=tiles, tiles_key=tiles_key, tiles_attr=tiles_attr,
                       asset_mode=asset_mode, static_prefix=static_prefix,
                       title=f"{street_name} 数据检查", page_title=f"{street_name} 数据检查报告")

    c, g, b = district.communities, district.grids, district.buildings
    GeoLayer(D.feature_collection(c.geometry.to_numpy(), [{} for _ in range(len(c))], proj),
             {"className": "gg-community", "style": COMMUNITY_STYLE, "interactive": False},
             name="社区边界").add_to(m)
    cname = dict(zip(c["code"].astype(str), c["name"].astype(str), strict=True))
    gprops = [{"code": _text(code), "name": _text(name), "community": cname.get(str(cc), _text(cc)),
               "kind": _text(kind)}
              for code, name, cc, kind in zip(g["code"], g["name"], g["community_code"], g["kind"],
                                              strict=True)]
    GeoLayer(D.feature_collection(g.geometry.to_numpy(), gprops, proj),
             {"className": "gg-grid", "style": GRID_STYLE, "popup": GRID_POPUP, "tooltip": "name"},
             name="网格").add_to(m)
    bprops = [{"code": _text(code), "address": _text(addr)}
              for code, addr in zip(b["code"], b["address"], strict=True)]
    GeoLayer(D.feature_collection(b.geometry.to_numpy(), bprops, proj),
             {"className": "gg-building", "style": BUILDING_STYLE, "tooltip": "address"},
             name="楼栋").add_to(m)

    pgeoms, pprops = _points(violations, lambda v: "warning" if v.get("severity") == "warning"
                             else "error")
    GeoLayer(D.feature_collection(pgeoms, pprops, proj),
             {"className": "gg-violation", "style": MARKER, "point": MARKER, "colorProp": "color",
              "popup": PROBLEM_POPUP, "tooltip": "kind_label"},
             name=f"问题（{len(pgeoms)}）").add_to(m)
    if repairs:
        rgeoms, rprops = _points(repairs, lambda r: "repair")
        GeoLayer(D.feature_collection(rgeoms, rprops, proj),
                 {"className": "gg-repair", "style": MARKER, "point": MARKER, "colorProp": "color",
                  "popup": REPAIR_POPUP, "tooltip": "kind_label"},
                 name=f"已修复（{len(rgeoms)}）").add_to(m)

    n_err = sum(1 for v in violations if v.get("severity") != "warning")
    summary = {"errors": n_err, "warnings": len(violations) - n_err, "repairs": len(repairs),
               "unplaced": sum(1 for v in violations if v.get("lon") is None),
               "status": "可以导入" if n_err == 0 else "有错误，不能导入"}
    Panel(summary, {"heading": "检查结果", "title": "status",
                    "fields": [["errors", "错误"], ["warnings", "警告"], ["repairs", "已修复"],
                               ["unplaced", "无位置的问题（见报告 JSON）"]]}).add_to(m)
    Legend({"sections": [{"title": "问题", "items": [
        {"color": SEVERITY_COLORS[s], "label": SEVERITY_LABELS[s]}
        for s in ("error", "warning", "repair")]}]}).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return finish(m)


def write_report_map(district: District, report: dict, path: str | Path, **kwargs) -> Path:
    """Write :func:`report_map` as one self-contained HTML file (replaced atomically).

    Parameters
    ----------
    district : District
    report : dict
        The import or validation report (see :func:`report_map`).
    path : str or Path
        The HTML file to write.
    **kwargs
        Passed to :func:`report_map` (``tiles`` etc.).

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    page = render_html(report_map(district, report, asset_mode="inline", **kwargs))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; a map is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
