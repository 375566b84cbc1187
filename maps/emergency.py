"""Emergency maps for a rebalancing scenario, and the before/after compare page.

Input is plain data (no dependency on the assignment classes); :func:`scenario_view` accepts any of

- a plain dict: ``name``, ``moves`` (rows or DataFrame with ``building_code, from_member,
  to_member, reason`` and optionally ``member_id, grid_code, load``), ``uncovered`` (building
  codes after the rebalance), ``uncovered_before``, ``sealed`` / ``sealed_buildings`` (codes),
  ``sealed_area`` (GeoJSON geometry/Feature/FeatureCollection or shapely, EPSG:4490 unless
  ``sealed_area_crs``), ``unavailable`` (member ids), ``shortages`` (rows with ``grid_code``) or
  ``shortage_grids`` (codes), ``summary`` (dict; ``before`` sub-dict for the figures before),
  ``assignment`` (the new assignment rows: ``member_id, building_code``), ``placements``
  (rows ``reinforcement, building, load, reason``: load placed on the scenario's
  ``reinforcements``, inline ``{id, kind, lon, lat, capacity}`` in ``scenario``/``spec``);
- ``RebalanceResult.to_dict()`` (the same keys, with the scenario under ``scenario``);
- a stored scenario ``{"id", "name", "spec", "result": {...}}`` as the API keeps it;
- a ``RebalanceResult`` object (anything with ``to_dict()``).

The figures drawn (building status, grid figures, shortage grids) are the scenario's own
``figures_before``/``figures_after`` (:mod:`geo_grid.figures`), kept with the result: a page
never runs a rebalance. A hand-made dict without them has them evaluated once from its
assignment (or ``district``'s with its moves) with its members out; its ``uncovered`` lists are
drawn on top.

The emergency map may also draw the posts of a roster computed for the scenario
(:func:`scenario_map`'s ``roster``: a kept roster ``{"id", "spec", "result"}`` of
:mod:`geo_grid.rosters.store`), each coloured by whether all its shifts are staffed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import Figure

from geo_grid.crs import to_cgcs2000
from geo_grid.district import District
from geo_grid.figures import Figures, district_figures
from maps import _data as D  # noqa: N812
from maps._base import base_map
from maps.assets import make_offline, render_html
from maps.coverage import (
    BUILDING_POPUP,
    GRID_POPUP,
    add_boundaries,
    building_features,
    grid_features,
)
from maps.elements import GeoLayer, Legend, MarkerLayer, Panel, SearchBox, SyncMaps

REASON_LABELS = {
    "member unavailable": "原包保人员不可用",
    "member sealed in": "原包保人员被封控",
    "building sealed": "楼栋封控",
    "rebalanced": "负担调整",
    "unavailable": "原包保人员不可用",
    "member_unavailable": "原包保人员不可用",
    "sealed": "楼栋封控",
    "surge": "需求增加",
    "rebalance": "负担调整",
    "overload": "超负荷调整",
    "new": "新增包保",
    "dropped": "撤出包保",
}
SUMMARY_LABELS = {
    "moves": "调整次数",
    "moved_load": "调整负担（户）",
    "uncovered_buildings": "未覆盖楼栋",
    "uncovered_households": "未覆盖户数",
    "uncovered_load": "未覆盖负担",
    "overloaded_members": "超负荷人员",
    "max_walk_m": "最远步行（米）",
    "solve_seconds": "求解用时（秒）",
    "unavailable": "不可用人员",
    "sealed": "封控楼栋",
    "shortage_grids": "缺员网格",
    "reinforcements": "增援力量",
    "reinforcements_used": "启用增援力量",
    "placed_load": "增援承担负担（户）",
    "posts_short": "缺员岗位",
}
SHORTAGE_POPUP = {
    "heading": "缺员网格",
    "title": "name",
    "fields": [["code", "网格编码"], ["uncovered_buildings", "未覆盖楼栋"],
               ["uncovered_households", "未覆盖户数"], ["closable", "可由附近人员补足"]],
}
MOVE_POPUP = {
    "heading": "包保调整",
    "title": "address",
    "fields": [["building", "楼栋编码"], ["from", "原包保"], ["to", "新包保"], ["load", "负担", " 户"],
               ["reason", "原因"]],
}

REINFORCEMENT_POPUP = {
    "heading": "增援力量",
    "title": "id",
    "fields": [["kind_label", "类别"], ["status", "状态"], ["capacity", "可承担负担", " 户"],
               ["load", "已安排负担", " 户"], ["n_buildings", "安排楼栋"]],
    "lists": [["placed", "安排楼栋与原因"]],
}
PLACEMENT_POPUP = {
    "heading": "增援安排",
    "title": "address",
    "fields": [["building", "楼栋编码"], ["reinforcement", "增援力量"], ["kind_label", "类别"],
               ["load", "负担", " 户"], ["reason_label", "原因"]],
}
POST_POPUP = {
    "heading": "岗位排班",
    "title": "id",
    "fields": [["kind_label", "岗位类别"], ["status", "排班"], ["per_shift", "每班人数"],
               ["min_security", "其中辅警/保安"], ["shifts", "班次"], ["unfilled", "缺员班次"],
               ["missing", "缺员人次"], ["roster", "排班编号"]],
    "lists": [["first_unfilled", "最早缺员班次"]],
}
#: how many of a post's unfilled shifts its popup lists (earliest first)
FIRST_UNFILLED = 5
#: line weights of placements: the lightest load to the heaviest
PLACEMENT_WEIGHTS = (2.0, 7.0)

UNCOVERED_STYLE = {"color": "#d7191c", "weight": 3, "opacity": 1, "fillColor": "#d7191c", "fillOpacity": 0.9}
SEALED_STYLE = {"color": "#542788", "weight": 2, "opacity": 1, "fillColor": "#542788", "fillOpacity": 0.6}
SEALED_AREA_STYLE = {"color": "#542788", "weight": 2.5, "dashArray": "8 5", "fillColor": "#542788", "fillOpacity": 0.08}
SHORTAGE_STYLE = {"color": "#d7191c", "weight": 3.5, "opacity": 1, "fillColor": "#d7191c", "fillOpacity": 0.15}
MOVE_STYLE = {"color": "#2166ac", "weight": 2, "opacity": 0.85}
GRID_PLAIN_STYLE = {"color": "#666666", "weight": 1, "opacity": 0.8, "fillColor": "#f7f7f7", "fillOpacity": 0.35}


@dataclass
class ScenarioView:
    """A scenario result reduced to what the maps draw."""

    id: str | None = None
    name: str = ""
    moves: pd.DataFrame = field(default_factory=pd.DataFrame)
    uncovered: list[str] | None = None
    uncovered_before: list[str] | None = None
    sealed: list[str] = field(default_factory=list)
    sealed_area: Any = None  # shapely geometry in EPSG:4490
    unavailable: list[str] = field(default_factory=list)
    shortage: pd.DataFrame = field(default_factory=pd.DataFrame)
    summary: dict = field(default_factory=dict)
    assignment: pd.DataFrame | None = None
    figures_after: Figures | None = None
    figures_before: Figures | None = None
    reinforcements: list[dict] = field(default_factory=list)
    placements: pd.DataFrame = field(default_factory=pd.DataFrame)


def _get(d: Mapping, *keys, default=None):
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    return default


def _frame(v) -> pd.DataFrame:
    if v is None:
        return pd.DataFrame()
    if isinstance(v, pd.DataFrame):
        return v.copy()
    return pd.DataFrame(list(v))


def _area(v, crs: str | None = None):
    if v is None:
        return None
    if isinstance(v, shapely.Geometry):
        geom = v
    elif hasattr(v, "geometry") and hasattr(v, "crs"):  # GeoDataFrame / GeoSeries
        gs = v.geometry if hasattr(v, "columns") else v
        if gs.crs is not None:
            gs = gs.to_crs(4490)
        geom = shapely.union_all(gs.to_numpy())
        crs = None
    elif isinstance(v, Mapping):
        if v.get("type") == "Feature":
            geom = shapely.geometry.shape(v["geometry"])
        elif v.get("type") == "FeatureCollection":
            geom = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in v.get("features", [])])
        else:
            geom = shapely.geometry.shape(v)
    else:
        geom = shapely.union_all([g if isinstance(g, shapely.Geometry) else shapely.geometry.shape(g) for g in v])
    if crs and str(crs).lower() not in ("cgcs2000", "epsg:4490", "4490", "wgs84", "epsg:4326", "4326"):
        geom = shapely.transform(geom, lambda xy: np.column_stack(to_cgcs2000(xy[:, 0], xy[:, 1], crs, validate=False)))
    return geom if not geom.is_empty else None


def scenario_view(obj, sid: str | None = None) -> ScenarioView:
    """Normalise a scenario result given in any of the forms of the module docstring."""
    if isinstance(obj, ScenarioView):
        return obj
    if not isinstance(obj, Mapping) and hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    if not isinstance(obj, Mapping):
        raise TypeError(f"cannot read a scenario from {type(obj).__name__}")
    top = obj
    res = obj["result"] if isinstance(obj.get("result"), Mapping) else obj
    spec = _get(top, "spec") or _get(res, "scenario") or {}
    if not isinstance(spec, Mapping):
        spec = spec.to_dict() if hasattr(spec, "to_dict") else {}
    name = _get(top, "name") or _get(res, "name") or _get(spec, "name") or ""
    summary = dict(_get(res, "summary", default={}) or {})
    shortage = _frame(_get(res, "shortages"))
    if shortage.empty and _get(res, "shortage_grids") is not None:
        shortage = pd.DataFrame({"grid_code": [str(c) for c in D.codes_from(res["shortage_grids"])]})
    asg = _get(res, "assignment", "assignment_after")
    reinf = _get(spec, "reinforcements")
    placements = _frame(_get(res, "placements") or summary.get("placements"))
    figs = top.get("figures")  # the service's stored scenario: figures already read
    if figs is None and _get(res, "figures_before") is not None:
        figs = (Figures.from_dict(res["figures_before"]), Figures.from_dict(res["figures_after"]))
    return ScenarioView(
        id=str(_get(top, "id", default=sid)) if _get(top, "id", default=sid) is not None else None,
        name=str(name),
        moves=_frame(_get(res, "moves")),
        uncovered=([str(c) for c in _get(res, "uncovered", "uncovered_after")]
                   if _get(res, "uncovered", "uncovered_after") is not None else None),
        uncovered_before=([str(c) for c in res["uncovered_before"]]
                          if _get(res, "uncovered_before") is not None else None),
        sealed=[str(c) for c in (_get(res, "sealed", "sealed_buildings") or _get(spec, "sealed_buildings") or [])],
        sealed_area=_area(_get(res, "sealed_area") or _get(spec, "sealed_area"),
                          _get(res, "sealed_area_crs") or _get(spec, "sealed_area_crs")),
        unavailable=[str(c) for c in (_get(res, "unavailable") or _get(spec, "unavailable_members") or [])],
        shortage=shortage,
        summary=summary,
        assignment=_frame(asg) if asg is not None else None,
        figures_before=figs[0] if figs else None,
        figures_after=figs[1] if figs else None,
        reinforcements=[dict(r) for r in reinf if isinstance(r, Mapping)] if isinstance(reinf, list) else [],
        placements=placements,
    )


def uncovered_lists(result) -> dict:
    """``uncovered_before``/``uncovered_after`` building codes of a result with figures
    (``RebalanceResult``); {} when it has none."""
    out = {}
    for key, attr in (("uncovered_before", "figures_before"), ("uncovered_after", "figures_after")):
        fig = getattr(result, attr, None)
        if isinstance(fig, Figures):
            out[key] = fig.uncovered_buildings()
    return out


def scenario_figures(district: District, sv: ScenarioView) -> tuple[Figures, Figures]:
    """(before, after) figures of a scenario: its own, or, for a hand-made one without them,
    those of ``district``'s assignment (before) and of its assignment or moves (after),
    evaluated once with its members out."""
    if sv.figures_before is not None and sv.figures_after is not None:
        return sv.figures_before, sv.figures_after
    members = district.members
    if sv.unavailable and len(members):
        members = members.assign(available=members["available"].astype(bool)
                                 & ~members["id"].astype(str).isin(sv.unavailable))
    out = dataclasses.replace(district, members=members)
    after = sv.assignment if sv.assignment is not None else _apply_moves(district.assignment, sv.moves)
    return district_figures(out), district_figures(out, assignment=_with_loads(district, after))


def _with_loads(district: District, assignment: pd.DataFrame | None) -> pd.DataFrame:
    """Rows ``member_id, building_code, load``: a building's load shared out evenly over the
    rows that name it when a hand-made assignment gives no loads."""
    if assignment is None or not len(assignment):
        return pd.DataFrame(columns=["member_id", "building_code", "load"])
    a = assignment
    if "load" not in a.columns or a["load"].isna().any():
        # rows with equal loads far above any demand: each carries 1/n of its building
        a = a[["member_id", "building_code"]].copy()
        a["load"] = 1e12 / a.groupby("building_code")["member_id"].transform("size")
    return a


def _apply_moves(assignment: pd.DataFrame, moves: pd.DataFrame) -> pd.DataFrame:
    """The current assignment with each move's building handed from ``from_member`` to ``to_member``."""
    if moves is None or moves.empty or assignment is None or assignment.empty:
        return assignment
    a = assignment[["member_id", "building_code"]].copy()
    drop = set()
    add = []
    for b, f, t in zip(moves["building_code"], moves.get("from_member", [None] * len(moves)),
                       moves.get("to_member", [None] * len(moves)), strict=True):
        if isinstance(f, str):
            drop.add((f, b))
        if isinstance(t, str):
            add.append({"member_id": t, "building_code": b})
    keep = [(m, b) not in drop for m, b in zip(a["member_id"], a["building_code"], strict=True)]
    return pd.concat([a[keep], pd.DataFrame(add, columns=["member_id", "building_code"])], ignore_index=True)


