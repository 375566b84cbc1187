"""Validation that tells an office what to fix, and ``--repair``: real files of a small street
drawn here with the usual drawing errors, imported and validated over the CLI.

The street (800 m × 400 m, in metres of EPSG:4549) has two communities; community 001 has two
grids whose shared edge is off by 0.3 m: a 0.3 m gap along its southern half and a 0.3 m
overlap along its northern half. Building 00001 is a self-intersecting bow-tie, building 00003
straddles the two grids (80 % in grid 002, though it names grid 001), and the grid of community
002 holds 20 households (a warning, not an error).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from shapely.geometry import Polygon, box

from geo_grid.crs import STORE_EPSG, transformer
from geo_grid.importing import read_layers
from geo_grid.importing.checks import parse_household_range
from geo_grid.importing.fixes import FIXES, fix_for
from geo_grid.importing.repair import narrower_than
from geo_grid.topology import validate

CLI = [sys.executable, "-m", "geo_grid.cli"]
EPSG = 4549
X0, Y0 = 530000.0, 3490000.0  # ≈ 120.32°E, 31.53°N
G1, G2, G3 = "320214099001001", "320214099001002", "320214099002001"
BOWTIE, STRADDLER = "32021409900100001", "32021409900100003"
GRID_NAME = "<b>网格</b>"
#: where the drawing errors are (metres, before the X0/Y0 shift)
GAP = box(149.7, 0, 150, 200)
OVERLAP = box(150, 200, 150.3, 400)


def at(g):
    return shapely.affinity.translate(g, X0, Y0)


def run(*args):
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """The four layers: GeoJSON in EPSG:4490 and the grids in a GeoPackage in EPSG:4549."""
    d = tmp_path_factory.mktemp("office")
    street = gpd.GeoDataFrame({"code": ["320214099"], "name": ["测试街道"]},
                              geometry=[at(box(0, 0, 800, 400))], crs=EPSG)
    communities = gpd.GeoDataFrame(
        {"code": ["320214099001", "320214099002"], "name": ["甲社区", "乙社区"]},
        geometry=[at(box(0, 0, 400, 400)), at(box(400, 0, 800, 400))], crs=EPSG)
    g1 = Polygon([(0, 0), (149.7, 0), (149.7, 200), (150.3, 200), (150.3, 400), (0, 400)])
    grids = gpd.GeoDataFrame(
        {"code": [G1, G2, G3], "name": [GRID_NAME, "甲社区第2网格", "乙社区第1网格"],
         "community_code": ["320214099001", "320214099001", "320214099002"]},
        geometry=[at(g1), at(box(150, 0, 400, 400)), at(box(400, 0, 800, 400))], crs=EPSG)
    bowtie = Polygon([(20, 20), (60, 60), (60, 20), (20, 60)])
    buildings = gpd.GeoDataFrame(
        {"code": [BOWTIE, "32021409900100002", STRADDLER, "32021409900100004",
                  "32021409900200001"],
         "grid_code": [G1, G1, G1, G2, G3],
         "address": ["幸福小区1栋", "幸福小区2栋", "幸福小区3栋", "幸福小区4栋", "和平小区1栋"],
         "households": [150, 200, 100, 300, 20], "floors": [6] * 5},
        geometry=[at(g) for g in (bowtie, box(60, 250, 100, 290), box(140, 300, 190, 320),
                                  box(250, 100, 290, 140), box(500, 100, 540, 140))], crs=EPSG)
    out = {}
    for name, gdf in (("street", street), ("communities", communities), ("buildings", buildings)):
        path = d / f"{name}.geojson"
        pyogrio.write_dataframe(gdf.to_crs(STORE_EPSG), path, driver="GeoJSON")
        out[name] = str(path)
    pyogrio.write_dataframe(grids, d / "office.gpkg", layer="网格")
    out["grids"] = f"{d / 'office.gpkg'}:网格"
    return out


def layer_args(files: dict) -> list[str]:
    return [a for k in ("street", "communities", "grids", "buildings") for a in (f"--{k}", files[k])]


def metres_from(lon: float, lat: float, shape) -> float:
    """Distance in metres from a lon/lat place to a shape drawn in the street's local metres."""
    x, y = transformer(STORE_EPSG, EPSG).transform(lon, lat)
    return shapely.Point(x - X0, y - Y0).distance(shape)


