"""The city generator (``boundaries/generate.py --city wuxi``) on one district, 新吴区 (320214).

Run twice through the command line: the files must be equal byte for byte, hold exactly the
district's real committees, tile (validated per street by ``geo_grid.topology.validate``), carry
well-formed codes that extend their parent's, about 7 grids a committee, and say they are synthetic.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from geo_grid.crs import METRIC_EPSG, gcj02_to_wgs84
from geo_grid.district import District
from geo_grid.layers import DEFAULT_BOUNDARIES
from geo_grid.topology import validate

DISTRICT = "320214"
FILES = ("streets", "communities", "grids", "buildings")
SOURCE = DEFAULT_BOUNDARIES / "source"


def _run(out):
    done = subprocess.run([sys.executable, str(DEFAULT_BOUNDARIES / "generate.py"), "--city", "wuxi",
                           "--district", DISTRICT, str(out)], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    a, b = tmp_path_factory.mktemp("city_a"), tmp_path_factory.mktemp("city_b")
    return (a, _run(a)), (b, _run(b))


@pytest.fixture(scope="module")
def city(runs):
    (folder, summary), _ = runs
    return summary, {name: pyogrio.read_dataframe(folder / f"{name}.geojson") for name in FILES}


@pytest.fixture(scope="module")
def real():
    rows = [r for r in csv.DictReader((SOURCE / "wuxi_committees.csv").open(encoding="utf-8"))
            if r["district_code"] == DISTRICT]
    assert len(rows) == 126  # 新吴区 in the 2023 division codes
    return rows


def test_two_runs_write_the_same_bytes(runs):
    (a, sa), (b, sb) = runs
    for name in (*FILES, "manifest"):
        ext = "json" if name == "manifest" else "geojson"
        assert (a / f"{name}.{ext}").read_bytes() == (b / f"{name}.{ext}").read_bytes(), name
    assert {k: v for k, v in sa.items() if k != "seconds"} == {k: v for k, v in sb.items() if k != "seconds"}


def test_summary_counts_the_files(city):
    summary, layers = city
    assert summary["districts"] == [DISTRICT]
    assert summary["streets"] == len(layers["streets"])
    assert summary["committees"] == len(layers["communities"])
    assert summary["grids"] == len(layers["grids"])
    assert summary["buildings"] == len(layers["buildings"])


def test_committees_are_exactly_the_real_ones(city, real):
    _, layers = city
    c = layers["communities"]
    assert dict(zip(c["code"], c["name"], strict=True)) == {r["code"]: r["name"] for r in real}
    assert dict(zip(c["code"], c["street_code"], strict=True)) == {r["code"]: r["street_code"] for r in real}
    s = layers["streets"]
    assert dict(zip(s["code"], s["name"], strict=True)) == {r["street_code"]: r["street_name"] for r in real}
    assert (s["district_code"] == DISTRICT).all()


def test_every_street_validates_clean(city):
    """Communities tile their street, grids their community, buildings inside one grid each,
    codes unique and extending their parent, addresses unique in the street."""
    _, layers = city
    for code in layers["streets"]["code"]:
        part = {name: gdf[gdf["code" if name == "streets" else "street_code"] == code]
                for name, gdf in layers.items()}
        district = District(street=part["streets"], communities=part["communities"],
                            grids=part["grids"], buildings=part["buildings"])
        assert validate(district) == [], code
    for name, gdf in layers.items():
        assert shapely.is_valid(np.asarray(gdf.geometry.array)).all(), name
        assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}, name
    assert set(layers["grids"].geom_type) == {"Polygon"}
    assert set(layers["communities"].geom_type) == {"Polygon"}


def test_codes_are_well_formed_and_extend_their_parent(city):
    _, layers = city
    s, c, g, b = (layers[n] for n in FILES)
    assert s["code"].str.fullmatch(r"320214\d{3}").all() and s["code"].is_unique
    assert c["code"].str.fullmatch(r"\d{12}").all() and c["code"].is_unique
    assert g["code"].str.fullmatch(r"\d{15}").all() and g["code"].is_unique
    assert b["code"].str.fullmatch(r"\d{17}").all() and b["code"].is_unique
    assert all(cc.startswith(sc) for cc, sc in zip(c["code"], c["street_code"], strict=True))
    assert all(gc[:12] == cc and cc[:9] == sc
               for gc, cc, sc in zip(g["code"], g["community_code"], g["street_code"], strict=True))
    assert all(bc[:12] == cc and gc[:12] == cc
               for bc, gc, cc in zip(b["code"], b["grid_code"], b["community_code"], strict=True))
    # grids numbered 001..n in each community, buildings 00001..n
    for _, part in g.groupby("community_code"):
        assert sorted(int(x[-3:]) for x in part["code"]) == list(range(1, len(part) + 1))
    for _, part in b.groupby("community_code"):
        assert sorted(int(x[-5:]) for x in part["code"]) == list(range(1, len(part) + 1))
    # addresses unique per street
    assert not b.duplicated(["street_code", "address"]).any()


def test_about_seven_grids_a_committee_and_buildings_in_every_grid(city):
    _, layers = city
    per_comm = layers["grids"].groupby("community_code").size()
    assert len(per_comm) == len(layers["communities"])  # every committee has grids
    assert 5.5 <= per_comm.mean() <= 9.5
    per_grid = layers["buildings"].groupby("grid_code").size()
    assert 12 <= per_grid.mean() <= 22
    # urban committees (居委会, codes 0xx-1xx) get more grids than villages (村委会, 2xx-3xx)
    digit = per_comm.index.str[9]
    assert per_comm[digit.isin(["0", "1"])].mean() > per_comm[digit.isin(["2", "3"])].mean()


def test_streets_cover_the_real_district_outline(city):
    _, layers = city
    src = pyogrio.read_dataframe(SOURCE / "wuxi_districts_gcj02.geojson")
    geom = src[src["code"] == DISTRICT].geometry.iloc[0]
    outline = shapely.transform(geom, lambda c: np.column_stack(gcj02_to_wgs84(c[:, 0], c[:, 1])))
    streets = shapely.union_all(np.asarray(layers["streets"].geometry.array))
    both = gpd.GeoSeries([outline, streets], crs=4490).to_crs(METRIC_EPSG)
    assert both.iloc[1].difference(both.iloc[0].buffer(1.0)).area < 1.0
    assert both.iloc[1].area / both.iloc[0].area > 0.995


def test_everything_says_it_is_synthetic(runs, city):
    (folder, _), _ = runs
    _, layers = city
    for name, gdf in layers.items():
        assert gdf["synthetic"].all(), name
        assert pyogrio.read_info(folder / f"{name}.geojson")["crs"] == "EPSG:4490"
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    assert manifest["synthetic"] is True and manifest["crs"] == "EPSG:4490"
    assert all(layer["synthetic"] is True for layer in manifest["layers"].values())
    assert manifest["layers"]["grids"]["real_parts"] == []
