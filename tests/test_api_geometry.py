"""Grid geometry in the API as RFC 7946 wants it, even when the layers were drawn clockwise
with 15 decimals: counter-clockwise exteriors, clockwise holes, 6 decimals."""

from __future__ import annotations

import shutil

import numpy as np
import pyogrio
import pytest
import shapely

from api.app import create_app
from api.settings import Settings
from geo_grid.layers import DEFAULT_BOUNDARIES
from geo_grid.store import build_store, load_district
from tests.test_api import authed, serve_app


def signed_area(ring) -> float:
    xy = np.asarray(ring, dtype=float)
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


@pytest.fixture(scope="module")
def clockwise_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cw")
    for name in ("street", "communities", "buildings"):
        shutil.copy(DEFAULT_BOUNDARIES / f"{name}.geojson", folder / f"{name}.geojson")
    grids = pyogrio.read_dataframe(DEFAULT_BOUNDARIES / "grids.geojson")
    # clockwise exteriors, and coordinates with many decimals (shifted by < 1 mm)
    grids["geometry"] = shapely.reverse(
        shapely.transform(np.asarray(grids.geometry.array), lambda xy: xy + 1.234567891e-9))
    assert not any(g.exterior.is_ccw for g in grids.geometry)
    pyogrio.write_dataframe(grids, folder / "grids.geojson", driver="GeoJSON",
                            layer_options={"COORDINATE_PRECISION": 15})
    path = tmp_path_factory.mktemp("cws") / "cw.gpkg"
    build_store(path, folder)
    return path


def _polygons(geometry: dict):
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    assert geometry["type"] == "MultiPolygon"
    return geometry["coordinates"]


def _check(feature: dict, stored) -> None:
    for rings in _polygons(feature["geometry"]):
        assert signed_area(rings[0]) > 0, feature["properties"]["code"]
        for hole in rings[1:]:
            assert signed_area(hole) < 0
        for ring in rings:
            for x, y in ring:
                assert round(x, 6) == x and round(y, 6) == y
    got = shapely.geometry.shape(feature["geometry"])
    assert got.hausdorff_distance(stored) < 1e-6


def test_grids_are_counter_clockwise_with_six_decimals(clockwise_store):
    stored = load_district(clockwise_store).grids.set_index("code").geometry
    assert not stored.iloc[0].exterior.is_ccw  # the store keeps what it was given
    app = create_app(Settings(db=clockwise_store, build_if_missing=False))
    with serve_app(app) as url, authed(url, timeout=30) as client:
        r = client.get("/api/v1/grids")
        assert r.status_code == 200
        features = r.json()["features"]
        assert len(features) == len(stored)
        for f in features:
            _check(f, stored[f["properties"]["code"]])
        code = features[0]["properties"]["code"]
        one = client.get(f"/api/v1/grids/{code}")
        assert one.status_code == 200
        _check(one.json(), stored[code])
