"""Liveness and readiness."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Depends

from api.deps import service
from api.models.health import Health
from api.models.problem import problem_responses
from api.state import ServiceState
from geo_grid.store import Store

router = APIRouter(tags=["health"])


@lru_cache(maxsize=8)
def _synthetic(store_path: str) -> bool:
    """True unless the store's metadata says ``synthetic = false`` (an imported street); read
    once per store file."""
    store = Store(store_path)
    try:
        return store.meta().get("synthetic", "true").strip().lower() != "false"
    finally:
        store.close()


@router.get("/healthz", response_model=Health, responses=problem_responses(503))
async def healthz(state: ServiceState = Depends(service)) -> Any:
    """Service status with the store's boundary version and counts."""
    d = state.district
    return {"status": "ok", "boundaries_version": d.version, "grids": len(d.grids),
            "buildings": len(d.buildings), "members": len(d.members),
            "synthetic": _synthetic(str(state.store.path.resolve()))}
