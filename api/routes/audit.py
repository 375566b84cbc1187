"""The audit trail: who changed what, and who read personal data (admins, street users)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.access import needs, principal
from geo_grid.auth import policy

router = APIRouter(tags=["audit"])


class AuditEntry(BaseModel):
    """One entry of the hash-chained, append-only audit trail."""

    model_config = {"json_schema_extra": {"examples": [{
        "seq": 12, "at": "2026-12-01T08:30:00.000000+00:00", "user": "网格办", "role": "street",
        "action": "edit", "route": "POST /api/v1/grids/320214052005002/split",
        "targets": ["320214052005002"], "outcome": "ok", "client": "10.0.0.8",
        "hash": "41ab…"}]}}

    seq: int
    at: str
    user: str
    role: str
    action: str
    route: str
    targets: list[str] = Field(default_factory=list)
    outcome: str
    client: str
    hash: str = Field(..., description="SHA-256 of the previous entry's hash and this entry")


@router.get("/audit", response_model=list[AuditEntry], dependencies=[needs("audit")])
async def list_audit(request: Request,
                     user: str | None = Query(None, max_length=64),
                     action: str | None = Query(None, max_length=32),
                     since: str | None = Query(None, max_length=40, description="ISO-8601, inclusive"),
                     until: str | None = Query(None, max_length=40, description="ISO-8601, exclusive"),
                     code: str | None = Query(None, pattern=r"^\d{9,17}$",
                                              description="entries naming a code under this one"),
                     limit: int = Query(100, ge=1, le=1000),
                     offset: int = Query(0, ge=0, le=10**9)) -> list[dict[str, Any]]:
    """Audit entries, newest first, filtered; a scoped caller sees only entries naming codes in
    its scope."""
    from geo_grid.auth import audit

    who = principal(request)
    if who.scope is not None:
        if code is not None:
            policy.check(who, "audit", code)
        else:
            code = who.scope
    store = request.app.state.service.store
    return await run_in_threadpool(audit.entries, store, user=user, action=action, since=since,
                                   until=until, code_prefix=code, limit=limit, offset=offset)
