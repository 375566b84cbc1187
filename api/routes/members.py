"""Members with the buildings they cover and their load: answers read from the snapshot."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.models.members import Member
from api.routes._read import UNMASKED_PARAMS, show_unmasked, snapshot
from geo_grid.errors import NotFound

router = APIRouter(tags=["members"])
JSON = "application/json"


@router.get("/members", response_model=list[Member], openapi_extra=UNMASKED_PARAMS)
async def list_members(request: Request,
                       grid: str | None = Query(None, pattern=r"^\d{15}$",
                                                description="grid code")) -> Response:
    """Members (of one grid) with the buildings they cover, their load and capacity."""
    show = await show_unmasked(request)
    view = snapshot(request)
    if grid is not None and grid not in view.gazetteer.grid_info:
        raise NotFound(f"grid {grid} does not exist", grid=grid)
    if show:
        return Response(view.views.members_unmasked(grid), media_type=JSON)
    body = view.views.members if grid is None else view.views.members_of_grid.get(grid, b"[]")
    return Response(body, media_type=JSON)


@router.get("/members/{member_id}", response_model=Member, openapi_extra=UNMASKED_PARAMS)
async def get_member(member_id: str, request: Request) -> Response:
    """One member with the buildings they cover (names and phones masked)."""
    show = await show_unmasked(request)
    views = snapshot(request).views
    body = views.member.get(member_id)
    if body is None:
        raise NotFound(f"member {member_id} does not exist", member=member_id)
    return Response(views.member_unmasked(member_id) if show else body, media_type=JSON)
