"""Door-to-door campaigns: create one over grids, an area or a scenario's grids, record visits
(idempotently, by the client's visit id), read the progress and the daily report.

Who may do what: creating a campaign is a ``scenario`` action (street and community staff, in
their scope: every grid the campaign holds must be inside it); recording a visit is a
``campaign`` action on the building's grid; the progress and the report are ``read``, counted
over the buildings inside the caller's scope.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from api.access import audit_targets, audited, check_code, in_scope, needs, principal
from api.bodies import StrictJSONRoute
from api.deps import service
from api.models.campaigns import CampaignCreated, CampaignIn, Progress, VisitIn, VisitOut
from api.state import ServiceState
from geo_grid.campaigns import Visit, plan, records
from geo_grid.campaigns.progress import progress
from geo_grid.campaigns.report import write_report

router = APIRouter(tags=["campaigns"], route_class=StrictJSONRoute)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _selection(state: ServiceState, body: CampaignIn):
    """The buildings of the scope and the assignment that says who visits each: the current
    one, or the scenario's (its rebalanced assignment) for a scenario's scope, whose buildings
    are those of the grids the scenario names (every building when it spans the street)."""
    from api.routes.scenarios import scenario_grids

    district = state.view.district
    scope = body.scope
    if scope.grids is not None:
        return (plan.buildings_of_grids(district.buildings, scope.grids, district.grids["code"]),
                district.assignment)
    if scope.area is not None:
        return plan.buildings_in_area(district.buildings, scope.area), district.assignment
    kept = state.get_scenario(scope.scenario)
    grids = scenario_grids(state, kept["result"]["scenario"])
    b = district.buildings
    if None not in grids:
        b = b[b["grid_code"].isin(set(grids))]
    from geo_grid.store.history import ASSIGNMENT_COLUMNS

    return b, pd.DataFrame(kept["result"]["assignment"], columns=list(ASSIGNMENT_COLUMNS))


@router.post("/campaigns", status_code=201, response_model=CampaignCreated,
             dependencies=[audited("scenario")], summary="Start a door-to-door campaign")
def create_campaign(body: CampaignIn, request: Request,
                    state: ServiceState = Depends(service)) -> dict:
    """Start a campaign over ``scope`` (``{"grids": [...]}``, ``{"area": Polygon}`` or
    ``{"scenario": id}``) with a ``deadline``: each building goes to the member who covers
    it (the largest load in the assignment). Every grid the campaign holds must be inside the
    caller's scope."""
    selected, assignment = _selection(state, body)
    for grid in sorted(set(selected["grid_code"].astype(str))):
        check_code(request, "scenario", grid)
    rows = plan.campaign_buildings(selected, assignment)
    c = records.create_campaign(state.store, body.name, body.deadline,
                                body.scope.model_dump(exclude_none=True),
                                principal(request).name, rows)
    audit_targets(request, c.id)
    return {"id": c.id, "buildings": len(rows), "households": sum(b.households for b in rows),
            "unassigned_buildings": sum(b.member_id is None for b in rows)}


@router.post("/campaigns/{cid}/visits", status_code=201, response_model=VisitOut,
             dependencies=[audited("campaign")],
             responses={200: {"description": "a replay: the visit was recorded before; the "
                                             "first answer again", "model": VisitOut}},
             summary="Record a visit (idempotent by its id)")
def record_visit(cid: str, body: VisitIn, request: Request,
                 state: ServiceState = Depends(service)):
    """Record a visit of a campaign's building. ``id`` is the client's UUID: a request sent
    again (a retry, a queue flushed twice) answers the first answer with 200 and counts
    nothing twice. The caller's scope must hold the building's grid."""
    grid = records.building_grid(state.store, cid, body.building)
    check_code(request, "campaign", grid)
    audit_targets(request, cid, body.building)
    visit = Visit(id=body.id, building=body.building, unit=body.unit,
                  households_reached=body.households_reached, status=body.status,
                  member=body.member, at=body.at)
    answer, created = records.record_visit(state.store, cid, visit, principal(request).name)
    return JSONResponse(answer, status_code=201 if created else 200)


def campaign_progress(request: Request, state: ServiceState, cid: str) -> dict:
    """The progress of a campaign now, over the buildings inside the caller's scope."""
    c = records.get_campaign(state.store, cid)
    return progress(c, records.buildings_of(state.store, cid), records.visits_of(state.store, cid),
                    datetime.now(UTC), keep=lambda b: in_scope(request, b.grid_code))


@router.get("/campaigns/{cid}/progress", response_model=Progress,
            dependencies=[needs("read")], summary="A campaign's progress")
def get_progress(cid: str, request: Request, state: ServiceState = Depends(service)) -> dict:
    """Households reached and % in all, per grid, community and member, and the buildings
    overdue (not done after the deadline); only the buildings inside the caller's scope."""
    return campaign_progress(request, state, cid)


@router.get("/campaigns/{cid}/report.xlsx", dependencies=[needs("read")],
            response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "the workbook"}},
            summary="A campaign's daily report (xlsx), per grid and community")
async def get_report(cid: str, request: Request, state: ServiceState = Depends(service)):
    """The progress as a workbook: a row per grid, per community, and the total."""
    prog = await run_in_threadpool(campaign_progress, request, state, cid)
    district = state.view.district
    grids = dict(zip(district.grids["code"].astype(str), district.grids["name"].astype(str),
                     strict=True))
    communities = dict(zip(district.communities["code"].astype(str),
                           district.communities["name"].astype(str), strict=True))

    def build() -> bytes:
        with tempfile.TemporaryDirectory() as d:
            path = write_report(Path(d) / "report.xlsx", prog, grids, communities)
            return path.read_bytes()

    data = await run_in_threadpool(build)
    day = datetime.now(UTC).strftime("%Y%m%d")
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="campaign-{cid}-{day}.xlsx"'})
