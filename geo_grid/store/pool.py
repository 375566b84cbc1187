"""The reinforcement pool and the posts layer kept in the store.

The pool (table ``reinforcements``) lists the people a street can call on in an emergency
besides its grid members: cadres, auxiliary police, security guards and volunteers, each with a
base (a point), a capacity in the members' load units and an optional window of availability.
A scenario with ``"reinforcements": "pool"`` (and a roster with the same) takes the entries
available at its time; :func:`resolve_scenario_pool` turns that word into the inline list the
core rebalance reads, so the kept scenario records exactly who was used.

The posts layer (table ``posts``) holds checkpoints and the 信息/隔离/后勤 posts of a street;
a roster with ``"posts": "layer"`` staffs them when there are any.

Both are point feature tables in EPSG:4490 (see :mod:`geo_grid.store.schema`). Writes are one
``BEGIN IMMEDIATE`` transaction each: all rows or none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import shapely
from sqlalchemy import delete, insert, select

from geo_grid.errors import InvalidInput
from geo_grid.store import schema
from geo_grid.store.history import _immediate
from geo_grid.store.versions import CST

__all__ = [
    "PoolEntry",
    "StoredPost",
    "available",
    "parse_time",
    "pool_for_period",
    "pool_reinforcements",
    "read_pool",
    "read_posts",
    "resolve_scenario_pool",
    "street_code",
    "write_pool",
    "write_posts",
]


@dataclass(frozen=True)
class PoolEntry:
    """One person of the reinforcement pool, as stored.

    Attributes
    ----------
    id : str
        Unique within the street (never a name).
    street_code, name, phone, kind : str
        ``name`` and ``phone`` are personal data: mask them in any output.
    lon, lat : float
        The base, CGCS2000 degrees (the same as WGS-84 within a metre here).
    capacity : float
        In the members' load units.
    available_from, available_to : datetime or None
        The window the person can be called in (None: open on that side).
    community_code : str or None
        The community the base lies in.
    """

    id: str
    street_code: str
    name: str
    phone: str
    kind: str
    lon: float
    lat: float
    capacity: float
    available_from: datetime | None = None
    available_to: datetime | None = None
    community_code: str | None = None

    def available_at(self, when: datetime) -> bool:
        """Whether ``when`` (aware) is inside the window (both ends included)."""
        return ((self.available_from is None or self.available_from <= when)
                and (self.available_to is None or when <= self.available_to))

    def available_during(self, start: datetime, end: datetime) -> bool:
        """Whether the whole period ``[start, end]`` is inside the window."""
        return ((self.available_from is None or self.available_from <= start)
                and (self.available_to is None or end <= self.available_to))

    def as_reinforcement(self) -> dict[str, Any]:
        """The inline form a scenario reads: ``{id, kind, lon, lat, capacity}``."""
        return {"id": self.id, "kind": self.kind, "lon": self.lon, "lat": self.lat,
                "capacity": self.capacity}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, personal data included (mask before answering)."""
        iso = (lambda d: None if d is None else d.isoformat())  # noqa: E731
        return {"id": self.id, "street_code": self.street_code, "name": self.name,
                "phone": self.phone, "kind": self.kind, "lon": self.lon, "lat": self.lat,
                "capacity": self.capacity, "available_from": iso(self.available_from),
                "available_to": iso(self.available_to), "community_code": self.community_code}


@dataclass(frozen=True)
class StoredPost:
    """One post of the posts layer (lon/lat in CGCS2000 degrees)."""

    id: str
    street_code: str
    kind: str
    lon: float
    lat: float
    per_shift: int = 1
    min_security: int = 0
    name: str | None = None
    community_code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "street_code": self.street_code, "kind": self.kind,
                "lon": self.lon, "lat": self.lat, "per_shift": self.per_shift,
                "min_security": self.min_security, "name": self.name,
                "community_code": self.community_code}


def parse_time(value: str | datetime, what: str = "time") -> datetime:
    """An ISO 8601 time as an aware datetime; without a zone it is China Standard Time.

    Raises
    ------
    InvalidInput
        Not an ISO 8601 date or time (the message names ``what``).
    """
    if isinstance(value, datetime):
        when = value
    else:
        raw = str(value).strip()
        try:
            when = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw)
        except ValueError:
            raise InvalidInput(f"{what} {value!r} is not an ISO 8601 time (e.g. "
                               "2026-11-01T09:30:00+08:00 or 2026-11-01)", value=str(value)) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=CST)


def street_code(store) -> str:
    """The code of the store's street ('' for a store without one)."""
    with store.engine.connect() as conn:
        return conn.execute(select(schema.street.c.code).limit(1)).scalar() or ""


def _time(text: str | None) -> datetime | None:
    return None if not text else parse_time(text)


