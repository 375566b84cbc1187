"""Coverage of the current assignment: per grid, community and district, and the fragile grids."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.models.coverage import Coverage
from api.routes._read import send_body, snapshot

router = APIRouter(tags=["coverage"])


@router.get("/coverage", response_model=Coverage)
async def coverage(request: Request) -> Response:
    """Coverage of the current assignment per grid, community and district, resilience and the
    fragile grids (figures of :mod:`geo_grid.figures`, computed once per assignment version)."""
    return send_body(request, snapshot(request).views.coverage, "application/json")
