"""Shared fixtures: the reference district (layers and a store built once per test process)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from geo_grid.layers import DEFAULT_BOUNDARIES, load_layers

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def layers():
    """The reference district's four layers, read from boundaries/."""
    return load_layers(DEFAULT_BOUNDARIES)


@pytest.fixture(scope="session")
def store_path(tmp_path_factory) -> Path:
    """A store of the reference district, built once per test process."""
    from geo_grid.store import build_store

    path = tmp_path_factory.mktemp("store") / "jiangxi.gpkg"
    build_store(path)
    return path


def copy_without_users(src: Path, dest: Path) -> Path:
    """Copy a store and remove its accounts, sessions and audit trail (servers started by
    other tests of the same process add users, and audit entries, to the shared reference
    store)."""
    import shutil
    import sqlite3

    shutil.copy(src, dest)
    con = sqlite3.connect(dest)
    try:
        for table in ("sessions", "users", "audit"):
            if con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone():
                con.execute(f'DELETE FROM "{table}"')
        con.execute("DELETE FROM geo_grid_meta WHERE key = 'audit_head'")
        con.commit()
    finally:
        con.close()
    return dest


@pytest.fixture(scope="module")
def own_store(store_path, tmp_path_factory) -> Path:
    """A copy of the reference store for one test module to write to."""
    import shutil

    path = tmp_path_factory.mktemp("own") / "s.gpkg"
    shutil.copy(store_path, path)
    return path


@pytest.fixture(scope="session")
def district(store_path):
    """The reference district as loaded from the store."""
    from geo_grid.store import load_district

    return load_district(store_path)


@pytest.fixture(scope="session")
def gazetteer(district):
    from geo_grid.lookup import Gazetteer

    return Gazetteer.build(district)


def pytest_configure(config):
    os.environ.setdefault("PYTHONHASHSEED", "0")


# --- the PostGIS backend -------------------------------------------------------------------
# Tests that run on both store backends take the ``backend`` fixture: a fresh copy of the
# reference store as a GeoPackage file and as a PostGIS database. The PostgreSQL server is
# GEO_GRID_TEST_PG (the local cluster by default, see .ci/run); every database a test makes is
# its own (``gg_test_<random>``, dropped at the end), so parallel workers never share one. The
# reference store is built into PostGIS once per test process and copied with
# ``CREATE DATABASE ... TEMPLATE``. Without a server, or without PostGIS, these tests fail:
# they are never skipped.

PG_SERVER = os.environ.get("GEO_GRID_TEST_PG",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pg_url(database: str):
    """The locator of a database on the test server."""
    from sqlalchemy.engine import make_url

    from geo_grid.store.backend import locate

    return locate(make_url(PG_SERVER).set(database=database)
                  .render_as_string(hide_password=False))


def _pg_admin(sql: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def new_pg_database(template: str | None = None):
    """A new, empty (or ``template``'s copy) database on the test server; its locator."""
    import uuid

    name = f"gg_test_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template or "template0"}" ENCODING \'UTF8\' '
              "LC_COLLATE 'C' LC_CTYPE 'C'")
    return pg_url(name)


def drop_pg_database(url) -> None:
    """Drop a test database (closing whatever is still connected to it)."""
    _pg_admin(f'DROP DATABASE IF EXISTS "{url.name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_store_template():
    """The reference store built into PostGIS once per test process (never written to:
    tests take copies)."""
    from geo_grid.store import Store, build_store

    url = new_pg_database()
    try:
        build_store(url)
        Store(url).close()  # the tables created on first open, so the copies are current
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture()
def pg_store(pg_store_template):
    """A fresh PostGIS copy of the reference store for one test."""
    url = new_pg_database(template=pg_store_template.name)
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture(params=["gpkg", "postgis"])
def backend(request, store_path, tmp_path):
    """A fresh copy of the reference store on each backend: a GeoPackage path, then a
    ``postgresql+psycopg://`` URL."""
    if request.param == "gpkg":
        return copy_without_users(store_path, tmp_path / "store.gpkg")
    return request.getfixturevalue("pg_store")
