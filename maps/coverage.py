"""The coverage map of a street: who covers what, and where the load is.

``coverage_map(district, ...)`` returns a :class:`folium.Map`; turn it into a page with
:func:`maps.assets.render_html` (or :func:`coverage_html`). Layers:

- 网格 — grids coloured by load (households per active member; or by coverage with
  ``color_by="coverage"``) with a legend; click → code, name, community, figures, team (masked);
- 社区边界 / 社区名称 — community outlines and labels; the street outline;
- 脆弱网格 — fragile grids outlined (the figures' ``fragile``: one member loss uncovers a building);
- 楼栋 — building footprints coloured by covering status, drawn only from zoom 16;
  click → address, households, who covers it (masked);
- 党员住址 — member homes, clustered (off at first);
- 住户密度 — household-density heat layer, one weighted point per building (off at first);

plus a search box (grid code or name, community, address → flies there), fullscreen, scale bar
and layer control. Coordinates are simplified with ``shapely.coverage_simplify`` and rounded to
6 decimals; with ``tiles="gaode"`` every overlay is shifted to GCJ-02.
"""

from __future__ import annotations

import folium
import numpy as np
import pandas as pd

from geo_grid.district import District
from geo_grid.figures import Figures, district_figures
from geo_grid.privacy import mask_name, mask_phone
from maps import _data as D  # noqa: N812
from maps._base import base_map, finish
from maps.assets import render_html
from maps.elements import ClusterLayer, GeoLayer, HeatLayer, LabelLayer, Legend, SearchBox

GRID_POPUP = {
    "heading": "网格",
    "title": "name",
    "fields": [
        ["code", "网格编码"],
        ["community", "社区"],
        ["kind", "类型"],
        ["households", "户数"],
        ["residents", "人口"],
        ["buildings", "楼栋"],
        ["team_count", "在岗/成员"],
        ["roles", "书记/社工/志愿者"],
        ["load", "每人负担", " 户"],
        ["demand_load", "包保负担"],
        ["uncovered_load", "未覆盖负担"],
        ["coverage_pct", "覆盖率", "%"],
        ["uncovered", "未覆盖楼栋"],
        ["resilience", "可承受减员"],
        ["vulnerable", "重点关注户"],
        ["uncovered_households", "未覆盖户数"],
        ["overloaded_members", "超负荷人员"],
        ["longest_walk_m", "最远步行", " 米"],
    ],
    "lists": [["team", "网格团队"]],
}
BUILDING_POPUP = {
    "heading": "楼栋",
    "title": "address",
    "fields": [
        ["code", "楼栋编码"],
        ["grid", "所属网格"],
        ["category", "类型"],
        ["households", "户数"],
        ["status_label", "覆盖状态"],
    ],
    "lists": [["cover", "包保人员"]],
}
MEMBER_POPUP = {
    "heading": "党员住址",
    "title": "name",
    "fields": [["role", "角色"], ["grid", "网格"], ["phone", "电话"], ["state", "状态"]],
}

GRID_STYLE = {"color": "#555555", "weight": 1, "opacity": 0.9, "fillOpacity": 0.55}
COMMUNITY_STYLE = {"color": "#08306b", "weight": 2.5, "opacity": 0.9, "fill": False}
STREET_STYLE = {"color": "#000000", "weight": 3, "opacity": 0.8, "fill": False, "dashArray": "8 4"}
FRAGILE_STYLE = {"color": "#e7298a", "weight": 3, "opacity": 1, "fill": False, "dashArray": "6 4"}
BUILDING_STYLE = {"color": "#333333", "weight": 0.6, "opacity": 0.8, "fillOpacity": 0.85}


