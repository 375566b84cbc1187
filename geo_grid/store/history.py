"""Scenarios, their results, and the assignment history kept in the store.

An assignment *version* is a stamp recorded in ``assignment_versions`` (so a version exists even
when its assignment is empty); its rows carry it as ``valid_from``, and the current version's
rows have ``valid_to`` NULL. Applying a scenario or reverting closes every current row and inserts the
new rows with one stamp, in one ``BEGIN IMMEDIATE`` transaction: SQLite lets one writer in at a
time, and a scenario computed against another version than the current one is refused
(:class:`~geo_grid.errors.Conflict`), so two rebalances at once can never leave a mixed assignment.
"""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select, update
from sqlalchemy import inspect as sa_inspect

from geo_grid.district import street_of
from geo_grid.errors import Conflict, NotFound
from geo_grid.figures import FIGURES_VERSION, Figures
from geo_grid.store import schema
from geo_grid.store.backend import declare_attributes
from geo_grid.store.build import _records, now_iso
from geo_grid.store.changes import notify
from geo_grid.store.store import Store

ASSIGNMENT_COLUMNS = ("member_id", "building_code", "load", "distance_m", "share", "units")
#: Version kinds ``revert`` never takes back: reverts themselves, imports of members or
#: households, boundary edits (which keep the assignment as it was and only mark that the
#: people or the grids changed) and a street added to the store (its rows join the others').
UNDO_SKIP = ("revert", "import", "boundary", "street")


@contextmanager
def _immediate(store: Store):
    """A write transaction taken at once (``BEGIN IMMEDIATE`` on SQLite, the writers' advisory
    lock on PostgreSQL): committed when the block ends, rolled back when it raises."""
    with store.engine.connect() as conn:
        store.backend.begin_write(conn)
        try:
            yield conn
            conn.commit()
        except BaseException:
            conn.rollback()
            raise


def current_version(store: Store) -> str | None:
    """The current assignment version (None if there is none)."""
    return store.assignment_version()


#: Computed scenarios never applied that are kept (the newest); a result weighs 1–2 MB.
KEEP_COMPUTED = 200


def save_scenario(store: Store, name: str, spec: dict[str, Any], result: dict[str, Any],
                  base_version: str | None, keep_computed: int = KEEP_COMPUTED) -> str:
    """Keep a computed scenario and its result; returns its new id.

    Only the newest ``keep_computed`` scenarios that were computed and never applied are kept:
    older ones are deleted in the same transaction. Applied scenarios are always kept (the
    versions and the revert stack refer to them).
    """
    sid = uuid.uuid4().hex[:12]
    s = schema.scenarios
    with store.engine.begin() as conn:
        conn.execute(insert(s).values(
            id=sid, name=name, created_at=now_iso(), status="computed",
            spec=json.dumps(spec, ensure_ascii=False), result=json.dumps(result, ensure_ascii=False),
            base_version=base_version))
        older = (select(s.c.fid).where(s.c.status == "computed")
                 .order_by(s.c.created_at.desc(), s.c.fid.desc()).offset(keep_computed))
        conn.execute(delete(s).where(s.c.fid.in_(older.scalar_subquery())))
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


def scenario_head(store: Store, sid: str) -> dict[str, Any]:
    """A kept scenario without its result: ``id, name, created_at, status, applied_at,
    base_version`` (cheap: the result is not read)."""
    s = schema.scenarios
    with store.engine.connect() as conn:
        row = conn.execute(select(s.c.id, s.c.name, s.c.created_at, s.c.status, s.c.applied_at,
                                  s.c.base_version).where(s.c.id == sid)).mappings().first()
    if row is None:
        raise NotFound(f"scenario {sid} does not exist", scenario=sid)
    return dict(row)


def has_figures(kept: dict[str, Any]) -> bool:
    """Whether a kept scenario carries its figures before and after (of this version)."""
    res = kept.get("result") or {}
    return all(isinstance(res.get(k), dict) and res[k].get("version") == FIGURES_VERSION
               for k in ("figures_before", "figures_after"))


