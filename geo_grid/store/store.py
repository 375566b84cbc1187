"""Opening a store and reading the district from it."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import create_engine, select, text
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
        try:
            with self.engine.connect() as conn:
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
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot read store {self.path}: {exc}") from exc
        for col in ("elderly_alone", "disabled", "chronic", "infant"):
            hh[col] = hh[col].astype(bool)
        mem["available"] = mem["available"].astype(bool)
        return District(**layers, households=hh, members=mem, assignment=asg, version=version)


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
