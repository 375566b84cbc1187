"""Copying a whole store to another backend (a GeoPackage file into PostGIS, or back).

Every table a store may hold is copied as it is, row ids included: the layers and their
history (boundary versions, ``grids_history``, ``buildings_history``), households, members,
the assignment and its versions, scenarios and trade-off curves, accounts, sessions and the
audit trail (with its head), campaigns, rosters, the reinforcement pool and the posts. The
target is written by the backend's atomic rebuild (a temporary file moved into place, or one
PostgreSQL transaction), so a failed copy leaves the target as it was; a target that already
holds a store is refused unless ``force`` is given, before anything is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import inspect, select

from geo_grid.errors import StoreError
from geo_grid.store.backend import bulk_insert, declare, display, locate, open_backend, store_tables
from geo_grid.store.schema import create_table
from geo_grid.store.store import Store

#: Rows written per statement.
CHUNK = 5000


def migrate(source: Any, target: Any, *, force: bool = False,
            progress: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    """Copy the store at ``source`` to ``target``.

    Parameters
    ----------
    source, target : Path, str or StoreURL
        Store locators: GeoPackage paths or ``postgresql+psycopg://`` URLs.
    force : bool
        Replace a store the target already holds.
    progress : callable, optional
        Called as ``progress(table, 1)`` after each table.

    Returns
    -------
    dict
        ``from``, ``to``, ``tables`` (rows copied per table) and ``seconds``.

    Raises
    ------
    StoreError
        The source does not exist, the target is the source, the target holds a store and
        ``force`` is not given (nothing is written then), or the copy failed (the target is
        left as it was).
    """
    t0 = time.perf_counter()
    src_loc, dst_loc = locate(source), locate(target)
    if str(src_loc) == str(dst_loc):
        raise StoreError(f"the source and the target are the same store ({display(src_loc)})")
    dst = open_backend(dst_loc)
    store = Store(src_loc)  # also brings an older source up to the current schema
    try:
        if dst.exists() and not force:
            raise StoreError(f"the target {display(dst_loc)} already holds a store; give --force "
                             "to replace it (nothing was written)", target=display(dst_loc))
        counts: dict[str, int] = {}

        def fill(conn) -> None:
            with store.engine.connect() as sconn:
                store.backend.begin_read(sconn)  # one snapshot of the whole source
                have = inspect(sconn)
                for table in store_tables():
                    if not have.has_table(table.name):
                        continue
                    present = {c["name"] for c in have.get_columns(table.name)}
                    cols = [c for c in table.columns if c.name in present]
                    create_table(conn, table)
                    rows = [dict(r) for r in sconn.execute(select(*cols)).mappings()]
                    for i in range(0, len(rows), CHUNK):
                        bulk_insert(conn, table, rows[i:i + CHUNK])
                    declare(conn, table)
                    counts[table.name] = len(rows)
                    if progress:
                        progress(table.name, 1)
                sconn.rollback()

        dst.rebuild(fill, carry=False)
    finally:
        store.close()
    return {"from": display(src_loc), "to": display(dst_loc), "tables": counts,
            "seconds": round(time.perf_counter() - t0, 3)}


__all__ = ["migrate"]
