"""Writing imported members and households into a store, in one transaction.

Both writers run in one ``BEGIN IMMEDIATE`` transaction (all or nothing) and end by recording a
new assignment version of kind ``import`` that carries the current assignment rows over
unchanged: the service reloads its snapshot when the store's assignment version changes, so a
running ``serve`` sees the imported people without a restart.

ID numbers are never stored: ``member_keys`` keeps a SHA-256 digest of each member's ID number
(enough to recognise the same person in the next roster), created on first use.
"""

from __future__ import annotations

import hashlib

import pandas as pd
from sqlalchemy import Column, Integer, MetaData, Table, Text, delete, insert, select, update

from geo_grid.store import schema
from geo_grid.store.backend import declare_attributes
from geo_grid.store.build import _records
from geo_grid.store.history import _immediate, carry_over
from geo_grid.store.store import Store

__all__ = ["id_digest", "member_keys", "read_member_keys", "replace_households", "write_members"]

_meta = MetaData()

#: Member id → digest of the member's ID number (see :func:`id_digest`).
member_keys = Table(
    "member_keys", _meta,
    Column("fid", Integer, primary_key=True, autoincrement=True),
    Column("member_id", Text, nullable=False, unique=True),
    Column("id_digest", Text, nullable=False, unique=True),
)


def id_digest(id_number: str) -> str:
    """The digest kept for an ID number (upper case, no spaces) instead of the number."""
    return hashlib.sha256(f"geo-grid member:{id_number.strip().upper()}".encode()).hexdigest()


def _ensure_keys(conn) -> None:
    schema.create_table(conn, member_keys, checkfirst=True)
    declare_attributes(conn, member_keys.name)


def read_member_keys(store: Store) -> dict[str, str]:
    """Digest → member id of every member imported with an ID number."""
    from sqlalchemy import inspect

    with store.engine.connect() as conn:
        if not inspect(conn).has_table(member_keys.name):
            return {}
        rows = conn.execute(select(member_keys.c.id_digest, member_keys.c.member_id)).all()
    return dict(rows)


def _bump(conn, store: Store) -> str:
    """A new assignment version of kind ``import`` with the current rows carried over."""
    return carry_over(conn, store, "import")


def write_members(store: Store, new: pd.DataFrame, updates: pd.DataFrame,
                  keys: dict[str, str]) -> str:
    """Insert new members and update existing ones in one transaction.

    Parameters
    ----------
    store : Store
    new : DataFrame
        Rows with every column of the ``members`` table.
    updates : DataFrame
        ``id`` plus the columns to change (``name, phone, role, grid_code`` and, when placed,
        ``home_building, x, y``; NaN leaves a value as it is).
    keys : dict
        Member id → ID-number digest to record.

    Returns
    -------
    str
        The new assignment version.
    """
    m = schema.members
    with _immediate(store) as conn:
        if len(new):
            conn.execute(insert(m), _records(new, [c.name for c in m.columns if c.name != "fid"]))
        for rec in updates.to_dict("records"):
            mid = rec.pop("id")
            vals = {k: v for k, v in rec.items() if not (v is None or (isinstance(v, float)
                                                                      and v != v))}
            if vals:
                conn.execute(update(m).where(m.c.id == mid).values(**vals))
        if keys:
            _ensure_keys(conn)
            k = member_keys
            conn.execute(delete(k).where(k.c.member_id.in_(list(keys))))
            conn.execute(delete(k).where(k.c.id_digest.in_(list(keys.values()))))
            conn.execute(insert(k), [{"member_id": a, "id_digest": b} for a, b in keys.items()])
        stamp = _bump(conn, store)
    return stamp


def replace_households(store: Store, building_codes: list[str], rows: pd.DataFrame) -> str:
    """Replace the households of ``building_codes`` by ``rows`` and set those buildings'
    ``households`` count to match, in one transaction.

    Parameters
    ----------
    building_codes : list of str
        The buildings whose households are replaced (a building with no row gets 0).
    rows : DataFrame
        Every column of the ``households`` table but ``id`` (ids are given here, above every
        id in use, so they never collide).

    Returns
    -------
    str
        The new assignment version.
    """
    h, b = schema.households, schema.buildings
    with _immediate(store) as conn:
        top = conn.execute(select(h.c.id).order_by(h.c.id.desc()).limit(1)).scalar() or 0
        for i in range(0, len(building_codes), 500):
            conn.execute(delete(h).where(h.c.building_code.in_(building_codes[i:i + 500])))
        if len(rows):
            out = rows.assign(id=range(int(top) + 1, int(top) + 1 + len(rows)))
            conn.execute(insert(h), _records(out, [c.name for c in h.columns if c.name != "fid"]))
        counts = rows["building_code"].value_counts() if len(rows) else pd.Series(dtype=int)
        for code in building_codes:
            conn.execute(update(b).where(b.c.code == code).values(
                households=int(counts.get(code, 0))))
        stamp = _bump(conn, store)
    return stamp
