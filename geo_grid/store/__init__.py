"""The embedded store: one GeoPackage file written through SQLAlchemy.

``build_store(path)`` builds it atomically from ``boundaries/`` plus a seeded synthetic
population; ``load_district(path)`` reads it back; ``Store`` keeps an engine for later writes.
"""

from geo_grid.store.build import build_store
from geo_grid.store.store import Store, load_district

DEFAULT_STORE = "data/jiangxi.gpkg"

__all__ = ["DEFAULT_STORE", "Store", "build_store", "load_district"]
