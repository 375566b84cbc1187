"""Datum conversions and coordinate validation."""

from __future__ import annotations

import numpy as np
import pytest

from geo_grid import crs
from geo_grid.errors import InvalidCoordinate, UnknownCRS


def metres(lon1, lat1, lon2, lat2):
    return np.hypot((lon1 - lon2) * 111_320 * np.cos(np.radians(lat1)), (lat1 - lat2) * 110_574)


@pytest.fixture
def points():
    rng = np.random.default_rng(5)
    return rng.uniform(118, 122, 20_000), rng.uniform(30, 35, 20_000)


def test_gcj02_inverse_under_a_centimetre(points):
    lon, lat = points
    g = crs.wgs84_to_gcj02(lon, lat)
    shift = metres(*g, lon, lat)
    assert 300 < np.median(shift) < 700  # the offset is real
    back = crs.gcj02_to_wgs84(*g)
    assert metres(*back, lon, lat).max() < 0.01


def test_bd09_inverse_under_a_centimetre(points):
    lon, lat = points
    b = crs.wgs84_to_bd09(lon, lat)
    back = crs.bd09_to_wgs84(*b)
    assert metres(*back, lon, lat).max() < 0.01


def test_to_cgcs2000_all_names_roundtrip(points):
    lon, lat = points
    for name in crs.CRS_NAMES:
        x, y = crs.from_cgcs2000(lon, lat, name)
        lo, la = crs.to_cgcs2000(x, y, name)
        assert metres(lo, la, lon, lat).max() < 0.01, name


def test_swapped_pair_is_reported_as_swapped():
    with pytest.raises(InvalidCoordinate, match="swapped"):
        crs.to_cgcs2000(31.55, 120.36, "wgs84")


def test_out_of_range_and_unknown_crs():
    with pytest.raises(InvalidCoordinate, match="out of range"):
        crs.to_cgcs2000(200.0, 31.0)
    with pytest.raises(InvalidCoordinate, match="finite"):
        crs.to_cgcs2000(float("nan"), 31.0)
    with pytest.raises(InvalidCoordinate, match="EPSG:4549"):
        crs.to_cgcs2000(120.3, 31.5, "epsg:4549")
    with pytest.raises(UnknownCRS, match="accepted"):
        crs.normalize_crs("mercator")


def test_epsg4549_swapped_pair_is_reported_as_swapped():
    x, y = crs.to_metric(120.35, 31.55)
    with pytest.raises(InvalidCoordinate, match="appear to be swapped"):
        crs.to_cgcs2000(float(y), float(x), "epsg:4549")
    lon, lat = crs.to_cgcs2000(float(x), float(y), "epsg:4549")
    assert abs(float(lon) - 120.35) < 1e-9 and abs(float(lat) - 31.55) < 1e-9


def test_coordinate_problems_per_pair():
    got = crs.coordinate_problems([120.3, 31.5, 500.0, np.nan], [31.5, 120.3, 31.0, 1.0], "wgs84")
    assert got[0] is None
    assert "swapped" in got[1]
    assert "out of range" in got[2]
    assert "finite" in got[3]
    x, y = crs.to_metric([120.3], [31.5])
    got = crs.coordinate_problems([x[0], y[0]], [y[0], x[0]], "epsg:4549")
    assert got[0] is None and "swapped" in got[1]