def _summary_panel(sv: ScenarioView, n_uncovered: int, n_shortage: int,
                   extra: Mapping | None = None) -> tuple[dict, dict]:
    """The summary card: the scenario's summary figures, then ``extra`` (figures of the map
    itself: reinforcements used and load placed, posts short)."""
    props = {"name": sv.name or "应急调整方案", "id": sv.id}
    fields = [["id", "方案编号"]]
    summ = dict(sv.summary)
    for k, v in (extra or {}).items():
        summ[k] = v
    before = summ.pop("before", None) if isinstance(summ.get("before"), Mapping) else None
    summ.setdefault("uncovered_buildings", n_uncovered)
    summ.setdefault("unavailable", len(sv.unavailable))
    summ.setdefault("sealed", len(sv.sealed))
    summ.setdefault("shortage_grids", n_shortage)
    if "moves" not in summ:
        summ["moves"] = len(sv.moves)
    for k, v in summ.items():
        if isinstance(v, Mapping | list) or k in ("n_arcs",):
            continue
        val = D.num(v, 2)
        if before and k in before and not isinstance(before[k], Mapping | list):
            val = f"{D.num(before[k], 2)} → {val}"
        key = "s_" + str(k)
        props[key] = val
        fields.append([key, SUMMARY_LABELS.get(k, str(k))])
    return props, {"heading": "应急调整方案", "title": "name", "fields": fields}


