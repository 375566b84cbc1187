"""Batch lookup over real HTTP: JSON arrays and uploaded rosters (CSV, xlsx), with limits."""

from __future__ import annotations

import io
import json

import openpyxl
import pandas as pd
import pytest

from tests.test_api import PROBLEM, authed, start_server

UPLOAD_LIMIT = 300_000


@pytest.fixture(scope="module")
def http(store_path):
    with start_server(store_path, GEO_GRID_MAX_UPLOAD_BYTES=str(UPLOAD_LIMIT),
                      GEO_GRID_MAX_BATCH_ITEMS="10000") as url, \
            authed(url, timeout=120) as c:
        yield c


def test_json_array_mixed_items_in_order(http, district):
    b = district.buildings.iloc[[10, 200, 3000]]
    g = district.grids.iloc[50]
    p = g.geometry.representative_point()
    items = [b["address"].iloc[0], {"address": "江溪街道" + b["address"].iloc[1]},
             {"lon": p.x, "lat": p.y, "crs": "cgcs2000"}, {"lon": 31.5, "lat": 120.3}, 42,
             "叙丰家园9999栋", b["address"].iloc[2]]
    r = http.post("/api/v1/lookup/batch", json=items)
    assert r.status_code == 200
    res = r.json()["results"]
    assert [x["index"] for x in res] == list(range(len(items)))
    assert res[0]["grid"]["code"] == b["grid_code"].iloc[0] and res[0]["status"] == "matched"
    assert res[1]["grid"]["code"] == b["grid_code"].iloc[1]
    assert res[2]["status"] == "located" and res[2]["grid"]["code"] == g["code"]
    assert res[3]["status"] == "error" and "swapped" in res[3]["error"]
    assert res[4]["status"] == "error"
    assert res[5]["status"] in ("unmatched", "ambiguous") and res[5]["grid"] is None
    assert res[6]["grid"]["code"] == b["grid_code"].iloc[2]
    s = r.json()["summary"]
    assert s["items"] == 7 and s["matched"] == 3 and s["error"] == 2


def test_json_array_over_the_limit_is_413(http):
    r = http.post("/api/v1/lookup/batch", json=["叙丰家园1栋"] * 10_001)
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)
    assert "10000" in r.json()["detail"]
    r = http.post("/api/v1/lookup/batch", json={"not": "an array"})
    assert r.status_code == 422


def make_xlsx(addresses) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["江溪街道住户花名册"])
    ws.merge_cells("A1:D1")
    ws.append(["序号", "姓 名", "联系电话", "家庭\n住址"])
    for i, a in enumerate(addresses, 1):
        ws.append([i, f"住户{i}", f"1990000{i:04d}", a])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_uploaded_xlsx_comes_back_with_grid_columns(http, district):
    b = district.buildings.sample(40, random_state=3)
    addrs = list(b["address"]) + ["", "火星路1号"]
    r = http.post("/api/v1/lookup/batch",
                  files={"file": ("花名册.xlsx", make_xlsx(addrs), "application/octet-stream")})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    summary = json.loads(r.headers["x-batch-summary"])
    assert summary["rows"] == len(addrs) and summary["matched"] == 40
    out = pd.read_excel(io.BytesIO(r.content), dtype=str, header=1, engine="calamine")
    assert len(out) == len(addrs)
    assert list(out["网格编码"][:40]) == list(b["grid_code"])
    assert out["联系电话"].iloc[0] == "19900000001"  # phones stay text


def test_uploaded_csv_with_named_column(http, district):
    b = district.buildings.iloc[:5]
    csv = "编号,地点\n" + "\n".join(f"{i},{a}" for i, a in enumerate(b["address"]))
    r = http.post("/api/v1/lookup/batch", data={"address_column": "地点"},
                  files={"file": ("r.csv", csv.encode("utf-8"), "text/csv")})
    assert r.status_code == 200, r.text
    out = pd.read_csv(io.BytesIO(r.content), dtype=str)
    assert list(out["网格编码"]) == list(b["grid_code"])