class _Page(HTMLParser):
    """The tags of a page and the text of its scripts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self._script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._script = tag == "script"

    def handle_endtag(self, tag):
        self._script = False

    def handle_data(self, data):
        if self._script:
            self.scripts.append(data)


def geo_layers(page: str) -> dict[str, dict]:
    """The GeoJSON data of every ``GG.geo(map, data, spec)`` call, by the spec's className."""
    parser = _Page()
    parser.feed(page)
    dec = json.JSONDecoder()
    out = {}
    for script in parser.scripts:
        start = 0
        while (k := script.find("GG.geo(", start)) >= 0:
            pos = script.index(", ", k) + 2
            data, end = dec.raw_decode(script, pos)
            spec, end = dec.raw_decode(script, end + 2)
            out[spec.get("className", "")] = data
            start = end
    assert parser.tags.count("b") == 0  # the office's <b> in a grid name is text, not markup
    return out


def test_without_repair_errors_stop_the_import_and_the_report_says_what_to_fix(files, tmp_path):
    db, report, page = tmp_path / "s.gpkg", tmp_path / "r.json", tmp_path / "m.html"
    out = run("import", "--db", db, *layer_args(files), "--report", report, "--report-map", page)
    assert out.returncode == 2, out.stderr
    assert not db.exists() and not list(tmp_path.glob(".s.gpkg.*"))
    rep = json.loads(report.read_text(encoding="utf-8"))
    assert rep["ok"] is False and rep["store"] is None and rep["repairs"] == []
    found = {(v["severity"], v["kind"], v["code"]) for v in rep["violations"]}
    assert found == {("error", "invalid_geometry", BOWTIE), ("error", "gap", "320214099001"),
                     ("error", "overlap", f"{G1},{G2}"),
                     ("error", "building_crosses_edge", STRADDLER),
                     ("warning", "household_range", G3)}
    assert rep["errors"] + rep["warnings"] == rep["violations"]
    for v in rep["violations"]:
        assert v["fix"] == fix_for(v["kind"]) and v["message"]
        assert 120.3 < v["lon"] < 120.4 and 31.5 < v["lat"] < 31.6
    by_kind = {v["kind"]: v for v in rep["violations"]}
    assert "extend the neighbouring grid over the gap or run with --repair" in by_kind["gap"]["fix"]
    # each place is on its problem (within a centimetre)
    assert metres_from(by_kind["gap"]["lon"], by_kind["gap"]["lat"], GAP) < 0.01
    assert metres_from(by_kind["overlap"]["lon"], by_kind["overlap"]["lat"], OVERLAP) < 0.01
    assert metres_from(by_kind["building_crosses_edge"]["lon"],
                       by_kind["building_crosses_edge"]["lat"], box(140, 300, 190, 320)) < 0.01
    assert "20 households" in by_kind["household_range"]["message"]
    # the map shows every violation with its fix, and the office's text as text
    layers = geo_layers(page.read_text(encoding="utf-8"))
    marks = {(f["properties"]["kind"], f["properties"]["code"]): f
             for f in layers["gg-violation"]["features"]}
    assert set(marks) == {(k, c) for _, k, c in found}
    gap = marks[("gap", "320214099001")]["properties"]
    assert gap["fix"] == fix_for("gap") and gap["severity"] == "error"
    assert marks[("household_range", G3)]["properties"]["severity"] == "warning"
    assert marks[("household_range", G3)]["properties"]["color"] != gap["color"]
    lon, lat = marks[("gap", "320214099001")]["geometry"]["coordinates"]
    assert metres_from(lon, lat, GAP) < 0.2  # coordinates are rounded to 6 decimals
    names = {f["properties"]["code"]: f["properties"]["name"] for f in layers["gg-grid"]["features"]}
    assert names[G1] == GRID_NAME
    assert "\\u003cb\\u003e网格\\u003c/b\\u003e" in page.read_text(encoding="utf-8")