def scenario_map(
    district: District,
    scenario,
    *,
    phase: str = "after",
    tiles="none",
    tiles_key: str | None = None,
    tiles_attr: str | None = None,
    asset_mode: str = "inline",
    static_prefix: str = "/static",
    map_box: dict | None = None,
    title: str | None = None,
    panel: bool = True,
    finish: bool = True,
    roster: Mapping | None = None,
) -> folium.Map:
    """One map of a scenario: ``phase="after"`` (the rebalanced coverage, moves drawn) or
    ``"before"`` (the assignment it was computed on, with the scenario's outages), drawn from
    the scenario's figures (see :func:`scenario_figures`).

    After rebalancing, the scenario's reinforcements are drawn at their bases (coloured by
    kind, grey when unused) with a line to each building placed on them; ``roster`` (a kept
    roster for this scenario, or None) adds its posts, coloured by staffing."""
    if phase not in ("before", "after"):
        raise ValueError("phase must be 'before' or 'after'")
    sv = scenario_view(scenario)
    street_name = D.street_title(district)
    m, proj = base_map(
        district, tiles=tiles, tiles_key=tiles_key, tiles_attr=tiles_attr, asset_mode=asset_mode,
        static_prefix=static_prefix, page_title=f"{street_name} 应急调整：{sv.name}",
        map_box=map_box, title=title,
    )
    sv.figures_before, sv.figures_after = scenario_figures(district, sv)
    fig = sv.figures_after if phase == "after" else sv.figures_before
    bstat = D.building_status(district, fig, sv.uncovered if phase == "after" else sv.uncovered_before)
    figs = D.grid_figures(district, fig)
    teams = D.grid_teams(district, fig)
    GeoLayer(
        grid_features(district, figs, teams, proj, color_by="load"),
        {"className": "gg-grid", "style": GRID_PLAIN_STYLE, "popup": GRID_POPUP, "tooltip": "tip",
         "search": {"kind": "网格", "label": "name", "alt": "code", "sub": "code", "maxZoom": 16}},
        name="网格",
    ).add_to(m)
    add_boundaries(m, district, proj)

    # shortage grids: from the result (after), or grids with uncovered buildings (before)
    if phase == "after" and not sv.shortage.empty and "grid_code" in sv.shortage.columns:
        short = sv.shortage.drop_duplicates("grid_code").set_index("grid_code")
    else:
        s = figs[figs["uncovered"] > 0]
        short = pd.DataFrame({"uncovered_buildings": s["uncovered"]}, index=s.index)
    g = district.grids[district.grids["code"].astype(str).isin(set(map(str, short.index)))]
    if len(g):
        props = []
        for code, name in zip(g["code"], g["name"], strict=True):
            row = short.loc[code] if code in short.index else pd.Series(dtype=object)
            closable = row.get("closable")
            props.append({
                "code": str(code), "name": str(name),
                "uncovered_buildings": D.num(row.get("uncovered_buildings")),
                "uncovered_households": D.num(row.get("uncovered_households")),
                "closable": None if closable is None or (isinstance(closable, float) and np.isnan(closable))
                else ("是" if bool(closable) else "否"),
            })
        GeoLayer(
            D.feature_collection(D.simplify_coverage(g.geometry.to_numpy()), props, proj),
            {"className": "gg-shortage", "style": SHORTAGE_STYLE, "popup": SHORTAGE_POPUP},
            name=f"缺员网格（{len(g)}）",
        ).add_to(m)

    if sv.sealed_area is not None:
        GeoLayer(
            D.feature_collection([sv.sealed_area], [{"name": "封控区域"}], proj),
            {"className": "gg-sealed-area", "style": SEALED_AREA_STYLE, "tooltip": "name"},
            name="封控区域",
        ).add_to(m)

    sealed = set(sv.sealed)
    all_b = building_features(district, bstat, proj, sealed)
    feats = all_b["features"]
    GeoLayer(
        {"type": "FeatureCollection", "features": [f for f in feats if f["properties"]["status"] != "uncovered"]},
        {"className": "gg-building", "style": {"color": "#333333", "weight": 0.6, "fillOpacity": 0.85},
         "colorProp": "color", "popup": BUILDING_POPUP, "tooltip": "address", "minZoom": D.BUILDINGS_MIN_ZOOM,
         "search": {"kind": "地址", "label": "address", "alt": "code", "sub": "grid", "maxZoom": 18}},
        name=f"楼栋（{D.BUILDINGS_MIN_ZOOM}级以上显示）",
    ).add_to(m)
    sealed_feats = [f for f in feats if f["properties"]["code"] in sealed]
    if sealed_feats:
        GeoLayer(
            {"type": "FeatureCollection", "features": sealed_feats},
            {"className": "gg-building gg-sealed", "style": SEALED_STYLE, "popup": BUILDING_POPUP,
             "tooltip": "address"},
            name=f"封控楼栋（{len(sealed_feats)}）",
        ).add_to(m)
    unc = [f for f in feats if f["properties"]["status"] == "uncovered"]
    GeoLayer(
        {"type": "FeatureCollection", "features": unc},
        {"className": "gg-building gg-uncovered", "style": UNCOVERED_STYLE, "popup": BUILDING_POPUP,
         "tooltip": "address", "search": {"kind": "地址", "label": "address", "alt": "code", "sub": "grid",
                                          "maxZoom": 18}},
        name=f"未覆盖楼栋（{len(unc)}）",
    ).add_to(m)

    n_moves = 0
    if phase == "after" and not sv.moves.empty:
        fc = _move_features(district, sv.moves, proj)
        n_moves = sum(1 for f in fc["features"] if f["geometry"]["type"] == "LineString")
        GeoLayer(
            fc,
            {"className": "gg-move", "style": MOVE_STYLE, "popup": MOVE_POPUP,
             "point": {"radius": 3, "fillColor": "#2166ac", "fillOpacity": 1, "color": "#ffffff", "weight": 1}},
            name=f"包保调整（{n_moves}）",
        ).add_to(m)

    extra: dict = {}
    legend_extra: list[dict] = []
    n_reinf = {"used": 0, "load": 0}
    if phase == "after" and sv.reinforcements:
        data, n_reinf = reinforcement_data(district, sv, proj)
        MarkerLayer(
            data,
            {"className": "gg-reinf", "lineClassName": "gg-placement", "popup": REINFORCEMENT_POPUP,
             "linePopup": PLACEMENT_POPUP, "tooltip": "tip"},
            name="增援力量 / reinforcements",
        ).add_to(m)
        extra = {"reinforcements": n_reinf["total"], "reinforcements_used": n_reinf["used"],
                 "placed_load": n_reinf["load"]}
        kinds = [k for k in D.REINFORCEMENT_LABELS if k in n_reinf["kinds"]]
        legend_extra.append({
            "title": f"增援力量（启用 {n_reinf['used']}/{n_reinf['total']}，承担 {D.num(n_reinf['load'])} 户）",
            "items": [{"color": D.REINFORCEMENT_COLORS[k], "label": D.REINFORCEMENT_LABELS[k]} for k in kinds]
            + ([{"color": D.UNUSED_COLOR, "label": "未启用"}] if n_reinf["used"] < n_reinf["total"] else [])
            + [{"color": "#555555", "label": "增援安排（驻点→楼栋，线宽为负担）", "line": True}],
        })
    n_posts = {"total": 0, "short": 0}
    if phase == "after" and roster is not None:
        data, n_posts = post_data(roster, proj)
        MarkerLayer(data, {"className": "gg-post", "popup": POST_POPUP, "tooltip": "tip"},
                    name="岗位 / posts").add_to(m)
        extra["posts_short"] = f"{n_posts['short']}/{n_posts['total']}"
        legend_extra.append({
            "title": f"岗位排班（缺员 {n_posts['short']}/{n_posts['total']}）",
            "items": [{"color": D.POST_COLORS[k], "label": D.POST_STATUS_LABELS[k]} for k in ("staffed", "short")],
        })

    if panel:
        props, spec = _summary_panel(sv, len(unc), len(g), extra)
        Panel(props, spec, position="topright").add_to(m)
    Legend({"sections": [
        {"title": "应急图例", "items": [
            {"color": UNCOVERED_STYLE["color"], "label": "未覆盖楼栋"},
            {"color": SEALED_STYLE["color"], "label": "封控楼栋"},
            {"color": SEALED_AREA_STYLE["color"], "label": "封控区域", "outline": True, "dashed": True},
            {"color": SHORTAGE_STYLE["color"], "label": "缺员网格", "outline": True},
            {"color": MOVE_STYLE["color"], "label": "包保调整（住址→楼栋）", "line": True},
        ]},
        *legend_extra,
        {"title": f"楼栋（{D.BUILDINGS_MIN_ZOOM}级以上）", "items": [
            {"color": D.STATUS_COLORS[s], "label": D.STATUS_LABELS[s]} for s in ("covered", "single", "empty")]},
    ]}).add_to(m)
    SearchBox().add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    m.gg_counts = {"uncovered": len(unc), "shortage": len(g), "moves": n_moves, "sealed": len(sealed_feats),
                   "reinforcements_used": n_reinf["used"], "placed_load": n_reinf["load"],
                   "posts": n_posts["total"], "posts_short": n_posts["short"]}
    if finish:
        make_offline(m, asset_mode, static_prefix)
    return m


