"""Opening a store and reading the district from it."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Engine

from geo_grid.crs import STORE_EPSG
from geo_grid.district import District
from geo_grid.errors import StoreError
from geo_grid.store import schema
from geo_grid.store.backend import declare, open_backend
from geo_grid.store.gpkg import decode_many


def _single(geoms):
    return [g.geoms[0] if g.geom_type == "MultiPolygon" and len(g.geoms) == 1 else g for g in geoms]


class Store:
    """A store opened through SQLAlchemy: a GeoPackage file or a PostGIS database.

    Parameters
    ----------
    path : Path or str
        The locator of a store that exists: a ``.gpkg`` file, or a
        ``postgresql+psycopg://user@host:port/dbname`` URL (see
        :mod:`geo_grid.store.backend`).

    Attributes
    ----------
    backend : GpkgBackend or PostgisBackend
        What differs between the two (transactions, table declarations, the store lock).
    locator, path : Path or StoreURL
        The store's locator (``path`` kept as the name older callers use).
    """

    def __init__(self, path: Path | str) -> None:
        self.backend = open_backend(path)
        self.locator = self.path = self.backend.locator
        if not self.backend.exists():
            raise StoreError(f"store {self.backend} does not exist; run `geo-grid init` first")
        self.engine: Engine = self.backend.engine()
        self._migrate()

    def _migrate(self) -> None:
        """Bring a store built by an earlier release up to the current schema: boundary
        versions (the layers as built become version 1), the layers' history tables, and the
        later attribute tables (accounts, audit trail, campaigns, rosters). A current store is
        only read."""
        with self.engine.connect() as conn:
            insp = inspect(conn)
            if not insp.has_table("grids"):
                return
            late_missing = any(not insp.has_table(t.name) for t in schema.LATE_TABLES)
            features_missing = any(not insp.has_table(t.name)
                                   for t in schema.LATE_FEATURE_TABLES)
            boundaries_done = insp.has_table(schema.boundary_versions.name)
        if late_missing:
            self._create_tables(schema.LATE_TABLES)
        if features_missing:
            self._create_tables(schema.LATE_FEATURE_TABLES)
        if boundaries_done or self.backend.kind != "gpkg":
            return
        # a GeoPackage built before boundary versions (a PostGIS store never is)
        from geo_grid.store.gpkg import add_rtree_index, register_table

        with self.engine.begin() as conn:
            for name in ("grids", "buildings"):
                conn.exec_driver_sql(
                    f'ALTER TABLE "{name}" ADD COLUMN version_from INTEGER NOT NULL DEFAULT 1')
            for table in (schema.grids_history, schema.buildings_history,
                          schema.boundary_versions):
                schema.create_table(conn, table, checkfirst=True)
            for name, gtype in schema.HISTORY_TABLES.items():
                register_table(conn, name, geometry_column="geom", geometry_type=gtype,
                               description=f"{name}: past rows of {name.split('_')[0]}")
                add_rtree_index(conn, name)
            register_table(conn, schema.boundary_versions.name,
                           description=schema.boundary_versions.name)
            meta = dict(conn.execute(select(schema.meta.c.key, schema.meta.c.value)).all())
            conn.execute(schema.boundary_versions.insert().values(
                id=1, created_at=meta.get("built_at", ""), author="geo-grid",
                kind="import" if meta.get("synthetic") == "false" else "init",
                note=meta.get("boundaries", ""), detail="{}"))

    def _create_tables(self, tables) -> None:
        """Create the tables a store built before them lacks (``schema.LATE_TABLES``: accounts,
        audit trail, campaigns, rosters; ``schema.LATE_FEATURE_TABLES``: the reinforcement pool
        and the posts) and declare them in ``gpkg_contents``, under
        the write lock so that two processes opening the same old store do not both create
        them."""
        with self.engine.connect() as conn:
            self.backend.begin_write(conn)
            try:
                for table in tables:
                    if not inspect(conn).has_table(table.name):
                        schema.create_table(conn, table)
                        # a feature table (the pool and the posts: points) is declared with
                        # its geometry type and given the spatial index GDAL and QGIS expect
                        declare(conn, table)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

    def boundary_version(self, conn=None) -> int:
        """The current boundary version (1 for the layers as built)."""
        if conn is None:
            with self.engine.connect() as c:
                return self.boundary_version(c)
        b = schema.boundary_versions
        return int(conn.execute(select(func.max(b.c.id))).scalar() or 1)

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()

    def meta(self) -> dict[str, str]:
        """The build metadata (``boundaries_version``, ``built_at``...)."""
        with self.engine.connect() as conn:
            return dict(conn.execute(select(schema.meta.c.key, schema.meta.c.value)).all())

    def assignment_version(self, conn=None) -> str | None:
        """The current assignment version: the newest row of ``assignment_versions``, or (in a
        store that has none yet) the ``valid_from`` stamp of the current assignment rows."""
        if conn is None:
            with self.engine.connect() as c:
                return self.assignment_version(c)
        v = schema.assignment_versions
        if inspect(conn).has_table(v.name):
            got = conn.execute(select(v.c.version).order_by(v.c.fid.desc()).limit(1)).scalar()
            if got is not None:
                return got
        a = schema.assignments
        return conn.execute(select(func.max(a.c.valid_from)).where(a.c.valid_to.is_(None))).scalar()

    def _layer(self, conn, name: str) -> gpd.GeoDataFrame:
        table = schema.metadata.tables[name]
        cols = [c for c in table.columns if c.name not in ("fid", *schema.VERSION_COLUMNS)]
        rows = conn.execute(select(*cols).order_by(table.c.code)).all()
        # read the raw blobs in one pass and decode them vectorised
        blobs = conn.execute(text(f'SELECT geom FROM "{name}" ORDER BY code')).scalars().all()
        df = pd.DataFrame([r[:-1] for r in rows], columns=[c.name for c in cols[:-1]])
        return gpd.GeoDataFrame(df, geometry=_single(decode_many(blobs)), crs=STORE_EPSG)

    def load_district(self) -> District:
        """Read every layer and table into a :class:`District`."""
        return self.load_district_versioned()[0]

    def load_district_versioned(self) -> tuple[District, str | None]:
        """The district and its assignment version, read in one read transaction (so the
        version is the one the district was read at, whatever another process writes)."""
        try:
            with self.engine.connect() as conn:
                self.backend.begin_read(conn)  # one read snapshot for every read below
                assignment_version = self.assignment_version(conn)
                layers = {name: self._layer(conn, name) for name in schema.FEATURE_TABLES}
                hh = pd.read_sql(select(*[c for c in schema.households.columns if c.name != "fid"])
                                 .order_by(schema.households.c.id), conn)
                mem = pd.read_sql(select(*[c for c in schema.members.columns if c.name != "fid"])
                                  .order_by(schema.members.c.id), conn)
                a = schema.assignments
                asg = pd.read_sql(select(a.c.member_id, a.c.building_code, a.c.load, a.c.distance_m,
                                         a.c.share, a.c.units)
                                  .where(a.c.valid_to.is_(None))
                                  .order_by(a.c.building_code, a.c.member_id), conn)
                version = conn.execute(select(schema.meta.c.value).where(
                    schema.meta.c.key == "boundaries_version")).scalar_one_or_none() or ""
                # an edited grid layer is another version of the boundaries (the indexes built
                # on them are keyed by it)
                seq = self.boundary_version(conn)
                if seq > 1:
                    version = f"{version}+b{seq}"
                conn.rollback()
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot read store {self.backend}: {exc}") from exc
        for col in ("elderly_alone", "disabled", "chronic", "infant"):
            hh[col] = hh[col].astype(bool)
        mem["available"] = mem["available"].astype(bool)
        district = District(**layers, households=hh, members=mem, assignment=asg, version=version,
                            boundary_version=seq)
        return district, assignment_version


def load_district(path: Path | str) -> District:
    """Open the store at ``path`` and read the whole district.

    Parameters
    ----------
    path : Path or str
        A store built by :func:`geo_grid.store.build_store`.

    Returns
    -------
    District
    """
    store = Store(path)
    try:
        return store.load_district()
    finally:
        store.close()


__all__ = ["Store", "load_district"]
