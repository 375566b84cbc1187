"""The store as GDAL sees it: declared geometry types hold, R-tree indexes, every table listed.

The store here is built from a copy of the reference layers in which one building is a real
two-part MultiPolygon footprint (as real footprint layers have).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely

from geo_grid.layers import DEFAULT_BOUNDARIES
from geo_grid.store import Store, build_store, load_district
from geo_grid.store.gpkg import decode


def _validator() -> Path | None:
    try:
        import osgeo_utils
    except ImportError:
        return None
    return Path(osgeo_utils.__file__).parent / "samples" / "validate_gpkg.py"


@pytest.fixture(scope="module")
def multi_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("layers")
    for name in ("street", "communities", "grids", "buildings"):
        shutil.copy(DEFAULT_BOUNDARIES / f"{name}.geojson", folder / f"{name}.geojson")
    df = pyogrio.read_dataframe(folder / "buildings.geojson")
    i = df.index[0]
    g = df.geometry[i]
    x0, y0, x1, y1 = g.bounds
    mid = (x0 + x1) / 2
    # cut the footprint in two parts with a 1e-6 degree (~10 cm) passage between them
    left = g.intersection(shapely.box(x0, y0, mid - 5e-7, y1))
    right = g.intersection(shapely.box(mid + 5e-7, y0, x1, y1))
    df.loc[i, "geometry"] = shapely.MultiPolygon([left, right])
    (folder / "buildings.geojson").unlink()
    pyogrio.write_dataframe(df, folder / "buildings.geojson", driver="GeoJSON")
    path = tmp_path_factory.mktemp("multi") / "m.gpkg"
    build_store(path, folder)
    return path, str(df.loc[i, "code"])


def test_every_geometry_matches_its_declared_type(multi_store):
    path, code = multi_store
    con = sqlite3.connect(path)
    declared = dict(con.execute("SELECT table_name, geometry_type_name FROM gpkg_geometry_columns"))
    assert set(declared) == {"street", "communities", "grids", "buildings", "grids_history",
                             "buildings_history"}
    for table, gtype in declared.items():
        blobs = [r[0] for r in con.execute(f'SELECT geom FROM "{table}"')]
        types = {decode(b).geom_type.upper() for b in blobs}
        # the history tables of a store nobody edited yet are empty
        assert types == ({gtype} if blobs else set()), (table, types)
    con.close()
    b = load_district(path).buildings.set_index("code").geometry
    assert b[code].geom_type == "MultiPolygon" and len(b[code].geoms) == 2
    # single-part footprints still read back as Polygons
    assert (b.geom_type == "Polygon").sum() == len(b) - 1


@pytest.mark.skipif(_validator() is None, reason="gdal-utils (osgeo_utils) is not installed")
def test_gdal_validator_passes_with_a_multipart_footprint(multi_store, store_path):
    for path in (multi_store[0], store_path):
        run = subprocess.run([sys.executable, str(_validator()), str(path)],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Req" not in run.stdout + run.stderr


def test_layers_have_an_rtree_index_that_filters(multi_store):
    path, _ = multi_store
    con = sqlite3.connect(path)
    ext = set(con.execute("SELECT table_name, column_name, extension_name FROM gpkg_extensions"))
    con.close()
    for name in ("street", "communities", "grids", "buildings"):
        assert (name, "geom", "gpkg_rtree_index") in ext
        assert pyogrio.read_info(path, layer=name)["capabilities"]["fast_spatial_filter"] is True
    d = load_district(path)
    x0, y0, x1, y1 = d.grids.total_bounds
    bbox = (x0 + (x1 - x0) * 0.3, y0 + (y1 - y0) * 0.3, x0 + (x1 - x0) * 0.5, y0 + (y1 - y0) * 0.45)
    got = pyogrio.read_dataframe(path, layer="buildings", bbox=bbox)
    want = d.buildings[d.buildings.intersects(shapely.box(*bbox))]
    assert 0 < len(want) < len(d.buildings)
    assert set(want["code"]) <= set(got["code"])  # an envelope filter may return a few more
    env = shapely.bounds(np.asarray(got.geometry.array))
    assert ((env[:, 0] <= bbox[2]) & (env[:, 2] >= bbox[0])
            & (env[:, 1] <= bbox[3]) & (env[:, 3] >= bbox[1])).all()


def test_rtree_follows_edits_through_the_store(multi_store, tmp_path):
    path = tmp_path / "e.gpkg"
    shutil.copy(multi_store[0], path)
    store = Store(path)
    try:
        with store.engine.begin() as conn:
            fid = conn.exec_driver_sql("SELECT fid FROM grids ORDER BY fid LIMIT 1").scalar()
            blob = conn.exec_driver_sql("SELECT geom FROM grids WHERE fid = ?", (fid,)).scalar()
            moved = shapely.affinity.translate(decode(blob), xoff=1.0)
            from geo_grid.store.gpkg import encode

            conn.exec_driver_sql("UPDATE grids SET geom = ? WHERE fid = ?", (encode(moved, 4490), fid))
            minx = conn.exec_driver_sql("SELECT minx FROM rtree_grids_geom WHERE id = ?",
                                        (fid,)).scalar()
            assert minx == pytest.approx(moved.bounds[0], abs=1e-4)
            conn.exec_driver_sql("DELETE FROM grids WHERE fid = ?", (fid,))
            assert conn.exec_driver_sql("SELECT count(*) FROM rtree_grids_geom WHERE id = ?",
                                        (fid,)).scalar() == 0
    finally:
        store.close()


def test_attribute_tables_are_listed(store_path):
    listed = dict(pyogrio.list_layers(store_path))
    for name in ("households", "members", "assignments", "scenarios", "assignment_versions"):
        assert name in listed and listed[name] is None, name
    con = sqlite3.connect(store_path)
    kinds = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents"))
    con.close()
    assert kinds["assignment_versions"] == "attributes"


def test_versions_table_is_listed_in_an_older_store_once_created(store_path, tmp_path):
    from geo_grid.store.history import assignment_at, current_version, replace_assignment

    path = tmp_path / "old.gpkg"
    shutil.copy(store_path, path)
    con = sqlite3.connect(path)  # a store from before the versions table existed
    con.execute("DROP TABLE assignment_versions")
    con.execute("DELETE FROM gpkg_contents WHERE table_name = 'assignment_versions'")
    con.commit()
    con.close()
    assert "assignment_versions" not in dict(pyogrio.list_layers(path))
    store = Store(path)
    try:
        rows = assignment_at(store, current_version(store))
        replace_assignment(store, rows)
    finally:
        store.close()
    assert dict(pyogrio.list_layers(path))["assignment_versions"] is None
