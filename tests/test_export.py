"""``geo-grid export``: the reference store written in every format and imported back with
``geo_grid.importing.import_store`` (its Chinese field names recognised), over the core, the
CLI and real HTTP."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely

from geo_grid.district import LAYERS
from geo_grid.errors import InvalidInput, NotFound, UnknownCRS
from geo_grid.exporting import district_of, export_layers
from geo_grid.exporting.columns import DBF_NAME_BYTES, LAYER_FIELDS, field_names
from geo_grid.importing import import_store
from geo_grid.importing.fields import recognise
from geo_grid.store import Store, load_district
from tests.test_api import PROBLEM, authed, start_server

CLI = [sys.executable, "-m", "geo_grid.cli"]


def by_layer(spec: str) -> dict[str, str]:
    """``{layer}`` filled in for each of the four layers."""
    return {k: spec.format(layer=k) for k in LAYERS}


def reimport(files: dict[str, str], db: Path, crs: tuple[str, ...] = ()):
    """The files imported into a new store at ``db``, and the store's district."""
    result = import_store(db, files, crs=crs, force=True)
    assert result.ok, result.report["errors"][:3]
    assert result.report["generated_codes"] == {"communities": 0, "grids": 0, "buildings": 0}
    return result, load_district(db)


def assert_same_layers(before, after, tol_deg: float = 1e-6) -> None:
    """Same features, same fields, geometries within ``tol_deg`` degrees."""
    for layer in LAYERS:
        a = getattr(before, layer).sort_values("code").reset_index(drop=True)
        b = getattr(after, layer).sort_values("code").reset_index(drop=True)
        assert len(a) == len(b), layer
        for col in a.columns:
            if col not in ("geometry", "synthetic"):
                assert a[col].tolist() == b[col].tolist(), (layer, col)
        ga, gb = np.asarray(a.geometry.array), np.asarray(b.geometry.array)
        assert shapely.hausdorff_distance(ga, gb).max() < tol_deg, layer
        # what rounding to tol_deg may move: a band tol_deg wide along the outline
        sym = shapely.area(shapely.symmetric_difference(ga, gb))
        assert (sym <= shapely.length(ga) * tol_deg).all(), layer


def test_field_names_fit_and_are_recognised_by_the_importer():
    for layer, fields in LAYER_FIELDS.items():
        want = {f.column for f in fields}
        for short in (False, True):
            names = field_names(layer, short)
            got = recognise(layer, names)
            assert {k: v for k, v in got.items() if k in want} == {
                f.column: (f.short if short else f.label) for f in fields}, (layer, short)
            assert set(got) == want, (layer, short)
        assert all(len(f.short.encode("utf-8")) <= DBF_NAME_BYTES for f in fields), layer
    assert field_names("buildings")[:4] == ["编码", "网格编码", "社区编码", "地址"]


def test_gpkg_round_trip(district, tmp_path):
    out = export_layers(district, "gpkg", tmp_path / "layers.gpkg")
    assert out == [tmp_path / "layers.gpkg"]
    assert [str(n) for n, _ in pyogrio.list_layers(out[0])] == list(LAYERS)
    result, back = reimport(by_layer(f"{out[0]}:{{layer}}"), tmp_path / "back.gpkg")
    assert result.report["layers"]["buildings"]["fields"]["households"] == "户数"
    assert_same_layers(district, back)


def test_geojson_zip_is_rfc7946_and_round_trips(district, tmp_path):
    (out,) = export_layers(district, "geojson", tmp_path / "layers.zip")
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == sorted(f"{k}.geojson" for k in LAYERS)
        zf.extractall(tmp_path / "gj")
    for layer in LAYERS:
        doc = json.loads((tmp_path / "gj" / f"{layer}.geojson").read_text("utf-8"))
        assert doc["type"] == "FeatureCollection" and "crs" not in doc
        geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in doc["features"]])
        polys = shapely.get_parts(geoms)
        assert shapely.is_ccw(shapely.get_exterior_ring(polys)).all(), layer
        holes = [r for p in polys for r in p.interiors]
        assert not any(shapely.is_ccw(h) for h in holes), layer
        xy = shapely.get_coordinates(polys)
        assert np.allclose(xy, np.round(xy, 7), rtol=0, atol=1e-12), layer
    first = json.loads((tmp_path / "gj" / "buildings.geojson").read_text("utf-8"))["features"][0]
    assert set(first["properties"]) == set(field_names("buildings"))
    assert first["properties"]["类别"] in ("板楼", "点式楼", "商铺", "厂房", "宿舍", "办公楼")
    _, back = reimport(by_layer(f"{tmp_path}/gj/{{layer}}.geojson"), tmp_path / "back.gpkg")
    assert_same_layers(district, back)