def _str(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return str(v)


def grid_features(
    district: District,
    figs: pd.DataFrame,
    teams: dict,
    proj: D.Projector,
    *,
    color_by: str = "load",
    bins: list[float] | None = None,
    simplify: float = D.GRID_SIMPLIFY_DEG,
) -> dict:
    g = district.grids
    comm_names = dict(zip(district.communities["code"], district.communities["name"], strict=False))
    geoms = D.simplify_coverage(g.geometry.to_numpy(), simplify)
    bins = D.load_bins(bins)
    props = []
    for code, name, cc, kind in zip(g["code"], g["name"], g["community_code"],
                                    g["kind"] if "kind" in g.columns else [None] * len(g), strict=True):
        f = figs.loc[code]
        load = float(f["load"])
        color = (
            D.load_color(load, bins) if color_by == "load" else D.coverage_color(float(f["coverage_pct"]))
        )
        p = {
            "code": _str(code),
            "name": _str(name),
            "community": comm_names.get(cc, _str(cc)),
            "kind": D.KIND_LABELS.get(kind, _str(kind)),
            "households": D.num(f["households"]),
            "residents": D.num(f.get("residents")),
            "buildings": D.num(f["buildings"]),
            "team_count": f"{D.num(f['active'])}/{D.num(f['members'])}",
            "roles": "/".join(str(D.num(f[r])) for r in D.ROLE_LABELS),
            "load": D.num(load),
            "coverage_pct": D.num(f["coverage_pct"]),
            "uncovered": D.num(f["uncovered"]),
            "resilience": D.num(f.get("resilience")),
            "team": teams.get(code, []),
            "tip": f"{_str(name) or ''}（{_str(code)}） 在岗/成员 {D.num(f['active'])}/{D.num(f['members'])}"
                   f" · 书记/社工/志愿者 " + "/".join(str(D.num(f[r])) for r in D.ROLE_LABELS),
            "color": color,
        }
        for col in figs.columns:  # the other figures (vulnerable, longest walk, ...)
            if col not in D.ROLE_LABELS and col not in ("load", "coverage_pct", "active", "members") and col not in p:
                p[col] = D.num(f[col])
        props.append(p)
    return D.feature_collection(geoms, props, proj)


def building_features(
    district: District, bstat: pd.DataFrame, proj: D.Projector, sealed: set | None = None
) -> dict:
    b = district.buildings
    sealed = sealed or set()
    bs = bstat.set_index("code")
    props = []
    cats = b["category"] if "category" in b.columns else [None] * len(b)
    for code, addr, grid, cat in zip(b["code"], b["address"], b["grid_code"], cats, strict=True):
        s = bs.loc[code]
        status = s["status"]
        if code in sealed:
            label = D.STATUS_LABELS["sealed"] + "，" + D.STATUS_LABELS[status]
        else:
            label = D.STATUS_LABELS[status]
        props.append({
            "code": _str(code),
            "address": _str(addr),
            "grid": _str(grid),
            "category": D.CATEGORY_LABELS.get(cat, _str(cat)),
            "households": int(s["households"]),
            "status": status,
            "status_label": label,
            "cover": list(s["coverers"]),
            "color": D.STATUS_COLORS[status],
            "_cls": "gg-status-" + status + (" gg-sealed" if code in sealed else ""),
        })
    return D.feature_collection(b.geometry.to_numpy(), props, proj)


def add_boundaries(m, district: District, proj: D.Projector, *, simplify=D.GRID_SIMPLIFY_DEG, labels=True):
    """Community outlines (searchable), their labels, and the street outline."""
    c = district.communities
    cgeoms = D.simplify_coverage(c.geometry.to_numpy(), simplify)
    cprops = [{"code": _str(code), "name": _str(name)} for code, name in zip(c["code"], c["name"], strict=True)]
    GeoLayer(
        D.feature_collection(cgeoms, cprops, proj),
        {"className": "gg-community", "style": COMMUNITY_STYLE, "interactive": False,
         "search": {"kind": "社区", "label": "name", "alt": "code", "sub": "code", "maxZoom": 15}},
        name="社区边界",
    ).add_to(m)
    if labels:
        pts = c.geometry.representative_point()
        ll = proj.latlon_rows(pts.x.to_numpy(), pts.y.to_numpy())
        short = c["short_name"] if "short_name" in c.columns else c["name"]
        rows = [[float(a), float(b), _str(s) or _str(n)] for (a, b), s, n in zip(ll, short, c["name"], strict=True)]
        LabelLayer(rows, name="社区名称").add_to(m)
    if len(district.street):
        GeoLayer(
            D.feature_collection(district.street.geometry.boundary.to_numpy(), [{}] * len(district.street), proj),
            {"className": "gg-street", "style": STREET_STYLE, "interactive": False},
            name="街道边界", control=False,
        ).add_to(m)


def fragile_codes(figs: pd.DataFrame, fragile) -> set[str]:
    """Grids to outline: the figures' fragile grids (``fragile`` None), none (False), or the
    given codes."""
    if fragile is False:
        return set()
    if fragile is None:
        return set(figs.index[figs["fragile"].fillna(False).astype(bool).to_numpy()].astype(str))
    return D.codes_from(fragile)


def coverage_map(
    district: District,
    *,
    tiles="none",
    tiles_key: str | None = None,
    tiles_attr: str | None = None,
    asset_mode: str = "inline",
    static_prefix: str = "/static",
    figures: Figures | None = None,
    fragile=None,
    color_by: str = "load",
    load_bins: list[float] | None = None,
    buildings_min_zoom: int = D.BUILDINGS_MIN_ZOOM,
    show_members: bool = False,
    show_heat: bool = False,
    simplify: float = D.GRID_SIMPLIFY_DEG,
    member_homes: bool = True,
) -> folium.Map:
    """Build the interactive coverage map of a district.

    Parameters
    ----------
    district : District
        Layers in EPSG:4490 and the households/members/assignment tables.
    tiles : str or None
        ``"none"`` (default, fully offline), ``"osm"``, ``"gaode"`` (overlays shifted to
        GCJ-02), ``"tianditu"`` (needs ``tiles_key``) or a URL template (needs ``tiles_attr``).
    asset_mode : ``"inline"`` or ``"served"``
        Assets written into the page (a standalone file) or linked under ``static_prefix``.
    figures : geo_grid.figures.Figures, optional
        The figures to show (:func:`geo_grid.figures.district_figures` of ``district`` by
        default; the service passes the ones it keeps per assignment version).
    fragile : None, False or iterable of grid codes
        Grids to outline: None the figures' fragile grids, False none, or the given codes.
    color_by : ``"load"`` or ``"coverage"``
        Grid fill: households per active member (bins ``load_bins``, default 20/30/40/50/60), or the
        share of households in covered buildings.
    member_homes : bool
        Draw the members' homes (the 党员住址 layer); the service leaves them out for callers
        whose role or scope does not let them see personal data.

    Returns
    -------
    folium.Map
        Render it with :func:`maps.assets.render_html` (assets already made offline).
    """
    if color_by not in ("load", "coverage"):
        raise ValueError("color_by must be 'load' or 'coverage'")
    street_name = D.street_title(district)
    m, proj = base_map(
        district, tiles=tiles, tiles_key=tiles_key, tiles_attr=tiles_attr, asset_mode=asset_mode,
        static_prefix=static_prefix, page_title=f"{street_name} 网格覆盖图",
    )
    fig = figures if figures is not None else district_figures(district)
    bstat = D.building_status(district, fig)
    figs = D.grid_figures(district, fig)
    teams = D.grid_teams(district, fig)
    bins = D.load_bins(load_bins)

    GeoLayer(
        grid_features(district, figs, teams, proj, color_by=color_by, bins=bins, simplify=simplify),
        {"className": "gg-grid", "style": GRID_STYLE, "colorProp": "color", "popup": GRID_POPUP,
         "tooltip": "tip", "search": {"kind": "网格", "label": "name", "alt": "code", "sub": "code",
                                      "maxZoom": 16}},
        name="网格",
    ).add_to(m)
    add_boundaries(m, district, proj, simplify=simplify)

    frag = fragile_codes(figs, fragile)
    if frag:
        g = district.grids[district.grids["code"].astype(str).isin(frag)]
        geoms = D.simplify_coverage(g.geometry.to_numpy(), simplify) if len(g) else []
        GeoLayer(
            D.feature_collection(geoms, [{"code": str(c)} for c in g["code"]], proj),
            {"className": "gg-fragile", "style": FRAGILE_STYLE, "interactive": False},
            name=f"脆弱网格（{len(g)}）",
        ).add_to(m)

    GeoLayer(
        building_features(district, bstat, proj),
        {"className": "gg-building", "style": BUILDING_STYLE, "colorProp": "color",
         "popup": BUILDING_POPUP, "tooltip": "address", "minZoom": buildings_min_zoom,
         "search": {"kind": "地址", "label": "address", "alt": "code", "sub": "grid", "maxZoom": 18}},
        name=f"楼栋（{buildings_min_zoom}级以上显示）",
    ).add_to(m)

    if member_homes:  # homes are personal data: left out for viewers who may not see them
        _add_members(m, district, proj, show=show_members)
    _add_heat(m, district, proj, show=show_heat)

    legend = [
        {"title": "网格负担（户/在岗成员）" if color_by == "load" else "网格覆盖率",
         "items": D.load_legend(bins) if color_by == "load"
         else [{"color": c, "label": lab} for _, c, lab in D.COVERAGE_BINS]},
        {"title": f"楼栋（{buildings_min_zoom}级以上）",
         "items": [{"color": D.STATUS_COLORS[s], "label": D.STATUS_LABELS[s]}
                   for s in ("covered", "single", "uncovered", "empty")]},
        {"title": "边界", "items": [
            {"color": FRAGILE_STYLE["color"], "label": "脆弱网格（减1人即有楼栋无人包保）", "outline": True, "dashed": True},
            {"color": COMMUNITY_STYLE["color"], "label": "社区边界", "outline": True},
        ]},
    ]
    Legend({"sections": legend}).add_to(m)
    SearchBox().add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return finish(m)


def _add_members(m, district: District, proj: D.Projector, *, show: bool):
    mem = district.members
    if mem is None or mem.empty:
        return
    lon, lat = D.member_points(district)
    ok = np.isfinite(lon) & np.isfinite(lat)
    ll = proj.latlon_rows(lon[ok], lat[ok])
    sub = mem[ok]
    act = D.active_mask(mem)[ok].to_numpy()
    phones = sub["phone"] if "phone" in sub.columns else [None] * len(sub)
    rows = []
    for (la, lo), name, role, grid, phone, a in zip(ll, sub["name"], sub["role"], sub["grid_code"], phones, act, strict=True):
        rows.append([
            float(la), float(lo), mask_name(name), D.ROLE_LABELS.get(role, _str(role)), _str(grid),
            mask_phone(phone) if isinstance(phone, str) else None, "在岗" if a else "不可用",
            role if a else "unavailable",
        ])
    ClusterLayer(
        {"fields": ["lat", "lon", "name", "role", "grid", "phone", "state", "cls"], "rows": rows},
        {"name": "members", "classProp": "cls", "popup": MEMBER_POPUP},
        name=f"党员住址（{len(rows)}）", show=show,
    ).add_to(m)


def _add_heat(m, district: District, proj: D.Projector, *, show: bool):
    hh = D.building_households(district)
    cen = D.building_centroids(district)
    w = hh.reindex(cen.index).fillna(0).to_numpy(dtype=float)
    keep = w > 0
    if not keep.any():
        return
    ll = proj.latlon_rows(cen["lon"].to_numpy()[keep], cen["lat"].to_numpy()[keep])
    pts = np.column_stack([ll, w[keep]]).tolist()
    vmax = float(np.percentile(w[keep], 90)) or 1.0
    HeatLayer(
        pts, name="住户密度", show=show,
        options={"radius": 20, "blur": 18, "maxZoom": 16, "minOpacity": 0.25, "max": vmax},
    ).add_to(m)


def coverage_html(district: District, **kwargs) -> str:
    """The coverage map as a complete HTML page (same keywords as :func:`coverage_map`)."""
    return render_html(coverage_map(district, **kwargs))