def test_upload_over_the_limit_is_413_and_bad_files_422(http):
    big = make_xlsx(["叙丰家园1栋" + "x" * 50] * 30_000)
    assert len(big) > UPLOAD_LIMIT
    r = http.post("/api/v1/lookup/batch", files={"file": ("big.xlsx", big, "application/octet-stream")})
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)
    r = http.post("/api/v1/lookup/batch", files={"file": ("x.pdf", b"%PDF", "application/pdf")})
    assert r.status_code == 422 and ".csv" in r.json()["detail"]


def test_json_items_bool_both_and_statuses_match_the_file_batch(http, district):
    g = district.grids.iloc[50]
    p = g.geometry.representative_point()
    addr = district.buildings["address"].iloc[10]
    items = [{"lon": True, "lat": 31.5}, {"lon": 120.3, "lat": False},
             {"address": addr, "lon": p.x, "lat": p.y}, {"address": addr, "lat": p.y},
             {"lon": p.x, "lat": p.y}, {"lon": 100.0, "lat": 30.0}]
    r = http.post("/api/v1/lookup/batch", json=items)
    assert r.status_code == 200
    res = r.json()["results"]
    assert res[0]["status"] == "error" and "true/false" in res[0]["error"]
    assert res[1]["status"] == "error" and "true/false" in res[1]["error"]
    assert res[2]["status"] == "error" and "not both" in res[2]["error"]
    assert res[3]["status"] == "error" and "not both" in res[3]["error"]
    assert res[4]["status"] == "located" and res[4]["grid"]["code"] == g["code"]
    assert res[5]["status"] == "not_covered" and res[5]["grid"] is None
    # the uploaded roster uses the same point status words
    csv = f"编号,经度,纬度\n1,{p.x!r},{p.y!r}\n2,100.0,30.0\n3,{p.y!r},{p.x!r}\n"
    r = http.post("/api/v1/lookup/batch", files={"file": ("p.csv", csv.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    out = pd.read_csv(io.BytesIO(r.content), dtype=str)
    assert list(out["匹配状态"]) == ["located", "not_covered", "error"]
    assert "swapped" in out["说明"].iloc[2]
    assert out["网格编码"].iloc[0] == g["code"]


def test_upload_crs_and_sheet_fields(http, district):
    from geo_grid.crs import wgs84_to_gcj02

    g = district.grids.iloc[60]
    p = g.geometry.representative_point()
    glon, glat = wgs84_to_gcj02(p.x, p.y)
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["填表说明"])
    ws = wb.create_sheet("点位")
    ws.append(["编号", "经度", "纬度"])
    ws.append([1, float(glon), float(glat)])
    buf = io.BytesIO()
    wb.save(buf)
    r = http.post("/api/v1/lookup/batch", data={"crs": "gcj02", "sheet": "点位"},
                  files={"file": ("p.xlsx", buf.getvalue(), "application/octet-stream")})
    assert r.status_code == 200, r.text
    assert json.loads(r.headers["x-batch-summary"])["crs"] == "gcj02"
    back = pd.read_excel(io.BytesIO(r.content), dtype=str, engine="calamine", sheet_name=None)
    assert list(back) == ["说明", "点位"]  # the other sheet is kept
    out = back["点位"]
    assert out["匹配状态"].iloc[0] == "located" and out["网格编码"].iloc[0] == g["code"]
    r = http.post("/api/v1/lookup/batch", data={"crs": "utm"},
                  files={"file": ("p.xlsx", buf.getvalue(), "application/octet-stream")})
    assert r.status_code == 422 and r.json()["code"] == "unknown_crs"
    r = http.post("/api/v1/lookup/batch", data={"sheet": "无此表"},
                  files={"file": ("p.xlsx", buf.getvalue(), "application/octet-stream")})
    assert r.status_code == 422 and "无此表" in r.json()["detail"]


def test_single_lookup_problem_has_no_index(http):
    r = http.get("/api/v1/lookup", params={"lon": 31.55, "lat": 120.36})
    assert r.status_code == 422 and "swapped" in r.json()["detail"]
    assert "index" not in r.json()
    r = http.get("/api/v1/lookup", params={"lon": 500.0, "lat": 31.0})
    assert r.status_code == 422 and "index" not in r.json()
