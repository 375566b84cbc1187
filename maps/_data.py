"""Data preparation shared by the maps: figures per grid and building, compact GeoJSON, tiles.

Everything here returns plain Python/JSON-able structures; names are masked with
``geo_grid.privacy`` before they leave this module.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import shapely

from geo_grid.crs import from_metric, wgs84_to_gcj02
from geo_grid.district import District
from geo_grid.errors import InvalidInput
from geo_grid.figures import Figures
from geo_grid.privacy import mask_name, mask_phone

ROLE_LABELS = {"secretary": "书记", "social_worker": "党员社工", "volunteer": "党员志愿者"}
KIND_LABELS = {"residential": "住宅", "commercial": "商业", "industrial": "工业", "mixed": "混合"}
CATEGORY_LABELS = {
    "slab": "板楼", "point": "点式楼", "shop": "商铺", "factory": "厂房",
    "dormitory": "宿舍", "office": "办公",
}

DECIMALS = 6
GRID_SIMPLIFY_DEG = 1.5e-5  # ≈1.5 m: invisible at street zoom, keeps shared edges shared
BUILDINGS_MIN_ZOOM = 16

# --------------------------------------------------------------------------- tiles

TILE_PRESETS = {
    "osm": {
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attr": "© OpenStreetMap contributors",
        "max_zoom": 19,
        "shift": None,
    },
    "gaode": {
        "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "attr": "© 高德地图 AutoNavi",
        "max_zoom": 18,
        "subdomains": "1234",
        "shift": "gcj02",
    },
    "tianditu": {
        "url": "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
        "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
        "&TILECOL={x}&tk={key}",
        "label_url": "https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
        "&VERSION=1.0.0&LAYER=cva&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}"
        "&TILEROW={y}&TILECOL={x}&tk={key}",
        "attr": "© 天地图 Tianditu",
        "max_zoom": 18,
        "subdomains": "01234567",
        "shift": None,
    },
}


def street_title(district: District) -> str:
    """The name a page gives the area it shows: the street's name, or for a store of several
    streets the first one's and how many (e.g. ``东亭街道等88个街道``)."""
    names = [str(n) for n in district.street.sort_values("code")["name"]]
    if not names:
        return "街道"
    return names[0] if len(names) == 1 else f"{names[0]}等{len(names)}个街道"


def tile_settings(tiles, tiles_key: str | None = None, tiles_attr: str | None = None) -> dict | None:
    """Resolve the ``tiles`` setting to ``{url, attr, max_zoom, subdomains, shift}`` or None.

    ``tiles`` is ``"none"``/None (no base map: polygons on a plain background), ``"osm"``,
    ``"gaode"`` (overlays are shifted to GCJ-02), ``"tianditu"`` (needs ``tiles_key``), or a
    custom URL template (``{z}/{x}/{y}``) which needs ``tiles_attr``. Attributions are shown as
    text (escaped), never as HTML.
    """
    if tiles is None or str(tiles).lower() == "none":
        return None
    name = str(tiles).lower()
    if name in TILE_PRESETS:
        out = dict(TILE_PRESETS[name])
        if name == "tianditu":
            if not tiles_key:
                raise InvalidInput("tiles='tianditu' needs a key (tiles_key)")
            out["url"] = out["url"].replace("{key}", tiles_key)
            out["label_url"] = out["label_url"].replace("{key}", tiles_key)
    else:
        if not ("{x}" in tiles and "{y}" in tiles and "{z}" in tiles):
            raise InvalidInput(
                f"unknown tiles {tiles!r}: use none, osm, gaode, tianditu or a URL template "
                "with {z}, {x} and {y}"
            )
        if not tiles_attr:
            raise InvalidInput("a custom tile URL needs an attribution (tiles_attr)")
        out = {"url": tiles, "attr": tiles_attr, "max_zoom": 19, "shift": None}
    if tiles_attr:
        out["attr"] = tiles_attr
    out["attr"] = html.escape(out["attr"])  # Leaflet shows attributions as HTML
    return out


# --------------------------------------------------------------------------- coordinates


