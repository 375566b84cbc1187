"""Map pages of the service and the static assets they load.

Wire into the app::

    from maps import routes as map_routes
    map_routes.mount_static(app)          # /static/... from installed packages
    app.include_router(map_routes.router) # GET /, /map/scenarios/{id}, /map/scenarios/{id}/compare

Where the data come from is kept in two small functions, :func:`district_of` and
:func:`scenario_of` (the running ``ServiceState`` at ``app.state.service`` when present, else
``app.state.district`` and the dict ``app.state.scenarios``). Pages are cached per district
object, assignment version, tiles and scenario (16 entries).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from geo_grid.district import District
from geo_grid.errors import NotFound
from maps import _data as D  # noqa: N812
from maps.assets import SERVED_DIRS, SERVED_FILES, render_html
from maps.coverage import coverage_map
from maps.emergency import compare_page, emergency_map, uncovered_lists

STATIC_PREFIX = "/static"
router = APIRouter(tags=["maps"])

_CACHE_SIZE = 16
_lock = threading.Lock()


# ------------------------------------------------------------------ the two accessors


def district_of(request: Request) -> tuple[District, str]:
    """The current district and a version string for caching."""
    state = request.app.state
    svc = getattr(state, "service", None)
    if svc is not None:
        view = svc.view
        return view.district, f"{id(view.district)}:{view.assignment_version}"
    district = state.district
    return district, f"{id(district)}:{district.version}"


def scenario_of(request: Request, sid: str) -> Any:
    """A scenario result by id (raises :class:`geo_grid.errors.NotFound`)."""
    state = request.app.state
    svc = getattr(state, "service", None)
    if svc is not None:
        return svc.get_scenario(sid)
    scenarios = getattr(state, "scenarios", None) or {}
    if sid not in scenarios:
        raise NotFound(f"scenario {sid} does not exist", scenario=sid)
    return scenarios[sid]


def metrics_of(request: Request):
    """Per-grid coverage metrics and resilience from the service, or (None, None).

    Uses ``ServiceState.coverage()`` → ``(Coverage, resilience frame)`` when present; the map
    then shows the core's figures (losses tolerated, uncovered households, longest walk) and
    outlines the grids it calls fragile.
    """
    svc = getattr(request.app.state, "service", None)
    if svc is None or not hasattr(svc, "coverage"):
        return None, None
    try:
        cov, res = svc.coverage()
        grid = cov.grid
        if res is not None and "losses_tolerated" in res.columns:
            grid = grid.merge(res[["grid_code", "losses_tolerated"]], on="grid_code", how="left")
        return grid, res
    except Exception:  # noqa: BLE001 - the map falls back to its own figures
        return None, None


# ------------------------------------------------------------------ helpers


def tiles_of(request: Request) -> dict:
    s = getattr(request.app.state, "settings", None)
    return {
        "tiles": getattr(s, "tiles", "none") or "none",
        "tiles_key": getattr(s, "tianditu_key", None),
        "tiles_attr": getattr(s, "tiles_attribution", None),
    }


def csp(tiles: dict) -> str:
    """Content-Security-Policy: only our own origin, plus the tile host when tiles are set."""
    img = ["'self'", "data:", "blob:"]
    ts = D.tile_settings(tiles["tiles"], tiles["tiles_key"], tiles["tiles_attr"])
    if ts:
        for url in (ts["url"], ts.get("label_url")):
            if not url:
                continue
            parts = urlsplit(url)
            host = parts.netloc
            if "{" in host:
                host = "*." + host.split(".", 1)[1]
            img.append(f"{parts.scheme}://{host}")
    return (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        f"img-src {' '.join(img)}; font-src 'self' data:; connect-src 'self'; frame-ancestors 'self'"
    )


def _cached(request: Request, key: tuple, build: Callable[[], str]) -> str:
    state = request.app.state
    with _lock:
        cache = getattr(state, "gg_map_cache", None)
        if cache is None:
            cache = state.gg_map_cache = OrderedDict()
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    html = build()
    with _lock:
        cache[key] = html
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return html


def _page(html: str, tiles: dict) -> HTMLResponse:
    return HTMLResponse(html, headers={"Content-Security-Policy": csp(tiles),
                                       "X-Content-Type-Options": "nosniff",
                                       "Cache-Control": "no-cache"})


def base_district(request: Request, district: District, scenario: Any) -> District:
    """The district as the scenario was computed on: the assignment of its ``base_version``
    (kept in the store's history) and the members' availability before any apply since.

    Falls back to ``district`` when there is no service store or the scenario has no base."""
    svc = getattr(request.app.state, "service", None)
    store = getattr(svc, "store", None)
    if store is None or not isinstance(scenario, dict) or "base_version" not in scenario:
        return district
    base = scenario.get("base_version")
    if base == getattr(svc.view, "assignment_version", None) and scenario.get("status") != "applied":
        return district
    from geo_grid.store import history

    rows = history.assignment_at(store, base)
    members = district.members
    back = history.unavailable_since(store, base)
    if back and members is not None and len(members):
        members = members.copy()
        members.loc[members["id"].isin(back), "available"] = True
    return dataclasses.replace(district, assignment=rows, members=members)


def with_uncovered(district: District, scenario: Any, base_known: bool = False) -> Any:
    """Add per-building uncovered lists to a stored scenario that lacks them.

    A stored result (``RebalanceResult.to_dict()``) carries grid totals only; re-running the
    deterministic rebalance of its spec on the district it was computed on (``district`` must be
    that one: see :func:`base_district`) gives the buildings behind them. Skipped for applied
    scenarios unless ``base_known`` (the district has changed since), and when
    ``geo_grid.assign`` is missing.
    """
    if not isinstance(scenario, dict):
        return scenario
    res = scenario.get("result") if isinstance(scenario.get("result"), dict) else scenario
    if any(k in res for k in ("uncovered", "uncovered_after")) or not isinstance(scenario.get("spec"), dict):
        return scenario
    if scenario.get("status") == "applied" and not base_known:
        return scenario
    try:
        from geo_grid.assign import Scenario, rebalance

        extra = uncovered_lists(rebalance(district, Scenario.from_dict(scenario["spec"])))
    except Exception:  # noqa: BLE001 - the map then shows buildings without any active member
        return scenario
    return dict(scenario, result=dict(res, **extra))


def _scenario_page(request: Request, sid: str, kind: str, render: Callable) -> HTMLResponse:
    district, version = district_of(request)
    scenario = scenario_of(request, sid)
    tiles = tiles_of(request)
    state = (scenario.get("status"), scenario.get("base_version")) if isinstance(scenario, dict) else None
    key = (kind, sid, version, state, tuple(sorted(tiles.items())))

    def build() -> str:
        base = base_district(request, district, scenario)
        return render_html(render(base, with_uncovered(base, scenario, base_known=base is not district),
                                  asset_mode="served", static_prefix=STATIC_PREFIX, **tiles))

    return _page(_cached(request, key, build), tiles)


# ------------------------------------------------------------------ routes


@router.get("/", response_class=HTMLResponse, summary="Interactive coverage map of the street")
def coverage_page(request: Request) -> HTMLResponse:
    district, version = district_of(request)
    tiles = tiles_of(request)
    key = ("coverage", version, tuple(sorted(tiles.items())))

    def build() -> str:
        coverage, fragile = metrics_of(request)
        return render_html(coverage_map(district, asset_mode="served", static_prefix=STATIC_PREFIX,
                                        coverage=coverage, fragile=fragile, **tiles))

    html = _cached(request, key, build)
    return _page(html, tiles)


@router.get("/map/scenarios/{sid}", response_class=HTMLResponse, summary="Emergency map of a scenario")
def scenario_page(sid: str, request: Request) -> HTMLResponse:
    return _scenario_page(request, sid, "scenario", emergency_map)


@router.get("/map/scenarios/{sid}/compare", response_class=HTMLResponse,
            summary="Before/after maps of a scenario, side by side and synchronised")
def compare_view(sid: str, request: Request) -> HTMLResponse:
    return _scenario_page(request, sid, "compare", compare_page)


def mount_static(app: FastAPI, prefix: str = STATIC_PREFIX) -> None:
    """Serve Leaflet, MarkerCluster, jQuery, Font Awesome, leaflet-heat and our own
    ``geogrid.js/css`` under ``prefix`` (from the installed packages)."""
    prefix = prefix.rstrip("/")
    for sub, directory in SERVED_DIRS.items():
        app.mount(f"{prefix}/{sub}", StaticFiles(directory=str(directory)), name=f"static-{sub}")
    for sub, path in SERVED_FILES.items():
        def serve(path=path):
            return FileResponse(path, media_type="text/javascript")
        app.add_api_route(f"{prefix}/{sub}", serve, methods=["GET"], include_in_schema=False)
