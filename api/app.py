"""The app factory: ``create_app(settings)``."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import docs, errors, login
from api.access import audited, needs
from api.auth import AuthMiddleware, RateLimiter
from api.edge import EdgeMiddleware
from api.models.problem import problem_media_types
from api.settings import Settings
from api.state import ServiceState
from geo_grid import __version__
from geo_grid.store import Store, build_store
from geo_grid.store.backend import open_backend
from maps import routes as map_routes


def open_state(settings: Settings) -> ServiceState:
    """Open (building first if missing and allowed) the store named by the settings."""
    if not settings.db.exists():
        if not settings.build_if_missing:
            from geo_grid.errors import StoreError

            raise StoreError(f"store {settings.db} does not exist; run `geo-grid init`")
        build_store(settings.db, settings.boundaries)
    return ServiceState.open(Store(settings.db))


def first_login(store: Store, settings: Settings) -> None:
    """On a store with no users, create ``admin`` and print a login URL with a one-time token.

    The token is shown once, on the console of whoever started the service; opening the URL
    starts a browser session (and the token is used up). Create API tokens with
    ``geo-grid user add`` / ``geo-grid user token``.
    """
    import sys

    from geo_grid.auth import audit
    from geo_grid.auth.users import first_admin

    token = first_admin(store)
    if token is None:
        return
    audit.record(store, user="service", role="admin", action="users", route="first start",
                 targets=["admin"], outcome="ok", client="")
    host = settings.host if settings.host not in ("0.0.0.0", "::") else "127.0.0.1"
    print(f"geo-grid: no users yet; created `admin`. Log in once at "
          f"http://{host}:{settings.port}/login?token={token}", file=sys.stderr, flush=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI application.

    Parameters
    ----------
    settings : Settings, optional
        Read from the environment (``GEO_GRID_*``) when not given.

    Returns
    -------
    fastapi.FastAPI
        The store is opened (and built if missing) when the app starts.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.service = open_state(settings)
        first_login(app.state.service.store, settings)
        # shared with the service's other workers; a rebuild of the store refuses while held
        release = open_backend(settings.db).hold_shared()
        # changes other replicas or workers make are loaded in the background
        stop_watching = app.state.service.watch()
        try:
            yield
        finally:
            stop_watching()
            release()
            app.state.service.store.close()

    app = FastAPI(
        title="geo-grid",
        version=__version__,
        description="Grid management for a street office: lookup, grids, coverage and maps. "
        "The reference district's street outline, grids, buildings, households and members are synthetic.",
        lifespan=lifespan,
        docs_url=None,  # served by api.docs with local assets instead of CDN ones
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.login_limiter = RateLimiter(settings.login_attempts_per_minute, 60.0)
    errors.install(app)
    # identify every caller first (inner), compress and add headers last (outer)
    app.add_middleware(AuthMiddleware, public_lookup=settings.public_lookup)
    app.add_middleware(EdgeMiddleware, minimum_size=1000)
    _openapi = app.openapi

    def openapi() -> dict:
        # error bodies documented as application/problem+json (FastAPI files them as JSON)
        if app.openapi_schema is None:
            app.openapi_schema = problem_media_types(_openapi())
        return app.openapi_schema

    app.openapi = openapi
    from api.routes import (
        audit,
        batch,
        campaigns,
        coverage,
        edits,
        export,
        grids,
        health,
        imports,
        lookup,
        members,
        ogc,
        pool,
        rosters,
        scenarios,
        versions,
    )
    from maps import campaigns as campaign_maps

    # Routes are matched in order: the hottest first (the point lookup, with the benchmark's
    # no-op just before it), on the app's own router rather than an included one. Every router
    # declares the action its routes need (geo_grid.auth.policy); routes that act on one grid,
    # member or scenario also check the caller's scope on it; state changes are written to the
    # audit trail.
    lookup.install(app)
    # hot reads that check the caller themselves (no dependencies: see api.routes._read)
    app.include_router(members.hot_router, prefix="/api/v1")
    app.include_router(grids.hot_router, prefix="/api/v1")
    app.include_router(coverage.router, prefix="/api/v1")
    app.include_router(health.router)
    app.include_router(login.router)
    app.include_router(login.session_router, prefix="/api/v1")
    app.include_router(batch.router, prefix="/api/v1", dependencies=[needs("lookup")])
    app.include_router(grids.router, prefix="/api/v1", dependencies=[needs("read")])
    app.include_router(members.router, prefix="/api/v1", dependencies=[needs("read")])
    app.include_router(scenarios.router, prefix="/api/v1")  # each route declares its own
    app.include_router(rosters.router, prefix="/api/v1")  # each route declares its own
    app.include_router(pool.router, prefix="/api/v1")  # each route declares its own
    app.include_router(pool.posts_router, prefix="/api/v1")  # each route declares its own
    app.include_router(export.router, prefix="/api/v1",
                       dependencies=[needs("export", street_wide=True)])
    app.include_router(imports.router, prefix="/api/v1",
                       dependencies=[audited("import", street_wide=True)])
    app.include_router(versions.router, prefix="/api/v1", dependencies=[needs("read")])
    app.include_router(edits.router, prefix="/api/v1", dependencies=[audited("edit")])
    app.include_router(audit.router, prefix="/api/v1")
    app.include_router(campaigns.router, prefix="/api/v1")  # each route declares its own
    app.include_router(ogc.router, dependencies=[needs("read")])
    map_routes.mount_static(app)
    app.include_router(map_routes.router, dependencies=[needs("read")])
    # vector tiles of the map layers, cut for the caller's scope as the grid list is
    app.include_router(map_routes.tile_router, dependencies=[needs("read")])
    app.include_router(campaign_maps.router)  # each page declares its own action
    # after the API: routes are matched in order, and the hot ones come first
    docs.install(app)
    return app