class Projector:
    """Lon/lat (EPSG:4490) → the display datum (unchanged, or GCJ-02 for Gaode tiles)."""

    def __init__(self, shift: str | None = None):
        self.shift = shift

    def lonlat(self, lon, lat):
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        if self.shift == "gcj02":
            return wgs84_to_gcj02(lon, lat)
        return lon, lat

    def ring(self, coords) -> list:
        a = np.asarray(coords, dtype=float)[:, :2]
        x, y = self.lonlat(a[:, 0], a[:, 1])
        return np.round(np.column_stack([x, y]), DECIMALS).tolist()

    def geometry(self, geom) -> dict | None:
        """GeoJSON geometry dict rounded to 6 decimals (≈0.1 m)."""
        if geom is None or geom.is_empty:
            return None
        t = geom.geom_type
        if t == "Polygon":
            return {"type": "Polygon", "coordinates": self._poly(geom)}
        if t == "MultiPolygon":
            return {"type": "MultiPolygon", "coordinates": [self._poly(g) for g in geom.geoms]}
        if t == "LineString":
            return {"type": "LineString", "coordinates": self.ring(geom.coords)}
        if t == "MultiLineString":
            return {"type": "MultiLineString", "coordinates": [self.ring(g.coords) for g in geom.geoms]}
        if t == "Point":
            return {"type": "Point", "coordinates": self.ring([geom.coords[0]])[0]}
        if t == "GeometryCollection":
            polys = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
            return self.geometry(shapely.union_all(polys)) if polys else None
        raise ValueError(f"unsupported geometry {t}")

    def _poly(self, p) -> list:
        return [self.ring(p.exterior.coords)] + [self.ring(r.coords) for r in p.interiors]

    def latlon_rows(self, lon, lat) -> np.ndarray:
        """``[[lat, lon], ...]`` rounded, for Leaflet point data."""
        x, y = self.lonlat(lon, lat)
        return np.round(np.column_stack([y, x]), DECIMALS)


def round_latlon(proj: Projector, lon, lat) -> list[float]:
    """``[lat, lon]`` of one point in the display datum, rounded (Leaflet's order)."""
    x, y = proj.lonlat(lon, lat)
    return [round(float(y), DECIMALS), round(float(x), DECIMALS)]

def feature_collection(geoms, props: list[dict], proj: Projector) -> dict:
    feats = []
    for g, p in zip(geoms, props, strict=True):
        geo = proj.geometry(g)
        if geo is None:
            continue
        feats.append({"type": "Feature", "geometry": geo, "properties": p})
    return {"type": "FeatureCollection", "features": feats}


def simplify_coverage(geoms, tolerance: float = GRID_SIMPLIFY_DEG):
    """``shapely.coverage_simplify`` (shared edges stay shared), falling back to the input."""
    arr = np.asarray(list(geoms), dtype=object)
    if tolerance <= 0 or len(arr) == 0:
        return arr
    try:
        out = shapely.coverage_simplify(arr, tolerance)
    except shapely.errors.GEOSException:  # an invalid coverage: draw it as it is
        return arr
    bad = shapely.is_empty(out) | ~shapely.is_valid(out)
    out[bad] = arr[bad]
    return out


def bounds_latlon(gdf, proj: Projector) -> list:
    minx, miny, maxx, maxy = gdf.total_bounds
    (x0, x1), (y0, y1) = proj.lonlat([minx, maxx], [miny, maxy])
    return [[round(float(y0), DECIMALS), round(float(x0), DECIMALS)],
            [round(float(y1), DECIMALS), round(float(x1), DECIMALS)]]


# --------------------------------------------------------------------------- figures


def _num(v, nd: int = 1):
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return None
    if math.isinf(f):
        return "∞"
    if f == int(f) and nd >= 0 and abs(f) < 1e15:
        return int(f)
    return round(f, nd)


def active_mask(members: pd.DataFrame, unavailable: Iterable | None = None) -> pd.Series:
    if members.empty:
        return pd.Series([], dtype=bool)
    act = (
        members["available"].fillna(False).astype(bool)
        if "available" in members.columns
        else pd.Series(True, index=members.index)
    )
    if unavailable is not None:
        act &= ~members["id"].isin(list(unavailable))
    return act


def building_households(district: District) -> pd.Series:
    """Households per building code (the heat layer's weights): from ``households`` when
    present, else the buildings layer."""
    b = district.buildings
    hh = district.households
    if hh is not None and not hh.empty and "building_code" in hh.columns:
        counts = hh.groupby("building_code").size()
        return counts.reindex(b["code"]).fillna(0).astype(int).set_axis(b["code"].to_numpy())
    col = b["households"] if "households" in b.columns else pd.Series(0, index=b.index)
    return pd.Series(col.fillna(0).astype(int).to_numpy(), index=b["code"].to_numpy())


def person_label(name, role, phone=None) -> str:
    """``党员社工 张*明 138****1234`` — masked, plain text."""
    parts = [ROLE_LABELS.get(role, str(role) if role is not None else ""), mask_name(name) or ""]
    ph = mask_phone(phone) if phone is not None and not (isinstance(phone, float) and math.isnan(phone)) else None
    if ph:
        parts.append(ph)
    return " ".join(p for p in parts if p)