def _move_features(district: District, moves: pd.DataFrame, proj: D.Projector) -> dict:
    members = district.members
    lon, lat = D.member_points(district)
    home = pd.DataFrame({"lon": lon, "lat": lat}, index=members["id"].astype(str).to_numpy()) if len(members) else pd.DataFrame(columns=["lon", "lat"])
    names = dict(zip(members["id"].astype(str), members["name"], strict=False)) if len(members) else {}
    roles = dict(zip(members["id"].astype(str), members["role"], strict=False)) if len(members) else {}
    cen = D.building_centroids(district)
    addr = dict(zip(district.buildings["code"], district.buildings["address"], strict=True))
    geoms, props = [], []
    seen_home = set()

    def who(mid):
        if not isinstance(mid, str) or not mid:
            return "（无）"
        return D.person_label(names.get(mid), roles.get(mid))

    for r in moves.to_dict("records"):
        b = str(r.get("building_code"))
        to = r.get("to_member") if isinstance(r.get("to_member"), str) else r.get("member_id")
        if b not in cen.index:
            continue
        reason = r.get("reason")
        p = {
            "address": addr.get(b), "building": b, "from": who(r.get("from_member")), "to": who(to),
            "load": D.num(r.get("load")), "reason": REASON_LABELS.get(reason, None if reason is None else str(reason)),
        }
        bx, by = cen.loc[b, "lon"], cen.loc[b, "lat"]
        if isinstance(to, str) and to in home.index and np.isfinite(home.loc[to, "lon"]):
            hx, hy = home.loc[to, "lon"], home.loc[to, "lat"]
            geoms.append(shapely.LineString([(hx, hy), (bx, by)]))
            props.append(p)
            if to not in seen_home:
                seen_home.add(to)
                geoms.append(shapely.Point(hx, hy))
                props.append({"address": "住址：" + who(to), "_cls": "gg-move-home"})
    return D.feature_collection(geoms, props, proj)


