"""Where a store lives: a GeoPackage file or a PostgreSQL/PostGIS database, behind one object.

Every store is named by a *locator*: a path (``data/jiangxi.gpkg``, the embedded GeoPackage
store) or a database URL (``postgresql+psycopg://user@host:5432/dbname``, a PostGIS store).
:func:`locate` turns a command-line or environment value into one (a :class:`~pathlib.Path`
or a :class:`StoreURL`), and :func:`open_backend` gives the object that knows what differs:

- how an engine is opened and configured (SQLite functions, WAL and busy timeout on the file;
  a connection pool on the server);
- how a write transaction is taken (``BEGIN IMMEDIATE`` on SQLite; a transaction-scoped
  advisory lock, ``pg_advisory_xact_lock``, on PostgreSQL, so writers queue one after the other
  as they do on the file) and a consistent read (``BEGIN`` on SQLite, ``REPEATABLE READ``);
- how a table is declared (``gpkg_contents`` and an R-tree index on the GeoPackage, a GiST
  index on PostGIS);
- the store lock that keeps a rebuild from replacing the store under a running service (a
  ``flock`` beside the file, a session advisory lock on the database);
- whether the store exists, and the atomic rebuild: a temporary file moved into place, or one
  PostgreSQL transaction that drops and recreates the tables (DDL is transactional there, so a
  failed rebuild leaves the old store untouched and readers see the old store until the commit).

The geometry codec is the column type (:mod:`geo_grid.store.geometry`); everything else is
SQLAlchemy Core that runs on both.

A PostGIS store keeps its tables in the connection's schema (``public`` unless the URL says
``?options=-csearch_path%3D<schema>``), so several streets can later share one database, one
schema each.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, insert, inspect, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool

from geo_grid.errors import StoreError

Fill = Callable[[Connection], None]
_URL_PREFIXES = ("postgresql://", "postgresql+psycopg://", "postgres://")


class StoreURL(str):
    """The locator of a PostGIS store: a ``postgresql+psycopg://`` URL.

    It answers the few questions code asks of a store path (``exists()``, ``resolve()``,
    ``name``), so a locator can be passed wherever a path was.
    """

    def exists(self) -> bool:
        """Whether the database holds a store."""
        return PostgisBackend(self).exists()

    def resolve(self) -> StoreURL:
        """The URL itself (a URL names one store wherever it is read)."""
        return self

    @property
    def name(self) -> str:
        """The database name."""
        return make_url(str(self)).database or ""

    def display(self) -> str:
        """The URL with its password hidden."""
        return make_url(str(self)).render_as_string(hide_password=True)


def is_url(value: Any) -> bool:
    """Whether ``value`` is a database URL rather than a path."""
    return str(value).startswith(_URL_PREFIXES)


def locate(value: Any) -> Path | StoreURL:
    """The locator named by ``value``: a :class:`StoreURL` for a PostgreSQL URL (the driver is
    always psycopg 3), a :class:`~pathlib.Path` otherwise."""
    if isinstance(value, StoreURL | Path):
        return value
    s = str(value)
    if is_url(s):
        scheme, rest = s.split("://", 1)
        return StoreURL(f"postgresql+psycopg://{rest}")
    return Path(s)


def display(locator: Any) -> str:
    """A locator for messages (a URL without its password)."""
    loc = locate(locator)
    return loc.display() if isinstance(loc, StoreURL) else str(loc)


def store_tables() -> list[Table]:
    """Every table a store may hold, in creation order (the built ones, those created on
    opening, and those created on first use)."""
    from geo_grid.store import schema
    from geo_grid.store.people import member_keys
    from geo_grid.store.tradeoffs import tradeoffs

    return [*schema.metadata.sorted_tables, *schema.late_features.sorted_tables, member_keys,
            tradeoffs]


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """Insert one row unless its unique key is taken (``INSERT ... ON CONFLICT DO NOTHING``);
    whether it was inserted."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        # the driver's row count is not kept for an INSERT with RETURNING (which SQLAlchemy
        # adds for the primary key): ask for the row instead
        stmt = pg_insert(table).values(**values).on_conflict_do_nothing()
        return conn.execute(stmt.returning(*table.primary_key.columns)).first() is not None
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return conn.execute(sqlite_insert(table).values(**values).on_conflict_do_nothing()
                        ).rowcount == 1


