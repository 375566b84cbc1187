"""The store's schema, written with SQLAlchemy Core so that a PostGIS backend can share it.

Feature tables carry a ``geom`` column (GeoPackage binary in the embedded store) in EPSG:4490;
the others are GeoPackage attribute tables. ``assignments`` keeps the history: a row is current
while ``valid_to`` is NULL.
"""

from __future__ import annotations

import threading

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from geo_grid.store.geometry import store_geometry

metadata = MetaData()


def _fid() -> Column:
    return Column("fid", Integer, primary_key=True, autoincrement=True)


street = Table(
    "street", metadata, _fid(),
    Column("code", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("synthetic", Boolean, nullable=False, default=True),
    Column("geom", store_geometry("MULTIPOLYGON"), nullable=False),
)

communities = Table(
    "communities", metadata, _fid(),
    Column("code", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("short_name", Text, nullable=False),
    Column("synthetic", Boolean, nullable=False, default=True),
    Column("geom", store_geometry("MULTIPOLYGON"), nullable=False),
)

grids = Table(
    "grids", metadata, _fid(),
    Column("code", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("community_code", Text, nullable=False, index=True),
    Column("kind", Text, nullable=False),
    Column("synthetic", Boolean, nullable=False, default=True),
    # the boundary version that made this row (see ``boundary_versions``)
    Column("version_from", Integer, nullable=False, default=1, server_default="1"),
    Column("geom", store_geometry("MULTIPOLYGON"), nullable=False),
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
    Column("version_from", Integer, nullable=False, default=1, server_default="1"),
    Column("geom", store_geometry("MULTIPOLYGON"), nullable=False),
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



def _history_of(table: Table) -> Table:
    """The history table of a versioned layer: its columns (codes and addresses not unique,
    since a grid or a building may have several past rows) plus ``version_to``, the boundary
    version that replaced the row. A row was in force in versions ``version_from <= v <
    version_to``; the current rows (``version_to`` open) stay in the layer's own table."""
    cols = []
    for c in table.columns:
        if c.name == "fid":
            continue
        if c.name == "geom":
            cols.append(Column("version_to", Integer, nullable=False, index=True))
        cols.append(Column(c.name, c.type, nullable=c.nullable, index=c.name == "code"))
    return Table(f"{table.name}_history", metadata, _fid(), *cols)


grids_history = _history_of(grids)
buildings_history = _history_of(buildings)

# One row per boundary version: the store as built (``init`` or ``import``) is version 1, and
# every edit of the grids (``split``, ``merge``, ``geometry``, ``building_grid``, ``densify``)
# adds one. ``detail`` is the edit's summary (JSON).
boundary_versions = Table(
    "boundary_versions", metadata, _fid(),
    Column("id", Integer, nullable=False, unique=True),
    Column("created_at", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default="{}"),
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
                    "assignment_versions", "boundary_versions", "users", "sessions", "audit",
                    "rosters")
#: Past rows of the versioned layers (written by boundary edits, empty in a new store).
HISTORY_TABLES = {"grids_history": "MULTIPOLYGON", "buildings_history": "MULTIPOLYGON"}
#: Columns of the layer tables that are bookkeeping, not part of a district's layers.
VERSION_COLUMNS = ("version_from", "version_to")

# One row per assignment version, so that a version exists even when its assignment is empty.
# ``kind`` is ``apply`` (a scenario), ``assign`` (a fresh assignment), ``revert``, ``import``
# (members or households imported, the assignment carried over unchanged) or ``boundary`` (a
# grid edit moved buildings or members between grids, the assignment carried over); ``previous``
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

# Accounts (see geo_grid.auth.users): secrets are kept only as hashes. ``token_hash`` is the
# SHA-256 of the API token, ``once_hash`` of a one-time login token (cleared when used),
# ``password_hash`` an Argon2 hash. ``scope`` is the street, community or grid code the account
# is limited to (NULL: everywhere).
users = Table(
    "users", metadata, _fid(),
    Column("name", Text, nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("scope", Text, nullable=True),
    Column("token_hash", Text, nullable=True, unique=True),
    Column("once_hash", Text, nullable=True, unique=True),
    Column("password_hash", Text, nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Text, nullable=False),
)

# Browser sessions: ``id_hash`` is the SHA-256 of the session id (the cookie), ``csrf`` the
# token the session's forms must echo; a session is valid until ``expires_at`` (ISO, UTC).
sessions = Table(
    "sessions", metadata, _fid(),
    Column("id_hash", Text, nullable=False, unique=True),
    Column("user_name", Text, nullable=False, index=True),
    Column("csrf", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("expires_at", Text, nullable=False),
)

# The audit trail (see geo_grid.auth.audit), append-only: ``hash`` chains each entry to the one
# before it; ``targets`` is a JSON array of the codes or names acted on.
audit = Table(
    "audit", metadata, _fid(),
    Column("seq", Integer, nullable=False, unique=True),
    Column("at", Text, nullable=False, index=True),
    Column("user", Text, nullable=False, index=True),
    Column("role", Text, nullable=False),
    Column("action", Text, nullable=False, index=True),
    Column("route", Text, nullable=False),
    Column("targets", Text, nullable=False, default="[]"),
    Column("outcome", Text, nullable=False),
    Column("client", Text, nullable=False, default=""),
    Column("hash", Text, nullable=False),
)

#: The tables of accounts and the audit trail, created on opening a store built without them.
AUTH_TABLES = (users, sessions, audit)

# Door-to-door campaigns (see geo_grid.campaigns): ``scope`` is the request's scope (JSON);
# ``campaign_buildings`` the buildings to visit and who visits each (``member_id`` NULL when
# nobody covers the building); ``campaign_visits`` one row per visit, ``id`` the client's UUID
# (unique: a replay is ignored), ``answer`` the JSON the first request was answered with.
campaigns = Table(
    "campaigns", metadata, _fid(),
    Column("id", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("deadline", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("scope", Text, nullable=False),
)

campaign_buildings = Table(
    "campaign_buildings", metadata, _fid(),
    Column("campaign_id", Text, nullable=False, index=True),
    Column("building_code", Text, nullable=False),
    Column("grid_code", Text, nullable=False),
    Column("community_code", Text, nullable=False),
    Column("member_id", Text, nullable=True),
    Column("households", Integer, nullable=False),
)

campaign_visits = Table(
    "campaign_visits", metadata, _fid(),
    Column("id", Text, nullable=False, unique=True),
    Column("campaign_id", Text, nullable=False, index=True),
    Column("building_code", Text, nullable=False),
    Column("unit", Text, nullable=False),
    Column("households_reached", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("member_id", Text, nullable=True),
    Column("at", Text, nullable=False),
    Column("recorded_at", Text, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("answer", Text, nullable=False),
)

#: The campaign tables, created on opening a store built without them.
CAMPAIGN_TABLES = (campaigns, campaign_buildings, campaign_visits)
ATTRIBUTE_TABLES = (*ATTRIBUTE_TABLES, *(t.name for t in CAMPAIGN_TABLES))

# Shift rosters of the posts (see geo_grid.rosters): ``spec`` is the request (JSON), ``result``
# the roster as computed (JSON, person ids only). Created on first open in older stores.
rosters = Table(
    "rosters", metadata, _fid(),
    Column("id", Text, nullable=False, unique=True),
    Column("created_at", Text, nullable=False),
    Column("spec", Text, nullable=False),
    Column("result", Text, nullable=False),
)

#: Attribute tables created on opening a store built without them (accounts, audit trail,
#: campaigns, rosters).
LATE_TABLES = (*AUTH_TABLES, *CAMPAIGN_TABLES, rosters)


# The pool of reinforcements (people lent to the street: cadres, auxiliary police, security
# guards, volunteers) and the posts layer (checkpoints and the 信息/隔离/后勤 posts), see
# geo_grid.store.pool. Both are GeoPackage feature tables of points in EPSG:4490 (QGIS opens
# them as layers), keyed by ``street_code`` and ``id`` so that the stores of several streets
# can be merged one day. ``name`` and ``phone`` are personal data, masked in every output unless
# the policy allows them; ``capacity`` is in the members' load units; ``available_from`` and
# ``available_to`` are ISO 8601 times with their offset (NULL: open). ``community_code`` is the
# community the point lies in (NULL outside every community), used to filter by scope.
# They have a MetaData of their own: ``build_store`` does not create them, ``Store`` creates and
# declares them (features, R-tree index) on opening any store without them.
late_features = MetaData()

reinforcement_pool = Table(
    "reinforcements", late_features,
    Column("fid", Integer, primary_key=True, autoincrement=True),
    Column("street_code", Text, nullable=False),
    Column("id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("phone", Text, nullable=False, default=""),
    Column("kind", Text, nullable=False),
    Column("capacity", Float, nullable=False),
    Column("available_from", Text, nullable=True),
    Column("available_to", Text, nullable=True),
    Column("community_code", Text, nullable=True),
    Column("geom", store_geometry("POINT"), nullable=False),
    UniqueConstraint("street_code", "id", name="uq_reinforcements_street_id"),
    info={"indexes": ("community_code",)},
)

posts = Table(
    "posts", late_features,
    Column("fid", Integer, primary_key=True, autoincrement=True),
    Column("street_code", Text, nullable=False),
    Column("id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=True),
    Column("community_code", Text, nullable=True),
    Column("per_shift", Integer, nullable=False, default=1),
    Column("min_security", Integer, nullable=False, default=0),
    Column("geom", store_geometry("POINT"), nullable=False),
    UniqueConstraint("street_code", "id", name="uq_posts_street_id"),
    info={"indexes": ("community_code",)},
)

#: Point feature tables created on opening a store without them (table → geometry type).
LATE_FEATURE_TABLES = (reinforcement_pool, posts)


#: GeoAlchemy2's hooks around ``CREATE TABLE`` patch the module-level ``Table`` object for the
#: time of the statement (its columns, and its ``info``); two threads creating the same table in
#: two stores (two services of one process, as the tests run them) would see each other's patch.
#: Every creation of a store table goes through this lock.
DDL_LOCK = threading.RLock()


def create_table(conn, table: Table, *, checkfirst: bool = False) -> None:
    """Create ``table`` (under :data:`DDL_LOCK`), then the plain indexes its
    ``info["indexes"]`` names (column names).

    The indexes are created by statements of their own rather than declared on the table:
    GeoAlchemy2's hook on ``CREATE TABLE`` walks a table's indexes with the columns it saved,
    which is what two concurrent creations of one table trip over.
    """
    with DDL_LOCK:
        table.create(conn, checkfirst=checkfirst)
    for col in table.info.get("indexes", ()):
        conn.execute(text(f'CREATE INDEX IF NOT EXISTS "ix_{table.name}_{col}" '
                          f'ON "{table.name}" ("{col}")'))
