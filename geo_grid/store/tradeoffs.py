"""Trade-off curves of kept scenarios, computed once and kept in the store.

A curve (:func:`geo_grid.assign.tradeoff.tradeoff`) takes a dozen rebalances; it is kept in the
``scenario_tradeoffs`` table under a *key*: a hash of everything the curve depends on (the
scenario's spec, the assignment it was computed against, the store's current assignment and
boundary versions, the budgets asked for and :data:`~geo_grid.assign.tradeoff.TRADEOFF_VERSION`).
When any of them changes the key changes, and the curve is computed again; rows of a scenario
no longer kept, and all but the newest :data:`KEEP_PER_SCENARIO` of a scenario, are deleted
when a curve is saved.

The table is created (and declared in ``gpkg_contents``) on the first save, so stores built
before it existed need no migration.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from sqlalchemy import Column, Index, Integer, MetaData, Table, Text, delete, func, inspect, select

from geo_grid.errors import Conflict
from geo_grid.store import history, schema
from geo_grid.store.build import now_iso
from geo_grid.store.store import Store

#: Curves kept per scenario (other budgets, other versions of the store), the newest.
KEEP_PER_SCENARIO = 8

_meta = MetaData()
tradeoffs = Table(
    "scenario_tradeoffs", _meta,
    Column("fid", Integer, primary_key=True, autoincrement=True),
    Column("scenario_id", Text, nullable=False),
    Column("key", Text, nullable=False, unique=True),
    Column("created_at", Text, nullable=False),
    Column("curve", Text, nullable=False),
    Index("ix_scenario_tradeoffs_scenario_id", "scenario_id"),
)

# one computation per key at a time: a second request for the same curve waits for the first
# and reads what it kept
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def tradeoff_key(spec: dict[str, Any], base_version: str | None, assignment_version: str | None,
                 boundary_version: int, budgets: tuple[int, ...] | None) -> str:
    """The cache key of a curve (hex SHA-256 of its inputs)."""
    from geo_grid.assign.tradeoff import TRADEOFF_VERSION

    doc = {"tradeoff": TRADEOFF_VERSION, "spec": spec, "base_version": base_version,
           "assignment_version": assignment_version, "boundary_version": boundary_version,
           "budgets": list(budgets) if budgets is not None else "default"}
    raw = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def get_tradeoff(store: Store, key: str) -> dict[str, Any] | None:
    """The curve kept under ``key`` (None if there is none)."""
    with store.engine.connect() as conn:
        if not inspect(conn).has_table(tradeoffs.name):
            return None
        raw = conn.execute(select(tradeoffs.c.curve).where(tradeoffs.c.key == key)).scalar()
    return json.loads(raw) if raw is not None else None


def save_tradeoff(store: Store, sid: str, key: str, curve: dict[str, Any]) -> None:
    """Keep a curve under ``key`` (replacing one kept under the same key), and drop the curves
    of scenarios no longer kept and the older ones of this scenario."""
    from geo_grid.store.backend import declare

    t, s = tradeoffs, schema.scenarios
    with store.engine.connect() as conn:
        store.backend.begin_write(conn)
        try:
            if not inspect(conn).has_table(t.name):
                schema.create_table(conn, t)
                declare(conn, t, description="trade-off curves of kept scenarios")
            conn.execute(delete(t).where(t.c.key == key))
            conn.execute(t.insert().values(scenario_id=sid, key=key, created_at=now_iso(),
                                           curve=json.dumps(curve, ensure_ascii=False)))
            conn.execute(delete(t).where(t.c.scenario_id.not_in(select(s.c.id))))
            older = (select(t.c.fid).where(t.c.scenario_id == sid)
                     .order_by(t.c.fid.desc()).offset(KEEP_PER_SCENARIO))
            conn.execute(delete(t).where(t.c.fid.in_(older.scalar_subquery())))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise


def count_tradeoffs(store: Store, sid: str) -> int:
    """Curves kept for a scenario."""
    with store.engine.connect() as conn:
        if not inspect(conn).has_table(tradeoffs.name):
            return 0
        return int(conn.execute(select(func.count()).select_from(tradeoffs)
                                .where(tradeoffs.c.scenario_id == sid)).scalar())


def _spec(store: Store, sid: str) -> dict[str, Any]:
    s = schema.scenarios
    with store.engine.connect() as conn:
        raw = conn.execute(select(s.c.spec).where(s.c.id == sid)).scalar()
    return json.loads(raw) if raw is not None else {}


def scenario_tradeoff(store: Store, sid: str, district, district_version: str | None, *,
                      budgets: tuple[int, ...] | None = None,
                      workers: int = 1) -> tuple[dict[str, Any], bool]:
    """The trade-off curve of a kept scenario, from the store or computed and kept.

    The scenario is re-solved on the district as it was computed on: ``district`` itself when
    the scenario's base assignment is ``district_version``, else ``district`` with that
    assignment (:func:`geo_grid.store.history.district_at`).

    Parameters
    ----------
    store : Store
    sid : str
        The scenario id.
    district : District
        The current district, of assignment version ``district_version``.
    district_version : str or None
    budgets : tuple of int, optional
        Move budgets (checked); default the ladder of :func:`geo_grid.assign.tradeoff.tradeoff`.
    workers : int
        Solves run at once.

    Returns
    -------
    (dict, bool)
        The curve (:meth:`Tradeoff.to_dict` plus ``scenario``, ``base_version`` and
        ``computed_at``) and whether it came from the store.

    Raises
    ------
    NotFound
        No such scenario.
    Conflict
        The scenario's base assignment is no longer in the store's history.
    """
    from geo_grid.assign import Scenario
    from geo_grid.assign.tradeoff import check_budgets, tradeoff

    head = history.scenario_head(store, sid)  # NotFound for an unknown id
    if budgets is not None:
        budgets = check_budgets(budgets)
    spec = _spec(store, sid)
    base = head.get("base_version")
    key = tradeoff_key(spec, base, store.assignment_version(), store.boundary_version(), budgets)
    hit = get_tradeoff(store, key)
    if hit is not None:
        return hit, True
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    try:
        with lock:
            hit = get_tradeoff(store, key)  # computed while this request waited
            if hit is not None:
                return hit, True
            if base == district_version:
                d = district
            elif base is not None and not history._version_known(store, base):
                raise Conflict(f"scenario {sid} was computed against assignment {base}, which "
                               f"is no longer in the store: compute the scenario again")
            else:
                d = history.district_at(store, district, base)
            curve = tradeoff(d, Scenario.from_dict(spec), budgets=budgets,
                             workers=workers).to_dict()
            curve = {"scenario": sid, "base_version": base, "computed_at": now_iso(), **curve}
            save_tradeoff(store, sid, key, curve)
            return curve, False
    finally:
        with _locks_guard:
            if _locks.get(key) is lock and not lock.locked():
                _locks.pop(key, None)
