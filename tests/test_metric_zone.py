"""Metric work in the street's own Gauss-Kruger zone: distances right far from 120°E too."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Geod

from geo_grid.assign.inputs import building_xy
from geo_grid.crs import METRIC_EPSG, from_metric, metric_epsg, to_metric
from geo_grid.layers import DEFAULT_BOUNDARIES, load_layers
from geo_grid.store import build_store, load_district
from geo_grid.topology import validate

GEOD = Geod(ellps="GRS80")  # the CGCS2000 ellipsoid, to well below a millimetre here
CHENGDU = (104.07, 30.66)


def test_zone_from_longitude():
    # the zone whose central meridian (a multiple of 3°) is nearest
    assert metric_epsg(120.3) == 4549 == METRIC_EPSG  # Wuxi, CM 120°E
    assert metric_epsg(104.07) == 4544  # Chengdu, CM 105°E
    assert metric_epsg(75.99) == 4534  # Kashgar, CM 75°E
    assert metric_epsg(135.0) == 4554 and metric_epsg(60.0) == 4534  # clipped to China's zones
    assert metric_epsg([103.9, 104.3]) == 4544


def test_one_km_east_west_near_chengdu_measures_one_km():
    lon0, lat0 = CHENGDU
    lon1, lat1, _ = GEOD.fwd(lon0, lat0, 90, 1000.0)
    epsg = metric_epsg(lon0)
    x, y = to_metric([lon0, lon1], [lat0, lat1], epsg)
    assert float(np.hypot(x[1] - x[0], y[1] - y[0])) == pytest.approx(1000.0, rel=1e-3)
    # the zone of 120°E, used before for every street, is about 3% long there
    x, y = to_metric([lon0, lon1], [lat0, lat1], 4549)
    assert float(np.hypot(x[1] - x[0], y[1] - y[0])) > 1025
    back = from_metric(*to_metric(lon0, lat0, epsg), epsg)
    assert np.allclose(back, (lon0, lat0), atol=1e-9)


def test_reference_district_keeps_its_zone(layers):
    assert layers.metric_epsg == 4549


@pytest.fixture(scope="module")
def chengdu_store(tmp_path_factory):
    """The reference layers moved to Chengdu's longitude, built into a store."""
    folder = tmp_path_factory.mktemp("chengdu")
    ref = load_layers(DEFAULT_BOUNDARIES)
    dx = CHENGDU[0] - float(ref.street.total_bounds[[0, 2]].mean())
    for name in ("street", "communities", "grids", "buildings"):
        df = pyogrio.read_dataframe(DEFAULT_BOUNDARIES / f"{name}.geojson")
        df["geometry"] = shapely.transform(np.asarray(df.geometry.array),
                                           lambda xy: xy + np.array([dx, 0.0]))
        pyogrio.write_dataframe(df, folder / f"{name}.geojson", driver="GeoJSON",
                                layer_options={"COORDINATE_PRECISION": 15})
    path = tmp_path_factory.mktemp("cds") / "c.gpkg"
    build_store(path, folder)
    return folder, path


def test_a_street_near_chengdu_validates_and_measures_in_its_zone(chengdu_store):
    folder, path = chengdu_store
    layers = load_layers(folder)
    assert layers.metric_epsg == 4544
    assert validate(layers) == []
    d = load_district(path)
    assert d.metric_epsg == 4544
    # building centroids in metres: distances agree with the geodesic ones within 0.1%
    b = d.buildings.iloc[:400]
    xy = building_xy(b, d.metric_epsg)
    c = shapely.get_coordinates(shapely.centroid(np.asarray(b.geometry.array)))
    rng = np.random.default_rng(7)
    i, j = rng.integers(0, len(b), 200), rng.integers(0, len(b), 200)
    keep = i != j
    i, j = i[keep], j[keep]
    planar = np.hypot(*(xy[i] - xy[j]).T)
    _, _, geodesic = GEOD.inv(c[i, 0], c[i, 1], c[j, 0], c[j, 1])
    assert np.allclose(planar, geodesic, rtol=1e-3)


def test_members_and_assignment_distances_in_the_street_zone(chengdu_store):
    _, path = chengdu_store
    d = load_district(path)
    m = d.members.set_index("id")
    lon, lat = from_metric(m["x"].to_numpy(), m["y"].to_numpy(), d.metric_epsg)
    homes = d.buildings.set_index("code").geometry.reindex(m["home_building"])
    inside = shapely.contains_xy(shapely.buffer(np.asarray(homes.array), 1e-5), lon, lat)
    assert inside.mean() > 0.99  # each home point is its home building (centroid)
    a = d.assignment.sample(500, random_state=3)
    geoms = d.buildings.set_index("code").geometry.reindex(a["building_code"])
    cen = shapely.get_coordinates(shapely.centroid(np.asarray(geoms.array)))
    mlon, mlat = from_metric(m.loc[a["member_id"], "x"].to_numpy(),
                             m.loc[a["member_id"], "y"].to_numpy(), d.metric_epsg)
    _, _, geodesic = GEOD.inv(mlon, mlat, cen[:, 0], cen[:, 1])
    far = geodesic > 50
    assert far.sum() > 100
    assert np.allclose(a["distance_m"].to_numpy()[far], geodesic[far], rtol=2e-3)