def building_status(district: District, figures: Figures,
                    uncovered: Iterable | None = None) -> pd.DataFrame:
    """Per building, from the figures: households, the members carrying its load (count and
    masked labels, largest load first) and its status (``covered``: two members or more,
    ``single``, ``uncovered``: some load has no member, ``empty``: no load and nobody).

    ``uncovered`` (building codes, e.g. a hand-made scenario's list) marks those buildings
    uncovered on top of the figures.
    """
    codes = district.buildings["code"].astype(str).to_numpy()
    fb = figures.building.reindex(codes)
    members = district.members
    ids_m = members["id"].astype(str) if len(members) else []
    names = dict(zip(ids_m, members["name"], strict=False)) if "name" in members else {}
    roles = dict(zip(ids_m, members["role"], strict=False)) if "role" in members else {}
    ids = fb["members"].map(lambda v: v if isinstance(v, list) else []).tolist()
    out = pd.DataFrame({
        "code": codes,
        "households": fb["households"].fillna(0).astype(int).to_numpy(),
        "n_cover": fb["n_members"].fillna(0).astype(int).to_numpy(),
        "status": fb["status"].fillna("empty").to_numpy(),
    })
    if uncovered is not None:
        out.loc[out["code"].isin(set(map(str, uncovered))), "status"] = "uncovered"
    out["coverers"] = [[person_label(names.get(m), roles.get(m)) for m in ms] for ms in ids]
    return out


#: Map column → figure (:mod:`geo_grid.figures`). ``active`` are the available members and
#: ``secretary``/``social_worker``/``volunteer`` the available ones by role; ``load`` is
#: households per available member and ``demand_load`` the load in household-load units;
#: ``resilience`` the member losses a grid can take.
MAP_FIGURES = {
    "households": "households", "residents": "residents", "buildings": "buildings",
    "uncovered": "uncovered_buildings", "coverage_pct": "coverage_pct",
    "resilience": "losses_tolerated", "members": "members", "active": "available_members",
    "secretary": "available_secretaries", "social_worker": "available_social_workers",
    "volunteer": "available_volunteers", "load": "households_per_member",
    "vulnerable": "vulnerable", "uncovered_households": "uncovered_households",
    "overloaded_members": "overloaded_members", "longest_walk_m": "longest_walk_m",
    "fragile": "fragile", "secretaries": "secretaries", "social_workers": "social_workers",
    "volunteers": "volunteers", "capacity": "capacity", "demand_load": "load",
    "covered_load": "covered_load", "uncovered_load": "uncovered_load",
    "load_per_member": "load_per_member", "covered_buildings": "covered_buildings",
}


def grid_figures(district: District, figures: Figures) -> pd.DataFrame:
    """Per grid (indexed by code), the figures the map shows under its column names
    (:data:`MAP_FIGURES`); a grid with no available member has an infinite ``load``."""
    codes = district.grids["code"].astype(str).to_numpy()
    g = figures.grid.reindex(codes)
    out = pd.DataFrame({col: g[fig].to_numpy() for col, fig in MAP_FIGURES.items()},
                       index=pd.Index(codes, name="code"))
    out["load"] = out["load"].astype(float).fillna(np.inf)
    return out


def grid_teams(district: District, figures: Figures) -> dict[str, list[str]]:
    """Grid code → the team as masked plain-text lines (secretary first), the members the
    figures count unavailable marked."""
    members = district.members
    if members is None or members.empty:
        return {}
    avail = figures.member["available"]
    act = avail.reindex(members["id"].astype(str)).fillna(False).astype(bool).set_axis(members.index)
    order = {"secretary": 0, "social_worker": 1, "volunteer": 2}
    m = members.assign(_act=act.to_numpy(), _o=members["role"].map(order).fillna(3))
    m = m.sort_values(["grid_code", "_o", "id"])
    teams: dict[str, list[str]] = {}
    phones = m["phone"] if "phone" in m.columns else pd.Series(None, index=m.index)
    for gc, name, role, phone, a in zip(m["grid_code"], m["name"], m["role"], phones, m["_act"], strict=True):
        label = person_label(name, role, phone)
        if not a:
            label += "（不可用）"
        teams.setdefault(gc, []).append(label)
    return teams


