"""The app factory: ``create_app(settings)``."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import docs, errors
from api.edge import EdgeMiddleware
from api.models.problem import problem_media_types
from api.settings import Settings
from api.state import ServiceState
from geo_grid import __version__
from geo_grid.store import Store, build_store
from geo_grid.store.lock import hold_shared
from maps import routes as map_routes


def open_state(settings: Settings) -> ServiceState:
    """Open (building first if missing and allowed) the store named by the settings."""
    if not settings.db.exists():
        if not settings.build_if_missing:
            from geo_grid.errors import StoreError

            raise StoreError(f"store {settings.db} does not exist; run `geo-grid init`")
        build_store(settings.db, settings.boundaries)
    return ServiceState.open(Store(settings.db))


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
        # shared with the service's other workers; a rebuild of the store refuses while held
        release = hold_shared(settings.db)
        try:
            yield
        finally:
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
    errors.install(app)
    app.add_middleware(EdgeMiddleware, minimum_size=1000)
    _openapi = app.openapi

    def openapi() -> dict:
        # error bodies documented as application/problem+json (FastAPI files them as JSON)
        if app.openapi_schema is None:
            app.openapi_schema = problem_media_types(_openapi())
        return app.openapi_schema

    app.openapi = openapi
    from api.routes import batch, coverage, grids, health, imports, lookup, members, scenarios

    # routes are matched in order: the hottest first (the point lookup, with the benchmark's
    # no-op just before it), on the app's own router rather than an included one
    lookup.install(app)
    app.include_router(health.router)
    app.include_router(batch.router, prefix="/api/v1")
    app.include_router(grids.router, prefix="/api/v1")
    app.include_router(members.router, prefix="/api/v1")
    app.include_router(scenarios.router, prefix="/api/v1")
    app.include_router(coverage.router, prefix="/api/v1")
    app.include_router(imports.router, prefix="/api/v1")
    from api.routes import export
    app.include_router(export.router, prefix="/api/v1")
    from api.routes import versions
    app.include_router(versions.router, prefix="/api/v1")
    from api.routes import edits
    app.include_router(edits.router, prefix="/api/v1")
    map_routes.mount_static(app)
    app.include_router(map_routes.router)
    # after the API: routes are matched in order, and the hot ones come first
    docs.install(app)
    return app
