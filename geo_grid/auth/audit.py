"""The audit trail: who did what, where, when, and how it ended — append-only and hash-chained.

Each entry's ``hash`` is the SHA-256 of the previous entry's hash followed by the canonical
JSON of the entry itself (``seq, at, user, role, action, route, targets, outcome, client``), the
first entry chaining to :data:`GENESIS`. Changing any field of an entry breaks its hash;
deleting an entry leaves a gap in ``seq``; and the head of the chain (the last hash and the
number of entries) is also kept in ``geo_grid_meta`` (key ``audit_head``), updated in the same
transaction as the entry, so deleting the newest entries is seen too. :func:`verify` walks the
chain and names the first entry that does not hold.

This makes tampering *evident*, not impossible: whoever can write the file can also rewrite the
whole chain and its head. Keeping a copy of the head elsewhere (a log, a printout) closes that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from geo_grid.store import schema
from geo_grid.store.build import now_iso
from geo_grid.store.history import _immediate
from geo_grid.store.store import Store

#: The hash the first entry chains to.
GENESIS = "0" * 64
#: The ``geo_grid_meta`` key of the chain's head: ``{"count": n, "hash": "..."}``.
HEAD_KEY = "audit_head"
_FIELDS = ("seq", "at", "user", "role", "action", "route", "targets", "outcome", "client")


def _canonical(entry: dict[str, Any]) -> str:
    """The entry's fields as compact JSON, in a fixed order, non-ASCII kept as is."""
    return json.dumps([entry[k] for k in _FIELDS], ensure_ascii=False, separators=(",", ":"))


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """``sha256(prev_hash + canonical JSON of the entry)`` as hex.

    Parameters
    ----------
    prev_hash : str
        The previous entry's hash (:data:`GENESIS` for the first).
    entry : dict
        ``seq, at, user, role, action, route, targets`` (a list of str), ``outcome, client``.

    Returns
    -------
    str
    """
    return hashlib.sha256((prev_hash + _canonical(entry)).encode("utf-8")).hexdigest()


def _head(conn: Connection) -> dict[str, Any] | None:
    m = schema.meta
    raw = conn.execute(select(m.c.value).where(m.c.key == HEAD_KEY)).scalar_one_or_none()
    return json.loads(raw) if raw else None


def _append(conn: Connection, fields: dict[str, Any]) -> int:
    a, m = schema.audit, schema.meta
    head = _head(conn)
    if head is None:
        # no head yet: chain to the newest row (none in a new trail)
        last = conn.execute(select(a.c.seq, a.c.hash).order_by(a.c.seq.desc()).limit(1)).first()
        head = {"count": last.seq, "hash": last.hash} if last else {"count": 0, "hash": GENESIS}
    # the head, not the table, says what comes next: an entry appended after the newest rows
    # were deleted leaves a gap that verify() reports
    entry = {"seq": int(head["count"]) + 1, "at": now_iso(), **fields}
    digest = entry_hash(head["hash"], entry)
    conn.execute(insert(a).values(**{**entry, "targets": json.dumps(entry["targets"],
                                                                     ensure_ascii=False)},
                                  hash=digest))
    value = json.dumps({"count": entry["seq"], "hash": digest})
    done = conn.execute(update(m).where(m.c.key == HEAD_KEY).values(value=value)).rowcount
    if not done:
        conn.execute(insert(m).values(key=HEAD_KEY, value=value))
    return entry["seq"]


def record(store: Store, *, user: str, role: str, action: str, route: str,
           targets: Iterable[str] = (), outcome: str, client: str = "",
           conn: Connection | None = None) -> int:
    """Append one entry to the audit trail.

    Parameters
    ----------
    store : Store
        The store.
    user, role : str
        Who acted (an account name, ``anonymous``, or ``cli:<login>`` for the command line).
    action : str
        What kind of thing was done (an action of :data:`geo_grid.auth.policy.ACTIONS`).
    route : str
        Where: the HTTP method and path, or the command.
    targets : iterable of str
        The codes or names acted on (a grid, a building, a user...).
    outcome : str
        How it ended (``ok``, ``denied``, ``error: ...``, an HTTP status...).
    client : str
        The client's address, if any.
    conn : Connection, optional
        A write transaction already open (``BEGIN IMMEDIATE``): the entry is then written in
        it, and kept only if it commits. Without one the entry is written in its own.

    Returns
    -------
    int
        The entry's ``seq`` (1, 2, ...).
    """
    fields = {"user": str(user), "role": str(role), "action": str(action), "route": str(route),
              "targets": [str(t) for t in targets], "outcome": str(outcome),
              "client": str(client or "")}
    if conn is not None:
        return _append(conn, fields)
    with _immediate(store) as c:
        return _append(c, fields)