def test_shapefile_zip_has_cpg_prj_and_chinese_and_round_trips(district, tmp_path):
    (out,) = export_layers(district, "shp", tmp_path / "layers.zip")
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        for layer in LAYERS:
            assert {f"{layer}.{s}" for s in ("shp", "shx", "dbf", "prj", "cpg")} <= names
            assert zf.read(f"{layer}.cpg").decode().strip().upper() in ("UTF-8", "UTF8")
            assert b"China_Geodetic_Coordinate_System_2000" in zf.read(f"{layer}.prj")
    table = pyogrio.read_dataframe(f"/vsizip/{out}/buildings.shp", read_geometry=False)
    assert list(table.columns) == field_names("buildings", short=True)
    assert table["地址"].tolist() == district.buildings["address"].tolist()
    _, back = reimport(by_layer(f"{out}:{{layer}}"), tmp_path / "back.gpkg")
    assert_same_layers(district, back)


def test_kml_has_a_folder_per_layer_and_round_trips(district, tmp_path):
    (out,) = export_layers(district, "kml", tmp_path)
    assert out == tmp_path / "layers.kml"
    assert [str(n) for n, _ in pyogrio.list_layers(out)] == list(LAYERS)
    placemarks = pyogrio.read_dataframe(out, layer="buildings", read_geometry=False)
    assert placemarks["Name"].tolist() == district.buildings["address"].tolist()
    _, back = reimport(by_layer(f"{out}:{{layer}}"), tmp_path / "back.gpkg")
    assert_same_layers(district, back)


def test_xlsx_round_trips(district, tmp_path):
    (out,) = export_layers(district, "xlsx", tmp_path / "layers.xlsx")
    _, back = reimport(by_layer(f"{out}:{{layer}}"), tmp_path / "back.gpkg")
    assert_same_layers(district, back)


def test_csv_has_a_bom_and_round_trips(district, tmp_path):
    files = export_layers(district, "csv", tmp_path / "csv")
    assert sorted(p.name for p in files) == sorted(f"{k}.csv" for k in LAYERS)
    head = (tmp_path / "csv" / "grids.csv").read_bytes()[:40]
    assert head.startswith(b"\xef\xbb\xbf" + "编码,名称,社区编码,类型,WKT".encode())
    _, back = reimport(by_layer(f"{tmp_path}/csv/{{layer}}.csv"), tmp_path / "back.gpkg")
    assert_same_layers(district, back)


def test_gcj02_shapefile_names_no_crs_and_round_trips_with_crs_option(district, tmp_path):
    export_layers(district, "shp", tmp_path / "shp", crs="gcj02")
    assert not list((tmp_path / "shp").glob("*.prj"))
    shifted = pyogrio.read_dataframe(tmp_path / "shp" / "street.shp")
    moved = shapely.hausdorff_distance(shifted.geometry.iloc[0], district.street.geometry.iloc[0])
    assert 1e-3 < moved < 1e-2  # GCJ-02 is some hundreds of metres off here
    _, back = reimport(by_layer(f"{tmp_path}/shp/{{layer}}.shp"), tmp_path / "back.gpkg",
                       crs=tuple(f"{k}=gcj02" for k in LAYERS))
    assert_same_layers(district, back)


