"""folium rendering of geo-grid: coverage map, emergency map, before/after page, offline assets.

Public entry points (``maps.routes`` holds the FastAPI router and is imported separately)::

    coverage_map(district, *, tiles="none", asset_mode="inline", static_prefix="/static",
                 figures=None, fragile=None, color_by="load", ...) -> folium.Map
    emergency_map(district, scenario, *, tiles="none", asset_mode="inline", ...) -> folium.Map
    compare_page(district, scenario, *, tiles="none", asset_mode="inline", ...) -> Figure
    render_html(map_or_figure) -> str
    write_map(district, path, tiles="none", **kwargs) -> Path
"""

from maps.assets import make_offline, render_html
from maps.coverage import coverage_html, coverage_map
from maps.emergency import compare_html, compare_page, emergency_html, emergency_map, scenario_view
from maps.export import write_map

__all__ = [
    "compare_html", "compare_page", "coverage_html", "coverage_map", "emergency_html",
    "emergency_map", "make_offline", "render_html", "scenario_view", "write_map",
]
