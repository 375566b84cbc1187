"""Imports over HTTP: real layer files and rosters sent as multipart uploads to a real server.

The layers are three communities of the reference district written as an office would send
them (GeoJSON, and the buildings as a zipped GBK Shapefile without a ``.cpg``); the roster is an
xlsx with a merged title row. The server runs on its own copy of the reference store.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import threading
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import httpx
import pyogrio
import pytest
import shapely
import uvicorn

from geo_grid.importing.encoding import guess_dbf_encoding
from tests.test_api import PROBLEM, ServedURL, authed, free_port, provision, start_server
from tests.test_import import KEEP, geojson
from tests.test_import_people import make_id, write_xlsx, wrong_id

LIMIT = 4 * 1024 * 1024  # the server's import limit: the layers below are well under it
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def small(layers):
    """Three communities' layers; the street is their union, with only a name."""
    cm = layers.communities[layers.communities["code"].isin(KEEP)].reset_index(drop=True)
    gr = layers.grids[layers.grids["community_code"].isin(KEEP)].reset_index(drop=True)
    bd = layers.buildings[layers.buildings["community_code"].isin(KEEP)].reset_index(drop=True)
    st = gpd.GeoDataFrame({"name": ["江溪街道"]},
                          geometry=[shapely.union_all(cm.geometry.array)], crs=4490)
    return {"street": st, "communities": cm, "grids": gr, "buildings": bd}


@pytest.fixture(scope="module")
def files(small, tmp_path_factory) -> dict[str, Path]:
    """The street, communities and grids as GeoJSON; the buildings as a zipped Shapefile with
    Chinese column names in GBK and no ``.cpg``."""
    d = tmp_path_factory.mktemp("upload")
    shp_dir = d / "shp"
    shp_dir.mkdir()
    shp = shp_dir / "楼栋.shp"
    chinese = small["buildings"][["address", "floors", "households", "geometry"]].rename(
        columns={"address": "楼栋地址", "floors": "层数", "households": "户数"})
    pyogrio.write_dataframe(chinese, shp, encoding="GBK")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    assert guess_dbf_encoding(shp.with_suffix(".dbf").read_bytes()) == "GB18030"
    zpath = d / "楼栋.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(shp_dir.iterdir()):
            zf.write(p, p.name)
    return {"street": geojson(small["street"], d / "街道.geojson"),
            "communities": geojson(small["communities"][["code", "name", "geometry"]],
                                   d / "communities.geojson"),
            "grids": geojson(small["grids"][["code", "name", "community_code", "geometry"]],
                             d / "grids.geojson"),
            "buildings": zpath}


@pytest.fixture(scope="module")
def http(own_store):
    with start_server(own_store, GEO_GRID_MAX_IMPORT_BYTES=str(LIMIT)) as url, \
            authed(url, timeout=300) as client:
        yield client


def upload(files: dict[str, Path]) -> list[tuple[str, tuple[str, bytes]]]:
    return [(name, (path.name, path.read_bytes())) for name, path in files.items()]


