"""Map pages of the service and the static assets they load.

Wire into the app::

    from maps import routes as map_routes
    map_routes.mount_static(app)          # /static/... from installed packages
    app.include_router(map_routes.router) # GET /, /map/tiles, /map/scenarios/{id},
                                          #     /map/scenarios/{id}/compare, /map/versions/{a}/diff/{b}
    app.include_router(map_routes.tile_router)  # GET /tiles/{layer}/{z}/{x}/{y}.mvt

Where the data come from is kept in four small functions, :func:`district_of`,
:func:`figures_of`, :func:`scenario_of` and :func:`roster_of` (the running ``ServiceState``
at ``app.state.service`` when present, else ``app.state.district`` and the dict
``app.state.scenarios``; no rosters then). Pages are cached per district object, assignment
version, tiles, scenario and the scenario's latest roster (16 entries).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from geo_grid.district import District
from geo_grid.errors import NotFound
from geo_grid.figures import Figures, district_figures
from geo_grid.store import versions as V  # noqa: N812
from maps import _data as D  # noqa: N812
from maps.assets import SERVED_DIRS, SERVED_FILES, render_html
from maps.coverage import coverage_map
from maps.emergency import compare_page, emergency_map
from maps.tile_routes import router as tile_router  # noqa: F401 - wired by api.app
from maps.tiled import TILED_ABOVE, tiled_coverage_map
from maps.versions import diff_map

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


def roster_of(request: Request, sid: str) -> str | None:
    """The id of the latest roster kept for scenario ``sid`` (its request names it), or None
    (none, or a maps-only app with no store)."""
    svc = getattr(request.app.state, "service", None)
    if svc is None:
        return None
    from geo_grid.rosters.store import latest_roster_id

    return latest_roster_id(svc.store, sid)


def figures_of(request: Request, district: District) -> Figures:
    """The figures of the current assignment: the service's (computed once per assignment
    version), or those of ``app.state.district``."""
    svc = getattr(request.app.state, "service", None)
    if svc is not None:
        return svc.view.figures
    return district_figures(district)


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


def may_see_homes(request: Request, street: str | None = None) -> bool:
    """Whether the caller may see members' homes on a street-wide map (of every street, or of
    ``street``; the personal-data policy, :func:`geo_grid.auth.policy.may_unmask`); a
    maps-only app has no accounts."""
    if getattr(request.app.state, "service", None) is None:
        return True
    from api.access import principal
    from geo_grid.auth import policy

    return policy.may_unmask(principal(request), street)


def _scenario_page(request: Request, sid: str, kind: str, render: Callable) -> HTMLResponse:
    district, version = district_of(request)
    scenario = scenario_of(request, sid)
    if getattr(request.app.state, "service", None) is not None:
        # a scenario's map draws its members' moves from their homes (personal data): only for
        # roles that may see personal data, in a scope holding every grid the scenario names
        from api.access import check_code
        from api.routes.scenarios import scenario_grids

        svc = request.app.state.service
        for grid in scenario_grids(svc, svc.get_scenario(sid)["result"]["scenario"]):
            check_code(request, "read_personal", grid)
    tiles = tiles_of(request)
    state = (scenario.get("status"), scenario.get("base_version")) if isinstance(scenario, dict) else None
    # the emergency map draws the posts of the latest roster kept for the scenario: its id is
    # part of the cache key, so a new roster gives a new page (and a new ETag)
    roster_id = roster_of(request, sid) if kind == "scenario" else None
    key = (kind, sid, version, state, roster_id, tuple(sorted(tiles.items())))

    def build() -> str:
        # the scenario's stored figures (before and after) say what to draw: no solve here
        extra = {}
        if roster_id is not None:
            from geo_grid.rosters.store import get_roster

            extra["roster"] = get_roster(request.app.state.service.store, roster_id)
        return render_html(render(district, scenario, asset_mode="served",
                                  static_prefix=STATIC_PREFIX, **extra, **tiles))

    return _page(_cached(request, key, build), tiles)


# ------------------------------------------------------------------ routes


#: The answer to a street the store does not hold (a problem+json body, as every error).
STREET_NOT_FOUND = {404: {"description": "the store holds no street of that code"}}
#: The ``street`` parameter of the map pages.
STREET_QUERY = Query(None, pattern=r"^\d{9}$",
                     description="street code (9 digits): the map of that street only (every "
                                 "street of the store by default)")


def street_part(district: District, street: str | None) -> District:
    """The part of ``district`` in ``street`` (all of it for None; a 404 for a street the
    store does not hold)."""
    return district if street is None else district.for_street(street)


def _tiled_page(request: Request, district: District, version: str,
                street: str | None = None) -> HTMLResponse:
    tiles = tiles_of(request)
    key = ("tiled", version, street, tuple(sorted(tiles.items())))

    def build() -> str:
        # the tiles hold every street; a street asked for is where the page opens
        return render_html(tiled_coverage_map(street_part(district, street), asset_mode="served",
                                              static_prefix=STATIC_PREFIX, **tiles))

    return _page(_cached(request, key, build), tiles)


@router.get("/", response_class=HTMLResponse, summary="Interactive coverage map of the street",
            responses=STREET_NOT_FOUND)
def coverage_page(request: Request, street: str | None = STREET_QUERY) -> HTMLResponse:
    """Every feature in the page; a district of more than ``TILED_ABOVE`` (2,000) grids gets
    the tiled page of ``/map/tiles`` instead. With ``street``, that street's map (of a store
    holding several)."""
    district, version = district_of(request)
    part = street_part(district, street)  # a 404 for an unknown street, before any cache
    if len(part.grids) > TILED_ABOVE:
        return _tiled_page(request, district, version, street)
    tiles = tiles_of(request)
    homes = may_see_homes(request, street)
    key = ("coverage", version, street, homes, tuple(sorted(tiles.items())))

    def build() -> str:
        fig = figures_of(request, district)
        return render_html(coverage_map(part, asset_mode="served", static_prefix=STATIC_PREFIX,
                                        figures=fig if street is None else fig.for_street(street),
                                        member_homes=homes, **tiles))

    html = _cached(request, key, build)
    return _page(html, tiles)


@router.get("/map/tiles", response_class=HTMLResponse, responses=STREET_NOT_FOUND,
            summary="Coverage map loading grids and buildings as vector tiles (city scale)")
def tiled_coverage_page(request: Request, street: str | None = STREET_QUERY) -> HTMLResponse:
    """The coverage map with no feature in the page: grids, coverage, buildings (from zoom 15)
    and communities come from ``/tiles/{layer}/{z}/{x}/{y}.mvt`` for the part in view (opening
    on ``street`` when given)."""
    district, version = district_of(request)
    street_part(district, street)  # a 404 for an unknown street
    return _tiled_page(request, district, version, street)


@router.get("/map/scenarios/{sid}", response_class=HTMLResponse, summary="Emergency map of a scenario")
def scenario_page(sid: str, request: Request) -> HTMLResponse:
    return _scenario_page(request, sid, "scenario", emergency_map)


@router.get("/map/scenarios/{sid}/compare", response_class=HTMLResponse,
            summary="Before/after maps of a scenario, side by side and synchronised")
def compare_view(sid: str, request: Request) -> HTMLResponse:
    return _scenario_page(request, sid, "compare", compare_page)


@router.get("/map/versions/{a}/diff/{b}", response_class=HTMLResponse,
            summary="Map of what changed between two boundary versions")
def version_diff_map(a: int, b: int, request: Request) -> HTMLResponse:
    """Grids added (green), removed (red, dashed), reshaped (orange, both outlines) and moved
    buildings between boundary versions ``a`` and ``b`` (404 if either is unknown)."""
    svc = getattr(request.app.state, "service", None)
    if svc is None:  # a maps-only app (``app.state.district``) keeps no versions
        raise NotFound("boundary versions are kept by the service's store; this app has none")
    store = svc.store
    va, vb = V.get_version(store, a), V.get_version(store, b)
    district, _ = district_of(request)
    tiles = tiles_of(request)
    # a version never changes once written; its time tells it from a replaced store's version
    key = ("versions", str(store.path), va.id, va.created_at, vb.id, vb.created_at,
           tuple(sorted(tiles.items())))

    def build() -> str:
        grids_a, _ = V.layers_at(store, va.id)
        grids_b, buildings_b = V.layers_at(store, vb.id)
        return render_html(diff_map(grids_a, grids_b, buildings_b, V.diff(store, va.id, vb.id),
                                    version_a=va, version_b=vb, district=district,
                                    asset_mode="served", static_prefix=STATIC_PREFIX, **tiles))

    return _page(_cached(request, key, build), tiles)


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
