"""The point lookup route's raw query fast path answers exactly as the validated path does."""

from __future__ import annotations

import numpy as np
import pytest

from api.routes.lookup import plain_point
from tests.test_api import base_url, http  # noqa: F401 - module fixtures: the served store


@pytest.mark.parametrize("query, expected", [
    (b"lon=120.36&lat=31.53", (120.36, 31.53, "wgs84")),
    (b"lat=31.53&lon=120.36&crs=gcj02", (120.36, 31.53, "gcj02")),
    (b"lon=-1&lat=0.5&crs=epsg:4549", (-1.0, 0.5, "epsg:4549")),
])
def test_plain_queries_are_read_from_the_raw_bytes(query, expected):
    assert plain_point(query) == expected


@pytest.mark.parametrize("query", [
    b"", b"lon=120.36", b"lon=120.36&lat=31.53&lon=120.4", b"lon=120.36&lat=31.53&",
    b"lon=120.36&lat=31.53&unmasked=true", b"lon=1e2&lat=31.53", b"lon=nan&lat=31.53",
    b"lon=1_2&lat=31.53", b"lon=%31%32&lat=31.53", b"lon=120.36&lat=+31.53",
    b"lon=120.36&lat=31.53&crs=", b"lon=120.36&lat=31.53&address=x", b"lon=.5&lat=31.53",
])
def test_anything_else_takes_the_validated_path(query):
    assert plain_point(query) is None


def test_fast_and_validated_paths_answer_byte_for_byte(http, district):  # noqa: F811
    # an extra ``unmasked=false`` sends the same point through the pydantic query model
    rng = np.random.default_rng(7)
    x0, y0, x1, y1 = district.street.total_bounds
    pts = np.column_stack([rng.uniform(x0 - 0.01, x1 + 0.01, 40), rng.uniform(y0 - 0.01, y1 + 0.01, 40)])
    covered = 0
    for lon, lat in pts:
        for crs in ("wgs84", "gcj02"):
            q = f"lon={lon:.6f}&lat={lat:.6f}&crs={crs}"
            fast = http.get(f"/api/v1/lookup?{q}")
            slow = http.get(f"/api/v1/lookup?{q}&unmasked=false")
            assert fast.status_code == slow.status_code == 200
            assert fast.content == slow.content
            covered += fast.json()["covered"]
    assert 0 < covered < 80  # both inside and outside points were asked


def test_bad_plain_points_keep_their_problems(http):  # noqa: F811
    r = http.get("/api/v1/lookup?lon=31.53&lat=120.36")
    assert r.status_code == 422 and "swap" in r.json()["detail"]
    r = http.get("/api/v1/lookup?lon=120.36&lat=31.53&crs=mars")
    assert r.status_code == 422 and r.json()["code"] == "unknown_crs"
