"""Grids as GeoJSON with their figures (bodies built once per assignment version)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.models.grids import GridCollection, GridFeature
from api.routes._read import UNMASKED_PARAMS, send_body, show_unmasked, snapshot
from api.views import GEOJSON, Body, feature_collection
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
async def list_grids(request: Request,
                     community: str | None = Query(None, pattern=r"^\d{12}$")) -> GeoJSONResponse:
    """Every grid (or a community's) as a GeoJSON FeatureCollection with per-grid figures."""
    views = snapshot(request).views
    if community is None:
        body = views.grids
    else:
        body = views.grids_of_community.get(community)
        if body is None:  # a community without grids (or unknown): an empty collection
            body = Body.of(feature_collection([]))
    return send_body(request, body, GEOJSON, GeoJSONResponse)


@router.get("/grids/{code}", response_class=GeoJSONResponse, response_model=GridFeature,
            response_description="GeoJSON Feature", openapi_extra=UNMASKED_PARAMS)
async def get_grid(code: str, request: Request) -> GeoJSONResponse:
    """One grid as a GeoJSON Feature with its figures and its team (names and phones masked)."""
    show = await show_unmasked(request)
    view = snapshot(request)
    body = view.views.grid.get(code)
    if body is None:
        raise NotFound(f"grid {code} does not exist", grid=code)
    if show:
        return GeoJSONResponse(view.views.grid_unmasked(view.gazetteer, code))
    return send_body(request, body, GEOJSON, GeoJSONResponse)
