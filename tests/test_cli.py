"""The typer CLI, run as a user would run it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

CLI = [sys.executable, "-m", "geo_grid.cli"]


def run(*args, check=True):
    out = subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=300)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def test_init_builds_once_and_reports_counts(tmp_path):
    db = tmp_path / "s.gpkg"
    report = json.loads(run("init", "--db", str(db)).stdout)
    assert report["grids"] == 231 and report["communities"] == 33
    assert report["buildings"] >= 4000 and report["members"] >= 2500
    again = run("init", "--db", str(db))
    assert "exists" in again.stderr


def test_lookup_prints_the_api_json(store_path, district):
    g = district.grids.iloc[12]
    p = g.geometry.representative_point()
    out = json.loads(run("lookup", "--lon", str(p.x), "--lat", str(p.y), "--db", str(store_path)).stdout)
    assert out["grid"]["code"] == g["code"] and out["covered"] is True
    assert "*" in out["team"]["secretary"]["name"]


def test_lookup_bad_coordinate_is_a_clear_error(store_path):
    out = run("lookup", "--lon", "31.5", "--lat", "120.3", "--db", str(store_path), check=False)
    assert out.returncode == 2 and "invalid_coordinate" in out.stderr and "swapped" in out.stderr


def test_rebalance_apply_assign_and_roster(tmp_path, store_path, district):
    import shutil

    import pandas as pd

    db = tmp_path / "s.gpkg"
    shutil.copy(store_path, db)
    gone = district.members["id"].iloc[0]
    scen = tmp_path / "scen.json"
    scen.write_text(json.dumps({"name": "one out", "unavailable_members": [gone]}), "utf-8")
    res = tmp_path / "r.json"
    out = json.loads(run("rebalance", "--scenario", str(scen), "-o", str(res), "--apply", "--db", str(db)).stdout)
    assert out["applied"]["status"] == "applied"
    full = json.loads(res.read_text("utf-8"))
    assert gone in full["unavailable"]
    theirs = set(district.assignment.loc[district.assignment["member_id"] == gone, "building_code"])
    assert theirs and theirs <= {m["building_code"] for m in full["moves"] if m["from_member"] == gone}
    assert gone not in {a["member_id"] for a in full["assignment"]}
    assert full["summary"]["uncovered_buildings"] == 0
    xlsx = tmp_path / "roster.xlsx"
    run("roster", "-o", str(xlsx), "--db", str(db))
    sheet = pd.read_excel(xlsx, sheet_name="分栋", dtype=str, engine="calamine")
    assert gone not in set(sheet["成员编号"])
    phones = set(district.members["phone"])
    assert "电话" not in sheet.columns  # masked roster: no phone column at all
    run("roster", "-o", str(xlsx), "--unmasked", "--db", str(db))
    sheet = pd.read_excel(xlsx, sheet_name="分栋", dtype=str, engine="calamine")
    assert set(sheet["电话"].dropna()) <= phones and len(set(sheet["电话"].dropna())) > 100
    again = json.loads(run("assign", "--db", str(db)).stdout)
    assert again["uncovered_buildings"] >= 0 and again["pairs"] > 4000


def test_rebalance_bad_file_is_a_clear_error(tmp_path, store_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", "utf-8")
    out = run("rebalance", "--scenario", str(bad), "--db", str(store_path), check=False)
    assert out.returncode == 2 and "invalid_input" in out.stderr


def test_lookup_batch_csv_keeps_every_row(tmp_path, store_path, district):
    import pandas as pd

    b = district.buildings.iloc[100:110]
    src = tmp_path / "in.csv"
    rows = list(b["address"]) + ["", "不存在的地址99号"]
    pd.DataFrame({"户主": [f"户{i}" for i in range(len(rows))], "现住址": rows}).to_csv(src, index=False)
    dst = tmp_path / "out.csv"
    report = json.loads(run("lookup-batch", str(src), "-o", str(dst), "--db", str(store_path)).stdout)
    assert report["rows"] == len(rows) and report["matched"] == 10
    out = pd.read_csv(dst, dtype=str)
    assert len(out) == len(rows) and list(out["户主"]) == [f"户{i}" for i in range(len(rows))]
    assert list(out["网格编码"][:10]) == list(b["grid_code"])


def test_lookup_batch_coordinates_in_gcj02(tmp_path, store_path, district):
    """Amap (GCJ-02) coordinates of building centroids land in the buildings' grids with --crs gcj02."""
    import pandas as pd

    from geo_grid.crs import from_cgcs2000

    b = district.buildings.iloc[200:220]
    pts = b.geometry.representative_point()
    lon, lat = from_cgcs2000(pts.x.to_numpy(), pts.y.to_numpy(), "gcj02")
    src = tmp_path / "pts.csv"
    pd.DataFrame({"编号": range(len(b)), "经度": lon, "纬度": lat}).to_csv(src, index=False)
    dst = tmp_path / "pts_out.csv"
    run("lookup-batch", str(src), "-o", str(dst), "--crs", "gcj02", "--db", str(store_path))
    out = pd.read_csv(dst, dtype=str)
    assert list(out["网格编码"]) == list(b["grid_code"])
    # read as WGS-84 the same numbers are ~500 m off: some rows land elsewhere
    run("lookup-batch", str(src), "-o", str(dst), "--db", str(store_path))
    assert list(pd.read_csv(dst, dtype=str)["网格编码"]) != list(b["grid_code"])