def post_layers(http, files, **form):
    return http.post("/api/v1/imports/layers", files=upload(files), data=form)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_problem(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["code"] == code, body
    return body


def test_the_openapi_document_lists_the_imports(http):
    spec = http.get("/openapi.json").json()
    for kind in ("layers", "members", "households"):
        op = spec["paths"][f"/api/v1/imports/{kind}"]["post"]
        assert "multipart/form-data" in op["requestBody"]["content"]
        assert "201" in op["responses"] and "422" in op["responses"]
    form = spec["paths"]["/api/v1/imports/layers"]["post"]["requestBody"]["content"][
        "multipart/form-data"]["schema"]
    assert set(form["required"]) == {"street", "communities", "grids", "buildings"}


def test_overlapping_grids_are_refused_with_violations_and_nothing_changes(
        http, small, files, own_store, tmp_path):
    g = small["grids"][["code", "name", "community_code", "geometry"]].copy()
    # the first grid grown by ~30 m over its neighbours
    g.loc[0, "geometry"] = g.geometry.iloc[0].buffer(0.0003)
    bad = {**files, "grids": geojson(g, tmp_path / "overlap.geojson")}
    before, stored = http.get("/healthz").json(), digest(own_store)
    body = assert_problem(post_layers(http, bad, replace="true"), 422, "topology")
    kinds = {v["kind"] for v in body["violations"]}
    assert "overlap" in kinds, kinds
    assert all(v["severity"] == "error" and v["layer"] for v in body["violations"])
    assert any(v["code"] == g["code"].iloc[0] for v in body["violations"])
    assert "/tmp" not in body["detail"]
    assert http.get("/healthz").json() == before and digest(own_store) == stored


def test_a_street_is_replaced_only_when_asked(http, files, own_store):
    stored = digest(own_store)
    body = assert_problem(post_layers(http, files), 409, "conflict")
    assert "replace=true" in body["detail"]
    assert digest(own_store) == stored


def test_layers_import_is_served_at_once(http, small, files):
    r = post_layers(http, files, replace="true")
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/healthz"
    rep = r.json()
    assert rep["ok"] and rep["synthetic"] is False and rep["errors"] == []
    assert rep["counts"]["grids"] == len(small["grids"])
    assert rep["counts"]["buildings"] == len(small["buildings"])
    b = rep["layers"]["buildings"]
    assert b["file"] == "楼栋.zip" and b["format"] == "shapefile"
    assert b["encoding"] == "GB18030" and "not UTF-8" in b["encoding_note"]
    assert b["fields"] == {"address": "楼栋地址", "floors": "层数", "households": "户数"}
    assert rep["layers"]["street"]["file"] == "街道.geojson"
    assert b["sha256"] == digest(files["buildings"])
    health = http.get("/healthz").json()
    assert health["synthetic"] is False
    assert health["boundaries_version"] == rep["boundaries_version"]
    assert health["grids"] == len(small["grids"])
    assert health["buildings"] == len(small["buildings"])
    # the point lookup answers from the new street at once
    g = small["grids"]
    for i in (0, len(g) // 2, len(g) - 1):
        p = g.geometry.iloc[i].representative_point()
        hit = http.get("/api/v1/lookup", params={"lon": p.x, "lat": p.y}).json()
        assert hit["covered"] and hit["grid"]["code"] == g["code"].iloc[i]
        assert hit["community"]["code"] == g["community_code"].iloc[i]
    # a grid of the reference district outside the three communities is outside the street now
    codes = set(g["code"])
    assert all(c in codes for c in (x["properties"]["code"] for x in
                                     http.get("/api/v1/grids").json()["features"]))


def test_members_roster_is_imported_and_shown_masked(http, small, tmp_path):
    grids, homes = small["grids"], small["buildings"]
    people = [
        ["测试甲", "13800000001", make_id("32021419800101001"), "网格长", grids["code"].iloc[0],
         homes["address"].iloc[0]],
        ["测试乙", "13800000002", "", "专职网格员", grids["name"].iloc[1], homes["address"].iloc[5]],
        ["欧阳小明", "13800000003", make_id("32021419900202002"), "党员志愿者",
         grids["code"].iloc[2], ""],
    ]
    f = write_xlsx(tmp_path / "花名册.xlsx", ["姓名", "手机号码", "身份证号", "职务", "所属网格",
                                              "居住地址"], people)
    r = http.post("/api/v1/imports/members", files={"file": (f.name, f.read_bytes(), XLSX)})
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/api/v1/members"
    rep = r.json()
    assert rep["written"] and rep["kind"] == "members" and rep["file"] == "花名册.xlsx"
    assert [row["row"] for row in rep["rows"]] == [3, 4, 5]  # under the merged title row
    assert {row["status"] for row in rep["rows"]} == {"imported"}
    for person in people:  # no personal data in the answer
        assert all(v not in r.text for v in person[:3] if v)
    ids = [row["member_id"] for row in rep["rows"]]
    members = {m["id"]: m for m in http.get("/api/v1/members").json()}
    got = [members[i] for i in ids]
    assert [m["name"] for m in got] == ["测*甲", "测*乙", "欧**明"]
    assert [m["phone"] for m in got] == ["138****0001", "138****0002", "138****0003"]
    assert [m["grid_code"] for m in got] == list(grids["code"].iloc[:3])
    assert [m["role"] for m in got] == ["secretary", "social_worker", "volunteer"]
    assert http.get("/healthz").json()["members"] >= 3


def test_bad_rows_are_refused_with_their_rows_unless_skipped(http, small, tmp_path):
    grid = small["grids"]["code"].iloc[0]
    people = [["好人", "13700000001", "", "社工", grid, ""],
              ["坏号", "13700000002", wrong_id("11010519500101003"), "社工", grid, ""],
              ["无格", "13700000003", "", "社工", "不存在的网格", ""]]
    f = write_xlsx(tmp_path / "bad.xlsx", ["姓名", "手机号", "身份证号", "职务", "所属网格", "居住地址"],
                   people)
    before = http.get("/healthz").json()["members"]
    sent = {"file": (f.name, f.read_bytes(), XLSX)}
    body = assert_problem(http.post("/api/v1/imports/members", files=sent), 422, "invalid_input")
    assert [row["row"] for row in body["rows"]] == [4, 5] and body["bad_rows"] == 2
    assert "bad_id" in " ".join(body["rows"][0]["problems"])
    assert "unknown_grid" in " ".join(body["rows"][1]["problems"])
    assert "13700000002" not in str(body) and "坏号" not in str(body)
    assert http.get("/healthz").json()["members"] == before
    r = http.post("/api/v1/imports/members", files=sent, data={"skip_bad_rows": "true"})
    assert r.status_code == 201, r.text
    assert r.json()["summary"] == {"bad": 2, "imported": 1}
    assert http.get("/healthz").json()["members"] == before + 1


def test_households_counts_by_address(http, small, tmp_path):
    b = small["buildings"]
    f = write_xlsx(tmp_path / "住户.xlsx", ["地址", "户数", "人口", "独居老人"],
                   [[b["address"].iloc[3], 12, 30, 2], [b["address"].iloc[7], 5, 9, 0]],
                   title="住户统计")
    r = http.post("/api/v1/imports/households", files={"file": (f.name, f.read_bytes(), XLSX)})
    assert r.status_code == 201, r.text
    rep = r.json()
    assert rep["written"] and rep["mode"] == "counts"
    assert rep["households"] == 17 and rep["residents"] == 39 and rep["buildings"] == 2
    bad = write_xlsx(tmp_path / "bad.xlsx", ["楼栋编码", "户数"], [["NOPE", 3]], title="住户统计")
    body = assert_problem(http.post("/api/v1/imports/households",
                                    files={"file": (bad.name, bad.read_bytes(), XLSX)}),
                          422, "invalid_input")
    assert "unknown_building" in body["rows"][0]["problems"][0]


def test_oversized_and_unknown_uploads_are_refused(http, files, own_store, tmp_path):
    stored = digest(own_store)
    big = {"file": ("big.csv", b"a" * (LIMIT + 256 * 1024), "text/csv")}
    assert_problem(http.post("/api/v1/imports/members", files=big), 413, "payload_too_large")
    huge = {**files, "buildings": tmp_path / "huge.geojson"}
    huge["buildings"].write_bytes(b" " * (LIMIT + 256 * 1024))
    assert_problem(post_layers(http, huge, replace="true"), 413, "payload_too_large")
    doc = tmp_path / "grids.docx"
    doc.write_bytes(b"not a layer")
    body = assert_problem(post_layers(http, {**files, "grids": doc}, replace="true"), 422,
                          "invalid_input")
    assert body["field"] == "grids" and body["file"] == "grids.docx"
    assert "grids.docx" in body["detail"]
    shp = tmp_path / "grids.shp"
    shp.write_bytes(b"\0" * 100)
    body = assert_problem(post_layers(http, {**files, "grids": shp}, replace="true"), 422,
                          "invalid_input")
    assert ".zip" in body["detail"]
    missing = {k: v for k, v in files.items() if k != "street"}
    body = assert_problem(post_layers(http, missing, replace="true"), 422, "invalid_input")
    assert body["field"] == "street"
    assert digest(own_store) == stored


@contextlib.contextmanager
def serve_in_thread(app):
    """``app`` served by uvicorn in a thread (so the test can reach its state); its base URL.

    Like :func:`tests.test_api.serve_app`, with time for the store to load on a busy machine."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(),
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(1200):
            if server.started or not thread.is_alive():
                break
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        url = ServedURL(f"http://127.0.0.1:{server.config.port}")
        url.token = provision(app.state.settings.db)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


def test_one_import_at_a_time(store_path, small, tmp_path, monkeypatch):
    from api.app import create_app
    from api.routes import imports
    from api.settings import Settings

    db = tmp_path / "s.gpkg"
    shutil.copy(store_path, db)
    monkeypatch.setattr(imports, "LOCK_WAIT", 0.2)
    app = create_app(Settings(db=db, build_if_missing=False))
    grid = small["grids"]["code"].iloc[0]
    f = write_xlsx(tmp_path / "m.xlsx", ["姓名", "手机号", "职务", "所属网格"],
                   [["并发", "13500000001", "志愿者", grid]])
    sent = {"file": (f.name, f.read_bytes(), XLSX)}
    with serve_in_thread(app) as url, authed(url, timeout=300) as http:
        state = app.state.service
        assert state.write_lock.acquire(timeout=60)  # as another import would hold it
        try:
            members = http.get("/healthz").json()["members"]
            body = assert_problem(http.post("/api/v1/imports/members", files=sent), 409,
                                  "conflict")
            assert "another import" in body["detail"]
            assert http.get("/healthz").json()["members"] == members
        finally:
            state.write_lock.release()
        before = http.get("/healthz").json()["members"]
        r = http.post("/api/v1/imports/members", files=sent)
        assert r.status_code == 201, r.text
        assert r.json()["summary"] == {"imported": 1}
        assert http.get("/healthz").json()["members"] == before + 1
