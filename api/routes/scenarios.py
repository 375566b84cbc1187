"""Emergency scenarios (compute, read, apply) and the assignment revert stack."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.bodies import StrictJSONRoute
from api.deps import service
from api.models.scenarios import Applied, Moves, Reverted, ScenarioFull, ScenarioItem, ScenarioOut
from api.schemas import ScenarioIn
from api.state import ServiceState
from geo_grid.errors import InvalidInput
from geo_grid.figures import coverage_tables

# bodies parsed strictly (no NaN, bounded nesting and numbers: api.bodies); their size is
# limited as they stream in (api.edge, max_json_bytes)
router = APIRouter(tags=["scenarios"], route_class=StrictJSONRoute)


def count_vertices(geojson: object, limit: int) -> int:
    """Positions in a GeoJSON geometry, Feature or FeatureCollection, counted up to just past
    ``limit`` (iteratively: a position is a list of numbers)."""
    count, stack = 0, [geojson]
    while stack and count <= limit:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            if v and all(isinstance(x, int | float) for x in v):
                count += 1
            else:
                stack.extend(v)
    return count


def links(request: Request, sid: str) -> dict[str, str]:
    """The scenario's own routes and its map pages (paths, built from the route names)."""
    return {"self": request.url_for("get_scenario", sid=sid).path,
            "moves": request.url_for("get_moves", sid=sid).path,
            "apply": request.url_for("apply", sid=sid).path,
            "map": request.url_for("scenario_page", sid=sid).path,
            "compare": request.url_for("compare_view", sid=sid).path}


def scenario_json(request: Request, kept: dict, full: bool = False) -> dict[str, Any]:
    """A kept scenario as the routes answer it (``full``: with its figures before and after)."""
    res = kept["result"]
    out = {
        "id": kept["id"], "name": kept["name"], "status": kept["status"],
        "created_at": kept["created_at"], "applied_at": kept.get("applied_at"),
        "scenario": res["scenario"], "summary": res["summary"],
        "unavailable_members": res["unavailable"], "sealed_buildings": res["sealed"],
        "shortages": res["shortages"], "candidates": res.get("candidates", []),
        "links": links(request, kept["id"]),
    }
    if full:
        before, after = kept["figures"]
        out["coverage_before"] = coverage_tables(before)
        out["coverage_after"] = coverage_tables(after)
        out["district_before"] = before.district
        out["district_after"] = after.district
        out["uncovered_before"] = before.uncovered_buildings()
        out["uncovered_after"] = after.uncovered_buildings()
        out["fragile_before"] = before.fragile_grids()
        out["fragile_after"] = after.fragile_grids()
    return out


@router.post("/scenarios", status_code=201, response_model=ScenarioOut)
async def create_scenario(request: Request, body: ScenarioIn = Body(...),
                          state: ServiceState = Depends(service)) -> JSONResponse:
    """Rebalance the current assignment under an emergency scenario and keep the result.

    The result is not applied: ``POST /api/v1/scenarios/{id}/apply`` makes it current.
    A ``sealed_area`` has at most ``max_sealed_vertices`` vertices (10,000 by default).
    """
    limit = request.app.state.settings.max_sealed_vertices
    if body.sealed_area is not None and count_vertices(body.sealed_area, limit) > limit:
        raise InvalidInput(f"sealed_area has more than {limit} vertices; simplify it",
                           max_vertices=limit)
    kept = await run_in_threadpool(state.run_scenario, body.model_dump(exclude_none=True))
    view = scenario_json(request, kept)
    return JSONResponse(view, status_code=201, headers={"Location": view["links"]["self"]})


@router.get("/scenarios", response_model=list[ScenarioItem])
def list_scenarios(state: ServiceState = Depends(service)) -> list[dict]:
    """Kept scenarios, newest first."""
    return state.list_scenarios()


@router.get("/scenarios/{sid}", response_model=ScenarioFull)
def get_scenario(sid: str, request: Request, state: ServiceState = Depends(service)) -> JSONResponse:
    """A kept scenario: summary, shortages, and its figures before and after per grid,
    community and district, with the uncovered buildings and fragile grids."""
    return JSONResponse(scenario_json(request, state.get_scenario(sid), full=True))


@router.get("/scenarios/{sid}/moves", response_model=Moves)
def get_moves(sid: str, state: ServiceState = Depends(service)) -> dict:
    """The moves of a scenario: member, building, from/to, load and reason."""
    return {"id": sid, "moves": state.get_scenario(sid)["result"]["moves"]}


@router.post("/scenarios/{sid}/apply", response_model=Applied)
def apply(sid: str, state: ServiceState = Depends(service)) -> dict:
    """Make a scenario's assignment current (409 if another assignment became current since)."""
    return state.apply_scenario(sid)


@router.post("/assignments/revert", response_model=Reverted)
def revert(state: ServiceState = Depends(service)) -> dict:
    """Restore the assignment that was current before the current one."""
    return state.revert()
