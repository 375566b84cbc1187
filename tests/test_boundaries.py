"""The shipped layers: counts, codes, CRS, placement, and a byte-for-byte reproducible generator."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyogrio
import shapely

from geo_grid.crs import METRIC_EPSG, gcj02_to_wgs84
from geo_grid.layers import DEFAULT_BOUNDARIES

LAYERS = ("street", "communities", "grids", "buildings")


def test_generator_reproduces_the_files_byte_for_byte(tmp_path):
    subprocess.run([sys.executable, str(DEFAULT_BOUNDARIES / "generate.py"), str(tmp_path)],
                   check=True, capture_output=True)
    for name in LAYERS:
        assert (tmp_path / f"{name}.geojson").read_bytes() == \
            (DEFAULT_BOUNDARIES / f"{name}.geojson").read_bytes(), name


def test_layers_are_epsg4490_and_say_they_are_synthetic():
    manifest = json.loads((DEFAULT_BOUNDARIES / "manifest.json").read_text("utf-8"))
    assert manifest["crs"] == "EPSG:4490"
    for name in LAYERS:
        info = pyogrio.read_info(DEFAULT_BOUNDARIES / f"{name}.geojson")
        assert info["crs"] == "EPSG:4490", name
        assert manifest["layers"][name]["synthetic"] is True
        df = pyogrio.read_dataframe(DEFAULT_BOUNDARIES / f"{name}.geojson")
        assert df["synthetic"].all()


def test_counts_and_codes(layers):
    import csv

    real = {r["code"]: r["name"] for r in csv.DictReader(
        (DEFAULT_BOUNDARIES / "source" / "jiangxi_communities.csv").open(encoding="utf-8"))}
    assert len(real) == 33
    c = layers.communities
    assert dict(zip(c["code"], c["name"], strict=True)) == real
    g = layers.grids
    assert 200 <= len(g) <= 260
    assert all(code[:12] == cc for code, cc in zip(g["code"], g["community_code"], strict=True))
    assert set(g["kind"]) <= {"residential", "commercial", "industrial", "mixed"}
    assert {"commercial", "industrial"} <= set(g["kind"])
    b = layers.buildings
    assert len(b) >= 4000
    assert b["address"].is_unique and b["code"].is_unique
    assert b["address"].str.match(r"^.+\d+(栋|号)$").all()
    assert 100_000 <= b["households"].sum() <= 125_000
    assert (layers.street["code"] == "320214052").all()


def test_grid_numbering_runs_west_to_east_within_a_row(layers):
    g = layers.grids.to_crs(METRIC_EPSG)
    cent = g.geometry.centroid
    for _cc, part in g.groupby("community_code"):
        top = part.geometry.bounds["maxy"].max()
        rows = ((top - cent[part.index].y) // 400).astype(int)
        keys = list(zip(rows, cent[part.index].x, strict=True))
        order = [k for _, k in sorted(zip(part["code"], keys, strict=True))]
        assert order == sorted(order)


def test_street_is_20_to_30_km2_inside_the_real_district_north_west(layers):
    area = layers.street.to_crs(METRIC_EPSG).area.iloc[0] / 1e6
    assert 20 <= area <= 30
    d = pyogrio.read_dataframe(DEFAULT_BOUNDARIES / "source" / "xinwu_district_gcj02.geojson")
    geom = d.geometry.iloc[0]
    wgs = shapely.transform(geom, lambda c: np.column_stack(gcj02_to_wgs84(c[:, 0], c[:, 1])))
    street = layers.street.geometry.iloc[0]
    assert wgs.contains(street)
    minx, miny, maxx, maxy = wgs.bounds
    c = street.centroid
    assert c.x < (minx + maxx) / 2 and c.y > (miny + maxy) / 2
