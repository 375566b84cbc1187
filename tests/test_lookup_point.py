"""The single-point lookup of the core: ready team answers, the fast path for plain degrees."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from geo_grid.crs import to_cgcs2000
from geo_grid.errors import InvalidCoordinate, UnknownCRS
from geo_grid.lookup import Gazetteer, team_of


def test_ready_team_answers_equal_the_frames(gazetteer):
    assert gazetteer.team_json.keys() == gazetteer.teams.keys()
    for code, frame in gazetteer.teams.items():
        for unmasked in (False, True):
            assert gazetteer.answer_for_grid(code, unmasked)["team"] == team_of(frame, unmasked)


def test_answers_are_fresh_copies(gazetteer):
    code = next(iter(gazetteer.team_json))
    first = gazetteer.answer_for_grid(code)
    first["team"]["volunteers"].clear()
    first["team"]["secretary"]["name"] = "changed"
    again = gazetteer.answer_for_grid(code)
    assert again["team"] == team_of(gazetteer.teams[code])


def test_reload_with_new_members_rebuilds_the_team_answers(gazetteer):
    d = gazetteer.district
    code = next(iter(gazetteer.team_json))
    members = d.members.copy()
    members.loc[members["grid_code"] == code, "available"] = False
    other = gazetteer.with_district(dataclasses.replace(d, members=members))
    team = other.answer_for_grid(code)["team"]
    people = [team["secretary"], *team["social_workers"], *team["volunteers"]]
    assert people and not any(p["available"] for p in people if p)


def test_fast_path_answers_like_the_converted_path(gazetteer):
    b = gazetteer.district.street.total_bounds
    rng = np.random.default_rng(7)
    lon = rng.uniform(b[0] - 0.01, b[2] + 0.01, 500)
    lat = rng.uniform(b[1] - 0.01, b[3] + 0.01, 500)
    codes = gazetteer.grid_codes(lon, lat, "wgs84")
    covered = 0
    for x, y, code in zip(lon.tolist(), lat.tolist(), codes, strict=True):
        for crs in ("wgs84", "cgcs2000", "WGS84", None):
            out = gazetteer.lookup(x, y, crs)
            assert (out["grid"] or {}).get("code") == code
            assert out["point"] == {"lon": x, "lat": y, "crs": "cgcs2000"}
        covered += code is not None
    assert 0 < covered < 500
    # the converted CRSs still go through the conversion
    gx, gy = (float(v) for v in to_cgcs2000(120.36, 31.53, "gcj02"))
    point = gazetteer.lookup(120.36, 31.53, "gcj02")["point"]
    assert (point["lon"], point["lat"]) == (gx, gy) and abs(gx - 120.36) > 1e-3


@pytest.mark.parametrize(("lon", "lat", "err"), [
    (float("nan"), 31.5, InvalidCoordinate), (120.3, float("inf"), InvalidCoordinate),
    (31.5, 120.3, InvalidCoordinate), (200.0, 31.5, InvalidCoordinate),
    (120.3, 31.5, UnknownCRS)])
def test_bad_points_keep_their_precise_errors(gazetteer, lon, lat, err):
    with pytest.raises(err) as info:
        gazetteer.lookup(lon, lat, "mars" if err is UnknownCRS else "wgs84")
    assert "index" not in info.value.details


def test_empty_team_for_a_grid_without_members(district):
    gaz = Gazetteer.build(dataclasses.replace(district, members=district.members.iloc[0:0]))
    code = next(iter(gaz.grid_info))
    assert gaz.answer_for_grid(code)["team"] == {"secretary": None, "social_workers": [],
                                                 "volunteers": []}