def _iso(value: str | datetime | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat(timespec="microseconds")


def _row(r) -> dict[str, Any]:
    out = {k: getattr(r, k) for k in _FIELDS}
    out["targets"] = json.loads(r.targets)
    out["hash"] = r.hash
    return out


def entries(store: Store, *, user: str | None = None, action: str | None = None,
            since: str | datetime | None = None, until: str | datetime | None = None,
            code_prefix: str | None = None, limit: int = 100, offset: int = 0
            ) -> list[dict[str, Any]]:
    """Entries of the trail, newest first.

    Parameters
    ----------
    store : Store
        The store.
    user, action : str, optional
        Only this user's entries, only this action's.
    since, until : str or datetime, optional
        Only entries at or after ``since`` and before ``until`` (ISO 8601, UTC, like ``at``).
    code_prefix : str, optional
        Only entries with a target starting with it (a community code finds its grids').
    limit, offset : int
        The page.

    Returns
    -------
    list of dict
        ``seq, at, user, role, action, route, targets`` (list), ``outcome, client, hash``.
    """
    a = schema.audit
    q = select(a)
    if user is not None:
        q = q.where(a.c.user == user)
    if action is not None:
        q = q.where(a.c.action == action)
    if since is not None:
        q = q.where(a.c.at >= _iso(since))
    if until is not None:
        q = q.where(a.c.at < _iso(until))
    if code_prefix:
        # targets is a JSON array of strings: a target starting with the prefix appears in it
        # as a double quote followed by the prefix
        q = q.where(a.c.targets.contains(json.dumps(str(code_prefix), ensure_ascii=False)[:-1],
                                         autoescape=True))
    q = q.order_by(a.c.seq.desc()).limit(max(0, int(limit))).offset(max(0, int(offset)))
    with store.engine.connect() as conn:
        return [_row(r) for r in conn.execute(q)]


def count(store: Store) -> int:
    """The number of entries in the trail."""
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.audit)).scalar() or 0)


def verify(store: Store) -> tuple[bool, int | None, str]:
    """Walk the chain and check every entry and the head.

    Parameters
    ----------
    store : Store
        The store.

    Returns
    -------
    tuple of (bool, int or None, str)
        ``(True, None, "audit trail intact: N entries")``, or False, the ``seq`` of the first
        entry that does not hold, and what is wrong: a changed entry (its hash does not match
        its fields and the entry before it), a missing entry (a gap in ``seq``), or a head
        mismatch (the trail ends before, or elsewhere than, the head kept in
        ``geo_grid_meta``: the newest entries were deleted or rewritten).
    """
    a = schema.audit
    prev, expected, n = GENESIS, 1, 0
    with store.engine.connect() as conn:
        store.backend.begin_read(conn)  # one read snapshot: the rows and the head agree
        try:
            head = _head(conn)
            for r in conn.execute(select(a).order_by(a.c.seq)):
                if r.seq != expected:
                    return (False, expected,
                            f"audit entry {expected} is missing (the next entry is {r.seq})")
                try:
                    ok = entry_hash(prev, _row(r)) == r.hash
                except (TypeError, ValueError):  # targets no longer JSON
                    ok = False
                if not ok:
                    return (False, r.seq, f"audit entry {r.seq} was changed: its hash does not "
                                          "match its fields and the entry before it")
                prev, expected, n = r.hash, expected + 1, n + 1
        finally:
            conn.rollback()
    head = head or {"count": 0, "hash": GENESIS}
    if int(head["count"]) != n or head["hash"] != prev:
        if int(head["count"]) > n:
            return (False, n + 1, f"audit head mismatch: the head says {head['count']} entries, "
                                  f"the trail ends at entry {n} (entries {n + 1}.."
                                  f"{head['count']} were removed)")
        return (False, n, f"audit head mismatch: the trail has {n} entries, the head says "
                          f"{head['count']} ending in hash {head['hash'][:12]}…")
    return True, None, f"audit trail intact: {n} entries"


__all__ = ["GENESIS", "HEAD_KEY", "count", "entries", "entry_hash", "record", "verify"]


def cli_user() -> str:
    """The audit trail's name for whoever runs a command: ``cli:<login>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no login name (a container): say so instead
        return "cli:unknown"


def record_command(db, *, action: str, command: str, targets: Iterable[str] = (),
                   outcome: str = "ok") -> None:
    """Record a state change made on the command line (``cli:<login>``, role ``admin``: whoever
    can run commands on the store's machine can write its file).

    Parameters
    ----------
    db : Path or str
        The store.
    action : str
        One of :data:`geo_grid.auth.policy.ACTIONS`.
    command : str
        The command, e.g. ``geo-grid assign``.
    targets : iterable of str
        The codes or names acted on.
    outcome : str
        ``ok`` or the error code.
    """
    store = Store(db)
    try:
        record(store, user=cli_user(), role="admin", action=action, route=command,
               targets=targets, outcome=outcome)
    finally:
        store.close()