def member_points(district: District) -> tuple[np.ndarray, np.ndarray]:
    """Home lon/lat of every member: from x/y (EPSG:4549) or the home building's centroid."""
    m = district.members
    n = len(m)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if n == 0:
        return lon, lat
    if "x" in m.columns and "y" in m.columns:
        x = pd.to_numeric(m["x"], errors="coerce").to_numpy()
        y = pd.to_numeric(m["y"], errors="coerce").to_numpy()
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.any():
            lo, la = from_metric(x[ok], y[ok], district.metric_epsg)
            lon[ok], lat[ok] = lo, la
    miss = ~np.isfinite(lon)
    if miss.any() and "home_building" in m.columns:
        cen = building_centroids(district)
        hb = m["home_building"].to_numpy()[miss]
        c = cen.reindex(hb)
        lon[miss] = c["lon"].to_numpy()
        lat[miss] = c["lat"].to_numpy()
    return lon, lat


def building_centroids(district: District) -> pd.DataFrame:
    b = district.buildings
    pts = shapely.point_on_surface(b.geometry.to_numpy())
    return pd.DataFrame(
        {"lon": shapely.get_x(pts), "lat": shapely.get_y(pts)}, index=b["code"].to_numpy()
    )


def load_bins(bins: Iterable[float] | None = None) -> list[float]:
    return list(bins) if bins is not None else [20, 30, 40, 50, 60]


LOAD_COLORS = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027"]
NO_TEAM_COLOR = "#7b3294"
COVERAGE_BINS = [(100.0, "#1a9850", "全部覆盖"), (95.0, "#a6d96a", "≥95%"),
                 (80.0, "#fdae61", "80–95%"), (0.0, "#d73027", "<80%")]
STATUS_COLORS = {
    "covered": "#1a9850", "single": "#fdae61", "uncovered": "#d7191c", "empty": "#bdbdbd",
    "sealed": "#542788",
}
STATUS_LABELS = {
    "covered": "已覆盖（≥2人）", "single": "仅1人覆盖", "uncovered": "未覆盖", "empty": "无住户",
    "sealed": "封控楼栋",
}

#: Reinforcements (a scenario's extra people, ids only) by kind: label, colour, glyph.
REINFORCEMENT_LABELS = {"cadre": "下沉干部", "auxiliary_police": "辅警", "security": "物业保安",
                        "volunteer": "志愿者"}
REINFORCEMENT_COLORS = {"cadre": "#b2182b", "auxiliary_police": "#2166ac", "security": "#5e3c99",
                        "volunteer": "#1b7837"}
REINFORCEMENT_GLYPHS = {"cadre": "干", "auxiliary_police": "警", "security": "保", "volunteer": "志"}
UNUSED_COLOR = "#9e9e9e"
#: Posts of a roster (geo_grid.rosters) by kind: label and glyph; colour by staffing.
POST_LABELS = {"checkpoint": "卡口", "information": "信息", "isolation": "隔离", "logistics": "后勤"}
POST_GLYPHS = {"checkpoint": "卡", "information": "信", "isolation": "隔", "logistics": "后"}
POST_COLORS = {"staffed": "#1a9850", "short": "#d7191c"}
POST_STATUS_LABELS = {"staffed": "各班次人员齐备", "short": "部分班次缺员"}


def load_color(load: float, bins: list[float]) -> str:
    if not np.isfinite(load):
        return NO_TEAM_COLOR
    i = int(np.searchsorted(np.asarray(bins, dtype=float), load, side="right"))
    return LOAD_COLORS[min(i, len(LOAD_COLORS) - 1)]


def load_legend(bins: list[float]) -> list[dict]:
    items = []
    edges = [None, *bins, None]
    for i in range(len(bins) + 1):
        lo, hi = edges[i], edges[i + 1]
        if lo is None:
            label = f"< {_num(hi)}"
        elif hi is None:
            label = f"≥ {_num(lo)}"
        else:
            label = f"{_num(lo)}–{_num(hi)}"
        items.append({"color": LOAD_COLORS[min(i, len(LOAD_COLORS) - 1)], "label": label})
    items.append({"color": NO_TEAM_COLOR, "label": "无在岗成员"})
    return items


def coverage_color(pct: float) -> str:
    for lo, color, _ in COVERAGE_BINS:
        if pct >= lo - 1e-9:
            return color
    return COVERAGE_BINS[-1][1]


def codes_from(obj) -> set[str]:
    """A set of codes from None, an iterable of codes, a Series/DataFrame (code column or index)."""
    if obj is None:
        return set()
    if isinstance(obj, pd.DataFrame):
        for key in ("code", "grid_code", "building_code"):
            if key in obj.columns:
                return set(obj[key].astype(str))
        return set(obj.index.astype(str))
    if isinstance(obj, pd.Series):
        if obj.dtype == bool:
            return set(obj[obj].index.astype(str))
        return set(obj.astype(str))
    if isinstance(obj, Mapping):
        return {str(k) for k, v in obj.items() if v}
    return {str(x) for x in obj}


def num(v, nd: int = 1):
    return _num(v, nd)