def figures_of(kept: dict[str, Any]) -> tuple[Figures, Figures]:
    """The figures before and after of a kept scenario.

    Raises
    ------
    InvalidInput
        The scenario was kept without them (see :func:`ensure_figures`).
    """
    res = kept["result"]
    return Figures.from_dict(res.get("figures_before")), Figures.from_dict(res.get("figures_after"))


def district_at(store: Store, district, version: str | None):
    """``district`` as it was at assignment ``version``: that version's assignment rows and the
    members made unavailable by the applies since available again."""
    import dataclasses

    members = district.members
    back = unavailable_since(store, version)
    if back and members is not None and len(members):
        members = members.copy()
        members.loc[members["id"].isin(back), "available"] = True
    return dataclasses.replace(district, assignment=assignment_at(store, version),
                               members=members)


def _version_known(store: Store, version: str) -> bool:
    a, v = schema.assignments, schema.assignment_versions
    with store.engine.connect() as conn:
        if conn.execute(select(a.c.fid).where(a.c.valid_from == version).limit(1)).first():
            return True
        return (sa_inspect(conn).has_table(v.name)
                and conn.execute(select(v.c.fid).where(v.c.version == version)).first() is not None)


def ensure_figures(store: Store, kept: dict[str, Any], district) -> dict[str, Any]:
    """A kept scenario with its figures: as kept, or, for a scenario kept before scenarios
    carried their figures, its (deterministic, seeded) rebalance run once more on the district
    as it was computed on (``district_at`` its base version) and the result stored back.

    Raises
    ------
    Conflict
        The scenario's base version is no longer in the store's history.
    """
    if has_figures(kept):
        return kept
    from geo_grid.assign import rebalance

    base = kept.get("base_version")
    if base is not None and base != current_version(store) and not _version_known(store, base):
        raise Conflict(f"scenario {kept['id']} was kept without figures and its base assignment "
                       f"{base} is gone: compute the scenario again")
    result = rebalance(district_at(store, district, base), kept["spec"]).to_dict()
    s = schema.scenarios
    with store.engine.begin() as conn:
        conn.execute(update(s).where(s.c.id == kept["id"]).values(
            result=json.dumps(result, ensure_ascii=False)))
    return dict(kept, result=result)


def list_scenarios(store: Store) -> list[dict[str, Any]]:
    """Every kept scenario (id, name, status, times), newest first."""
    s = schema.scenarios
    with store.engine.connect() as conn:
        rows = conn.execute(select(s.c.id, s.c.name, s.c.status, s.c.created_at, s.c.applied_at)
                            .order_by(s.c.fid.desc())).mappings().all()
    return [dict(r) for r in rows]


def _ensure_versions(conn) -> None:
    schema.create_table(conn, schema.assignment_versions, checkfirst=True)
    # stores built before the table existed: list it in gpkg_contents so GDAL shows it too
    declare_attributes(conn, schema.assignment_versions.name)


def _new_stamp(conn, current: str | None) -> str:
    stamp = now_iso()
    v = schema.assignment_versions
    while stamp == current or conn.execute(select(v.c.fid).where(v.c.version == stamp)).first():
        stamp = now_iso()
    return stamp


def _replace_current(conn, rows: pd.DataFrame, scenario_id: str | None, stamp: str) -> None:
    a = schema.assignments
    conn.execute(update(a).where(a.c.valid_to.is_(None)).values(valid_to=stamp))
    new = rows.assign(valid_from=stamp, valid_to=None, scenario_id=scenario_id)
    if len(new):
        conn.execute(insert(a), _records(new, [c.name for c in a.columns if c.name != "fid"]))


def _push(conn, stamp: str, previous: str | None, kind: str, scenario_id: str | None = None,
          flipped: list[str] | None = None) -> None:
    conn.execute(insert(schema.assignment_versions).values(
        version=stamp, previous=previous, kind=kind, scenario_id=scenario_id,
        flipped=json.dumps(flipped or []), created_at=now_iso()))
    # every assignment version (apply, revert, boundary edit, import of people) tells the
    # services serving the store, when this transaction commits
    notify(conn, "assignment", stamp)


