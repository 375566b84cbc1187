"""The map of what changed between two boundary versions.

``diff_map(grids_a, grids_b, buildings_b, diff, ...)`` draws the diff of
:func:`geo_grid.store.versions.diff` over the layers of both versions
(:func:`geo_grid.store.versions.layers_at`). Layers, bottom to top:

- 未变网格 — grids the same in both versions, thin grey outlines;
- 调整后边界 — reshaped grids (same code, new outline): the outline after, solid orange;
- 新增网格 — grids new in ``b``, green;
- 调整前边界 — the reshaped grids' outline before, dashed orange;
- 撤销网格 — grids of version ``a`` gone in ``b`` (split or merged away), red dashed outlines
  (unfilled: a click inside goes to the grid of ``b`` under it);
- 调整楼栋 — buildings in another grid in ``b``, highlighted; the tooltip says from which
  grid to which.

A legend with the counts, a panel with the version's kind, author and note, a title with both
versions' times and authors, search (grid name or code, moved building's address), fullscreen
and layer control. Every name, address, author and note reaches the page as JSON data shown
with ``textContent`` (see :mod:`maps.elements`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import shapely

from geo_grid.crs import STORE_EPSG
from geo_grid.district import District
from geo_grid.store.versions import CST
from maps import _data as D  # noqa: N812
from maps._base import base_map, finish
from maps.coverage import add_boundaries
from maps.elements import GeoLayer, Legend, Panel, SearchBox

KIND_LABELS = {"init": "初始建库", "split": "拆分网格", "merge": "合并网格",
               "geometry": "调整边界", "building_grid": "调整楼栋归属", "densify": "加密网格"}

UNCHANGED_STYLE = {"color": "#888888", "weight": 0.8, "opacity": 0.8, "fillColor": "#cccccc",
                   "fillOpacity": 0.08}
REMOVED_STYLE = {"color": "#d7191c", "weight": 2.5, "opacity": 1, "dashArray": "7 5",
                 "fill": False}
BEFORE_STYLE = {"color": "#f28e1c", "weight": 2, "opacity": 0.9, "dashArray": "4 4",
                "fill": False}
AFTER_STYLE = {"color": "#f28e1c", "weight": 3, "opacity": 1, "fillColor": "#fdb863",
               "fillOpacity": 0.3}
ADDED_STYLE = {"color": "#1a9850", "weight": 3, "opacity": 1, "fillColor": "#66bd63",
               "fillOpacity": 0.3}
MOVED_STYLE = {"color": "#08306b", "weight": 2.5, "opacity": 1, "fillColor": "#2166ac",
               "fillOpacity": 0.9}

GRID_POPUP = {
    "heading": "网格",
    "title": "name",
    "subtitle": "change",
    "fields": [["code", "网格编码"], ["community", "社区"], ["households", "户数"],
               ["households_change", "户数变化"], ["area_change", "面积变化", " 平方米"]],
}
MOVED_POPUP = {
    "heading": "调整楼栋",
    "title": "address",
    "fields": [["code", "楼栋编码"], ["from", "原网格"], ["to", "新网格"], ["households", "户数"]],
}
VERSION_PANEL = {
    "heading": "边界变更",
    "title": "title",
    "fields": [["kind", "变更类型"], ["author", "操作人"], ["time", "时间"], ["note", "说明"],
               ["added", "新增网格"], ["removed", "撤销网格"], ["reshaped", "调整边界"],
               ["moved", "调整楼栋"]],
}


def _version(v: Any, vid: int) -> dict[str, Any]:
    """A version record as a dict (``BoundaryVersion`` or its ``to_dict()``; a bare id when
    the caller gave none)."""
    if v is None:
        return {"id": vid}
    if not isinstance(v, Mapping) and hasattr(v, "to_dict"):
        v = v.to_dict()
    return dict(v)


def local_time(created_at: str | None) -> str:
    """A version's ISO-8601 UTC time on the street's clock (China Standard Time), to the minute.

    >>> local_time("2026-12-01T08:30:00+00:00")
    '2026-12-01 16:30'
    """
    if not created_at:
        return ""
    try:
        when = datetime.fromisoformat(created_at)
    except ValueError:
        return str(created_at)
    if when.tzinfo is None:
        return when.strftime("%Y-%m-%d %H:%M")
    return when.astimezone(CST).strftime("%Y-%m-%d %H:%M")


def _label(v: dict[str, Any]) -> str:
    """``版本2（2026-12-01 16:30 张伟）``: plain text, shown with ``textContent``."""
    about = " ".join(x for x in (local_time(v.get("created_at")), str(v.get("author") or "")) if x)
    return f"版本{v['id']}" + (f"（{about}）" if about else "")


def _str(v) -> str | None:
    return None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)


def _changed_area(grids_a: gpd.GeoDataFrame, grids_b: gpd.GeoDataFrame,
                  diff: Mapping[str, Any], district: District | None) -> gpd.GeoDataFrame:
    """The box around the grids the diff names, grown by half its size on every side (the
    street outline, or no frame, when the diff names no grid)."""
    touched = {r["code"] for key in ("grids_added", "grids_removed", "grids_reshaped")
               for r in diff.get(key, [])}
    touched |= {r[k] for r in diff.get("buildings_moved", []) for k in ("from_grid", "to_grid")}
    geoms = [*grids_a.geometry[grids_a["code"].isin(touched)],
             *grids_b.geometry[grids_b["code"].isin(touched)]]
    if not geoms:
        if district is not None:
            return district.street
        return gpd.GeoDataFrame({"code": []}, geometry=[], crs=STORE_EPSG)
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    dx, dy = (x1 - x0) / 2, (y1 - y0) / 2
    box = shapely.box(x0 - dx, y0 - dy, x1 + dx, y1 + dy)
    return gpd.GeoDataFrame({"code": ["changed"]}, geometry=[box], crs=STORE_EPSG)


def diff_map(
    grids_a: gpd.GeoDataFrame,
    grids_b: gpd.GeoDataFrame,
    buildings_b: gpd.GeoDataFrame,
    diff: Mapping[str, Any],
    *,
    version_a: Any = None,
    version_b: Any = None,
    district: District | None = None,
    tiles="none",
    tiles_key: str | None = None,
    tiles_attr: str | None = None,
    asset_mode: str = "inline",
    static_prefix: str = "/static",
) -> folium.Map:
    """The map of what changed from boundary version ``a`` to ``b``.

    Parameters
    ----------
    grids_a : GeoDataFrame
        The grids of version ``a`` (``code, name, community_code``, EPSG:4490).
    grids_b : GeoDataFrame
        The grids of version ``b``.
    buildings_b : GeoDataFrame
        The buildings of version ``b`` (``code, address, grid_code, households``).
    diff : dict
        :func:`geo_grid.store.versions.diff` of the two versions.
    version_a, version_b : BoundaryVersion or dict, optional
        The version records (time, author, kind, note) for the title and the panel.
    district : District, optional
        Gives the street and community outlines drawn for context (not versioned).
    tiles, tiles_key, tiles_attr, asset_mode, static_prefix
        As for :func:`maps.coverage.coverage_map`.

    Returns
    -------
    folium.Map
        With ``gg_counts``: how many grids were drawn added, removed, reshaped and unchanged,
        and how many buildings moved.
    """
    va = _version(version_a, int(diff["from"]))
    vb = _version(version_b, int(diff["to"]))
    empty = gpd.GeoDataFrame({"code": [], "name": []}, geometry=[], crs=STORE_EPSG)
    # the first view frames what changed (the street when nothing did)
    frame = District(street=_changed_area(grids_a, grids_b, diff, district), communities=empty,
                     grids=grids_b if len(grids_b) else grids_a, buildings=buildings_b)
    title = f"{_label(va)} → {_label(vb)}"
    m, proj = base_map(frame, tiles=tiles, tiles_key=tiles_key, tiles_attr=tiles_attr,
                       asset_mode=asset_mode, static_prefix=static_prefix, title=title,
                       page_title=f"网格边界变更：{title}")
    if district is not None and len(district.communities):
        add_boundaries(m, district, proj, labels=False)

    communities = (dict(zip(district.communities["code"], district.communities["name"],
                            strict=False)) if district is not None else {})
    hh_after = buildings_b.groupby("grid_code")["households"].sum() if len(buildings_b) else {}
    deltas = {r["code"]: r for r in diff.get("households", [])}
    added = {r["code"]: r for r in diff.get("grids_added", [])}
    removed = {r["code"]: r for r in diff.get("grids_removed", [])}
    reshaped = {r["code"]: r for r in diff.get("grids_reshaped", [])}
    names = {**dict(zip(grids_a["code"], grids_a["name"], strict=True)),
             **dict(zip(grids_b["code"], grids_b["name"], strict=True))}

    def grid_props(row, change: str, households) -> dict[str, Any]:
        code = str(row.code)
        d = deltas.get(code)
        r = reshaped.get(code)
        name = _str(row.name)
        return {
            "code": code, "name": name, "change": change,
            "community": communities.get(row.community_code, _str(row.community_code)),
            "households": D.num(households),
            "households_change": f"{d['before']} → {d['after']}" if d else None,
            "area_change": D.num(r["area_change_m2"]) if r else None,
            "tip": f"{name or ''}（{code}）{change}",
        }

    def grid_layer(grids: gpd.GeoDataFrame, codes, change: str, style: dict, cls: str,
                   layer_name: str, households, *, search: bool = True) -> int:
        g = grids[grids["code"].isin(set(codes))]
        props = [grid_props(r, change, households(str(r.code)))
                 for r in g.itertuples(index=False)]
        spec = {"className": cls, "style": style, "popup": GRID_POPUP, "tooltip": "tip"}
        if search:
            spec["search"] = {"kind": "网格", "label": "name", "alt": "code", "sub": "change",
                              "maxZoom": 16}
        GeoLayer(D.feature_collection(g.geometry.to_numpy(), props, proj), spec,
                 name=f"{layer_name}（{len(g)}）").add_to(m)
        return len(g)

    def hh_b(code: str):
        return hh_after.get(code, 0) if len(hh_after) else 0

    changed = set(added) | set(reshaped)
    unchanged = [c for c in grids_b["code"] if c not in changed]
    # the outlines of version a (unfilled, dashed) go over the grids of version b, so that a
    # removed grid's outline shows over the grids that replaced it
    counts = {
        "unchanged": grid_layer(grids_b, unchanged, "未变", UNCHANGED_STYLE, "gg-diff-unchanged",
                                "未变网格", hh_b),
        "reshaped": grid_layer(grids_b, reshaped, "调整边界", AFTER_STYLE, "gg-diff-after",
                               "调整后边界", hh_b),
        "added": grid_layer(grids_b, added, "新增", ADDED_STYLE, "gg-diff-added", "新增网格",
                            lambda c: added[c]["households"]),
    }
    grid_layer(grids_a, reshaped, "调整前边界", BEFORE_STYLE, "gg-diff-before", "调整前边界",
               lambda c: deltas[c]["before"] if c in deltas else hh_b(c), search=False)
    counts["removed"] = grid_layer(grids_a, removed, "撤销", REMOVED_STYLE, "gg-diff-removed",
                                   "撤销网格", lambda c: removed[c]["households"])

    def grid_text(code: str) -> str:
        name = _str(names.get(code))
        return f"{name}（{code}）" if name else code

    moves = {r["code"]: r for r in diff.get("buildings_moved", [])}
    b = buildings_b[buildings_b["code"].isin(set(moves))]
    props = []
    for code in b["code"]:
        r = moves[code]
        frm, to = grid_text(r["from_grid"]), grid_text(r["to_grid"])
        address = _str(r.get("address"))
        props.append({"code": str(code), "address": address, "from": frm, "to": to,
                      "households": D.num(r.get("households")),
                      "tip": f"{address or code}：{frm} → {to}"})
    GeoLayer(D.feature_collection(b.geometry.to_numpy(), props, proj),
             {"className": "gg-diff-moved", "style": MOVED_STYLE, "popup": MOVED_POPUP,
              "tooltip": "tip", "search": {"kind": "楼栋", "label": "address", "alt": "code",
                                           "sub": "to", "maxZoom": 18}},
             name=f"调整楼栋（{len(b)}）").add_to(m)
    counts["moved"] = len(b)

    Legend({"sections": [{"title": "边界变更", "items": [
        {"color": ADDED_STYLE["color"], "label": f"新增网格（{counts['added']}）"},
        {"color": REMOVED_STYLE["color"], "label": f"撤销网格（{counts['removed']}）",
         "outline": True, "dashed": True},
        {"color": BEFORE_STYLE["color"], "label": f"调整前边界（{counts['reshaped']}）",
         "outline": True, "dashed": True},
        {"color": AFTER_STYLE["color"], "label": f"调整后边界（{counts['reshaped']}）",
         "outline": True},
        {"color": UNCHANGED_STYLE["color"], "label": f"未变网格（{counts['unchanged']}）",
         "outline": True},
        {"color": MOVED_STYLE["fillColor"], "label": f"调整楼栋（{counts['moved']}）"},
    ]}]}).add_to(m)
    Panel({"title": f"版本{va['id']} → 版本{vb['id']}",
           "kind": KIND_LABELS.get(vb.get("kind"), _str(vb.get("kind"))),
           "author": _str(vb.get("author")), "time": local_time(vb.get("created_at")) or None,
           "note": _str(vb.get("note")) or None,
           "added": counts["added"], "removed": counts["removed"],
           "reshaped": counts["reshaped"], "moved": counts["moved"]},
          VERSION_PANEL, position="topright").add_to(m)
    SearchBox(placeholder="搜索网格编码、名称或调整楼栋地址").add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    m.gg_counts = counts
    return finish(m)


__all__ = ["diff_map", "local_time"]
