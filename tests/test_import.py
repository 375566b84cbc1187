"""``geo-grid import``: real files of every kind, written here from three communities of the
reference district, imported over the CLI and looked up by point."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from geo_grid.crs import METRIC_EPSG, wgs84_to_bd09, wgs84_to_gcj02
from geo_grid.importing import read_layers
from geo_grid.importing.encoding import guess_dbf_encoding
from geo_grid.importing.read import read_raw
from geo_grid.importing.sources import parse_source
from geo_grid.tables import write_frame, write_xlsx
from tests.test_api import start_server

CLI = [sys.executable, "-m", "geo_grid.cli"]
#: Three neighbouring communities with few buildings (147): small files, fast imports.
KEEP = ("320214052033", "320214052400", "320214052401")


def run(*args, check=True):
    out = subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True,
                         timeout=300)
    if check:
        assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope="module")
def small(layers):
    """The three communities' layers; the street is their union, with only a name."""
    cm = layers.communities[layers.communities["code"].isin(KEEP)].reset_index(drop=True)
    gr = layers.grids[layers.grids["community_code"].isin(KEEP)].reset_index(drop=True)
    bd = layers.buildings[layers.buildings["community_code"].isin(KEEP)].reset_index(drop=True)
    st = gpd.GeoDataFrame({"name": ["江溪街道"]},
                          geometry=[shapely.union_all(cm.geometry.array)], crs=4490)
    return {"street": st, "communities": cm, "grids": gr, "buildings": bd}