def read_pool(store, street: str | None = None) -> list[PoolEntry]:
    """Every pool entry (of one street), ordered by id."""
    t = schema.reinforcement_pool
    q = select(t.c.id, t.c.street_code, t.c.name, t.c.phone, t.c.kind, t.c.geom, t.c.capacity,
               t.c.available_from, t.c.available_to, t.c.community_code).order_by(t.c.id)
    if street is not None:
        q = q.where(t.c.street_code == street)
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [PoolEntry(id=r.id, street_code=r.street_code, name=r.name, phone=r.phone or "",
                      kind=r.kind, lon=float(r.geom.x), lat=float(r.geom.y),
                      capacity=float(r.capacity), available_from=_time(r.available_from),
                      available_to=_time(r.available_to), community_code=r.community_code)
            for r in rows]


def write_pool(store, entries: Iterable[PoolEntry], *, replace: bool = False) -> dict[str, int]:
    """Write pool entries in one transaction: an entry whose ``(street_code, id)`` is stored
    replaces it, the others are added; with ``replace`` the streets' pools named by the
    entries are emptied first. Returns ``{"added", "updated", "removed"}``."""
    t = schema.reinforcement_pool
    entries = list(entries)
    iso = (lambda d: None if d is None else d.isoformat())  # noqa: E731
    rows = [{"street_code": e.street_code, "id": e.id, "name": e.name, "phone": e.phone,
             "kind": e.kind, "capacity": float(e.capacity), "available_from": iso(e.available_from),
             "available_to": iso(e.available_to), "community_code": e.community_code,
             "geom": shapely.Point(e.lon, e.lat)} for e in entries]
    return _write(store, t, rows, replace)


def _write(store, t, rows: list[dict[str, Any]], replace: bool) -> dict[str, int]:
    streets = sorted({r["street_code"] for r in rows})
    with _immediate(store) as conn:
        removed = updated = 0
        if replace:
            for s in streets:
                removed += conn.execute(delete(t).where(t.c.street_code == s)).rowcount
        else:
            for r in rows:
                updated += conn.execute(delete(t).where(
                    (t.c.street_code == r["street_code"]) & (t.c.id == r["id"]))).rowcount
        if rows:
            conn.execute(insert(t), rows)
    return {"added": len(rows) - updated, "updated": updated, "removed": removed}


def available(entries: Iterable[PoolEntry], when: datetime) -> list[PoolEntry]:
    """The entries available at ``when``."""
    return [e for e in entries if e.available_at(when)]


def pool_reinforcements(store, at: str | datetime | None = None) -> tuple[list[dict], datetime]:
    """The store street's pool entries available at ``at`` (default: now), as the inline
    reinforcements of a scenario; and the time used."""
    when = parse_time(at, "at") if at is not None else datetime.now(UTC).astimezone(CST)
    entries = available(read_pool(store, street_code(store)), when)
    return [e.as_reinforcement() for e in entries], when


def pool_for_period(store, start: datetime, end: datetime) -> list[PoolEntry]:
    """The store street's pool entries available during the whole of ``[start, end]``."""
    return [e for e in read_pool(store, street_code(store)) if e.available_during(start, end)]


def resolve_scenario_pool(store, spec: Mapping[str, Any]) -> dict[str, Any]:
    """A scenario spec with ``"reinforcements": "pool"`` replaced by the pool entries available
    at its ``at`` (default: now, then recorded in ``at``), and ``reinforcements_from: "pool"``;
    any other spec is returned as it is (a copy).

    The kept scenario then names every entry used, so its pages never read the pool again.

    Raises
    ------
    InvalidInput
        ``at`` is not an ISO 8601 time.
    """
    out = dict(spec)
    if out.get("reinforcements") != "pool":
        if out.get("at") is not None:
            out["at"] = parse_time(out["at"], "at").isoformat()
        return out
    items, when = pool_reinforcements(store, out.get("at"))
    out["reinforcements"] = items
    out["reinforcements_from"] = "pool"
    out["at"] = when.isoformat()
    return out


def read_posts(store, street: str | None = None) -> list[StoredPost]:
    """Every stored post (of one street), ordered by id."""
    t = schema.posts
    q = select(t.c.id, t.c.street_code, t.c.kind, t.c.geom, t.c.per_shift, t.c.min_security,
               t.c.name, t.c.community_code).order_by(t.c.id)
    if street is not None:
        q = q.where(t.c.street_code == street)
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [StoredPost(id=r.id, street_code=r.street_code, kind=r.kind, lon=float(r.geom.x),
                       lat=float(r.geom.y), per_shift=int(r.per_shift),
                       min_security=int(r.min_security), name=r.name,
                       community_code=r.community_code) for r in rows]


def write_posts(store, posts: Iterable[StoredPost], *, replace: bool = False) -> dict[str, int]:
    """Write posts in one transaction, as :func:`write_pool` writes pool entries."""
    rows = [{"street_code": p.street_code, "id": p.id, "kind": p.kind, "name": p.name,
             "community_code": p.community_code, "per_shift": int(p.per_shift),
             "min_security": int(p.min_security), "geom": shapely.Point(p.lon, p.lat)}
            for p in posts]
    return _write(store, schema.posts, rows, replace)