def bulk_insert(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Insert many rows: one ``INSERT`` with many parameter sets, or, for an attribute table on
    PostgreSQL, ``COPY FROM STDIN`` (several times faster for the hundred thousand households
    of a street). The rows are written in the connection's transaction either way."""
    if not rows:
        return
    if conn.dialect.name != "postgresql" or "geom" in table.c:
        conn.execute(insert(table), rows)
        return
    names = list(rows[0])
    cols = ", ".join(f'"{c}"' for c in names)
    cursor = conn.connection.driver_connection.cursor()
    try:
        with cursor.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as copy:
            for r in rows:
                copy.write_row([r[c] for c in names])
    finally:
        cursor.close()


def declare(conn: Connection, table: Table, *, description: str | None = None,
            bounds=None) -> None:
    """Declare a table the store just created: in ``gpkg_contents`` (with its geometry column
    and R-tree index for a feature table) on the GeoPackage, a GiST index on its geometry on
    PostGIS. Declaring a table twice changes nothing."""
    geom = table.c.get("geom")
    if conn.dialect.name == "postgresql":
        if geom is not None:
            conn.exec_driver_sql(f'CREATE INDEX IF NOT EXISTS "idx_{table.name}_geom" '
                                 f'ON "{table.name}" USING gist (geom)')
        return
    from geo_grid.store.gpkg import add_rtree_index, register_table

    if geom is None:
        register_table(conn, table.name, description=description or table.name)
        return
    register_table(conn, table.name, geometry_column="geom",
                   geometry_type=geom.type.geometry_type, bounds=bounds,
                   description=description or table.name)
    add_rtree_index(conn, table.name)


def widen_bounds(conn: Connection, name: str, bounds) -> None:
    """Grow a feature table's declared extent to hold ``bounds`` (minx, miny, maxx, maxy), after
    rows were added outside it (GDAL and QGIS read the extent of a GeoPackage layer from
    ``gpkg_contents``; PostGIS computes it, so nothing is written there)."""
    if conn.dialect.name == "postgresql":
        return
    from geo_grid.store.gpkg import widen_extent

    widen_extent(conn, name, bounds)


def declare_attributes(conn: Connection, name: str) -> None:
    """List an attribute table in ``gpkg_contents`` if it is not there yet (GeoPackage only:
    GDAL then shows it too); nothing on PostGIS."""
    if conn.dialect.name == "postgresql":
        return
    conn.execute(text(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
        "VALUES (:t, 'attributes', :t, :t)"), {"t": name})


class GpkgBackend:
    """The embedded store: one GeoPackage file (SQLite)."""

    kind = "gpkg"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.locator: Path = self.path

    def __str__(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        """Whether the file exists."""
        return self.path.exists()

    def engine(self) -> Engine:
        """An engine on the file (GDAL's SQL functions, busy timeout, WAL)."""
        from geo_grid.store.gpkg import configure_engine

        return configure_engine(create_engine(f"sqlite:///{self.path}"))

    def begin_write(self, conn: Connection) -> None:
        """Start a write transaction that holds SQLite's single write lock at once."""
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    def begin_read(self, conn: Connection) -> None:
        """Start a read transaction: one WAL snapshot for every read until it ends."""
        conn.exec_driver_sql("BEGIN")

    def hold_shared(self) -> Callable[[], None]:
        """Hold the store's lock shared (a service); returns the release."""
        from geo_grid.store.lock import hold_shared

        return hold_shared(self.path)

    def exclusive(self):
        """Hold the store's lock alone (a rebuild); never waits."""
        from geo_grid.store.lock import exclusive

        return exclusive(self.path)

    def rebuild(self, fill: Fill, *, carry: bool = True) -> None:
        """Write a new store with ``fill`` and put it in place of the old one, atomically.

        ``fill`` gets a connection, inside one transaction, to an empty GeoPackage of a
        temporary file beside the store; the file is moved over the store only when it is
        complete (``os.replace``), after the accounts, sessions and audit trail of the old
        store were copied into it (``carry``). The store's lock is held alone throughout.
        """
        from geo_grid.store.build import remove_stale_builds

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.exclusive():
            remove_stale_builds(self.path)
            self._write_and_replace(fill, carry)

    def _write_and_replace(self, fill: Fill, carry: bool) -> None:
        from geo_grid.store.gpkg import carry_accounts, configure_engine, init_gpkg

        path = self.path
        tmp = path.with_name(f".{path.name}.building-{os.getpid()}")
        tmp.unlink(missing_ok=True)
        try:
            # the file is temporary (moved into place whole, or deleted): its rollback journal
            # is kept in memory, so a killed build leaves only the file itself behind
            engine = configure_engine(create_engine(f"sqlite:///{tmp}"), wal=False,
                                      journal_mode="MEMORY")
            try:
                with engine.begin() as conn:
                    init_gpkg(conn)
                    fill(conn)
            finally:
                engine.dispose()
            if carry and path.exists():
                carry_accounts(path, tmp)
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            os.replace(tmp, path)
        except Exception as exc:
            tmp.unlink(missing_ok=True)
            raise _build_error(path, exc) from exc


def _build_error(where: Any, exc: Exception) -> Exception:
    if isinstance(exc, StoreError):
        return exc
    # a database error carries the statement and its parameters (megabytes of geometry
    # bytes); its first line says what went wrong
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return StoreError(f"building the store {display(where)} failed: {detail}")


# session advisory locks this process holds shared: lock key -> [connection, holders]
_PG_HELD: dict[int, list] = {}
_PG_GUARD = threading.Lock()


class PostgisBackend:
    """A store in a PostgreSQL database with PostGIS."""

    kind = "postgis"

    def __init__(self, url: str) -> None:
        self.locator: StoreURL = locate(url)  # type: ignore[assignment]
        self.path = self.locator
        self.url = make_url(str(self.locator))
        # one 63-bit key per database and search path: the store lock (services shared, a
        # rebuild alone) and, next to it, the writers' lock (one write transaction at a time)
        ident = f"{self.url.host}:{self.url.port}/{self.url.database}?{self.url.query}"
        self.key = int.from_bytes(hashlib.sha256(ident.encode()).digest()[:8], "big") >> 2
        self.write_key = self.key + 1

    def __str__(self) -> str:
        return self.locator.display()

    def engine(self, **kw) -> Engine:
        """A pooled engine on the database."""
        return create_engine(self.url, pool_pre_ping=True, **kw)

    def _lock_engine(self) -> Engine:
        # a connection that holds a session lock must really close when released
        return create_engine(self.url, poolclass=NullPool, connect_args={
            "application_name": f"geo-grid pid {os.getpid()}"})

    def exists(self) -> bool:
        """Whether the database exists and holds a store (its metadata table)."""
        engine = self.engine(poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return inspect(conn).has_table("geo_grid_meta")
        except Exception:
            return False
        finally:
            engine.dispose()

    def begin_write(self, conn: Connection) -> None:
        """Start a write transaction once no other writer holds one (the writers' advisory
        lock, released at commit or rollback): writes queue as on SQLite."""
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self.write_key})

    def begin_read(self, conn: Connection) -> None:
        """Start a read transaction with one snapshot for every read until it ends."""
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def hold_shared(self) -> Callable[[], None]:
        """Hold the store's advisory lock shared (a service, for its lifetime); returns the
        release. The server drops the lock when the holding connection ends, however the
        process ends.

        Raises
        ------
        StoreError
            A rebuild holds the lock right now.
        """
        key = self.key
        with _PG_GUARD:
            if key in _PG_HELD:
                _PG_HELD[key][1] += 1
            else:
                engine = self._lock_engine()
                conn = engine.connect()
                got = conn.execute(text("SELECT pg_try_advisory_lock_shared(:k)"),
                                   {"k": key}).scalar()
                conn.commit()  # the session lock stays; no transaction is left open
                if not got:
                    conn.close()
                    engine.dispose()
                    raise StoreError(f"the store {self} is being rebuilt right now; start the "
                                     "service when the build has finished")
                _PG_HELD[key] = [conn, 1, engine]

        def release() -> None:
            with _PG_GUARD:
                entry = _PG_HELD.get(key)
                if entry is None:
                    return
                entry[1] -= 1
                if entry[1] == 0:
                    del _PG_HELD[key]
                    entry[0].close()  # closing the session drops the lock
                    entry[2].dispose()

        return release

    def _holder(self, conn: Connection) -> str:
        row = conn.execute(text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid() "
            "AND ((l.classid::bigint << 32) | l.objid::bigint) = :k LIMIT 1"),
            {"k": self.key}).scalar()
        conn.commit()
        return (row or "unknown").removeprefix("geo-grid pid ")

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the store's advisory lock alone while the block runs (a rebuild); never waits.

        Raises
        ------
        StoreError
            Another process (a running service) holds the lock.
        """
        with _PG_GUARD:
            own = _PG_HELD.get(self.key)
        engine = None
        if own is not None:
            conn = own[0]  # a session never conflicts with its own shared lock
        else:
            engine = self._lock_engine()
            try:
                conn = engine.connect()
            except Exception as exc:
                engine.dispose()
                raise StoreError(f"cannot connect to {self}: "
                                 f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}") from exc
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
            conn.commit()
            if not got:
                pid = self._holder(conn)
                raise StoreError(f"the store {self} is in use by a running service (pid {pid}); "
                                 "stop the service first", pid=pid)
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                conn.commit()
        finally:
            if engine is not None:
                conn.close()
                engine.dispose()

    def ensure_database(self) -> None:
        """Create the database (from the server's ``postgres`` database) if it does not exist,
        UTF-8 with the ``C`` collation (text sorted by bytes, as in the GeoPackage)."""
        admin = create_engine(self.url.set(database="postgres"), poolclass=NullPool,
                              isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                known = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                     {"d": self.url.database}).first()
                if not known:
                    name = self.url.database.replace('"', '""')
                    # byte order for text, as SQLite compares: codes, names and addresses
                    # sort the same way on both backends
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE template0 '
                                         "ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")
        except Exception as exc:
            raise StoreError(f"cannot reach or create the database of {self}: "
                             f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}") from exc
        finally:
            admin.dispose()

    def rebuild(self, fill: Fill, *, carry: bool = True) -> None:
        """Write a new store with ``fill`` in place of the old one, in one transaction.

        The old store's tables are dropped and ``fill`` writes the new ones on the same
        connection; the accounts, sessions and audit trail of the old store are read first
        and written back (``carry``). Nothing is visible to other connections before the
        commit, and a failure rolls everything back. The store's lock is held alone
        throughout.
        """
        self.ensure_database()
        with self.exclusive():
            engine = self.engine(poolclass=NullPool)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
                    self.begin_write(conn)
                    kept = read_carried(conn) if carry else {}
                    for table in reversed(store_tables()):
                        conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table.name}" CASCADE')
                    fill(conn)
                    write_carried(conn, kept)
                    reset_sequences(conn)
                    from geo_grid.store.changes import notify

                    notify(conn, "import")  # services serving the database load the new store
            except Exception as exc:
                raise _build_error(self.locator, exc) from exc
            finally:
                engine.dispose()


def reset_sequences(conn: Connection) -> None:
    """Move every ``fid`` sequence past the rows written with explicit ids (PostgreSQL)."""
    if conn.dialect.name != "postgresql":
        return
    insp = inspect(conn)
    for table in store_tables():
        if insp.has_table(table.name) and "fid" in table.c:
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'fid'), "
                f'coalesce(max(fid), 0) + 1, false) FROM "{table.name}"')


def read_carried(conn: Connection) -> dict[str, list[dict]]:
    """The accounts, sessions and audit trail (rows, and the trail's head) of a store, read
    before it is rebuilt."""
    from geo_grid.store import schema
    from geo_grid.store.build import CARRIED_META, CARRIED_TABLES

    insp = inspect(conn)
    out: dict[str, list[dict]] = {}
    for name in CARRIED_TABLES:
        if insp.has_table(name):
            t = schema.metadata.tables[name]
            have = {c["name"] for c in insp.get_columns(name)}
            cols = [c for c in t.columns if c.name in have]
            out[name] = [dict(r) for r in conn.execute(select(*cols)).mappings()]
    if insp.has_table(schema.meta.name):
        m = schema.meta
        out[m.name] = [dict(r) for r in conn.execute(
            select(m.c.key, m.c.value).where(m.c.key.in_(CARRIED_META))).mappings()]
    return out


def write_carried(conn: Connection, kept: dict[str, list[dict]]) -> None:
    """Write back what :func:`read_carried` read (replacing the rows of the new store)."""
    from geo_grid.store import schema

    for name, rows in kept.items():
        t = schema.metadata.tables[name]
        if name == schema.meta.name:
            conn.execute(t.delete().where(t.c.key.in_([r["key"] for r in rows])))
        else:
            conn.execute(t.delete())
        if rows:
            conn.execute(t.insert(), rows)


def open_backend(locator: Any) -> GpkgBackend | PostgisBackend:
    """The backend of a store locator (a path or a ``postgresql+psycopg://`` URL)."""
    loc = locate(locator)
    if isinstance(loc, StoreURL):
        return PostgisBackend(loc)
    return GpkgBackend(loc)


__all__ = ["GpkgBackend", "PostgisBackend", "StoreURL", "bulk_insert", "declare", "declare_attributes",
           "display", "insert_ignore", "is_url", "locate", "open_backend", "store_tables"]
