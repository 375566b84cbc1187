"""The base map every geo-grid page starts from: tiles setting, bounds, controls, offline assets."""

from __future__ import annotations

import html

import folium

from geo_grid.district import District
from maps._data import Projector, bounds_latlon, tile_settings
from maps.assets import ASSET_MODES, make_offline
from maps.elements import FullscreenButton, MapInit

DEFAULT_MAX_ZOOM = 19


def base_map(
    district: District,
    *,
    tiles="none",
    tiles_key: str | None = None,
    tiles_attr: str | None = None,
    asset_mode: str = "inline",
    static_prefix: str = "/static",
    title: str | None = None,
    page_title: str | None = None,
    map_box: dict | None = None,
    fullscreen: bool = True,
) -> tuple[folium.Map, Projector]:
    """A folium Map framed on the street, with no CDN and a ``maxZoom`` even without tiles."""
    if asset_mode not in ASSET_MODES:
        raise ValueError(f"asset_mode must be one of {ASSET_MODES}, not {asset_mode!r}")
    ts = tile_settings(tiles, tiles_key, tiles_attr)
    proj = Projector(ts["shift"] if ts else None)
    frame = district.street if len(district.street) else district.grids
    bounds = bounds_latlon(frame, proj)
    center = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    box = map_box or {}
    m = folium.Map(
        location=center,
        zoom_start=13,
        tiles=None,
        control_scale=True,
        width=box.get("width", "100%"),
        height=box.get("height", "100%"),
        left=box.get("left", "0%"),
        top=box.get("top", "0%"),
        position=box.get("position", "relative"),
    )
    max_zoom = ts["max_zoom"] if ts else DEFAULT_MAX_ZOOM
    # with tiles=None Leaflet has no maxZoom and MarkerCluster throws: always set one
    m.options["max_zoom"] = max_zoom
    m.options["min_zoom"] = 8
    m.default_js = []  # per instance; make_offline supplies the local copies
    m.default_css = []
    if ts:
        kw = {"subdomains": ts["subdomains"]} if ts.get("subdomains") else {}
        folium.TileLayer(
            tiles=ts["url"], attr=ts["attr"], name="底图", max_zoom=max_zoom, max_native_zoom=18, **kw
        ).add_to(m)
        if ts.get("label_url"):
            folium.TileLayer(
                tiles=ts["label_url"], attr=ts["attr"], name="注记", overlay=True,
                max_zoom=max_zoom, max_native_zoom=18, **kw,
            ).add_to(m)
    MapInit(bounds=bounds, title=title).add_to(m)
    if fullscreen:
        FullscreenButton().add_to(m)
    fig = m.get_root()
    if page_title:
        fig.title = html.escape(page_title)
    m.gg_asset_mode = asset_mode
    m.gg_static_prefix = static_prefix
    m.gg_projector = proj
    return m, proj


def finish(m: folium.Map) -> folium.Map:
    """Apply the offline assets (per instance) once all elements are in."""
    make_offline(m, m.gg_asset_mode, m.gg_static_prefix)
    return m
