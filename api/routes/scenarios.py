"""Emergency scenarios (compute, read, apply) and the assignment revert stack."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.access import audit_targets, audited, check_code, needs, principal
from api.bodies import StrictJSONRoute
from api.deps import service
from api.models.problem import problem_responses
from api.models.scenarios import (
    Applied,
    Moves,
    Reverted,
    ScenarioFull,
    ScenarioItem,
    ScenarioOut,
    TradeoffOut,
)
from api.routes._read import STREET_DESCRIPTION, known_street
from api.schemas import ScenarioIn
from api.state import ServiceState
from geo_grid.auth import policy
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


def scenario_grids(state: ServiceState, spec: dict) -> list[str | None]:
    """The grids a scenario names: its unavailable members' and its sealed buildings' (None
    for what spans the street: a fraction of all members, a sealed area)."""
    district = state.district
    members = district.members.set_index("id")["grid_code"]
    buildings = district.buildings.set_index("code")["grid_code"]
    out: list[str | None] = [members.get(m) for m in spec.get("unavailable_members", ())]
    out += [buildings.get(b) for b in spec.get("sealed_buildings", ())]
    if spec.get("unavailable_fraction"):
        # drawn from one street's members (its code), or from every street's (None)
        out.append(spec.get("street"))
    if spec.get("sealed_area") or not out:
        out.append(None)
    return out


def touches_street(state: ServiceState, kept: dict, street: str) -> bool:
    """Whether a kept scenario names a place in ``street`` or spans every street."""
    return any(g is None or str(g).startswith(street)
               for g in scenario_grids(state, kept["result"]["scenario"]))


def check_scenario_scope(request: Request, state: ServiceState, spec: dict) -> None:
    """A scoped caller may run a what-if only inside its scope (403 naming what is outside)."""
    for grid in scenario_grids(state, spec):
        check_code(request, "scenario", grid)


def scenario_in_scope(request: Request, state: ServiceState, kept: dict) -> bool:
    """Whether every grid a kept scenario names is inside the caller's scope."""
    who = principal(request)
    return all(policy.in_scope(who, g) for g in scenario_grids(state, kept["result"]["scenario"]))


def readable(request: Request, state: ServiceState, sid: str) -> dict:
    """A kept scenario the caller may read (404 unknown, 403 outside its scope)."""
    kept = state.get_scenario(sid)
    for grid in scenario_grids(state, kept["result"]["scenario"]):
        check_code(request, "read", grid)
    return kept


@router.post("/scenarios", status_code=201, response_model=ScenarioOut,
             dependencies=[audited("scenario")])
async def create_scenario(request: Request, body: ScenarioIn = Body(...),
                          state: ServiceState = Depends(service)) -> JSONResponse:
    """Rebalance the current assignment under an emergency scenario and keep the result.

    The result is not applied: ``POST /api/v1/scenarios/{id}/apply`` makes it current.
    ``"reinforcements": "pool"`` brings in the entries of the store's reinforcement pool
    available at ``at`` (default now); the kept scenario lists them.
    A ``sealed_area`` has at most ``max_sealed_vertices`` vertices (10,000 by default).
    """
    limit = request.app.state.settings.max_sealed_vertices
    if body.sealed_area is not None and count_vertices(body.sealed_area, limit) > limit:
        raise InvalidInput(f"sealed_area has more than {limit} vertices; simplify it",
                           max_vertices=limit)
    from geo_grid.store.pool import resolve_scenario_pool

    spec = body.model_dump(exclude_none=True)
    check_scenario_scope(request, state, spec)
    # "reinforcements": "pool" becomes the pool entries available at "at" here, where the
    # store is at hand: the core gets (and the kept scenario records) the inline list
    spec = await run_in_threadpool(resolve_scenario_pool, state.store, spec)
    kept = await run_in_threadpool(state.run_scenario, spec)
    audit_targets(request, kept["id"])
    view = scenario_json(request, kept)
    return JSONResponse(view, status_code=201, headers={"Location": view["links"]["self"]})


@router.get("/scenarios", response_model=list[ScenarioItem], dependencies=[needs("read")],
            responses=problem_responses(403, 404))
