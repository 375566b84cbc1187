"""Grids as GeoJSON with their figures (bodies built once per assignment version)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api.deps import service, unmasked
from api.models.grids import GridCollection, GridFeature
from api.state import ServiceState
from api.views import GEOJSON
from geo_grid.errors import NotFound

router = APIRouter(tags=["grids"])


class GeoJSONResponse(JSONResponse):
    """A body already serialised as GeoJSON (bytes pass through as they are); a JSON response
    class so that the OpenAPI document gives the body's schema under ``application/geo+json``."""

    media_type = GEOJSON

    def render(self, content) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


@router.get("/grids", response_class=GeoJSONResponse, response_model=GridCollection,
            response_description="GeoJSON FeatureCollection")
async def list_grids(community: str | None = Query(None, pattern=r"^\d{12}$"),
                     state: ServiceState = Depends(service)) -> GeoJSONResponse:
    """Every grid (or a community's) as a GeoJSON FeatureCollection with per-grid figures."""
    views = state.view.views
    if community is None:
        body = views.grids
    else:
        body = views.grids_of_community.get(community)
        if body is None:  # a community without grids (or unknown): an empty collection
            from api.views import dumps, feature_collection

            body = dumps(feature_collection([]))
    return GeoJSONResponse(body)


@router.get("/grids/{code}", response_class=GeoJSONResponse, response_model=GridFeature,
            response_description="GeoJSON Feature")
async def get_grid(code: str, state: ServiceState = Depends(service),
                   show: bool = Depends(unmasked)) -> GeoJSONResponse:
    """One grid as a GeoJSON Feature with its figures and its team (names and phones masked)."""
    view = state.view
    body = view.views.grid.get(code)
    if body is None:
        raise NotFound(f"grid {code} does not exist", grid=code)
    if show:
        body = view.views.grid_unmasked(view.gazetteer, code)
    return GeoJSONResponse(body)
