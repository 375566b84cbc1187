"""Scenarios, their results, and the assignment history kept in the store.

An assignment *version* is the ``valid_from`` stamp its rows share; the current version's rows
have ``valid_to`` NULL. Applying a scenario or reverting closes every current row and inserts the
new rows with one stamp, in one ``BEGIN IMMEDIATE`` transaction: SQLite lets one writer in at a
time, and a scenario computed against another version than the current one is refused
(:class:`~geo_grid.errors.Conflict`), so two rebalances at once can never leave a mixed assignment.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pandas as pd
from sqlalchemy import func, insert, select, update

from geo_grid.errors import Conflict, NotFound
from geo_grid.store import schema
from geo_grid.store.build import _records, now_iso
from geo_grid.store.store import Store

ASSIGNMENT_COLUMNS = ("member_id", "building_code", "load", "distance_m", "share", "units")


def _immediate(store: Store):
    conn = store.engine.connect()
    conn.exec_driver_sql("BEGIN IMMEDIATE")
    return conn


def current_version(store: Store) -> str | None:
    """The ``valid_from`` stamp of the current assignment (None if there is none)."""
    a = schema.assignments
    with store.engine.connect() as conn:
        return conn.execute(select(func.max(a.c.valid_from)).where(a.c.valid_to.is_(None))).scalar()


def save_scenario(store: Store, name: str, spec: dict[str, Any], result: dict[str, Any],
                  base_version: str | None) -> str:
    """Keep a computed scenario and its result; returns its new id."""
    sid = uuid.uuid4().hex[:12]
    with store.engine.begin() as conn:
        conn.execute(insert(schema.scenarios).values(
            id=sid, name=name, created_at=now_iso(), status="computed",
            spec=json.dumps(spec, ensure_ascii=False), result=json.dumps(result, ensure_ascii=False),
            base_version=base_version))
    return sid


def get_scenario(store: Store, sid: str) -> dict[str, Any]:
    """A kept scenario: ``id, name, created_at, status, applied_at, spec, result``."""
    s = schema.scenarios
    with store.engine.connect() as conn:
        row = conn.execute(select(s).where(s.c.id == sid)).mappings().first()
    if row is None:
        raise NotFound(f"scenario {sid} does not exist", scenario=sid)
    out = dict(row)
    out["spec"] = json.loads(out["spec"])
    out["result"] = json.loads(out["result"])
    out.pop("fid", None)
    return out


def list_scenarios(store: Store) -> list[dict[str, Any]]:
    """Every kept scenario (id, name, status, times), newest first."""
    s = schema.scenarios
    with store.engine.connect() as conn:
        rows = conn.execute(select(s.c.id, s.c.name, s.c.status, s.c.created_at, s.c.applied_at)
                            .order_by(s.c.fid.desc())).mappings().all()
    return [dict(r) for r in rows]


def _replace_current(conn, rows: pd.DataFrame, scenario_id: str | None, stamp: str) -> None:
    a = schema.assignments
    conn.execute(update(a).where(a.c.valid_to.is_(None)).values(valid_to=stamp))
    new = rows.assign(valid_from=stamp, valid_to=None, scenario_id=scenario_id)
    if len(new):
        conn.execute(insert(a), _records(new, [c.name for c in a.columns if c.name != "fid"]))


def _set_available(conn, ids: list[str], value: bool) -> None:
    if ids:
        m = schema.members
        conn.execute(update(m).where(m.c.id.in_(ids)).values(available=value))


def apply_scenario(store: Store, sid: str) -> dict[str, Any]:
    """Make a computed scenario's assignment current (and its unavailable members unavailable).

    Raises
    ------
    NotFound
        No such scenario.
    Conflict
        The scenario was computed against an assignment that is no longer current, or it is
        already applied.
    """
    s, m = schema.scenarios, schema.members
    with _immediate(store) as conn:
        try:
            row = conn.execute(select(s).where(s.c.id == sid)).mappings().first()
            if row is None:
                raise NotFound(f"scenario {sid} does not exist", scenario=sid)
            if row["status"] == "applied":
                raise Conflict(f"scenario {sid} is already applied")
            a = schema.assignments
            current = conn.execute(select(func.max(a.c.valid_from)).where(a.c.valid_to.is_(None))).scalar()
            if row["base_version"] != current:
                raise Conflict(
                    f"scenario {sid} was computed against assignment {row['base_version']}, "
                    f"but {current} is current now; compute the scenario again")
            result = json.loads(row["result"])
            unavailable = list(result.get("unavailable", []))
            avail = set(conn.execute(select(m.c.id).where(m.c.id.in_(unavailable), m.c.available.is_(True)))
                        .scalars().all()) if unavailable else set()
            flipped = sorted(avail)
            stamp = now_iso()
            rows = pd.DataFrame(result["assignment"], columns=list(ASSIGNMENT_COLUMNS))
            _replace_current(conn, rows, sid, stamp)
            _set_available(conn, flipped, False)
            conn.execute(update(s).where(s.c.id == sid).values(
                status="applied", applied_at=stamp, flipped=json.dumps(flipped)))
            conn.commit()
        except Exception:
            conn.rollback()
            raise
    return {"id": sid, "status": "applied", "applied_at": stamp, "assignment_version": stamp,
            "members_made_unavailable": len(flipped)}


def replace_assignment(store: Store, rows: pd.DataFrame, reason: str = "assign") -> str:
    """Make ``rows`` the current assignment (e.g. a fresh ``geo-grid assign``); returns the stamp."""
    with _immediate(store) as conn:
        try:
            stamp = now_iso()
            _replace_current(conn, rows, None, stamp)
            conn.commit()
        except Exception:
            conn.rollback()
            raise
    return stamp


def revert(store: Store) -> dict[str, Any]:
    """Restore the assignment that was current before the current one.

    The members a reverted scenario made unavailable become available again.

    Raises
    ------
    Conflict
        There is no earlier assignment.
    """
    a, s = schema.assignments, schema.scenarios
    with _immediate(store) as conn:
        try:
            current = conn.execute(select(func.max(a.c.valid_from)).where(a.c.valid_to.is_(None))).scalar()
            cols = [a.c[c] for c in ASSIGNMENT_COLUMNS]
            prev = pd.DataFrame(conn.execute(select(*cols, a.c.scenario_id)
                                             .where(a.c.valid_to == current)).mappings().all())
            if current is None or prev.empty:
                raise Conflict("there is no earlier assignment to revert to")
            sid_now = conn.execute(select(a.c.scenario_id).where(a.c.valid_to.is_(None)).limit(1)).scalar()
            prev_sid = prev["scenario_id"].iloc[0]
            stamp = now_iso()
            _replace_current(conn, prev[list(ASSIGNMENT_COLUMNS)], prev_sid, stamp)
            restored = []
            if sid_now is not None:
                flipped = conn.execute(select(s.c.flipped).where(s.c.id == sid_now)).scalar()
                restored = json.loads(flipped or "[]")
                _set_available(conn, restored, True)
                conn.execute(update(s).where(s.c.id == sid_now).values(status="reverted", flipped="[]"))
            if prev_sid is not None:
                conn.execute(update(s).where(s.c.id == prev_sid).values(status="applied"))
            conn.commit()
        except Exception:
            conn.rollback()
            raise
    return {"status": "reverted", "reverted_scenario": sid_now, "restored_scenario": prev_sid,
            "assignment_version": stamp, "members_made_available": len(restored)}


def history(store: Store, member_id: str | None = None) -> pd.DataFrame:
    """Who covered what, from when to when (optionally for one member)."""
    a = schema.assignments
    q = select(a.c.member_id, a.c.building_code, a.c.load, a.c.valid_from, a.c.valid_to, a.c.scenario_id)
    if member_id is not None:
        q = q.where(a.c.member_id == member_id)
    with store.engine.connect() as conn:
        return pd.read_sql(q.order_by(a.c.valid_from, a.c.building_code), conn)
