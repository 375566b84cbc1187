"""Members, emergency scenarios, assignment history and coverage (issue: assign and rebalance)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse

from api.deps import service, unmasked
from api.schemas import ScenarioIn
from api.state import ServiceState
from geo_grid.errors import NotFound
from geo_grid.privacy import mask_name, mask_phone

router = APIRouter(tags=["coverage"])


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, list | tuple | np.ndarray):
        return [_plain(x) for x in v]
    return v


def records(df: pd.DataFrame) -> list[dict]:
    """JSON-ready records of a DataFrame (NaN → null, numpy scalars → Python)."""
    return [{k: _plain(v) for k, v in r.items()} for r in df.to_dict("records")]


def _member_json(row: dict, buildings: list[str], load: float, show: bool) -> dict:
    return {
        "id": row["id"],
        "name": row["name"] if show else mask_name(row["name"]),
        "phone": row["phone"] if show else mask_phone(row["phone"]),
        "role": row["role"],
        "grid_code": row["grid_code"],
        "available": bool(row["available"]),
        "buildings": buildings,
        "load": round(float(load), 3),
        "capacity": float(row["capacity"]),
    }


def _by_member(state: ServiceState) -> tuple[dict[str, list[str]], dict[str, float]]:
    a = state.district.assignment
    if not len(a):
        return {}, {}
    b = a.groupby("member_id")["building_code"].apply(lambda s: sorted(s)).to_dict()
    load = a.groupby("member_id")["load"].sum().to_dict()
    return b, load


@router.get("/members")
def list_members(grid: str | None = Query(None, pattern=r"^\d{15}$", description="grid code"),
                 state: ServiceState = Depends(service), show: bool = Depends(unmasked)) -> list[dict]:
    """Members (of one grid) with the buildings they cover, their load and capacity."""
    m = state.district.members
    if grid is not None:
        if grid not in state.gazetteer.grid_info:
            raise NotFound(f"grid {grid} does not exist", grid=grid)
        m = m[m["grid_code"] == grid]
    b, load = _by_member(state)
    return [_member_json(r, b.get(r["id"], []), load.get(r["id"], 0.0), show) for r in m.to_dict("records")]


@router.get("/members/{member_id}")
def get_member(member_id: str, state: ServiceState = Depends(service),
               show: bool = Depends(unmasked)) -> dict:
    """One member with the buildings they cover (names and phones masked)."""
    m = state.district.members
    row = m[m["id"] == member_id]
    if row.empty:
        raise NotFound(f"member {member_id} does not exist", member=member_id)
    b, load = _by_member(state)
    return _member_json(row.iloc[0].to_dict(), b.get(member_id, []), load.get(member_id, 0.0), show)


def _scenario_view(kept: dict, full: bool = False) -> dict:
    res = kept["result"]
    out = {
        "id": kept["id"], "name": kept["name"], "status": kept["status"],
        "created_at": kept["created_at"], "applied_at": kept.get("applied_at"),
        "scenario": res["scenario"], "summary": res["summary"],
        "unavailable_members": res["unavailable"], "sealed_buildings": res["sealed"],
        "shortages": res["shortages"],
        "candidates": res.get("candidates", []),
        "links": {"self": f"/api/v1/scenarios/{kept['id']}",
                  "moves": f"/api/v1/scenarios/{kept['id']}/moves",
                  "apply": f"/api/v1/scenarios/{kept['id']}/apply",
                  "map": f"/map/scenarios/{kept['id']}",
                  "compare": f"/map/scenarios/{kept['id']}/compare"},
    }
    if full:
        out["coverage_before"] = res["coverage_before"]
        out["coverage_after"] = res["coverage_after"]
    return out


@router.post("/scenarios", status_code=201)
def create_scenario(body: ScenarioIn = Body(...), state: ServiceState = Depends(service)) -> JSONResponse:
    """Rebalance the current assignment under an emergency scenario and keep the result.

    The result is not applied: ``POST /api/v1/scenarios/{id}/apply`` makes it current.
    """
    kept = state.run_scenario(body.model_dump(exclude_none=True))
    view = _scenario_view(kept)
    return JSONResponse(view, status_code=201, headers={"Location": view["links"]["self"]})


@router.get("/scenarios")
def list_scenarios(state: ServiceState = Depends(service)) -> list[dict]:
    """Kept scenarios, newest first."""
    return state.list_scenarios()


@router.get("/scenarios/{sid}")
def get_scenario(sid: str, state: ServiceState = Depends(service)) -> dict:
    """A kept scenario: summary, shortages, coverage before and after per grid and community."""
    return _scenario_view(state.get_scenario(sid), full=True)


@router.get("/scenarios/{sid}/moves")
def get_moves(sid: str, state: ServiceState = Depends(service)) -> dict:
    """The moves of a scenario: member, building, from/to, load and reason."""
    kept = state.get_scenario(sid)
    return {"id": sid, "moves": kept["result"]["moves"]}


@router.post("/scenarios/{sid}/apply")
def apply(sid: str, state: ServiceState = Depends(service)) -> dict:
    """Make a scenario's assignment current (409 if another assignment became current since)."""
    return state.apply_scenario(sid)


@router.post("/assignments/revert")
def revert(state: ServiceState = Depends(service)) -> dict:
    """Restore the assignment that was current before the current one."""
    return state.revert()


@router.get("/coverage")
def coverage(state: ServiceState = Depends(service)) -> dict:
    """Coverage of the current assignment per grid and community, and the fragile grids."""
    cov, res = state.coverage()
    fragile = res[res["fragile"]]
    return {
        "totals": cov.totals(),
        "grids": records(cov.grid),
        "communities": records(cov.community),
        "resilience": records(res),
        "fragile_grids": list(fragile["grid_code"]),
    }