def carry_over(conn, store: Store, kind: str) -> str:
    """A new assignment version of ``kind`` with the current rows carried over unchanged.

    Marks that something the assignment is read with changed (members, households, grids), so
    that a running service reloads and a scenario computed before is refused."""
    _ensure_versions(conn)
    current = store.assignment_version(conn)
    rows = _rows_of(conn, current) if current is not None else pd.DataFrame(
        columns=list(ASSIGNMENT_COLUMNS))
    stamp = _new_stamp(conn, current)
    _replace_current(conn, rows, None, stamp)
    _push(conn, stamp, current, kind)
    return stamp


def _rows_of(conn, version: str | None) -> pd.DataFrame:
    a = schema.assignments
    if version is None:
        return pd.DataFrame(columns=list(ASSIGNMENT_COLUMNS))
    cols = [a.c[c] for c in ASSIGNMENT_COLUMNS]
    rows = conn.execute(select(*cols).where(a.c.valid_from == version)
                        .order_by(a.c.building_code, a.c.member_id)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=list(ASSIGNMENT_COLUMNS))


def assignment_at(store: Store, version: str | None) -> pd.DataFrame:
    """The assignment rows of a version (``ASSIGNMENT_COLUMNS``; empty for an empty version)."""
    with store.engine.connect() as conn:
        return _rows_of(conn, version)


def unavailable_since(store: Store, version: str | None) -> list[str]:
    """Members made unavailable by the applies after ``version`` that are still in force."""
    v = schema.assignment_versions
    with store.engine.connect() as conn:
        if not sa_inspect(conn).has_table(v.name):
            return []
        fid = conn.execute(select(v.c.fid).where(v.c.version == version)).scalar() if version else None
        q = select(v.c.flipped).where(v.c.undone_by.is_(None), v.c.kind == "apply")
        if fid is not None:
            q = q.where(v.c.fid > fid)
        out: set[str] = set()
        for f in conn.execute(q).scalars():
            out |= set(json.loads(f or "[]"))
    return sorted(out)


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
        row = conn.execute(select(s).where(s.c.id == sid)).mappings().first()
        if row is None:
            raise NotFound(f"scenario {sid} does not exist", scenario=sid)
        if row["status"] == "applied":
            raise Conflict(f"scenario {sid} is already applied")
        if json.loads(row["spec"]).get("reinforcements"):
            # reinforcements are not members of the store: their placements cannot become
            # assignment rows until they are kept in the store as a pool
            raise Conflict(f"scenario {sid} places reinforcements, which are not members of "
                           "this store; it can be read and compared but not applied")
        current = store.assignment_version(conn)
        if row["base_version"] != current:
            raise Conflict(
                f"scenario {sid} was computed against assignment {row['base_version']}, "
                f"but {current} is current now; compute the scenario again",
                current=current, base=row["base_version"])
        _ensure_versions(conn)
        result = json.loads(row["result"])
        unavailable = list(result.get("unavailable", []))
        avail = set(conn.execute(select(m.c.id).where(m.c.id.in_(unavailable), m.c.available.is_(True)))
                    .scalars().all()) if unavailable else set()
        flipped = sorted(avail)
        stamp = _new_stamp(conn, current)
        rows = pd.DataFrame(result["assignment"], columns=list(ASSIGNMENT_COLUMNS))
        _replace_current(conn, rows, sid, stamp)
        _set_available(conn, flipped, False)
        _push(conn, stamp, current, "apply", sid, flipped)
        conn.execute(update(s).where(s.c.id == sid).values(
            status="applied", applied_at=stamp, flipped=json.dumps(flipped)))
    return {"id": sid, "status": "applied", "applied_at": stamp, "assignment_version": stamp,
            "members_made_unavailable": len(flipped)}


def replace_assignment(store: Store, rows: pd.DataFrame, reason: str = "assign") -> str:
    """Make ``rows`` the current assignment (e.g. a fresh ``geo-grid assign``); returns the stamp."""
    with _immediate(store) as conn:
        current = store.assignment_version(conn)
        _ensure_versions(conn)
        stamp = _new_stamp(conn, current)
        _replace_current(conn, rows, None, stamp)
        _push(conn, stamp, current, "assign")
    return stamp


