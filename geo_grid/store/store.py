"""Opening a store and reading the district from it."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import Engine

from geo_grid.crs import STORE_EPSG
from geo_grid.district import District
from geo_grid.errors import StoreError
from geo_grid.store import schema
from geo_grid.store.gpkg import configure_engine, decode_many


def _single(geoms):
    return [g.geoms[0] if g.geom_type == "MultiPolygon" and len(g.geoms) == 1 else g for g in geoms]


class Store:
    """A GeoPackage store opened through SQLAlchemy.

    Parameters
    ----------
    path : Path or str
        The ``.gpkg`` file, which must exist.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise StoreError(f"store {self.path} does not exist; run `geo-grid init` first")
        self.engine: Engine = configure_engine(create_engine(f"sqlite:///{self.path}"))

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
        cols = [c for c in table.columns if c.name not in ("fid",)]
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
                conn.exec_driver_sql("BEGIN")  # one WAL read snapshot for every read below
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
                conn.rollback()
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot read store {self.path}: {exc}") from exc
        for col in ("elderly_alone", "disabled", "chronic", "infant"):
            hh[col] = hh[col].astype(bool)
        mem["available"] = mem["available"].astype(bool)
        district = District(**layers, households=hh, members=mem, assignment=asg, version=version)
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