def reinforcement_data(district: District, sv: ScenarioView, proj: D.Projector) -> tuple[dict, dict]:
    """Data of ``GG.markers`` for the scenario's reinforcements: a marker at each base
    (coloured by kind, grey when nothing was placed on it) and a line from the base to each
    building placed on it (one per reinforcement and building, weighted by load).

    Returns ``(data, counts)`` with counts ``total, used, load`` (placed) and ``kinds`` (of the
    used ones). Reinforcements carry ids only (no names): nothing here is masked.
    """
    cen = D.building_centroids(district)
    addr = dict(zip(district.buildings["code"].astype(str), district.buildings["address"], strict=True))
    pl = sv.placements
    rows: dict[str, list[dict]] = {}
    if len(pl) and {"reinforcement", "building"} <= set(pl.columns):
        loads = pd.to_numeric(pl["load"], errors="coerce").fillna(0.0) if "load" in pl.columns else 0.0
        pl = pl.assign(load=loads, reinforcement=pl["reinforcement"].astype(str),
                       building=pl["building"].astype(str))
        if "reason" not in pl.columns:
            pl = pl.assign(reason=None)
        # one row per reinforcement and building: its load summed, its reasons in order
        for (rid, b), grp in pl.groupby(["reinforcement", "building"], sort=False):
            reasons = [str(r) for r in dict.fromkeys(grp["reason"]) if isinstance(r, str) and r]
            rows.setdefault(rid, []).append({"building": b, "load": float(grp["load"].sum()),
                                             "reasons": reasons})
    top = max((r["load"] for rs in rows.values() for r in rs), default=0.0)
    lo, hi = PLACEMENT_WEIGHTS
    markers, lines = [], []
    kinds: set[str] = set()
    used = 0
    placed = 0.0
    for r in sv.reinforcements:
        rid, kind = str(r.get("id")), str(r.get("kind"))
        try:
            lon, lat = float(r["lon"]), float(r["lat"])
        except (KeyError, TypeError, ValueError):
            continue
        if not (np.isfinite(lon) and np.isfinite(lat)):
            continue
        base = D.round_latlon(proj, lon, lat)
        mine = rows.get(rid, [])
        load = sum(x["load"] for x in mine)
        kind_label = D.REINFORCEMENT_LABELS.get(kind, kind)
        if mine:
            used += 1
            placed += load
            kinds.add(kind)
        placed_text = []
        for x in mine:
            b = x["building"]
            reason = "、".join(REASON_LABELS.get(t, t) for t in x["reasons"])
            placed_text.append(f"{b} {addr.get(b) or ''}：{D.num(x['load'])} 户" + (f"（{reason}）" if reason else ""))
            if b not in cen.index:
                continue
            lines.append({
                "latlngs": [base, D.round_latlon(proj, cen.loc[b, "lon"], cen.loc[b, "lat"])],
                "color": D.REINFORCEMENT_COLORS.get(kind, "#555555"),
                "weight": round(lo + (hi - lo) * (x["load"] / top if top > 0 else 0.0), 2),
                "props": {"reinforcement": rid, "building": b, "address": addr.get(b), "kind": kind,
                          "kind_label": kind_label, "load": D.num(x["load"], 3),
                          "reasons": x["reasons"], "reason_label": reason or None},
            })
        markers.append({
            "lat": base[0], "lon": base[1],
            "color": D.REINFORCEMENT_COLORS.get(kind, "#555555") if mine else D.UNUSED_COLOR,
            "glyph": D.REINFORCEMENT_GLYPHS.get(kind, "援"),
            "cls": "gg-used" if mine else "gg-unused",
            "props": {"id": rid, "kind": kind, "kind_label": kind_label, "used": bool(mine),
                      "status": "已启用" if mine else "未启用", "capacity": D.num(r.get("capacity")),
                      "load": D.num(load, 3), "n_buildings": len(mine),
                      "buildings": [x["building"] for x in mine], "placed": placed_text,
                      "tip": f"{kind_label} {rid}"},
        })
    counts = {"total": len(markers), "used": used, "load": D.num(placed, 3), "kinds": kinds}
    return {"markers": markers, "lines": lines}, counts


