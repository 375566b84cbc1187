"""GeoPackage 1.4 encoding on top of SQLAlchemy: geometry blobs, metadata tables, connections.

A GeoPackage is a SQLite file with three metadata tables (``gpkg_spatial_ref_sys``,
``gpkg_contents``, ``gpkg_geometry_columns``), an ``application_id`` of ``GPKG`` and geometries
stored as "GeoPackage binary": a small header (magic ``GP``, version, flags, SRS id, envelope)
followed by ISO WKB. GDAL, QGIS and pyogrio open such a file as it is.

Connections register the five SQL functions GDAL's R-tree triggers call (ST_IsEmpty, ST_MinX,
ST_MaxX, ST_MinY, ST_MaxY), so that writes keep working if a desktop tool added a spatial index,
and use WAL with a busy timeout so that concurrent readers are safe.
"""

from __future__ import annotations

import struct
from pathlib import Path

import shapely
from pyproj import CRS
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import UserDefinedType

GPKG_APPLICATION_ID = 0x47504B47
GPKG_USER_VERSION = 10400
_HEADER = struct.Struct("<2sBBi4d")  # magic, version, flags, srs_id, minx maxx miny maxy
_HEADER_NO_ENV = struct.Struct("<2sBBi")


def encode(geom, srs_id: int) -> bytes | None:
    """Encode a shapely geometry as a GeoPackage binary blob (little endian, XY envelope)."""
    if geom is None:
        return None
    wkb = shapely.to_wkb(geom, byte_order=1, flavor="iso", output_dimension=2)
    if geom.is_empty:
        return _HEADER_NO_ENV.pack(b"GP", 0, 0b00010001, srs_id) + wkb
    minx, miny, maxx, maxy = geom.bounds
    return _HEADER.pack(b"GP", 0, 0b00000011, srs_id, minx, maxx, miny, maxy) + wkb


def _wkb_offset(blob: bytes) -> int:
    flags = blob[3]
    env = (flags >> 1) & 0b111
    return 8 + {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[env]


def decode(blob: bytes | None):
    """Decode a GeoPackage binary blob to a shapely geometry (None stays None)."""
    if blob is None:
        return None
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob")
    return shapely.from_wkb(bytes(blob[_wkb_offset(blob):]))


def _wkb(value):
    # a GeoPackage blob loses its header; (E)WKB bytes and the hex EWKB text PostGIS prints
    # for a geometry (a raw read of a PostGIS store) go to shapely as they are
    if value is None or isinstance(value, str):
        return value
    value = bytes(value)
    return value[_wkb_offset(value):] if value[:2] == b"GP" else value


def decode_many(blobs) -> list:
    """Decode a sequence of blobs in one vectorised ``shapely.from_wkb`` call.

    GeoPackage blobs, plain (E)WKB and hex EWKB text are all read, so a raw read of either
    store backend decodes the same way."""
    return list(shapely.from_wkb([_wkb(b) for b in blobs]))


class GpkgGeometry(UserDefinedType):
    """A geometry column stored as GeoPackage binary; its SQL type is the geometry type name."""

    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY", srs_id: int = 4490):
        self.geometry_type = geometry_type
        self.srs_id = srs_id

    def get_col_spec(self, **kw) -> str:
        return self.geometry_type

    def bind_processor(self, dialect):
        srs_id = self.srs_id
        return lambda value: encode(value, srs_id)

    def result_processor(self, dialect, coltype):
        return decode


def _st(fn):
    def wrapped(blob):
        if blob is None:
            return None
        try:
            return fn(bytes(blob))
        except Exception:  # GDAL's triggers must never fail on odd blobs
            return None

    return wrapped


def _env(blob: bytes, k: int):
    if (blob[3] >> 1) & 0b111:
        return struct.unpack_from("<4d", blob, 8)[k]
    g = decode(blob)
    b = g.bounds  # minx, miny, maxx, maxy
    return (b[0], b[2], b[1], b[3])[k]


def register_functions(dbapi_conn) -> None:
    """Register ST_IsEmpty, ST_MinX, ST_MaxX, ST_MinY, ST_MaxY on a sqlite3 connection."""
    dbapi_conn.create_function("ST_IsEmpty", 1, _st(lambda b: int(bool(b[3] & 0b10000))),
                               deterministic=True)
    for k, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        dbapi_conn.create_function(name, 1, _st(lambda b, k=k: _env(b, k)), deterministic=True)


def configure_engine(engine: Engine, wal: bool = True, journal_mode: str | None = None) -> Engine:
    """Install the connect hook: functions, busy timeout, WAL (optional).

    ``journal_mode`` (when not WAL) sets another SQLite journal, e.g. ``MEMORY`` for a
    temporary file that is thrown away whole if its build fails, so that no ``-journal`` file
    is left beside it when the process is killed.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        register_functions(dbapi_conn)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 10000")
        if wal:
            cur.execute("PRAGMA journal_mode = WAL")
        elif journal_mode:
            cur.execute(f"PRAGMA journal_mode = {journal_mode}")
        cur.close()

    return engine


def srs_rows() -> list[dict]:
    """Rows of ``gpkg_spatial_ref_sys``: the two required undefined systems, 4326, 4490, 4549."""
    rows = [
        {"srs_name": "Undefined cartesian SRS", "srs_id": -1, "organization": "NONE",
         "organization_coordsys_id": -1, "definition": "undefined", "description": None},
        {"srs_name": "Undefined geographic SRS", "srs_id": 0, "organization": "NONE",
         "organization_coordsys_id": 0, "definition": "undefined", "description": None},
    ]
    for epsg in (4326, 4490, 4549):
        crs = CRS.from_epsg(epsg)
        rows.append({"srs_name": crs.name, "srs_id": epsg, "organization": "EPSG",
                     "organization_coordsys_id": epsg, "definition": crs.to_wkt("WKT1_GDAL"),
                     "description": None})
    return rows


GPKG_DDL = [
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
        organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
        description TEXT DEFAULT '',
        last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""",
]


