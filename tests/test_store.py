"""The embedded GeoPackage store: readable by GDAL as it is, complete, and rebuilt atomically."""

from __future__ import annotations

import sqlite3

import numpy as np
import pyogrio
import pytest

from geo_grid.errors import StoreError
from geo_grid.layers import DEFAULT_BOUNDARIES
from geo_grid.store import build_store, load_district


def test_gdal_reads_every_layer_with_its_crs(store_path, layers):
    listed = {name: gtype for name, gtype in pyogrio.list_layers(store_path)}
    for name in ("street", "communities", "grids", "buildings"):
        assert listed[name] is not None, name
        info = pyogrio.read_info(store_path, layer=name)
        assert info["crs"] == "EPSG:4490"
        df = pyogrio.read_dataframe(store_path, layer=name)
        assert len(df) == len(getattr(layers, name))
        assert df.crs.to_epsg() == 4490
    for name in ("households", "members", "assignments"):
        assert name in listed and listed[name] is None  # attribute tables
    con = sqlite3.connect(store_path)
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    con.close()


def test_roundtrip_equals_the_layers(district, layers):
    assert list(district.grids["code"]) == sorted(layers.grids["code"])
    g1 = district.grids.set_index("code").geometry
    g2 = layers.grids.set_index("code").geometry
    assert all(g1[c].equals(g2[c]) for c in g2.index)
    assert district.version


def test_population_figures(district):
    hh, m = district.households, district.members
    assert 100_000 <= len(hh) <= 125_000
    assert 280_000 <= hh["size"].sum() <= 330_000
    per_building = hh.groupby("building_code").size()
    b = district.buildings.set_index("code")["households"]
    assert (per_building == b[per_building.index]).all()
    assert 2500 <= len(m) <= 4000
    roles = m.groupby(["grid_code", "role"]).size().unstack(fill_value=0)
    assert (roles["secretary"] == 1).all() and len(roles) == len(district.grids)
    assert m["branch_code"].nunique() == 205 and m["org_code"].nunique() == 105
    assert m["phone"].str.fullmatch(r"199\d{8}").all()
    for flag in ("elderly_alone", "disabled", "chronic", "infant"):
        assert 0 < hh[flag].mean() < 0.2
    assert (hh.loc[hh["elderly_alone"], "size"] == 1).all()


def test_first_assignment_covers_every_building(district):
    a = district.assignment
    need = set(district.buildings.loc[district.buildings["households"] > 0, "code"])
    assert need <= set(a["building_code"])
    members = district.members.set_index("id")
    assert members.loc[a["member_id"], "available"].all()
    load = a.groupby("member_id")["load"].sum()
    assert (load <= members.loc[load.index, "capacity"] + 1e-6).all()
    assert a["distance_m"].max() <= 1500


def test_failed_rebuild_leaves_previous_store_untouched(tmp_path, store_path):
    import shutil

    target = tmp_path / "s.gpkg"
    shutil.copy(store_path, target)
    before = target.read_bytes()
    broken = tmp_path / "broken"
    shutil.copytree(DEFAULT_BOUNDARIES, broken)
    text = (broken / "grids.geojson").read_text("utf-8")
    (broken / "grids.geojson").write_text(text.replace('"kind":"residential"', '"kind":"farm"', 1), "utf-8")
    with pytest.raises(StoreError, match="violation"):
        build_store(target, broken)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "s.gpkg"]
    # and a failure while writing (unwritable value) also leaves it untouched
    (broken / "grids.geojson").write_text(text, "utf-8")
    d = load_district(target)
    assert len(d.grids) == 231 and np.isfinite(d.members["x"]).all()
