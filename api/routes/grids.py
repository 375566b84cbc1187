"""Grids as GeoJSON with their figures (bodies built once per assignment version)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.access import check_code, principal, require
from api.models.grids import GridCollection, GridFeature
from api.models.problem import problem_responses
from api.routes._read import (
    STREET_DESCRIPTION,
    UNMASKED_PARAMS,
    RequestRoute,
    known_street,
    path_params,
    send_body,
    show_unmasked,
    snapshot,
)
from api.views import GEOJSON, Body, feature_collection
from geo_grid.auth import policy
from geo_grid.errors import NotFound

router = APIRouter(tags=["grids"])
# the one-grid read is a hot route: called as a plain endpoint, it checks the caller itself
hot_router = APIRouter(tags=["grids"], route_class=RequestRoute)

AS_OF = ("ISO-8601 time (2026-11-01T09:30:00+08:00; without a zone China Standard Time): "
         "answer with the boundary version in force then")


def _community_body(views, community: str | None) -> Body:
    if community is None:
        return views.grids
    # a community without grids (or unknown): an empty collection
    return views.grids_of_community.get(community) or Body.of(feature_collection([]))


class GeoJSONResponse(JSONResponse):
    """A body already serialised as GeoJSON (bytes pass through as they are); a JSON response
    class so that the OpenAPI document gives the body's schema under ``application/geo+json``."""

    media_type = GEOJSON

    def render(self, content) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


@router.get("/grids", response_class=GeoJSONResponse, response_model=GridCollection,
            response_description="GeoJSON FeatureCollection",
            responses=problem_responses(403, 404))
async def list_grids(request: Request,
                     community: str | None = Query(None, pattern=r"^\d{12}$"),
                     street: str | None = Query(None, pattern=r"^\d{9}$",
                                                description=STREET_DESCRIPTION),
                     as_of: str | None = Query(None, description=AS_OF)) -> GeoJSONResponse:
    """Every grid (or a community's, or a street's) as a GeoJSON FeatureCollection with
    per-grid figures; with ``as_of``, the grids of the boundary version in force then (header
    ``X-Boundary-Version`` names it)."""
    if community is not None:
        check_code(request, "read", community)
    street = known_street(request, street)
    view = snapshot(request)
    if as_of is not None:
        view = await run_in_threadpool(request.app.state.service.as_of, as_of)
    who = principal(request)
    if community is not None and street is not None and not community.startswith(street):
        body = Body.of(feature_collection([]))  # a community of another street: none
    elif community is None and (street is not None or not policy.in_scope(who, None)):
        # a street asked for, or a caller scoped to a community or a grid: only those grids
        features = [f for code, f in view.views.grid_features.items()
                    if policy.in_scope(who, code) and code.startswith(street or "")]
        body = Body.of(feature_collection(features))
    else:
        body = _community_body(view.views, community)
    resp = send_body(request, body, GEOJSON, GeoJSONResponse)
    if as_of is not None:
        resp.headers["X-Boundary-Version"] = str(view.district.boundary_version)
    return resp


@hot_router.get("/grids/{code}", response_class=GeoJSONResponse, response_model=GridFeature,
                response_description="GeoJSON Feature",
                openapi_extra=path_params(("code", "grid code"), extra=UNMASKED_PARAMS))
async def get_grid(request: Request) -> GeoJSONResponse:
    """One grid as a GeoJSON Feature with its figures and its team (names and phones masked)."""
    require(request, "read")
    code = request.path_params["code"]
    check_code(request, "read", code)
    view = snapshot(request)
    body = view.views.grid.get(code)
    if body is None:
        raise NotFound(f"grid {code} does not exist", grid=code)
    show = await show_unmasked(request, code)
    if show:
        return GeoJSONResponse(view.views.grid_unmasked(view.gazetteer, code))
    return send_body(request, body, GEOJSON, GeoJSONResponse)
