"""`geo-grid validate`: clean on the shipped layers, and every planted violation is found."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pyogrio
import pytest
import shapely
from shapely.affinity import translate

from geo_grid.layers import DEFAULT_BOUNDARIES, load_layers
from geo_grid.topology import validate


def test_shipped_layers_have_no_violation(layers):
    assert validate(layers) == []


@pytest.fixture
def copy(tmp_path):
    for name in ("street", "communities", "grids", "buildings"):
        shutil.copy(DEFAULT_BOUNDARIES / f"{name}.geojson", tmp_path / f"{name}.geojson")
    return tmp_path


def rewrite(folder, name, fn):
    df = pyogrio.read_dataframe(folder / f"{name}.geojson")
    df = fn(df)
    (folder / f"{name}.geojson").unlink()
    pyogrio.write_dataframe(df, folder / f"{name}.geojson", driver="GeoJSON")


def kinds(folder):
    return {(v.kind, v.layer) for v in validate(load_layers(folder))}, validate(load_layers(folder))


def _grid_index(df, code):
    return df.index[df["code"] == code][0]


def test_invalid_geometry_is_found(copy):
    code = {}

    def bowtie(df):
        i = df.index[0]
        x0, y0, x1, y1 = df.geometry[i].bounds
        df.loc[i, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])
        code["c"] = df.loc[i, "code"]
        return df

    rewrite(copy, "buildings", bowtie)
    found, vs = kinds(copy)
    assert ("invalid_geometry", "buildings") in found
    v = next(v for v in vs if v.kind == "invalid_geometry")
    assert v.code == code["c"] and "Self-intersection" in v.message and v.lon is not None


def test_gap_between_grids_is_found(copy):
    def shrink(df):
        i = df.index[10]
        df.loc[i, "geometry"] = df.geometry[i].buffer(-0.0002)
        return df

    rewrite(copy, "grids", shrink)
    found, vs = kinds(copy)
    assert ("gap", "communities") in found
    # buildings near the edge may now fall out; the gap names its community
    gaps = [v for v in vs if v.kind == "gap"]
    grids = pyogrio.read_dataframe(copy / "grids.geojson")
    assert gaps[0].code == grids["community_code"][10]


def test_overlap_between_grids_is_found(copy):
    def grow(df):
        i = df.index[20]
        df.loc[i, "geometry"] = df.geometry[i].buffer(0.0001)
        return df

    rewrite(copy, "grids", grow)
    found, vs = kinds(copy)
    assert ("overlap", "grids") in found
    code = pyogrio.read_dataframe(copy / "grids.geojson")["code"][20]
    assert any(code in v.code for v in vs if v.kind == "overlap")


def test_gap_between_communities_is_found(copy):
    def drop_one(df):
        return df.drop(index=df.index[5])

    rewrite(copy, "communities", drop_one)
    found, _ = kinds(copy)
    assert ("gap", "street") in found
    assert ("bad_reference", "grids") in found  # its grids now name a missing community


def test_building_crossing_a_grid_edge_is_found(copy):
    grids = pyogrio.read_dataframe(copy / "grids.geojson")
    edge = shapely.intersection(grids.geometry[0].boundary, grids.geometry[1:].union_all())
    p = shapely.get_parts(edge)[0].interpolate(0.5, normalized=True)

    def straddle(df):
        i = df.index[0]
        df.loc[i, "geometry"] = shapely.box(p.x - 0.0002, p.y - 0.0002, p.x + 0.0002, p.y + 0.0002)
        df.loc[i, "grid_code"] = grids["code"][0]
        df.loc[i, "community_code"] = grids["community_code"][0]
        return df

    rewrite(copy, "buildings", straddle)
    found, _ = kinds(copy)
    assert ("building_crosses_edge", "buildings") in found


def test_building_in_wrong_grid_and_outside_street(copy):
    def move(df):
        df.loc[df.index[1], "geometry"] = translate(df.geometry[df.index[1]], xoff=0.2)
        df.loc[df.index[2], "grid_code"] = df.loc[df.index[3000], "grid_code"]
        df.loc[df.index[2], "community_code"] = df.loc[df.index[3000], "community_code"]
        return df

    rewrite(copy, "buildings", move)
    found, _ = kinds(copy)
    assert ("building_outside", "buildings") in found
    assert ("building_wrong_grid", "buildings") in found or ("bad_reference", "buildings") in found


def test_malformed_and_duplicate_codes_and_bad_references(copy):
    def codes(df):
        df.loc[df.index[0], "code"] = "32021405200500X"
        df.loc[df.index[2], "code"] = df.loc[df.index[3], "code"]
        df.loc[df.index[4], "community_code"] = "320214052999"
        df.loc[df.index[5], "kind"] = "farm"
        return df

    rewrite(copy, "grids", codes)
    found, _ = kinds(copy)
    assert ("malformed_code", "grids") in found
    assert ("duplicate_code", "grids") in found
    assert ("bad_reference", "grids") in found
    assert ("bad_attribute", "grids") in found
    assert ("bad_reference", "buildings") in found  # buildings of the renamed grid


def test_cli_validate_prints_violations_and_exits_nonzero(copy):
    def shrink(df):
        df.loc[df.index[7], "geometry"] = df.geometry[df.index[7]].buffer(-0.0003)
        return df

    cmd = [sys.executable, "-m", "geo_grid.cli", "validate", "--boundaries"]
    ok = subprocess.run(cmd + [str(DEFAULT_BOUNDARIES)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "0 violation(s)" in ok.stderr
    rewrite(copy, "grids", shrink)
    bad = subprocess.run(cmd + [str(copy)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "[gap] communities" in bad.stdout and " at (120." in bad.stdout
