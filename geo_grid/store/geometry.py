"""The geometry column type of the store, one per backend.

A store keeps its geometries in EPSG:4490. On the embedded GeoPackage they are GeoPackage
binary blobs (:class:`geo_grid.store.gpkg.GpkgGeometry`); on PostgreSQL they are PostGIS
``geometry(<type>, 4490)`` columns (:class:`PostgisGeometry`). :func:`store_geometry` gives a
column type that is the first on SQLite and the second on PostgreSQL (a SQLAlchemy *variant*),
so the schema is written once and every Core statement reads and writes shapely geometries on
both.

Raw reads (``text()`` statements and ``decode_many``) get a GeoPackage blob from SQLite and the
hex EWKB text PostgreSQL prints for a geometry; :func:`geo_grid.store.gpkg.decode_many` reads
both.
"""

from __future__ import annotations

import shapely
from geoalchemy2 import Geometry

from geo_grid.store.gpkg import GpkgGeometry


class PostgisGeometry(Geometry):
    """A PostGIS geometry column read and written as shapely geometries.

    Values are sent as EWKB (``bytea``: PostGIS casts it to ``geometry`` on assignment) and
    read back with ``ST_AsEWKB``, both in one vectorisable binary form, never as text.
    """

    cache_ok = True

    def bind_expression(self, bindvalue):
        # the EWKB bytes are assigned as they are (PostGIS's implicit bytea -> geometry cast)
        return bindvalue

    def column_expression(self, col):
        from sqlalchemy import func

        return func.ST_AsEWKB(col, type_=self)

    def bind_processor(self, dialect):
        srid = self.srid

        def encode(value):
            if value is None:
                return None
            return shapely.to_wkb(shapely.set_srid(value, srid), include_srid=True,
                                  flavor="extended", byte_order=1, output_dimension=2)

        return encode

    def result_processor(self, dialect, coltype):
        return lambda value: None if value is None else shapely.from_wkb(bytes(value))


def store_geometry(geometry_type: str, srs_id: int = 4490):
    """The column type of a store geometry: GeoPackage binary on SQLite, PostGIS on PostgreSQL.

    Parameters
    ----------
    geometry_type : str
        ``MULTIPOLYGON``, ``POINT``...
    srs_id : int
        The EPSG code of the column (4490 in every store).
    """
    return GpkgGeometry(geometry_type, srs_id).with_variant(
        PostgisGeometry(geometry_type, srid=srs_id, spatial_index=False), "postgresql")


__all__ = ["PostgisGeometry", "store_geometry"]