def test_with_repair_the_import_succeeds_and_lists_each_repair(files, tmp_path):
    db, report, page = tmp_path / "s.gpkg", tmp_path / "r.json", tmp_path / "m.html"
    out = run("import", "--db", db, *layer_args(files), "--repair", "--report", report,
              "--report-map", page)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["repairs"] == 4 and summary["warnings"] == 1 and summary["store"] == str(db)
    rep = json.loads(report.read_text(encoding="utf-8"))
    assert rep["ok"] is True and rep["repair"] == {"enabled": True, "tolerance_m": 1.0}
    assert [(v["kind"], v["code"]) for v in rep["violations"]] == [("household_range", G3)]
    repairs = {(r["kind"], r["code"]): r for r in rep["repairs"]}
    assert set(repairs) == {("invalid_geometry", BOWTIE), ("overlap", f"{G1},{G2}"),
                            ("gap", "320214099001"), ("building_crosses_edge", STRADDLER)}
    for r in rep["repairs"]:
        assert set(r) == {"kind", "layer", "code", "action", "lon", "lat"}
        assert 120.3 < r["lon"] < 120.4 and 31.5 < r["lat"] < 31.6
    assert f"given to grid {G1}" in repairs[("gap", "320214099001")]["action"]
    assert f"cut out of grid {G1}" in repairs[("overlap", f"{G1},{G2}")]["action"]
    moved = repairs[("building_crosses_edge", STRADDLER)]["action"]
    assert f"to grid {G2}" in moved and "no longer an error" in moved
    assert metres_from(repairs[("gap", "320214099001")]["lon"],
                       repairs[("gap", "320214099001")]["lat"], GAP) < 0.01
    # the store holds the repaired layers: a clean tiling, a valid footprint, the moved building
    from geo_grid.store import load_district

    district = load_district(db)
    assert [v.kind for v in validate(district)] == ["building_crosses_edge"]  # accepted
    b = district.buildings.set_index("code")
    assert b.loc[STRADDLER, "grid_code"] == G2
    assert b.geometry[BOWTIE].is_valid and abs(b.to_crs(EPSG).geometry[BOWTIE].area - 800) < 0.01
    con = sqlite3.connect(db)
    assert con.execute("SELECT grid_code FROM buildings WHERE code = ?",
                       (STRADDLER,)).fetchone()[0] == G2
    con.close()
    grids = district.grids.to_crs(EPSG).set_index("code").geometry
    assert abs(grids[G1].area - 150 * 400) < 0.01 and abs(grids[G2].area - 250 * 400) < 0.01
    repaired = geo_layers(page.read_text(encoding="utf-8"))["gg-repair"]["features"]
    assert {f["properties"]["kind"] for f in repaired} == {k for k, _ in repairs}


def test_repair_leaves_what_is_wider_than_its_tolerance(files):
    result = read_layers(files, repair=True, tolerance_m=0.2)
    assert {v.kind for v in result.errors} == {"gap", "overlap"}  # 0.3 m is wider than 0.2 m
    assert {r.kind for r in result.repairs} == {"invalid_geometry", "building_crosses_edge"}
    assert not result.ok
    # the household range is the caller's
    assert [v.code for v in read_layers(files, household_range=(10, 30)).warnings] == [G1, G2]
    assert parse_household_range("300–500") == (300, 500)
    with pytest.raises(Exception, match="LOW-HIGH"):
        parse_household_range("500-300")


