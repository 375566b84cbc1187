"""What real layers carry and the store must survive: door numbers like 12A and 12-1, duplicate
addresses, impossible attributes, invalid footprints — `validate` names each feature, and what
it passes builds a store that the lookup service accepts."""

from __future__ import annotations

import re
import shutil

import pyogrio
import pytest
import shapely

from geo_grid.errors import GeoGridError, StoreError
from geo_grid.layers import DEFAULT_BOUNDARIES, load_layers
from geo_grid.lookup import Gazetteer
from geo_grid.store import build_store, load_district
from geo_grid.topology import validate


@pytest.fixture
def folder(tmp_path):
    for name in ("street", "communities", "grids", "buildings"):
        shutil.copy(DEFAULT_BOUNDARIES / f"{name}.geojson", tmp_path / f"{name}.geojson")
    return tmp_path


def edit_buildings(folder, fn):
    df = pyogrio.read_dataframe(folder / "buildings.geojson")
    df = fn(df)
    (folder / "buildings.geojson").unlink()
    pyogrio.write_dataframe(df, folder / "buildings.geojson", driver="GeoJSON")
    return df


def _slab(df, k=0):
    """Row index of the k-th residential building with a 栋 address."""
    rows = df.index[(df["category"] == "slab") & df["address"].str.endswith("栋")]
    return rows[k]


def test_suffixed_numbers_are_kept_from_layers_to_lookup(folder, tmp_path):
    picked = {}

    def suffixes(df):
        df["number"] = df["number"].astype(object)
        i, j = _slab(df, 0), _slab(df, 1)
        comp_i, comp_j = df.loc[i, "compound"], df.loc[j, "compound"]
        df.loc[i, "number"] = "12A"
        df.loc[i, "address"] = f"{comp_i}12A栋"
        df.loc[j, "number"] = "12-1"
        df.loc[j, "address"] = f"{comp_j}12-1栋"
        picked.update(a=(df.loc[i, "code"], comp_i), b=(df.loc[j, "code"], comp_j))
        return df

    edit_buildings(folder, suffixes)
    assert validate(load_layers(folder)) == []
    path = tmp_path / "s.gpkg"
    build_store(path, folder)
    district = load_district(path)
    b = district.buildings.set_index("code")
    assert str(b.loc[picked["a"][0], "number"]).upper() == "12A"
    assert str(b.loc[picked["b"][0], "number"]) == "12-1"
    # and GDAL (QGIS, exports) reads the number as written, not as 12
    gdal = pyogrio.read_dataframe(path, layer="buildings").set_index("code")["number"]
    assert gdal[picked["a"][0]] == "12A" and gdal[picked["b"][0]] == "12-1"
    matcher = Gazetteer.build(district).matcher  # what `lookup` and `serve` build
    code_a, comp_a = picked["a"]
    for text in (f"{comp_a}小区12A栋", f"{comp_a}１２ａ栋3单元502", f"{comp_a}12A栋"):
        res = matcher.match(text)
        assert res.status == "matched" and res.building_code == code_a, (text, res)
    code_b, comp_b = picked["b"]
    res = matcher.match(f"{comp_b}12-1栋")
    assert res.status == "matched" and res.building_code == code_b
    # 12A is not 12: the plain number still finds its own building, or none
    res = matcher.match(f"{comp_a}12栋")
    assert res.building_code != code_a


def test_same_compound_and_number_is_refused_by_validate_and_init(folder, tmp_path):
    dup = {}

    def same_number(df):
        i, j = _slab(df, 0), _slab(df, 1)
        df.loc[j, "compound"] = df.loc[i, "compound"]
        df.loc[j, "number"] = df.loc[i, "number"]
        df.loc[j, "address"] = df.loc[i, "address"] + "（北）"  # another text, the same place
        dup.update(first=df.loc[i, "code"], second=df.loc[j, "code"])
        return df

    edit_buildings(folder, same_number)
    vs = [v for v in validate(load_layers(folder)) if v.kind == "duplicate_address"]
    assert [v.code for v in vs] == [dup["second"]]
    assert dup["first"] in vs[0].message and vs[0].lon is not None
    with pytest.raises(StoreError, match=dup["second"]):
        build_store(tmp_path / "s.gpkg", folder)
    assert not (tmp_path / "s.gpkg").exists()


def test_duplicate_address_text_is_a_clear_error_not_sql(folder, tmp_path):
    dup = {}

    def same_address(df):
        i, j = _slab(df, 2), _slab(df, 3)
        df.loc[j, "address"] = df.loc[i, "address"]
        dup.update(first=df.loc[i, "code"], second=df.loc[j, "code"])
        return df

    edit_buildings(folder, same_address)
    vs = [v for v in validate(load_layers(folder)) if v.kind == "duplicate_address"]
    assert dup["second"] in {v.code for v in vs}
    assert any(dup["first"] in v.message for v in vs)
    with pytest.raises(GeoGridError) as err:
        build_store(tmp_path / "s.gpkg", folder)
    text = str(err.value)
    assert dup["second"] in text and "INSERT" not in text and "\\x" not in text
    assert len(text) < 2000


def test_impossible_attributes_are_named_with_their_place(folder):
    bad = {}

    def attributes(df):
        rows = [_slab(df, k) for k in range(4, 9)]
        df.loc[rows[0], "households"] = -5
        df.loc[rows[1], "floors"] = 0
        df.loc[rows[2], "units"] = 0
        df.loc[rows[3], "category"] = "farm"
        df["number"] = df["number"].astype(object)
        df.loc[rows[4], "number"] = "A座"
        for key, i in zip(("households", "floors", "units", "category", "number"), rows,
                          strict=True):
            bad[key] = (df.loc[i, "code"], df.geometry[i])
        return df

    edit_buildings(folder, attributes)
    vs = [v for v in validate(load_layers(folder)) if v.kind == "bad_attribute"]
    by_code = {v.code: v for v in vs}
    assert len(vs) == 5
    for key, (code, geom) in bad.items():
        v = by_code[code]
        assert key in v.message, v
        # the place is the building's own, in lon/lat
        assert geom.buffer(1e-6).contains(shapely.Point(v.lon, v.lat)), v


def test_invalid_footprint_is_placed_in_lonlat(folder):
    where = {}

    def bowtie(df):
        i = _slab(df, 0)
        x0, y0, x1, y1 = df.geometry[i].bounds
        df.loc[i, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])
        where.update(code=df.loc[i, "code"], x=(x0 + x1) / 2, y=(y0 + y1) / 2)
        return df

    edit_buildings(folder, bowtie)
    v = next(v for v in validate(load_layers(folder)) if v.kind == "invalid_geometry")
    assert v.code == where["code"]
    # the self-intersection is the crossing of the two diagonals: the box centre
    m = re.search(r"at lon/lat \((\d+\.\d+), (\d+\.\d+)\)", v.message)
    assert m, v.message
    assert float(m.group(1)) == pytest.approx(where["x"], abs=1e-6)
    assert float(m.group(2)) == pytest.approx(where["y"], abs=1e-6)
    assert (v.lon, v.lat) == pytest.approx((float(m.group(1)), float(m.group(2))), abs=1e-6)
    assert not re.search(r"\d{6,}\.\d", v.message)  # no metre coordinates left