def test_cli_gpkg_in_epsg_4549_declares_it_and_round_trips(store_path, district, tmp_path):
    out = tmp_path / "4549.gpkg"
    run = subprocess.run([*CLI, "export", "--db", str(store_path), "--format", "gpkg",
                          "-o", str(out), "--crs", "4549"], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["files"] == [str(out)] and summary["crs"] == "EPSG:4549"
    assert summary["counts"] == {k: len(getattr(district, k)) for k in LAYERS}
    for layer in LAYERS:
        assert pyogrio.read_info(out, layer=layer)["crs"] == "EPSG:4549"
    x0, y0, _, _ = pyogrio.read_info(out, layer="grids")["total_bounds"]
    assert 3e5 < x0 < 7e5 and y0 > 3e6  # metres, not degrees
    result, back = reimport(by_layer(f"{out}:{{layer}}"), tmp_path / "back.gpkg")
    assert result.report["layers"]["grids"]["crs"] == "EPSG:4549 (file)"
    assert_same_layers(district, back)


def test_cli_refusals_exit_2_with_the_reason(store_path, tmp_path):
    run = subprocess.run([*CLI, "export", "--db", str(store_path), "--format", "geojson",
                          "-o", str(tmp_path / "g"), "--crs", "4549"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 2 and "invalid_input" in run.stderr and "RFC 7946" in run.stderr
    assert not (tmp_path / "g").exists() or not any((tmp_path / "g").iterdir())


def test_refusals(district, store_path, tmp_path):
    with pytest.raises(InvalidInput, match="unknown export format"):
        export_layers(district, "dxf", tmp_path / "x.dxf")
    with pytest.raises(UnknownCRS):
        export_layers(district, "gpkg", tmp_path / "x.gpkg", crs="mars2000")
    for fmt in ("geojson", "kml"):
        with pytest.raises(InvalidInput, match="WGS-84"):
            export_layers(district, fmt, tmp_path / f"x.{fmt}", crs="gcj02")
    store = Store(store_path)
    try:
        with pytest.raises(NotFound):
            district_of(store, 999)
        assert len(district_of(store, None).buildings) == len(district.buildings)
    finally:
        store.close()
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.fixture(scope="module")
def http(own_store):
    with start_server(own_store) as url, authed(url, timeout=60) as c:
        yield c


def test_api_downloads_a_shapefile_zip_and_a_gpkg(http, district, tmp_path):
    r = http.get("/api/v1/export", params={"format": "shp"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="320214052-layers-shp.zip"'
    (tmp_path / "shp.zip").write_bytes(r.content)
    with zipfile.ZipFile(tmp_path / "shp.zip") as zf:
        assert len([n for n in zf.namelist() if n.endswith(".cpg")]) == 4
    _, back = reimport(by_layer(f"{tmp_path}/shp.zip:{{layer}}"), tmp_path / "back.gpkg")
    assert_same_layers(district, back)

    r = http.get("/api/v1/export", params={"format": "gpkg", "version": 1, "crs": "cgcs2000"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geopackage+sqlite3"
    assert 'filename="320214052-layers-v1.gpkg"' in r.headers["content-disposition"]
    (tmp_path / "api.gpkg").write_bytes(r.content)
    assert [str(n) for n, _ in pyogrio.list_layers(tmp_path / "api.gpkg")] == list(LAYERS)
    assert pyogrio.read_info(tmp_path / "api.gpkg", layer="buildings")["features"] == len(
        district.buildings)


def test_api_errors_are_problems(http):
    for params, status, code in [({"format": "dxf"}, 422, "validation"),
                                 ({"format": "gpkg", "crs": "mars2000"}, 422, "unknown_crs"),
                                 ({"format": "geojson", "crs": "4549"}, 422, "invalid_input"),
                                 ({"format": "gpkg", "version": 999}, 404, "not_found")]:
        r = http.get("/api/v1/export", params=params)
        assert r.status_code == status, (params, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["code"] == code, params



def test_a_past_boundary_version_is_exported_as_it_was(store_path, district, tmp_path):
    from geo_grid.editing import merge_grids
    from geo_grid.store.edits import run_edit

    db = tmp_path / "edited.gpkg"
    shutil.copy(store_path, db)
    grids = district.grids
    pair = next([a.code, b.code] for a in grids.itertuples() for b in grids.itertuples()
                if a.code < b.code and a.community_code == b.community_code
                and shapely.length(shapely.intersection(a.geometry, b.geometry)) > 1e-4)
    store = Store(db)
    try:
        done = run_edit(store, lambda d, c: merge_grids(d, pair, c), author="test")
        assert done.version.id == 2
        before = district_of(store, 1)
        after = district_of(store, None)
    finally:
        store.close()
    (old,) = export_layers(before, "gpkg", tmp_path / "v1.gpkg")
    (new,) = export_layers(after, "gpkg", tmp_path / "v2.gpkg")
    old_codes = pyogrio.read_dataframe(old, layer="grids", read_geometry=False)["编码"].tolist()
    new_codes = pyogrio.read_dataframe(new, layer="grids", read_geometry=False)["编码"].tolist()
    assert old_codes == grids["code"].tolist()
    assert len(new_codes) == len(old_codes) - 1 and not set(pair) & set(new_codes)
