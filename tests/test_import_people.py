"""Importing members and households from an office's own tables, then assigning.

The files are written here as an office would have them: an xlsx roster with a merged title
row above its header (openpyxl), a GBK-encoded csv, per-building counts and a household roster.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3

import numpy as np
import openpyxl
import pytest
from typer.testing import CliRunner

from geo_grid.cli import app
from geo_grid.figures import district_figures
from geo_grid.store import load_district

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def make_id(body: str) -> str:
    """An 18-character ID number with a right check character (GB 11643-1999)."""
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


def wrong_id(body: str) -> str:
    good = make_id(body)
    return good[:17] + ("0" if good[17] != "0" else "1")


def cli(*args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    return res


def write_xlsx(path, header, rows, title="江溪街道网格力量花名册"):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.append(header)
    for r in rows:
        ws.append(r)
    for row in ws.iter_rows(min_row=3):
        for c in row:  # phones and ID numbers typed as text, as an office should
            c.number_format = "@"
    wb.save(path)
    return path


def write_gbk_csv(path, header, rows):
    lines = [",".join(header)] + [",".join(str(v) for v in r) for r in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    return path


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def members_of(db):
    return load_district(db).members.set_index("id")


@pytest.fixture(scope="module")
def ref(store_path):
    """The district before any import, and a few of its places."""
    d = load_district(store_path)
    b = d.buildings
    res = b[b["category"].isin(["slab", "point"])]
    return {"district": d, "homes": res.iloc[[5, 40, 300]], "grids": d.grids.iloc[[3, 17, 60]]}


@pytest.fixture
def own_store(store_path, tmp_path):
    """A copy of the reference store for one test (each test stands alone under xdist)."""
    path = tmp_path / "s.gpkg"
    shutil.copy(store_path, path)
    return path


def first_roster(tmp_path, ref):
    """An xlsx roster with a merged title row: four members, one address not placeable."""
    homes, grids = ref["homes"], ref["grids"]
    rows = [
        ["测试甲", "13800000001", make_id("32021419800101001"), "网格长", grids.iloc[0]["code"],
         homes.iloc[0]["address"]],
        ["测试乙", "13800000002", "", "专职网格员", grids.iloc[1]["name"], homes.iloc[1]["address"]],
        ["测试丙", "13800000003", make_id("32021419900202002"), "党员志愿者", "",
         homes.iloc[2]["address"]],
        ["测试丁", "13800000004", "", "社工", grids.iloc[2]["code"], "不存在的小区99栋"],
    ]
    f = write_xlsx(tmp_path / "m.xlsx", ["姓名", "手机号码", "身份证号", "职务", "所属网格", "居住地址"],
                   rows)
    return f, rows


def test_members_xlsx_with_title_row_imports_and_places(own_store, ref, tmp_path):
    homes, grids = ref["homes"], ref["grids"]
    before = members_of(own_store)
    f, rows = first_roster(tmp_path, ref)
    rep_path = tmp_path / "r.json"
    res = cli("import-members", f, "--db", own_store, "--report", rep_path)
    assert res.exit_code == 0, res.output
    rep = json.loads(rep_path.read_text("utf-8"))
    assert rep["written"] and [r["row"] for r in rep["rows"]] == [3, 4, 5, 6]
    assert [r["status"] for r in rep["rows"]] == ["imported"] * 3 + ["imported_unplaced"]
    after = members_of(own_store)
    assert len(after) == len(before) + 4
    new = after.loc[[r["member_id"] for r in rep["rows"]]]
    assert not set(new.index) & set(before.index)
    assert list(new["role"]) == ["secretary", "social_worker", "volunteer", "social_worker"]
    # grid by code, by name, and (no grid given) the grid of the building the address is in
    assert list(new["grid_code"]) == [grids.iloc[0]["code"], grids.iloc[1]["code"],
                                      homes.iloc[2]["grid_code"], grids.iloc[2]["code"]]
    assert list(new["home_building"][:3]) == list(homes["code"]) and new["home_building"].iloc[3] == ""
    assert new["available"].all() and list(new["capacity"]) == [45.0, 70.0, 60.0, 70.0]
    # home x/y: the building's centroid in the street's own metric zone
    d = load_district(own_store)
    xy = np.array([[p.x, p.y] for p in homes.geometry.to_crs(d.metric_epsg).centroid])
    assert np.allclose(new[["x", "y"]].to_numpy(float)[:3], xy, atol=0.01)
    # no ID number is kept, only a digest
    con = sqlite3.connect(own_store)
    stored = " ".join(str(v) for row in con.execute("SELECT * FROM member_keys") for v in row)
    con.close()
    assert rows[0][2] not in stored and len(stored) > 64


def test_gbk_csv_upserts_by_id_then_phone(own_store, ref, tmp_path):
    assert cli("import-members", first_roster(tmp_path, ref)[0], "--db", own_store).exit_code == 0
    before = members_of(own_store)
    ids = {r: before.index[before["phone"] == f"1380000000{r}"][0] for r in (1, 2)}
    rows = [  # same ID number as 测试甲, a new phone; same phone as 测试乙, new role
        ["测试甲", "13900000001", make_id("32021419800101001"), "书记"],
        ["测试乙", "13800000002", "", "志愿者"],
        ["测试戊", "13800000005", "", "志愿者"],
    ]
    grid = before.loc[ids[1], "grid_code"]
    f = write_gbk_csv(tmp_path / "m2.csv", ["姓名", "联系电话", "身份证号", "角色", "所属网格"],
                      [r + [grid] for r in rows])
    res = cli("import-members", f, "--db", own_store)
    assert res.exit_code == 0, res.output
    after = members_of(own_store)
    assert len(after) == len(before) + 1
    assert after.loc[ids[1], "phone"] == "13900000001"
    assert after.loc[ids[2], "role"] == "volunteer" and after.loc[ids[2], "grid_code"] == grid
    assert after.loc[ids[2], "capacity"] == before.loc[ids[2], "capacity"]
    assert (after["phone"] == "13800000005").sum() == 1


def test_bad_id_refuses_the_file_and_skip_bad_rows_imports_the_rest(own_store, ref, tmp_path):
    grid = ref["grids"].iloc[0]
    rows = [["好人", "13700000001", make_id("11010519491231002"), "社工", grid["code"], ""],
            ["坏号", "13700000002", wrong_id("11010519500101003"), "社工", grid["code"], ""],
            ["无格", "13700000003", "", "社工", "不存在的网格", ""],
            ["怪角色", "13700000004", "", "门卫", grid["code"], ""]]
    f = write_xlsx(tmp_path / "bad.xlsx", ["姓名", "手机号", "身份证号", "职务", "所属网格", "居住地址"],
                   rows)
    before = digest(own_store)
    rep_path = tmp_path / "r.json"
    res = cli("import-members", f, "--db", own_store, "--report", rep_path)
    assert res.exit_code == 1
    assert digest(own_store) == before  # byte-identical
    rep = json.loads(rep_path.read_text("utf-8"))
    assert not rep["written"] and rep["bad_rows"] == 3
    problems = [" ".join(r["problems"]) for r in rep["rows"]]
    assert problems[0] == "" and "bad_id" in problems[1] and "checksum" in problems[1]
    assert "unknown_grid" in problems[2] and "bad_role" in problems[3]
    assert "13700000002" not in rep_path.read_text("utf-8")  # no personal data in the report
    n = len(members_of(own_store))
    res = cli("import-members", f, "--db", own_store, "--skip-bad-rows")
    assert res.exit_code == 0, res.output
    after = members_of(own_store)
    assert len(after) == n + 1 and (after["phone"] == "13700000001").sum() == 1
    assert not after["phone"].isin(["13700000002", "13700000003", "13700000004"]).any()


def test_lon_lat_columns_place_members(own_store, ref, tmp_path):
    home = ref["homes"].iloc[1]
    p = home.geometry.representative_point()
    f = write_gbk_csv(tmp_path / "ll.csv", ["姓名", "手机", "职务", "经度", "纬度"],
                      [["经纬", "13600000001", "志愿者", f"{p.x:.7f}", f"{p.y:.7f}"]])
    res = cli("import-members", f, "--db", own_store)
    assert res.exit_code == 0, res.output
    m = members_of(own_store)
    row = m[m["phone"] == "13600000001"].iloc[0]
    assert row["home_building"] == home["code"] and row["grid_code"] == home["grid_code"]


def test_households_by_building_code_replace_and_agree(own_store, ref, tmp_path):
    homes = ref["homes"]
    codes = list(homes["code"][:2])
    f = write_xlsx(tmp_path / "hh.xlsx", ["楼栋编码", "户数", "人口", "独居老人", "残疾", "低保"],
                   [[codes[0], 10, 27, 3, 1, 2], [codes[1], 4, 4, 0, 0, 0]], title="住户统计")
    rep_path = tmp_path / "r.json"
    res = cli("import-households", f, "--db", own_store, "--report", rep_path)
    assert res.exit_code == 0, res.output
    rep = json.loads(rep_path.read_text("utf-8"))
    assert rep["mode"] == "counts" and rep["unknown_kinds"] == ["低保"]
    d = load_district(own_store)
    hh = d.households[d.households["building_code"].isin(codes)]
    per = hh.groupby("building_code").agg(n=("size", "size"), res=("size", "sum"),
                                          old=("elderly_alone", "sum"), dis=("disabled", "sum"))
    assert per.loc[codes[0]].tolist() == [10, 27, 3, 1] and per.loc[codes[1]].tolist() == [4, 4, 0, 0]
    b = d.buildings.set_index("code")
    assert b.loc[codes, "households"].tolist() == [10, 4]
    assert d.households["id"].is_unique
    # every other building keeps its households
    old = ref["district"].households
    assert len(d.households) == len(old) - old["building_code"].isin(codes).sum() + 14


def test_households_roster_aggregated_by_address(own_store, ref, tmp_path):
    home = ref["homes"].iloc[2]
    rows = [[f"{home['address']}1单元{100 * (k + 1) + 1}室", k % 3 + 1,
             "独居老人" if k == 0 else ("残疾、慢性病" if k == 1 else "低保" * (k == 4))]
            for k in range(5)]
    f = write_gbk_csv(tmp_path / "roster.csv", ["地址", "家庭人口", "类别"], rows)
    rep = tmp_path / "r.json"
    res = cli("import-households", f, "--db", own_store, "--report", rep)
    assert res.exit_code == 0, res.output
    assert json.loads(rep.read_text("utf-8"))["unknown_kinds"] == ["低保"]
    d = load_district(own_store)
    hh = d.households[d.households["building_code"] == home["code"]]
    assert len(hh) == 5 and hh["size"].sum() == 1 + 2 + 3 + 1 + 2
    assert hh["elderly_alone"].sum() == 1 and hh["disabled"].sum() == 1 and hh["chronic"].sum() == 1
    assert sorted(hh["room"]) == [101, 201, 301, 401, 501] and set(hh["unit"]) == {1}
    assert d.buildings.set_index("code").loc[home["code"], "households"] == 5


def test_households_unknown_building_writes_nothing(own_store, tmp_path):
    f = write_gbk_csv(tmp_path / "bad.csv", ["楼栋编码", "户数"], [["NOPE", 3]])
    before = digest(own_store)
    res = cli("import-households", f, "--db", own_store)
    assert res.exit_code == 1 and digest(own_store) == before


def test_assign_after_imports_and_figures_show_new_members(own_store, ref, tmp_path):
    assert cli("import-members", first_roster(tmp_path, ref)[0], "--db", own_store).exit_code == 0
    d0 = load_district(own_store)
    res = cli("assign", "--db", own_store)
    assert res.exit_code == 0, res.output
    d = load_district(own_store)
    grid = ref["grids"].iloc[0]["code"]
    fig = district_figures(d)
    n_members = int((d.members["grid_code"] == grid).sum())
    assert int(fig.grid.loc[grid, "members"]) == n_members
    assert n_members > int((ref["district"].members["grid_code"] == grid).sum())
    new_ids = set(d0.members["id"]) - set(ref["district"].members["id"])
    assert new_ids & set(d.assignment["member_id"])  # the imported people do cover buildings


def test_an_import_is_a_new_version_that_revert_passes_over(own_store, ref, tmp_path):
    from geo_grid.store import Store, history

    assert cli("assign", "--db", own_store).exit_code == 0
    store = Store(own_store)
    try:
        v0 = store.assignment_version()
        rows0 = history.assignment_at(store, v0)
        f = write_gbk_csv(tmp_path / "one.csv", ["姓名", "手机号", "职务", "所属网格"],
                          [["版本", "13500000001", "志愿者", ref["grids"].iloc[1]["code"]]])
        assert cli("import-members", f, "--db", own_store).exit_code == 0
        v1 = store.assignment_version()
        assert v1 != v0  # a running service sees a new version and reloads its snapshot
        cols = list(history.ASSIGNMENT_COLUMNS)
        same = history.assignment_at(store, v1)[cols].sort_values(cols[:2]).reset_index(drop=True)
        assert same.equals(rows0[cols].sort_values(cols[:2]).reset_index(drop=True))
        # revert takes back the assign step before the import, not the import itself
        out = history.revert(store)
        assert out["restored_version"] != v0 and out["assignment_version"] != v1
    finally:
        store.close()


def test_an_imported_street_gets_people_then_assign_works(layers, tmp_path):
    import pyogrio

    from geo_grid.importing import import_store

    keep = sorted(layers.communities["code"])[:1]
    cm = layers.communities[layers.communities["code"].isin(keep)]
    gr = layers.grids[layers.grids["community_code"].isin(keep)]
    bd = layers.buildings[layers.buildings["community_code"].isin(keep)]
    st = cm.dissolve()[["geometry"]].assign(name="江溪街道")
    files = {}
    for name, gdf in (("street", st), ("communities", cm[["code", "name", "geometry"]]),
                      ("grids", gr[["code", "name", "community_code", "geometry"]]),
                      ("buildings", bd)):
        files[name] = str(tmp_path / f"{name}.geojson")
        pyogrio.write_dataframe(gdf, files[name], driver="GeoJSON")
    db = tmp_path / "own.gpkg"
    import_store(db, files)
    assert len(load_district(db).members) == 0
    res = bd[bd["category"].isin(["slab", "point"])]
    part = write_gbk_csv(tmp_path / "part.csv", ["楼栋编码", "户数"], [[bd["code"].iloc[0], 5]])
    rep = tmp_path / "part.json"
    assert cli("import-households", part, "--db", db, "--report", rep).exit_code == 0
    left = int((bd["households"].iloc[1:] > 0).sum())
    assert json.loads(rep.read_text("utf-8"))["buildings_without_households"] == left > 0
    hh = write_gbk_csv(tmp_path / "hh.csv", ["楼栋编码", "户数", "人口", "婴幼儿"],
                       [[c, 12, 30, 1] for c in bd["code"]])
    assert cli("import-households", hh, "--db", db, "--report", rep).exit_code == 0
    assert json.loads(rep.read_text("utf-8"))["buildings_without_households"] == 0
    team = [[f"队员{i}", f"1330000{i:04d}", "社工" if i % 3 else "网格长",
             gr["code"].iloc[i % len(gr)], res["address"].iloc[i % len(res)]]
            for i in range(3 * len(gr))]
    m = write_xlsx(tmp_path / "m.xlsx", ["姓名", "手机号", "职务", "所属网格", "居住地址"], team)
    out = cli("import-members", m, "--db", db)
    assert out.exit_code == 0, out.output
    assert cli("assign", "--db", db).exit_code == 0
    d = load_district(db)
    fig = district_figures(d)
    assert len(d.members) == len(team) and d.households["size"].sum() == 30 * len(bd)
    assert fig.grid["members"].sum() == len(team)
    assert fig.grid["households"].sum() == 12 * len(bd) == d.buildings["households"].sum()
    assert set(d.assignment["member_id"]) <= set(d.members["id"]) and len(d.assignment)


def test_field_option_names_a_column_the_headers_do_not(own_store, ref, tmp_path):
    grid = ref["grids"].iloc[2]["code"]
    f = write_gbk_csv(tmp_path / "f.csv", ["负责人", "手机号", "职务", "片区"],
                      [["字段", "13400000001", "社工", grid]])
    res = cli("import-members", f, "--db", own_store)
    assert res.exit_code == 2 and "field" in res.output
    res = cli("import-members", f, "--db", own_store, "--field", "name=负责人", "--field", "grid=片区")
    assert res.exit_code == 0, res.output
    m = members_of(own_store)
    assert m[m["phone"] == "13400000001"].iloc[0]["grid_code"] == grid
