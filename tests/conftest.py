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