def post_data(roster: Mapping, proj: D.Projector) -> tuple[dict, dict]:
    """Data of ``GG.markers`` for the posts of a kept roster (``{"id", "spec", "result"}``):
    a marker per post, green when every shift is staffed, red when some are not (how many,
    and the earliest). The posts are the roster's own (``result["posts"]``; for a roster kept
    without them, the inline posts and checkpoints of its request).

    Returns ``(data, counts)`` with counts ``total`` and ``short`` (posts)."""
    res = roster.get("result") or {}
    spec = roster.get("spec") or {}
    posts = res.get("posts")
    if posts is None:
        inline = spec.get("posts") if isinstance(spec.get("posts"), list) else []
        posts = [*inline, *(spec.get("checkpoints") or [])]
    shifts: dict[str, int] = {}
    for sh in res.get("shifts") or []:
        shifts[str(sh.get("post"))] = shifts.get(str(sh.get("post")), 0) + 1
    gaps: dict[str, list[dict]] = {}
    for u in res.get("unfilled") or []:
        gaps.setdefault(str(u.get("post")), []).append(u)
    markers = []
    short = 0
    for p in posts:
        pid, kind = str(p.get("id")), str(p.get("kind"))
        try:
            lon, lat = float(p["lon"]), float(p["lat"])
        except (KeyError, TypeError, ValueError):
            continue
        mine = sorted(gaps.get(pid, []), key=lambda u: str(u.get("start")))
        status = "short" if mine else "staffed"
        short += bool(mine)
        lat_r, lon_r = D.round_latlon(proj, lon, lat)
        kind_label = D.POST_LABELS.get(kind, kind)
        markers.append({
            "lat": lat_r, "lon": lon_r, "color": D.POST_COLORS[status],
            "glyph": D.POST_GLYPHS.get(kind, "岗"), "cls": f"gg-post-{status}",
            "props": {"id": pid, "kind": kind, "kind_label": kind_label, "staffing": status,
                      "status": D.POST_STATUS_LABELS[status], "per_shift": p.get("per_shift", 1),
                      "min_security": p.get("min_security") or None, "shifts": shifts.get(pid, 0),
                      "unfilled": len(mine),
                      "missing": sum(int(u.get("missing") or 0) for u in mine) or None,
                      "first_unfilled": [_shift_text(u) for u in mine[:FIRST_UNFILLED]],
                      "roster": str(roster.get("id")) if roster.get("id") is not None else None,
                      "tip": f"{kind_label} {pid}" + (f"（缺员 {len(mine)} 班）" if mine else "")},
        })
    return {"markers": markers, "lines": []}, {"total": len(markers), "short": short}


