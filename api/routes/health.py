"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.deps import service
from api.models.health import Health
from api.models.problem import problem_responses
from api.state import ServiceState

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses=problem_responses(503))
async def healthz(state: ServiceState = Depends(service)) -> Any:
    """Service status with the store's boundary version and counts."""
    d = state.district
    return {"status": "ok", "boundaries_version": d.version, "grids": len(d.grids),
            "buildings": len(d.buildings), "members": len(d.members)}

