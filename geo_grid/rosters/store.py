"""Rosters kept in the store's ``rosters`` table (the request and the result, as JSON)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import insert, select

from geo_grid.errors import NotFound
from geo_grid.store import schema
from geo_grid.store.build import now_iso


def save_roster(store, spec: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Keep a roster; returns ``{"id", "created_at", "spec", "result"}``."""
    rid = uuid.uuid4().hex[:12]
    row = {"id": rid, "created_at": now_iso(), "spec": spec, "result": result}
    with store.engine.begin() as conn:
        conn.execute(insert(schema.rosters).values(
            id=rid, created_at=row["created_at"], spec=json.dumps(spec, ensure_ascii=False),
            result=json.dumps(result, ensure_ascii=False)))
    return row


def get_roster(store, rid: str) -> dict[str, Any]:
    """A kept roster (raises :class:`~geo_grid.errors.NotFound`)."""
    r = schema.rosters
    with store.engine.connect() as conn:
        row = conn.execute(select(r.c.id, r.c.created_at, r.c.spec, r.c.result)
                           .where(r.c.id == rid)).mappings().first()
    if row is None:
        raise NotFound(f"roster {rid} does not exist", roster=rid)
    return {"id": row["id"], "created_at": row["created_at"], "spec": json.loads(row["spec"]),
            "result": json.loads(row["result"])}


def latest_roster_id(store, scenario: str) -> str | None:
    """The id of the roster kept last whose request names ``scenario`` (``"scenario": id``),
    or None when no roster does. Cheap: only the requests are read, not the results."""
    r = schema.rosters
    with store.engine.connect() as conn:
        # the requests that mention the id at all (plain SQL on every backend), newest first;
        # the one that names it as its scenario is found by reading them
        rows = conn.execute(select(r.c.id, r.c.spec).where(r.c.spec.contains(scenario))
                            .order_by(r.c.fid.desc()))
        for rid, spec in rows:
            try:
                if json.loads(spec).get("scenario") == scenario:
                    return rid
            except (ValueError, AttributeError):
                continue
    return None