def list_scenarios(request: Request, state: ServiceState = Depends(service),
                   street: str | None = Query(None, pattern=r"^\d{9}$",
                                              description=STREET_DESCRIPTION)) -> list[dict]:
    """Kept scenarios, newest first (a scoped caller's: those inside its scope; with
    ``street``, those naming a place in that street or spanning every street)."""
    street = known_street(request, street)
    rows = state.list_scenarios()
    if street is not None:
        rows = [r for r in rows if touches_street(state, state.get_scenario(r["id"]), street)]
    if policy.in_scope(principal(request), None):
        return rows
    return [r for r in rows if scenario_in_scope(request, state, state.get_scenario(r["id"]))]


@router.get("/scenarios/{sid}", response_model=ScenarioFull, dependencies=[needs("read")],
            responses=problem_responses(403, 404))
def get_scenario(sid: str, request: Request, state: ServiceState = Depends(service)) -> JSONResponse:
    """A kept scenario: summary, shortages, and its figures before and after per grid,
    community and district, with the uncovered buildings and fragile grids."""
    return JSONResponse(scenario_json(request, readable(request, state, sid), full=True))


@router.get("/scenarios/{sid}/moves", response_model=Moves, dependencies=[needs("read")],
            responses=problem_responses(403, 404))
def get_moves(sid: str, request: Request, state: ServiceState = Depends(service)) -> dict:
    """The moves of a scenario: member, building, from/to, load and reason."""
    return {"id": sid, "moves": readable(request, state, sid)["result"]["moves"]}


#: Solves a trade-off curve runs at once: threads, which gain a little where cores are spare
#: (the solves hold the GIL part of the time) and lose on a busy small machine.
TRADEOFF_WORKERS = 2 if (os.cpu_count() or 1) >= 4 else 1


@router.get("/scenarios/{sid}/tradeoff", response_model=TradeoffOut,
            dependencies=[needs("read")], responses=problem_responses(403, 404))
def get_tradeoff(sid: str, request: Request,
                 budgets: str | None = Query(
                     None, max_length=400, examples=["0,100,500"],
                     description="move budgets, comma-separated non-negative integers (at most "
                                 "20); default 0 and a ladder up to the unconstrained moves"),
                 state: ServiceState = Depends(service)) -> JSONResponse:
    """The trade-off curves of a scenario: uncovered load against moves (the scenario re-solved
    with ``max_moves`` at each budget, and without a cap last) and, when it brings
    reinforcements, against reinforcements (with only the first k, busiest first). Each point
    says what the solve measured and whether it is Pareto-efficient in its series.

    The first call computes the curve (about a dozen rebalances: seconds on a street) and keeps
    it with the scenario; later calls read it (``X-Cache: hit``) until the scenario's inputs
    (its assignment, the store's assignment or boundaries) change."""
    from geo_grid.assign.tradeoff import parse_budgets
    from geo_grid.store.tradeoffs import scenario_tradeoff

    readable(request, state, sid)  # 404 unknown, 403 outside the caller's scope
    wanted = parse_budgets(budgets) if budgets is not None else None
    view = state.view
    curve, hit = scenario_tradeoff(state.store, sid, view.district, view.assignment_version,
                                   budgets=wanted, workers=TRADEOFF_WORKERS)
    body = curve | {"links": {"scenario": request.url_for("get_scenario", sid=sid).path}}
    return JSONResponse(body, headers={"X-Cache": "hit" if hit else "miss"})


@router.post("/scenarios/{sid}/apply", response_model=Applied,
             dependencies=[audited("apply", street_wide=True)])
def apply(sid: str, request: Request, state: ServiceState = Depends(service)) -> dict:
    """Make a scenario's assignment current (409 if another assignment became current since)."""
    audit_targets(request, sid)
    return state.apply_scenario(sid)


@router.post("/assignments/revert", response_model=Reverted,
             dependencies=[audited("apply", street_wide=True)])
def revert(state: ServiceState = Depends(service),
           version: str | None = Query(None, description=(
               "the assignment version the caller saw: 409 (naming the current one) if "
               "another became current since, e.g. applied through another replica"))) -> dict:
    """Restore the assignment that was current before the current one."""
    return state.revert(version)
