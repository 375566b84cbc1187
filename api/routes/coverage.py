"""Coverage of the current assignment: per grid, community and district, and the fragile grids."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from api.deps import service
from api.models.coverage import Coverage
from api.state import ServiceState

router = APIRouter(tags=["coverage"])


@router.get("/coverage", response_model=Coverage)
async def coverage(state: ServiceState = Depends(service)) -> Response:
    """Coverage of the current assignment per grid, community and district, resilience and the
    fragile grids (figures of :mod:`geo_grid.figures`, computed once per assignment version)."""
    return Response(state.view.views.coverage, media_type="application/json")
