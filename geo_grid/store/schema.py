"""The store's schema, written with SQLAlchemy Core so that a PostGIS backend can share it.

Feature tables carry a ``geom`` column (GeoPackage binary in the embedded store) in EPSG:4490;
the others are GeoPackage attribute tables. ``assignments`` keeps the history: a row is current
while ``valid_to`` is NULL.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
)

from geo_grid.store.gpkg import GpkgGeometry

metadata = MetaData()


def _fid() -> Column:
    return Column("fid", Integer, primary_key=True, autoincrement=True)


street = Table(
    "street", metadata, _fid(),
    Column("code", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("synthetic", Boolean, nullable=False, default=True),
    Column("geom", GpkgGeometry("MULTIPOLYGON"), nullable=False),
)

communities = Table(
    "communities", metadata, _fid(),
    Column("code", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("short_name", Text, nullable=False),
    Column("synthetic", Boolean, nullable=False, default=True),
    Column("geom", GpkgGeometry("MULTIPOLYGON"), nullable=False),
)

grids = Table(
    "grids", metadata, _fid(),
    Column("code", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("community_code", Text, nullable=False, index=True),
    Column("kind", Text, nullable=False),
    Column("synthetic", Boolean, nullable=False, default=True),
    Column("geom", GpkgGeometry("MULTIPOLYGON"), nullable=False),
)

buildings = Table(
    "buildings", metadata, _fid(),
    Column("code", Text, nullable=False, unique=True),
    Column("grid_code", Text, nullable=False, index=True),
    Column("community_code", Text, nullable=False),
    Column("address", Text, nullable=False, unique=True),
    Column("compound", Text, nullable=False),
    # text: a door number may be 12A or 12-1 (an INTEGER column would show GDAL and QGIS 12)
    Column("number", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("floors", SmallInteger, nullable=False),
    Column("units", SmallInteger, nullable=False),
    Column("rooms_per_floor", SmallInteger, nullable=False),
    Column("households", Integer, nullable=False),
    Column("synthetic", Boolean, nullable=False, default=True),
    Column("geom", GpkgGeometry("MULTIPOLYGON"), nullable=False),
)

households = Table(
    "households", metadata, _fid(),
    Column("id", Integer, nullable=False, unique=True),
    Column("building_code", Text, nullable=False, index=True),
    Column("unit", SmallInteger, nullable=False),
    Column("room", SmallInteger, nullable=False),
    Column("size", SmallInteger, nullable=False),
    Column("elderly_alone", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("chronic", Boolean, nullable=False),
    Column("infant", Boolean, nullable=False),
)

members = Table(
    "members", metadata, _fid(),
    Column("id", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("phone", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("grid_code", Text, nullable=False, index=True),
    Column("branch_code", Text, nullable=False),
    Column("branch_name", Text, nullable=False),
    Column("org_code", Text, nullable=False),
    Column("org_name", Text, nullable=False),
    Column("home_building", Text, nullable=False),
    Column("x", Float, nullable=False),
    Column("y", Float, nullable=False),
    Column("available", Boolean, nullable=False),
    Column("capacity", Float, nullable=False),
)

assignments = Table(
    "assignments", metadata, _fid(),
    Column("member_id", Text, nullable=False, index=True),
    Column("building_code", Text, nullable=False, index=True),
    Column("load", Float, nullable=False),
    Column("distance_m", Float, nullable=False),
    Column("share", Float, nullable=True),
    Column("units", Text, nullable=True),
    Column("valid_from", Text, nullable=False),
    Column("valid_to", Text, nullable=True, index=True),
    Column("scenario_id", Text, nullable=True),
)

scenarios = Table(
    "scenarios", metadata, _fid(),
    Column("id", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("spec", Text, nullable=False),
    Column("result", Text, nullable=False),
    Column("applied_at", Text, nullable=True),
    Column("base_version", Text, nullable=True),
    Column("flipped", Text, nullable=True),
)

meta = Table(
    "geo_grid_meta", metadata, _fid(),
    Column("key", Text, nullable=False, unique=True),
    Column("value", Text, nullable=False),
)

# Every layer is declared MULTIPOLYGON and every geometry written as one (a real footprint may
# have several parts, and a POLYGON column must not hold a MultiPolygon).
FEATURE_TABLES = {"street": "MULTIPOLYGON", "communities": "MULTIPOLYGON", "grids": "MULTIPOLYGON",
                  "buildings": "MULTIPOLYGON"}
ATTRIBUTE_TABLES = ("households", "members", "assignments", "scenarios", "geo_grid_meta",
                    "assignment_versions")

# One row per assignment version, so that a version exists even when its assignment is empty.
# ``kind`` is ``apply`` (a scenario), ``assign`` (a fresh assignment), ``revert`` or ``import``
# (members or households imported, the assignment carried over unchanged); ``previous``
# is the version current before; ``flipped`` the members an apply made unavailable (JSON);
# ``undone_by`` the revert that took an apply/assign step back (the undo stack is the steps with
# ``undone_by`` NULL). Created on first use in stores built before it existed.
assignment_versions = Table(
    "assignment_versions", metadata, _fid(),
    Column("version", Text, nullable=False, unique=True),
    Column("previous", Text, nullable=True),
    Column("kind", Text, nullable=False),
    Column("scenario_id", Text, nullable=True),
    Column("flipped", Text, nullable=True),
    Column("undone_by", Text, nullable=True),
    Column("created_at", Text, nullable=False),
)
