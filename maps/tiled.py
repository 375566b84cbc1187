"""The coverage map of a city: grids, buildings and communities as vector tiles.

The street-scale coverage map (:mod:`maps.coverage`) writes every feature into the page; for a
city's tens of thousands of grids and hundreds of thousands of buildings that page weighs tens of
megabytes. This page holds no feature at all: its layers load the service's vector tiles
(``/tiles/{layer}/{z}/{x}/{y}.mvt``, :mod:`maps.tile_routes`) for the part of the map in view,
drawn by Leaflet.VectorGrid (vendored, served from ``/static``: no CDN).

Layers: 网格 (grids coloured by load, click → code, name, community and figures), 覆盖率
(the grids coloured by coverage, off at first), 楼栋 (from zoom
:data:`maps.vector_tiles.BUILDINGS_MIN_ZOOM`, coloured by covering status), 社区边界 (outlines).
Names arrive as tile properties and are shown with ``textContent`` (``GG.card``), never as HTML.
The tiles are cut for the caller: a user scoped to a community sees its grids only.
"""

from __future__ import annotations

import folium

from geo_grid.district import District
from maps import _data as D  # noqa: N812
from maps._base import base_map, finish
from maps.coverage import BUILDING_POPUP, BUILDING_STYLE, COMMUNITY_STYLE, GRID_STYLE
from maps.elements import Legend, Template, _GGLayer
from maps.vector_tiles import BUILDINGS_MIN_ZOOM

#: Grids above which the coverage page (``GET /``) is the tiled one.
TILED_ABOVE = 2000

TILE_GRID_POPUP = {
    "heading": "网格",
    "title": "name",
    "fields": [
        ["code", "网格编码"],
        ["community", "社区"],
        ["kind", "类型"],
        ["households", "户数"],
        ["buildings", "楼栋"],
        ["members", "成员"],
        ["active", "在岗"],
        ["load", "每人负担", " 户"],
        ["coverage_pct", "覆盖率", "%"],
        ["uncovered", "未覆盖楼栋"],
        ["uncovered_load", "未覆盖负担"],
    ],
}
TILE_COVERAGE_POPUP = {
    "heading": "网格覆盖",
    "title": "name",
    "fields": [
        ["code", "网格编码"],
        ["community", "社区"],
        ["members", "成员"],
        ["active", "在岗"],
        ["coverage_pct", "覆盖率", "%"],
        ["uncovered", "未覆盖楼栋"],
        ["uncovered_load", "未覆盖负担"],
    ],
}
# the street map's building popup without its list of members (tiles carry no personal data)
TILE_BUILDING_POPUP = {k: v for k, v in BUILDING_POPUP.items() if k != "lists"}

_VG = [("vectorgrid.js", "vectorgrid.js"), ("geogrid.js", "geogrid.js"), ("vtiles.js", "vtiles.js")]


class VectorTileLayer(_GGLayer):
    """A layer of the service's vector tiles drawn by ``GG.vtiles`` (Leaflet.VectorGrid).

    ``spec`` keys: ``url`` (``{z}/{x}/{y}`` template), ``layer`` (the MVT layer), ``style``,
    ``colorProp``, ``popup`` (a ``GG.card`` spec), ``minZoom``, ``interactive``.
    """

    default_js = _VG

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GG.vtiles({{ this._parent.get_name() }}, {{ this.spec|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, spec: dict, name: str, *, show: bool = True):
        super().__init__(name, show=show)
        self._name = "VectorTileLayer"
        self.spec = dict(spec, name=spec.get("name", name))


def tile_url(prefix: str, layer: str) -> str:
    """The URL template of a layer's tiles under ``prefix`` (``/tiles``)."""
    return f"{prefix.rstrip('/')}/{layer}/{{z}}/{{x}}/{{y}}.mvt"


def tiled_coverage_map(
    district: District,
    *,
    tiles="none",
    tiles_key: str | None = None,
    tiles_attr: str | None = None,
    asset_mode: str = "served",
    static_prefix: str = "/static",
    tile_prefix: str = "/tiles",
    buildings_min_zoom: int = BUILDINGS_MIN_ZOOM,
) -> folium.Map:
    """Build the tiled coverage map of a district (no feature in the page).

    Parameters
    ----------
    district : District
        Only its extent and name are read here: the features come as tiles.
    tiles, tiles_key, tiles_attr : str
        The base map, as for :func:`maps.coverage.coverage_map`.
    asset_mode : ``"served"`` or ``"inline"``
        The page needs the service for its tiles; assets may still be inlined.
    static_prefix, tile_prefix : str
        Where the service serves its static assets and its tiles.

    Returns
    -------
    folium.Map
        Render it with :func:`maps.assets.render_html`.
    """
    street_name = D.street_title(district)
    m, _ = base_map(district, tiles=tiles, tiles_key=tiles_key, tiles_attr=tiles_attr,
                    asset_mode=asset_mode, static_prefix=static_prefix,
                    page_title=f"{street_name} 网格覆盖图（矢量瓦片）")
    VectorTileLayer({"url": tile_url(tile_prefix, "grids"), "layer": "grids", "style":
                     dict(GRID_STYLE, fill=True, fillColor="#cccccc"), "colorProp": "color",
                     "popup": TILE_GRID_POPUP}, name="网格").add_to(m)
    VectorTileLayer({"url": tile_url(tile_prefix, "coverage"), "layer": "coverage", "style":
                     dict(GRID_STYLE, fill=True, fillColor="#cccccc"), "colorProp": "color",
                     "popup": TILE_COVERAGE_POPUP}, name="网格覆盖率", show=False).add_to(m)
    VectorTileLayer({"url": tile_url(tile_prefix, "communities"), "layer": "communities",
                     "style": dict(COMMUNITY_STYLE, fill=False), "interactive": False},
                    name="社区边界").add_to(m)
    VectorTileLayer({"url": tile_url(tile_prefix, "buildings"), "layer": "buildings", "style":
                     dict(BUILDING_STYLE, fill=True), "colorProp": "color",
                     "popup": TILE_BUILDING_POPUP, "minZoom": buildings_min_zoom},
                    name=f"楼栋（{buildings_min_zoom}级以上显示）").add_to(m)
    Legend({"sections": [
        {"title": "网格负担（户/在岗成员）", "items": D.load_legend(D.load_bins())},
        {"title": "网格覆盖率（图层“网格覆盖率”）",
         "items": [{"color": c, "label": lab} for _, c, lab in D.COVERAGE_BINS]},
        {"title": f"楼栋（{buildings_min_zoom}级以上）",
         "items": [{"color": D.STATUS_COLORS[s], "label": D.STATUS_LABELS[s]}
                   for s in ("covered", "single", "uncovered", "empty")]},
        {"title": "边界", "items": [{"color": COMMUNITY_STYLE["color"], "label": "社区边界",
                                   "outline": True}]},
    ]}).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return finish(m)
