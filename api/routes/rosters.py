"""Shift rosters of the posts (排班): compute one, read it, download it as xlsx."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Body, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from api.access import audit_targets, audited, needs
from api.bodies import StrictJSONRoute
from api.deps import service
from api.models.rosters import RosterIn, RosterOut
from api.state import ServiceState

router = APIRouter(tags=["rosters"], route_class=StrictJSONRoute)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def roster_json(kept: dict) -> dict:
    """A kept roster as the routes answer it."""
    res = kept["result"]
    return {"id": kept["id"], "created_at": kept["created_at"], "status": res["status"],
            "gap": res["gap"], "proven": res.get("proven", False), "changes": res.get("changes"),
            "shifts": res["shifts"], "people": res["people"], "unfilled": res["unfilled"],
            "reinforcements_from_pool": res.get("reinforcements_from_pool")}


def _compute(state: ServiceState, spec: dict) -> dict:
    from geo_grid.rosters.run import run_spec
    from geo_grid.rosters.store import save_roster

    result = run_spec(state.store, state.district, spec)
    return save_roster(state.store, spec, result)


@router.post("/rosters", status_code=201, response_model=RosterOut,
             dependencies=[audited("scenario")])
async def create_roster(request: Request, body: RosterIn = Body(...),
                        state: ServiceState = Depends(service)) -> JSONResponse:
    """Compute a shift roster of the posts with CP-SAT and keep it.

    Every shift of every post is staffed with ``per_shift`` people (checkpoints with at
    least ``min_security`` auxiliary police or security guards), one shift at a time per
    person, ``min_rest_hours`` between shifts, at most ``max_hours_per_week`` hours in any 7
    days, only people within ``max_travel_m`` of the post. ``status`` is ``infeasible`` when
    slots stay unfilled (listed in ``unfilled``).
    """
    spec = body.model_dump(exclude_none=True)
    kept = await run_in_threadpool(_compute, state, spec)
    audit_targets(request, kept["id"])
    path = request.url_for("get_roster", rid=kept["id"]).path
    return JSONResponse(roster_json(kept), status_code=201, headers={"Location": path})


@router.get("/rosters/{rid}", response_model=RosterOut, dependencies=[needs("read")])
def get_roster(rid: str, state: ServiceState = Depends(service)) -> JSONResponse:
    """A kept roster."""
    from geo_grid.rosters.store import get_roster as load

    return JSONResponse(roster_json(load(state.store, rid)))


@router.get("/rosters/{rid}/xlsx", dependencies=[needs("read")],
            responses={200: {"content": {XLSX: {}}, "description": "the roster workbook"}},
            response_class=Response)
def get_roster_xlsx(rid: str, state: ServiceState = Depends(service)) -> Response:
    """A kept roster as xlsx: summary, unfilled, one sheet per post and one per person."""
    from geo_grid.rosters.store import get_roster as load
    from geo_grid.rosters.workbook import write_roster_xlsx

    kept = load(state.store, rid)
    with tempfile.TemporaryDirectory() as tmp:
        data = write_roster_xlsx(kept["result"], Path(tmp) / "roster.xlsx").read_bytes()
    return Response(data, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="roster-{rid}.xlsx"'})
