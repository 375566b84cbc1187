"""The store: one GeoPackage file, or a PostGIS database, written through SQLAlchemy.

``build_store(path)`` builds it atomically from ``boundaries/`` plus a seeded synthetic
population; ``load_district(path)`` reads it back; ``Store`` keeps an engine for later writes.
``path`` is a locator: a ``.gpkg`` path or a ``postgresql+psycopg://`` URL (what differs
between the two is in :mod:`geo_grid.store.backend`).
"""

from geo_grid.store.build import build_store
from geo_grid.store.store import Store, load_district

DEFAULT_STORE = "data/jiangxi.gpkg"

__all__ = ["DEFAULT_STORE", "Store", "build_store", "load_district"]