def geojson(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    pyogrio.write_dataframe(gdf, path, driver="GeoJSON")
    return path


@pytest.fixture(scope="module")
def plain(small, tmp_path_factory):
    """The four layers as GeoJSON with codes (the baseline other tests swap one file of)."""
    d = tmp_path_factory.mktemp("plain")
    return {"street": geojson(small["street"], d / "street.geojson"),
            "communities": geojson(small["communities"][["code", "name", "geometry"]],
                                   d / "communities.geojson"),
            "grids": geojson(small["grids"][["code", "name", "community_code", "geometry"]],
                             d / "grids.geojson"),
            "buildings": geojson(small["buildings"], d / "buildings.geojson")}


def layer_args(files: dict) -> list[str]:
    return [a for k in ("street", "communities", "grids", "buildings")
            for a in (f"--{k}", str(files[k]))]


def metric(geoms) -> np.ndarray:
    return np.asarray(gpd.GeoSeries(list(geoms), crs=4490).to_crs(METRIC_EPSG).array, dtype=object)


def max_vertex_shift_m(a, b) -> float:
    """Largest Hausdorff distance in metres between corresponding geometries of two lists
    (independent of where a ring starts or which way it turns)."""
    ma, mb = metric(a), metric(b)
    assert len(ma) == len(mb)
    return float(shapely.hausdorff_distance(ma, mb).max())


def inside(gdf, i):
    p = gdf.geometry.iloc[i].representative_point()
    return p.x, p.y


def test_gbk_shapefile_without_cpg_is_read_as_gb18030_then_lookup_by_point(small, plain, tmp_path):
    b = small["buildings"]
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    shp = shp_dir / "楼栋.shp"
    chinese = b[["address", "floors", "households", "geometry"]].rename(
        columns={"address": "楼栋地址", "floors": "层数", "households": "户数"})
    pyogrio.write_dataframe(chinese, shp, encoding="GBK")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    dbf = shp.with_suffix(".dbf").read_bytes()
    assert guess_dbf_encoding(dbf) == "GB18030"  # the file really holds GBK bytes
    db, report = tmp_path / "imported.gpkg", tmp_path / "report.json"
    files = {**plain, "buildings": shp}
    out = json.loads(run("import", "--db", db, *layer_args(files), "--report", report).stdout)
    assert out["counts"]["buildings"] == len(b)
    rep = json.loads(report.read_text(encoding="utf-8"))
    layer = rep["layers"]["buildings"]
    assert layer["encoding"] == "GB18030" and "not UTF-8" in layer["encoding_note"]
    assert layer["fields"] == {"address": "楼栋地址", "floors": "层数", "households": "户数"}
    # the store holds the Chinese addresses intact, the households the layer gave
    con = sqlite3.connect(db)
    got = dict(con.execute("SELECT address, households FROM buildings").fetchall())
    meta = dict(con.execute("SELECT key, value FROM geo_grid_meta").fetchall())
    described = dict(con.execute("SELECT table_name, description FROM gpkg_contents").fetchall())
    con.close()
    assert described["buildings"] == "buildings (imported)"
    assert got == dict(zip(b["address"], b["households"].astype(int), strict=True))
    assert meta["synthetic"] == "false"
    sources = {s["layer"]: s for s in json.loads(meta["sources"])}
    assert sources["grids"]["sha256"] == hashlib.sha256(plain["grids"].read_bytes()).hexdigest()
    # every building got a code of its community and lies in the grid it was given
    g = small["grids"]
    for i in (0, len(g) // 2, len(g) - 1):
        lon, lat = inside(g, i)
        hit = json.loads(run("lookup", "--lon", lon, "--lat", lat, "--db", db).stdout)
        assert hit["covered"] and hit["grid"]["code"] == g["code"].iloc[i]
        assert hit["community"]["code"] == g["community_code"].iloc[i]
        assert hit["team"]["secretary"] is None and hit["team"]["volunteers"] == []


def test_zipped_shapefile_with_prj_in_cgcs2000_gauss_kruger(small, tmp_path):
    g = small["grids"][["code", "name", "community_code", "geometry"]].to_crs(METRIC_EPSG)
    folder = tmp_path / "z"
    folder.mkdir()
    pyogrio.write_dataframe(g.rename(columns={"code": "网格编码", "name": "网格名称",
                                              "community_code": "所属社区"}),
                            folder / "grids.shp", encoding="GBK")  # GBK, named by a .cpg
    zpath = tmp_path / "grids.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, f"data/{p.name}")
    raw = read_raw(parse_source(zpath), "grids")
    assert raw.format == "shapefile" and raw.frame.crs.to_epsg() == METRIC_EPSG
    assert raw.encoding_note == "cpg"
    assert list(raw.frame["网格名称"]) == list(small["grids"]["name"])


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_gcj02_geojson_lands_within_a_metre_of_the_original(small, plain, tmp_path, crs):
    g = small["grids"][["name", "community_code", "geometry"]]
    forward = wgs84_to_gcj02 if crs == "gcj02" else wgs84_to_bd09

    def to_gcj(xy):
        lon, lat = forward(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    shifted = g.set_geometry(shapely.transform(np.asarray(g.geometry.array), to_gcj), crs=4326)
    path = geojson(shifted.rename(columns={"name": "网格名称", "community_code": "社区编码"}),
                   tmp_path / "grids_amap.geojson")
    files = {**plain, "grids": path}
    # without --crs the Amap grids are ~500 m off: they overlap and leave gaps
    assert not read_layers(files).ok
    result = read_layers(files, crs=[f"grids={crs}"])
    assert result.ok, result.errors[:3]
    assert result.report["layers"]["grids"]["crs"] == f"{crs} (--crs)"
    assert max_vertex_shift_m(result.district.grids.geometry, g.geometry) < 1.0
    # the codes were missing: made by the rule (rows of 400 m from the north, west to east),
    # which is the rule the reference grids were numbered by
    assert list(result.district.grids["code"]) == list(small["grids"]["code"])
    assert result.report["generated_codes"]["grids"] == len(g)


def test_kml_communities_get_codes_from_the_street(small, plain, tmp_path):
    cm = small["communities"][["name", "geometry"]].rename(columns={"name": "Name"})
    kml = tmp_path / "communities.kml"
    pyogrio.write_dataframe(cm, kml, driver="KML")
    street = small["street"].assign(街道编码="320214052")
    files = {**plain, "communities": kml,
             "street": geojson(street, tmp_path / "street.geojson")}
    result = read_layers(files)
    got = result.district.communities
    assert list(got["name"]) == list(small["communities"]["name"])
    assert result.report["layers"]["communities"]["crs"].endswith("(kml)")
    assert all(len(c) == 12 and c.startswith("320214052") for c in got["code"])
    assert got["code"].is_unique and result.report["generated_codes"]["communities"] == 3
    # the grids name their (real) community codes, which the KML did not have: errors
    assert {v.kind for v in result.errors} >= {"bad_reference"}


def test_geopackage_in_web_mercator_with_a_named_layer(small, plain, tmp_path):
    gpkg = tmp_path / "office.gpkg"
    pyogrio.write_dataframe(small["grids"].to_crs(3857), gpkg, layer="网格")
    pyogrio.write_dataframe(small["buildings"].to_crs(3857), gpkg, layer="楼栋")
    files = {**plain, "buildings": f"{gpkg}:楼栋", "grids": gpkg}  # grids: the first layer
    result = read_layers(files)
    assert result.ok, result.errors[:3]
    assert result.report["layers"]["buildings"]["crs"] == "EPSG:3857 (file)"
    assert result.report["layers"]["buildings"]["layer"] == "楼栋"
    assert max_vertex_shift_m(result.district.buildings.geometry,
                              small["buildings"].geometry) < 0.01
    assert list(result.district.grids["code"]) == list(small["grids"]["code"])


def test_csv_with_wkt_and_xlsx_with_a_title_row(small, plain, tmp_path):
    g = small["grids"]
    names = dict(zip(small["communities"]["code"], small["communities"]["name"], strict=True))
    grid_csv = tmp_path / "grids.csv"
    pd.DataFrame({"网格名称": g["name"], "所属社区": g["community_code"].map(names),
                  "WKT": shapely.to_wkt(np.asarray(g.geometry.array), rounding_precision=-1)}
                 ).to_csv(grid_csv, index=False, encoding="gb18030")
    b = small["buildings"]
    table = pd.DataFrame({"门牌地址": b["address"], "层数": b["floors"], "住户数": b["households"],
                          "常住人口": b["households"] * 3,
                          "geometry": shapely.to_wkt(np.asarray(b.geometry.array), rounding_precision=-1)})
    xlsx = tmp_path / "buildings.xlsx"
    title = ["江溪街道楼栋清单（2026年11月）"] + [""] * (table.shape[1] - 1)
    write_xlsx(xlsx, [table[c].tolist() for c in table.columns],
               head_rows=[title, list(table.columns)])
    files = {**plain, "grids": grid_csv, "buildings": xlsx}
    result = read_layers(files)
    assert result.ok, result.errors[:3]
    rep = result.report
    assert rep["layers"]["grids"]["encoding"] == "gb18030"
    assert rep["layers"]["grids"]["fields"] == {"community_code": "所属社区", "name": "网格名称"}
    assert rep["layers"]["buildings"]["fields"]["residents"] == "常住人口"
    assert rep["counts"]["residents"] == int(b["households"].sum() * 3)
    # community names were turned into their codes, and the grids kept theirs by position
    assert list(result.district.grids["community_code"]) == list(g["community_code"])
    assert list(result.district.buildings["grid_code"]) == list(b["grid_code"])
    got = result.district.buildings
    assert list(got["compound"]) == list(b["compound"])
    assert list(got["number"]) == [str(v) for v in b["number"]]
    assert rep["defaults"]["buildings.category"]["features"] == len(b)


def test_xlsx_with_lon_lat_gives_points_that_validation_refuses(small, plain, tmp_path):
    c = small["communities"]
    pts = c.geometry.representative_point()
    xlsx = tmp_path / "communities.xlsx"
    write_frame(pd.DataFrame({"社区编码": c["code"], "社区名称": c["name"], "经度": pts.x,
                              "纬度": pts.y}), xlsx)
    raw = read_raw(parse_source(xlsx), "communities")
    assert list(raw.frame.geometry.geom_type) == ["Point"] * len(c)
    result = read_layers({**plain, "communities": xlsx})
    assert "wrong_geometry_type" in {v.kind for v in result.errors}


def test_field_option_names_a_column_the_headers_do_not(small, plain, tmp_path):
    g = small["grids"][["code", "community_code", "geometry"]].rename(
        columns={"code": "GID", "community_code": "PARENT"})
    path = geojson(g, tmp_path / "grids.geojson")
    result = read_layers({**plain, "grids": path},
                         fields=["grids.code=GID", "grids.community_code=PARENT"])
    assert result.ok and list(result.district.grids["code"]) == list(small["grids"]["code"])
    assert result.report["defaults"]["grids.name"]["features"] == len(g)


def test_failing_import_leaves_the_existing_store_byte_identical(small, plain, tmp_path):
    db = tmp_path / "s.gpkg"
    run("import", "--db", db, *layer_args(plain))
    before = db.read_bytes()
    again = run("import", "--db", db, *layer_args(plain), check=False)
    assert again.returncode == 2 and "--force" in again.stderr
    # one grid grown by 30 m overlaps its neighbours
    g = small["grids"][["code", "name", "community_code", "geometry"]].copy()
    m = g.to_crs(METRIC_EPSG)
    m.loc[0, "geometry"] = m.geometry.iloc[0].buffer(30)
    bad = geojson(m.to_crs(4490), tmp_path / "overlap.geojson")
    report = tmp_path / "r.json"
    out = run("import", "--db", db, *layer_args({**plain, "grids": bad}), "--force",
              "--report", report, check=False)
    assert out.returncode == 2 and "overlap" in out.stderr
    assert db.read_bytes() == before
    assert not list(tmp_path.glob(".s.gpkg.*"))  # no temporary file left behind
    rep = json.loads(report.read_text(encoding="utf-8"))
    assert rep["ok"] is False and rep["store"] is None
    overlap = [v for v in rep["errors"] if v["kind"] == "overlap"]
    assert overlap and g["code"].iloc[0] in overlap[0]["code"]
    assert 120 < overlap[0]["lon"] < 121 and 31 < overlap[0]["lat"] < 32


def test_imported_store_serves_and_says_it_is_not_synthetic(small, plain, tmp_path, store_path):
    db = tmp_path / "served.gpkg"
    run("import", "--db", db, *layer_args(plain))
    with start_server(db) as url:
        health = httpx.get(url + "/healthz").json()
        lon, lat = inside(small["grids"], 3)
        hit = httpx.get(url + "/api/v1/lookup", params={"lon": lon, "lat": lat},
                        headers=url.headers).json()
    assert health["synthetic"] is False and health["grids"] == len(small["grids"])
    assert health["members"] == 0
    assert hit["grid"]["code"] == small["grids"]["code"].iloc[3]
    from api.routes.health import _synthetic

    assert _synthetic(str(store_path.resolve())) is True  # the reference store is synthetic


def test_kmz_and_a_geojson_crs_member_are_read(small, plain, tmp_path):
    cm = small["communities"][["code", "name", "geometry"]]
    kml = tmp_path / "doc.kml"
    pyogrio.write_dataframe(cm, kml, driver="KML")
    kmz = tmp_path / "communities.kmz"
    with zipfile.ZipFile(kmz, "w") as zf:
        zf.write(kml, "doc.kml")
    old_style = tmp_path / "grids_3857.geojson"  # a pre-RFC 7946 file naming its CRS
    pyogrio.write_dataframe(small["grids"].to_crs(3857), old_style, driver="GeoJSON",
                            layer_options={"RFC7946": "NO"})
    assert "crs" in json.loads(old_style.read_text(encoding="utf-8"))
    result = read_layers({**plain, "communities": kmz, "grids": old_style})
    assert result.ok, result.errors[:3]
    assert result.report["layers"]["grids"]["crs"] == "EPSG:3857 (file)"
    assert list(result.district.communities["name"]) == list(cm["name"])
    assert max_vertex_shift_m(result.district.grids.geometry, small["grids"].geometry) < 0.01


def test_crs_option_overrides_the_file(small, plain, tmp_path):
    """A layer in metres saved without its CRS (a .shp without .prj) is read with --crs."""
    folder = tmp_path / "noprj"
    folder.mkdir()
    shp = folder / "grids.shp"
    pyogrio.write_dataframe(small["grids"][["code", "geometry"]].to_crs(METRIC_EPSG), shp)
    shp.with_suffix(".prj").unlink()
    with pytest.raises(Exception, match="names no CRS"):
        read_layers({**plain, "grids": shp})
    result = read_layers({**plain, "grids": shp}, crs=["grids=EPSG:4549"])
    assert result.ok, result.errors[:3]
    assert max_vertex_shift_m(result.district.grids.geometry, small["grids"].geometry) < 0.01


def test_killing_an_import_at_any_moment_loses_nothing(plain, tmp_path):
    import os
    import signal
    import time

    db = tmp_path / "k.gpkg"
    run("import", "--db", db, *layer_args(plain))
    before = db.read_bytes()
    rng = np.random.default_rng(7)
    for delay in np.sort(rng.uniform(0.0, 2.5, 6)):
        proc = subprocess.Popen(CLI + ["import", "--db", str(db), *layer_args(plain), "--force"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(float(delay))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        rc = proc.wait(60)
        now = db.read_bytes()
        if now != before:  # the store was replaced (perhaps killed just after): it is whole
            assert rc in (0, -signal.SIGKILL)
            con = sqlite3.connect(db)
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert con.execute("SELECT count(*) FROM grids").fetchone()[0] > 0
            con.close()
            before = now
    run("import", "--db", db, *layer_args(plain), "--force")
    assert not list(tmp_path.glob(".k.gpkg.building-*"))  # what killed builds left is cleared


def test_building_codes_are_made_per_community_in_reading_order(small, plain):
    result = read_layers(plain, fields=[])  # baseline: every code given, none made
    assert result.report["generated_codes"]["buildings"] == 0
    b = small["buildings"].drop(columns=["code", "grid_code", "community_code"])
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = geojson(b, Path(d) / "b.geojson")
        got = read_layers({**plain, "buildings": path}).district.buildings
    assert got["code"].is_unique and list(got["grid_code"]) == list(small["buildings"]["grid_code"])
    for ccode, part in got.groupby("community_code"):
        assert all(c.startswith(ccode) and len(c) == 17 for c in part["code"])
        # numbered from 00001 without holes; the first one is in the community's northern row
        seq = sorted(int(c[-5:]) for c in part["code"])
        assert seq == list(range(1, len(part) + 1))
        y = shapely.get_y(shapely.centroid(metric(part.geometry)))
        first = y[list(part["code"]).index(f"{ccode}00001")]
        assert first >= np.median(y)


def test_two_buildings_with_one_address_stop_the_import(small, plain, tmp_path):
    b = small["buildings"].copy()
    b.loc[5, "address"] = b.loc[4, "address"]
    b.loc[5, ["compound", "number"]] = b.loc[4, ["compound", "number"]].to_numpy()
    result = read_layers({**plain, "buildings": geojson(b, tmp_path / "b.geojson")})
    dup = [v for v in result.errors if v.kind == "duplicate_address"]
    assert dup and {v.code for v in dup} == {b["code"].iloc[5]}
    assert b["code"].iloc[4] in dup[0].message and dup[0].lon is not None
    assert not result.ok


def test_door_numbers_with_a_letter_or_dash_are_kept_as_written(small, plain, tmp_path):
    b = small["buildings"].drop(columns=["compound", "number"]).copy()
    comp = small["buildings"]["compound"].iloc[0]
    b.loc[0, "address"] = f"{comp}901A栋"
    b.loc[1, "address"] = f"{comp}901-1栋"
    b.loc[2, "address"] = f"{comp}901栋"
    path = geojson(b, tmp_path / "b.geojson")
    db = tmp_path / "doors.gpkg"
    run("import", "--db", db, *layer_args({**plain, "buildings": path}))
    con = sqlite3.connect(db)
    got = dict(con.execute("SELECT code, number FROM buildings").fetchall())
    con.close()
    assert [got[c] for c in b["code"].iloc[:3]] == ["901A", "901-1", "901"]
    hit = json.loads(run("lookup", "--address", f"{comp}901A栋2单元301", "--db", db).stdout)
    assert hit["grid"]["code"] == b["grid_code"].iloc[0]