def init_gpkg(conn: Connection) -> None:
    """Create the GeoPackage metadata tables and set the application id and version."""
    conn.exec_driver_sql(f"PRAGMA application_id = {GPKG_APPLICATION_ID}")
    conn.exec_driver_sql(f"PRAGMA user_version = {GPKG_USER_VERSION}")
    for ddl in GPKG_DDL:
        conn.exec_driver_sql(ddl)
    conn.execute(
        text("INSERT OR REPLACE INTO gpkg_spatial_ref_sys VALUES "
             "(:srs_name, :srs_id, :organization, :organization_coordsys_id, :definition, :description)"),
        srs_rows(),
    )


def register_table(conn: Connection, table: str, *, geometry_column: str | None = None,
                   geometry_type: str = "GEOMETRY", srs_id: int = 4490, bounds=None,
                   description: str = "") -> None:
    """Declare a table in ``gpkg_contents`` (features or attributes) and its geometry column."""
    data_type = "features" if geometry_column else "attributes"
    minx, miny, maxx, maxy = bounds if bounds is not None else (None,) * 4
    conn.execute(
        text("INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description, "
             "min_x, min_y, max_x, max_y, srs_id) VALUES (:t, :d, :t, :desc, :a, :b, :c, :e, :s)"),
        {"t": table, "d": data_type, "desc": description, "a": minx, "b": miny, "c": maxx, "e": maxy,
         "s": srs_id if geometry_column else None},
    )
    if geometry_column:
        conn.execute(
            text("INSERT OR REPLACE INTO gpkg_geometry_columns VALUES (:t, :c, :g, :s, 0, 0)"),
            {"t": table, "c": geometry_column, "g": geometry_type, "s": srs_id},
        )


def widen_extent(conn: Connection, table: str, bounds) -> None:
    """Grow the extent ``gpkg_contents`` declares for ``table`` to hold ``bounds``."""
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    conn.execute(text(
        "UPDATE gpkg_contents SET min_x = min(coalesce(min_x, :a), :a), "
        "min_y = min(coalesce(min_y, :b), :b), max_x = max(coalesce(max_x, :c), :c), "
        "max_y = max(coalesce(max_y, :e), :e) WHERE table_name = :t"),
        {"t": table, "a": minx, "b": miny, "c": maxx, "e": maxy})


#: The extension row GDAL writes for an R-tree spatial index (GeoPackage "gpkg_rtree_index").
RTREE_EXTENSION = "gpkg_rtree_index"
RTREE_DEFINITION = "http://www.geopackage.org/spec120/#extension_rtree"

_EXTENSIONS_DDL = """CREATE TABLE IF NOT EXISTS gpkg_extensions (
    table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
    scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))"""