def revert(store: Store, expected: str | None = None) -> dict[str, Any]:
    """Take the newest applied step (a scenario apply or a fresh assignment) back.

    ``expected``, when given, is the assignment version the caller saw: if another became
    current since (an apply through another service), nothing is reverted.

    Reverts form a stack: each one restores exactly the assignment current before that step
    (empty or not) and makes the members that step made unavailable available again; the
    next revert takes the step before it back, and so on.

    Raises
    ------
    Conflict
        Nothing is left to revert, or ``expected`` is not the current version.
    """
    s, v = schema.scenarios, schema.assignment_versions
    with _immediate(store) as conn:
        _ensure_versions(conn)
        # an import of people carries the assignment over unchanged: not a step to take back
        step = conn.execute(select(v).where(v.c.kind.notin_(UNDO_SKIP),
                                            v.c.undone_by.is_(None))
                            .order_by(v.c.fid.desc()).limit(1)).mappings().first()
        if step is None:
            raise Conflict("nothing to revert: no applied scenario or assignment change is left "
                           "to take back")
        current = store.assignment_version(conn)
        if expected is not None and expected != current:
            raise Conflict(f"the revert was asked of assignment {expected}, but {current} is "
                           "current now; look at it and revert again", current=current,
                           base=expected)
        stamp = _new_stamp(conn, current)
        rows = _restored(conn, step, current)
        below = conn.execute(select(v.c.scenario_id).where(
            v.c.kind.notin_(UNDO_SKIP), v.c.undone_by.is_(None), v.c.fid < step["fid"])
            .order_by(v.c.fid.desc()).limit(1)).scalar()
        _replace_current(conn, rows, below, stamp)
        restored = json.loads(step["flipped"] or "[]")
        _set_available(conn, restored, True)
        _push(conn, stamp, current, "revert", below)
        conn.execute(update(v).where(v.c.fid == step["fid"]).values(undone_by=stamp))
        sid_now = step["scenario_id"]
        if sid_now is not None:
            conn.execute(update(s).where(s.c.id == sid_now).values(status="reverted", flipped="[]"))
    return {"status": "reverted", "reverted_scenario": sid_now, "restored_scenario": below,
            "assignment_version": stamp, "restored_version": step["previous"],
            "members_made_available": len(restored)}


def _streets(rows: pd.DataFrame) -> np.ndarray:
    return street_of(rows["building_code"]) if len(rows) else np.array([], dtype=object)


def _restored(conn, step, current: str | None) -> pd.DataFrame:
    """The rows a revert of ``step`` makes current: the rows before the step for the streets
    the step changed, and the current rows of every other street (a store may hold several
    streets; a street added, or changed by its own step, since stays as it is)."""
    before, made = _rows_of(conn, step["previous"]), _rows_of(conn, step["version"])
    now = _rows_of(conn, current)
    key = list(ASSIGNMENT_COLUMNS[:2])

    def per_street(rows: pd.DataFrame) -> dict:
        # who covers what and how much: a step that only shifted load changed its street too
        cols = [*key, "load"]
        return {s: set(map(tuple, part[cols].astype(str).to_numpy()))
                for s, part in rows.groupby(_streets(rows))} if len(rows) else {}

    b, m = per_street(before), per_street(made)
    touched = {s for s in set(b) | set(m) if b.get(s) != m.get(s)}
    if not touched:  # a step that changed nothing: what was current before it
        return before
    keep_now = now[~np.isin(_streets(now), list(touched))] if len(now) else now
    back = before[np.isin(_streets(before), list(touched))] if len(before) else before
    parts = [p for p in (back, keep_now) if len(p)]
    if not parts:
        return before.iloc[0:0]
    return pd.concat(parts, ignore_index=True).sort_values(key, ignore_index=True)


def history(store: Store, member_id: str | None = None) -> pd.DataFrame:
    """Who covered what, from when to when (optionally for one member)."""
    a = schema.assignments
    q = select(a.c.member_id, a.c.building_code, a.c.load, a.c.valid_from, a.c.valid_to, a.c.scenario_id)
    if member_id is not None:
        q = q.where(a.c.member_id == member_id)
    with store.engine.connect() as conn:
        # a total order: the same rows read back the same way on every backend
        return pd.read_sql(q.order_by(a.c.valid_from, a.c.building_code, a.c.member_id), conn)
