"""Members with the buildings they cover and their load: answers read from the snapshot.

A caller scoped to a community or a grid sees only the members of the grids in its scope.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.access import check_code, principal, require
from api.models.members import Member
from api.models.problem import problem_responses
from api.routes._read import (
    STREET_DESCRIPTION,
    UNMASKED_PARAMS,
    RequestRoute,
    known_street,
    path_params,
    show_unmasked,
    snapshot,
)
from geo_grid.auth import policy
from geo_grid.errors import NotFound

router = APIRouter(tags=["members"])
# the one-member read is a hot route: called as a plain endpoint, it checks the caller itself
hot_router = APIRouter(tags=["members"], route_class=RequestRoute)
JSON = "application/json"


@router.get("/members", response_model=list[Member], openapi_extra=UNMASKED_PARAMS,
            responses=problem_responses(403, 404))
async def list_members(request: Request,
                       grid: str | None = Query(None, pattern=r"^\d{15}$",
                                                description="grid code"),
                       street: str | None = Query(None, pattern=r"^\d{9}$",
                                                  description=STREET_DESCRIPTION)) -> Response:
    """Members (of one grid, or of one street) with the buildings they cover, their load and
    capacity."""
    view = snapshot(request)
    if grid is not None:
        check_code(request, "read", grid)
        if grid not in view.gazetteer.grid_info:
            raise NotFound(f"grid {grid} does not exist", grid=grid)
    street = known_street(request, street)
    if grid is not None and street is not None and not grid.startswith(street):
        return Response(b"[]", media_type=JSON)  # a grid of another street: nobody
    who = principal(request)
    scoped = grid is None and (street is not None or not policy.in_scope(who, None))
    show = await show_unmasked(request, grid or who.scope)
    views = view.views
    if scoped:  # only the members of the grids in the street asked for and the caller's scope
        ids = [mid for mid, row in views.member_rows.items()
               if policy.in_scope(who, row["grid_code"])
               and str(row["grid_code"]).startswith(street or "")]
        if show:
            return Response(views.members_unmasked_of(ids), media_type=JSON)
        return Response(b"[" + b",".join(views.member[mid] for mid in ids) + b"]", media_type=JSON)
    if show:
        return Response(views.members_unmasked(grid), media_type=JSON)
    body = views.members if grid is None else views.members_of_grid.get(grid, b"[]")
    return Response(body, media_type=JSON)


@hot_router.get("/members/{member_id}", response_model=Member,
                openapi_extra=path_params(("member_id", "member id"), extra=UNMASKED_PARAMS))
async def get_member(request: Request) -> Response:
    """One member with the buildings they cover (names and phones masked)."""
    require(request, "read")
    member_id = request.path_params["member_id"]
    views = snapshot(request).views
    body = views.member.get(member_id)
    if body is None:
        raise NotFound(f"member {member_id} does not exist", member=member_id)
    grid = views.member_rows[member_id]["grid_code"]
    check_code(request, "read", grid)
    show = await show_unmasked(request, grid)
    return Response(views.member_unmasked(member_id) if show else body, media_type=JSON)
