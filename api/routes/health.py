"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import service
from api.state import ServiceState

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(state: ServiceState = Depends(service)) -> dict:
    """Service status with the store's boundary version and counts."""
    d = state.district
    return {"status": "ok", "boundaries_version": d.version, "grids": len(d.grids),
            "buildings": len(d.buildings), "members": len(d.members)}
