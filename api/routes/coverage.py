"""Coverage of the current assignment: per grid, community and district, and the fragile grids.

A caller scoped to a community or a grid gets the grids, communities, resilience rows and
fragile grids of its scope only (the street-wide totals stay: they name nobody).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.access import principal, require
from api.models.coverage import Coverage
from api.models.problem import problem_responses
from api.routes._read import STREET_PARAMS, RequestRoute, send_body, snapshot, street_query
from api.views import Body
from geo_grid.auth import policy

# a hot read route: called as a plain endpoint, it checks the caller itself (see RequestRoute)
router = APIRouter(tags=["coverage"], route_class=RequestRoute)


def _scoped(body: Body, who) -> Body:
    cov = json.loads(body.plain)
    ok = lambda code: policy.in_scope(who, code)  # noqa: E731
    cov["grids"] = [g for g in cov["grids"] if ok(g.get("grid_code"))]
    cov["communities"] = [c for c in cov["communities"]
                          if ok(c.get("community_code")) or (who.scope or "").startswith(
                              str(c.get("community_code")))]
    cov["resilience"] = [r for r in cov["resilience"] if ok(r.get("grid_code"))]
    cov["fragile_grids"] = [g for g in cov["fragile_grids"]
                            if ok(g if isinstance(g, str) else g.get("grid_code"))]
    return Body.of(cov)


@router.get("/coverage", response_model=Coverage, openapi_extra=STREET_PARAMS,
             responses=problem_responses(403, 404, 422))
async def coverage(request: Request) -> Response:
    """Coverage of the current assignment per grid, community and district, resilience and the
    fragile grids (figures of :mod:`geo_grid.figures`, computed once per assignment version);
    with ``street``, one street's grids and communities and its own totals."""
    require(request, "read")
    street = street_query(request)
    views = snapshot(request).views
    body = views.coverage if street is None else views.coverage_of_street(street)
    who = principal(request)
    if not policy.in_scope(who, None):
        body = _scoped(body, who)
    return send_body(request, body, "application/json")