def _shift_text(u: Mapping) -> str:
    """``03-01 08:00–16:00 缺 2 人`` (plain text) for an unfilled shift."""
    def hm(t, date: bool) -> str:
        t = str(t or "")
        return (t[5:16] if date else t[11:16]).replace("T", " ") if len(t) >= 16 else t

    text = f"{hm(u.get('start'), True)}–{hm(u.get('end'), False)} 缺 {int(u.get('missing') or 0)} 人"
    if u.get("missing_security"):
        text += f"（辅警/保安缺 {int(u['missing_security'])}）"
    return text


def emergency_map(district: District, scenario, **kwargs) -> folium.Map:
    """The emergency map of a scenario after rebalancing (see :func:`scenario_map`)."""
    return scenario_map(district, scenario, phase="after", **kwargs)


def compare_page(
    district: District,
    scenario,
    *,
    tiles="none",
    tiles_key: str | None = None,
    tiles_attr: str | None = None,
    asset_mode: str = "inline",
    static_prefix: str = "/static",
) -> Figure:
    """Before/after: two maps side by side on one page, kept on the same view by ``GG.sync``.

    Left: the assignment the scenario was computed on, under its outages; right: after
    rebalancing (both from the scenario's figures).
    Returns the branca Figure; render it with :func:`maps.assets.render_html`.
    """
    sv = scenario_view(scenario)
    sv.figures_before, sv.figures_after = scenario_figures(district, sv)
    kw = dict(tiles=tiles, tiles_key=tiles_key, tiles_attr=tiles_attr, asset_mode=asset_mode,
              static_prefix=static_prefix, finish=False)
    left = scenario_map(district, sv, phase="before", title="调整前（当前包保 + 人员缺位）", panel=False,
                        map_box={"width": "50%", "left": "0%", "position": "absolute"}, **kw)
    right = scenario_map(district, sv, phase="after", title="调整后", panel=True,
                         map_box={"width": "50%", "left": "50%", "position": "absolute"}, **kw)
    street_name = D.street_title(district)
    import html as _html

    fig = Figure(title=_html.escape(f"{street_name} 调整前后对比：{sv.name}"))
    fig.add_child(left, name="before")
    fig.add_child(right, name="after")
    SyncMaps(left, right).add_to(right)
    fig.gg_asset_mode = asset_mode
    fig.gg_static_prefix = static_prefix
    fig.gg_counts = {"before": left.gg_counts, "after": right.gg_counts}
    make_offline(fig, asset_mode, static_prefix)
    return fig


def emergency_html(district: District, scenario, **kwargs) -> str:
    return render_html(emergency_map(district, scenario, **kwargs))


def compare_html(district: District, scenario, **kwargs) -> str:
    return render_html(compare_page(district, scenario, **kwargs))