# The triggers of the GeoPackage 1.4 R-tree extension, as GDAL creates them: they keep the index
# in step with every insert, update and delete, so any later writer (our own edits, GDAL, QGIS)
# leaves it right. {t} is the table, {c} the geometry column, {i} the primary key, {r} the index.
_RTREE_TRIGGERS = (
    """CREATE TRIGGER "{r}_insert" AFTER INSERT ON "{t}"
    WHEN (new."{c}" NOT NULL AND NOT ST_IsEmpty(NEW."{c}"))
    BEGIN INSERT OR REPLACE INTO "{r}" VALUES (NEW."{i}",
        ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END""",
    """CREATE TRIGGER "{r}_update6" AFTER UPDATE OF "{c}" ON "{t}"
    WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
        AND (OLD."{c}" NOTNULL AND NOT ST_IsEmpty(OLD."{c}"))
    BEGIN UPDATE "{r}" SET minx = ST_MinX(NEW."{c}"), maxx = ST_MaxX(NEW."{c}"),
        miny = ST_MinY(NEW."{c}"), maxy = ST_MaxY(NEW."{c}") WHERE id = NEW."{i}"; END""",
    """CREATE TRIGGER "{r}_update7" AFTER UPDATE OF "{c}" ON "{t}"
    WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
        AND (OLD."{c}" ISNULL OR ST_IsEmpty(OLD."{c}"))
    BEGIN INSERT INTO "{r}" VALUES (NEW."{i}",
        ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END""",
    """CREATE TRIGGER "{r}_update2" AFTER UPDATE OF "{c}" ON "{t}"
    WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" IS NULL OR ST_IsEmpty(NEW."{c}"))
    BEGIN DELETE FROM "{r}" WHERE id = OLD."{i}"; END""",
    """CREATE TRIGGER "{r}_update5" AFTER UPDATE ON "{t}"
    WHEN OLD."{i}" != NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
    BEGIN DELETE FROM "{r}" WHERE id = OLD."{i}";
        INSERT OR REPLACE INTO "{r}" VALUES (NEW."{i}",
        ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END""",
    """CREATE TRIGGER "{r}_update4" AFTER UPDATE ON "{t}"
    WHEN OLD."{i}" != NEW."{i}" AND (NEW."{c}" IS NULL OR ST_IsEmpty(NEW."{c}"))
    BEGIN DELETE FROM "{r}" WHERE id IN (OLD."{i}", NEW."{i}"); END""",
    """CREATE TRIGGER "{r}_delete" AFTER DELETE ON "{t}" WHEN old."{c}" NOT NULL
    BEGIN DELETE FROM "{r}" WHERE id = OLD."{i}"; END""",
)


def add_rtree_index(conn: Connection, table: str, column: str = "geom", fid: str = "fid") -> None:
    """Give a feature table the R-tree spatial index of the ``gpkg_rtree_index`` extension.

    Creates ``rtree_<table>_<column>`` (an SQLite R-tree of the feature envelopes), fills it from
    the rows already there, adds the triggers that keep it current and records the extension in
    ``gpkg_extensions``, exactly as GDAL does; GDAL, QGIS and pyogrio then filter by bounding box
    through the index. The connection must have :func:`register_functions` installed (every
    engine from :func:`configure_engine` has). Calling it again on an indexed table is a no-op.

    Parameters
    ----------
    conn : Connection
        An open connection inside a transaction.
    table, column, fid : str
        The feature table, its geometry column and its integer primary key.
    """
    rtree = f"rtree_{table}_{column}"
    conn.exec_driver_sql(_EXTENSIONS_DDL)
    exists = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = ?", (rtree,)).first()
    if exists:
        return
    conn.exec_driver_sql(
        f'CREATE VIRTUAL TABLE "{rtree}" USING rtree(id, minx, maxx, miny, maxy)')
    conn.exec_driver_sql(
        f'INSERT OR REPLACE INTO "{rtree}" SELECT "{fid}", ST_MinX("{column}"), '
        f'ST_MaxX("{column}"), ST_MinY("{column}"), ST_MaxY("{column}") FROM "{table}" '
        f'WHERE "{column}" NOT NULL AND NOT ST_IsEmpty("{column}")')
    for trigger in _RTREE_TRIGGERS:
        conn.exec_driver_sql(trigger.format(t=table, c=column, i=fid, r=rtree))
    conn.exec_driver_sql(
        "INSERT OR REPLACE INTO gpkg_extensions VALUES (?, ?, ?, ?, 'write-only')",
        (table, column, RTREE_EXTENSION, RTREE_DEFINITION))


def carry_accounts(old: Path, new: Path) -> None:
    """Copy the accounts, sessions and audit trail of the GeoPackage store at ``old`` into the
    one at ``new`` (a rebuild of the file keeps them)."""
    import sqlite3

    from geo_grid.store.build import CARRIED_META, CARRIED_TABLES

    con = sqlite3.connect(new)
    try:
        con.execute("ATTACH DATABASE ? AS old", (str(old),))
        have = {r[0] for r in con.execute("SELECT name FROM old.sqlite_master WHERE type='table'")}
        for table in CARRIED_TABLES:
            if table in have:
                cols = [r[1] for r in con.execute(f'PRAGMA old.table_info("{table}")')]
                mine = {r[1] for r in con.execute(f'PRAGMA main.table_info("{table}")')}
                names = ", ".join(f'"{c}"' for c in cols if c in mine)
                con.execute(f'DELETE FROM main."{table}"')
                con.execute(
                    f'INSERT INTO main."{table}" ({names}) SELECT {names} FROM old."{table}"')
        if "geo_grid_meta" in have:
            for key in CARRIED_META:
                row = con.execute("SELECT value FROM old.geo_grid_meta WHERE key = ?",
                                  (key,)).fetchone()
                if row is not None:
                    con.execute("INSERT OR REPLACE INTO main.geo_grid_meta (key, value) "
                                "VALUES (?, ?)", (key, row[0]))
        con.commit()
        con.execute("DETACH DATABASE old")
    finally:
        con.close()