def test_narrower_than_measures_width_not_area():
    assert narrower_than(box(0, 0, 0.3, 10_000), 1.0)  # 3000 m² but 0.3 m wide
    assert not narrower_than(box(0, 0, 1.2, 1.2), 1.0)  # 1.4 m²
    assert not narrower_than(box(0, 0, 0.3, 10), 0.0)


def test_every_reported_kind_has_its_own_fix():
    kinds = {"empty_geometry", "wrong_geometry_type", "invalid_geometry", "malformed_code",
             "duplicate_code", "bad_reference", "bad_attribute", "duplicate_address",
             "street_count", "gap", "overlap", "outside_parent", "building_outside",
             "building_crosses_edge", "building_wrong_grid", "household_range"}
    assert kinds <= set(FIXES)
    assert len({fix_for(k) for k in kinds}) == len(kinds)
    assert all("；" in fix_for(k) for k in kinds)  # Chinese；English


def test_validate_reads_an_offices_own_files(files, tmp_path):
    report, page = tmp_path / "v.json", tmp_path / "v.html"
    out = run("validate", *layer_args(files), "--report", report, "--report-map", page)
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 5 and sum(line.startswith("warning [household_range]") for line in lines) == 1
    assert any(line.startswith("[gap] communities 320214099001") for line in lines)
    assert "4 violation(s) in 2 communities, 3 grids, 5 buildings" in out.stderr
    rep = json.loads(report.read_text(encoding="utf-8"))
    assert {v["kind"] for v in rep["errors"]} == {"invalid_geometry", "gap", "overlap",
                                                  "building_crosses_edge"}
    assert all(v["fix"] and v["lon"] is not None for v in rep["violations"])
    marks = geo_layers(page.read_text(encoding="utf-8"))["gg-violation"]["features"]
    assert len(marks) == 5
    # every layer is needed, as for an import
    partial = run("validate", "--grids", files["grids"])
    assert partial.returncode == 2 and "--street" in partial.stderr


def test_validate_with_no_files_still_checks_the_reference_district(tmp_path):
    report = tmp_path / "ref.json"
    out = run("validate", "--report", report)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and "0 violation(s) in 33 communities" in out.stderr
    rep = json.loads(report.read_text(encoding="utf-8"))
    assert rep["ok"] is True and rep["violations"] == [] and rep["counts"]["grids"] == 231


def test_a_grid_name_cannot_inject_markup_into_the_report_map(files, tmp_path):
    from maps.report import write_report_map

    result = read_layers(files)
    report = dict(result.report)
    evil = "</script><script>alert(1)</script><b>x</b>"
    report["violations"] = report["violations"] + [
        {"severity": "error", "kind": "duplicate_address", "layer": "buildings", "code": evil,
         "lon": 120.32, "lat": 31.53, "message": evil, "fix": fix_for("duplicate_address")}]
    page = write_report_map(result.district, report, tmp_path / "x.html").read_text("utf-8")
    marks = geo_layers(page)["gg-violation"]["features"]
    assert evil in {f["properties"]["code"] for f in marks}
    assert "alert(1)</script>" not in page
    assert Path(tmp_path / "x.html").stat().st_size > 0


def test_code_violations_are_placed_too(files, tmp_path):
    b = gpd.read_file(files["buildings"])
    b.loc[1, "code"] = BOWTIE  # a duplicate
    b.loc[3, "code"] = "3202140990010004"  # 16 digits
    path = tmp_path / "b.geojson"
    pyogrio.write_dataframe(b, path, driver="GeoJSON")
    result = read_layers({**files, "buildings": str(path)})
    got = {(v["kind"], v["code"]): v for v in result.report["violations"]}
    for key, where in ((("duplicate_code", BOWTIE), box(60, 250, 100, 290)),
                       (("malformed_code", "3202140990010004"), box(250, 100, 290, 140))):
        v = got[key]
        assert v["fix"] == fix_for(key[0]) and metres_from(v["lon"], v["lat"], where) < 0.01
