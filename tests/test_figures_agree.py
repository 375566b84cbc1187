"""Every place that shows a figure shows the same one.

On the reference district (its current assignment) and on a seeded 20% outage scenario (before
and after, then applied), the figures per grid read from

- the map pages the service serves (``/``, ``/map/scenarios/{id}/compare``: the grid layers'
  properties, the fragile-grid outline, the uncovered-building layers),
- ``GET /api/v1/coverage``, ``GET /api/v1/grids``, every ``GET /api/v1/grids/{code}``,
- ``GET /api/v1/scenarios/{id}``,
- the workbook ``geo-grid roster`` writes (read back),

agree figure for figure; a few are also checked against the district's own tables.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import pandas as pd
import pytest

from geo_grid.roster import FIGURE_COLUMNS
from tests.test_api import authed, serve_app

#: Figures compared everywhere they are shown (names of :mod:`geo_grid.figures`).
FIGURES = (
    "buildings", "households", "residents", "vulnerable", "members", "available_members",
    "secretaries", "social_workers", "volunteers", "available_secretaries",
    "available_social_workers", "available_volunteers", "capacity", "load", "covered_load",
    "uncovered_load", "load_per_member", "households_per_member", "covered_buildings",
    "uncovered_buildings", "uncovered_households", "overloaded_members", "longest_walk_m",
    "coverage_pct", "losses_tolerated", "fragile",
)
#: ``stats`` of /api/v1/grids: older name → figure.
STATS_NAMES = {"vulnerable_households": "vulnerable", "active_members": "available_members",
               "demand_load": "load"}
#: Map property → figure (the map shows available members by role under the role names).
MAP_NAMES = {"households": "households", "residents": "residents", "buildings": "buildings",
             "uncovered": "uncovered_buildings", "coverage_pct": "coverage_pct",
             "resilience": "losses_tolerated", "vulnerable": "vulnerable",
             "uncovered_households": "uncovered_households",
             "overloaded_members": "overloaded_members", "longest_walk_m": "longest_walk_m",
             "secretaries": "secretaries", "social_workers": "social_workers",
             "volunteers": "volunteers", "capacity": "capacity", "demand_load": "load",
             "covered_load": "covered_load", "uncovered_load": "uncovered_load",
             "load_per_member": "load_per_member", "load": "households_per_member",
             "covered_buildings": "covered_buildings"}


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    return math.isclose(float(a), float(b), abs_tol=1e-9)


def _shown(v):
    """A figure as the map prints it: integers as they are, other numbers to one decimal."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    f = float(v)
    return int(f) if f == int(f) else round(f, 1)


def assert_agree(name: str, got: dict[str, dict], want: dict[str, dict], fields=FIGURES) -> None:
    """``got`` and ``want`` (grid code → figures) hold the same figures for every grid."""
    assert set(got) == set(want), f"{name}: other grids"
    bad = [(code, f, got[code].get(f), want[code][f]) for code in sorted(want) for f in fields
           if not _same(got[code].get(f), want[code][f])]
    assert not bad, f"{name}: {len(bad)} figures differ, e.g. {bad[:5]}"


# ----------------------------------------------------------------------------- readers


def from_coverage(rows: list[dict]) -> dict[str, dict]:
    return {r["grid_code"]: r for r in rows}


def from_stats(features: list[dict]) -> dict[str, dict]:
    out = {}
    for f in features:
        s = dict(f["properties"]["stats"])
        for old, new in STATS_NAMES.items():
            s[new] = s[old]
        out[f["properties"]["code"]] = s
    return out


def map_layers(html: str) -> list[tuple[dict, dict]]:
    """(data, spec) of every GeoJSON layer of a map page, in page order."""
    dec = json.JSONDecoder()
    out = []
    for m in re.finditer(r"GG\.geo\([\w$]+, ", html):
        data, end = dec.raw_decode(html, m.end())
        spec, _ = dec.raw_decode(html, html.index("{", end))
        out.append((data, spec))
    return out


def from_map(layers: list[tuple[dict, dict]]) -> list[dict]:
    """Per map of the page: grid code → figures shown, fragile outlines, building statuses."""
    maps = []
    for data, spec in layers:
        cls = spec.get("className", "")
        if cls == "gg-grid":
            grids = {}
            for f in data["features"]:
                p = f["properties"]
                row = {fig: p.get(prop) for prop, fig in MAP_NAMES.items()}
                avail, members = (int(x) for x in p["team_count"].split("/"))
                row["available_members"], row["members"] = avail, members
                (row["available_secretaries"], row["available_social_workers"],
                 row["available_volunteers"]) = (int(x) for x in p["roles"].split("/"))
                row["fragile"] = bool(p["fragile"])
                grids[p["code"]] = row
            maps.append({"grids": grids, "fragile": set(), "uncovered": set()})
        elif cls == "gg-fragile":
            maps[-1]["fragile"] |= {f["properties"]["code"] for f in data["features"]}
        elif cls.startswith("gg-building"):
            maps[-1]["uncovered"] |= {f["properties"]["code"] for f in data["features"]
                                      if f["properties"].get("status") == "uncovered"}
    return maps


def shown_on_map(want: dict[str, dict]) -> dict[str, dict]:
    """The figures as the map prints them."""
    return {c: {f: (_shown(v) if not isinstance(v, bool) else v) for f, v in row.items()}
            for c, row in want.items()}


def from_roster(path, sheet: str, key: str) -> dict[str, dict]:
    df = pd.read_excel(path, sheet_name=sheet, dtype={key: str}, engine="calamine")
    out = {}
    for r in df.to_dict("records"):
        row = {FIGURE_COLUMNS[k]: (None if isinstance(v, float) and math.isnan(v) else v)
               for k, v in r.items() if k in FIGURE_COLUMNS}
        row["fragile"] = row["fragile"] == "是"
        out[r[key]] = row
    return out


def roster(db, tmp_path, *extra) -> str:
    out = tmp_path / f"roster{'-'.join(extra)}.xlsx"
    done = subprocess.run([sys.executable, "-m", "geo_grid.cli", "roster", "-o", str(out),
                           "--db", str(db), *extra], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def http(own_store):
    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(db=own_store, build_if_missing=False))
    with serve_app(app) as url, authed(url, timeout=120) as c:
        yield c


def current_everywhere(http, db, tmp_path) -> dict[str, dict]:
    """The current assignment's figures from every place; asserts they agree; returns them."""
    cov = http.get("/api/v1/coverage").json()
    want = from_coverage(cov["grids"])
    fc = http.get("/api/v1/grids").json()
    assert_agree("/api/v1/grids", from_stats(fc["features"]), want)
    one = [http.get(f"/api/v1/grids/{code}") for code in want]
    assert all(r.headers["content-type"].startswith("application/geo+json") for r in one)
    assert_agree("/api/v1/grids/{code}", from_stats([r.json() for r in one]), want)
    page = from_map(map_layers(http.get("/").text))
    assert len(page) == 1
    assert_agree("map page", page[0]["grids"], shown_on_map(want))
    fragile = {c for c, r in want.items() if r["fragile"]}
    assert set(cov["fragile_grids"]) == fragile == page[0]["fragile"]
    assert cov["totals"]["fragile_grids"] == len(fragile) == cov["district"]["fragile_grids"]
    xlsx = roster(db, tmp_path)
    assert_agree("roster 网格汇总", from_roster(xlsx, "网格汇总", "网格编码"), want)
    comm = {r["community_code"]: r for r in cov["communities"]}
    assert_agree("roster 社区汇总", from_roster(xlsx, "社区汇总", "社区编码"), comm)
    return want


def test_reference_district_figures_agree(http, own_store, district, tmp_path):
    want = current_everywhere(http, own_store, tmp_path)
    # and they are the district's own counts
    m = district.members
    grid = pd.DataFrame(want).T
    assert grid["members"].astype(int).to_dict() == m.groupby("grid_code").size().to_dict()
    avail = m[m["available"]].groupby("grid_code").size()
    assert grid["available_members"].astype(int).to_dict() == avail.reindex(grid.index,
                                                                            fill_value=0).to_dict()
    hh = district.households.merge(district.buildings[["code", "grid_code"]],
                                   left_on="building_code", right_on="code")
    per = hh.groupby("grid_code")
    assert grid["households"].astype(int).to_dict() == per.size().reindex(grid.index,
                                                                          fill_value=0).to_dict()
    assert grid["residents"].astype(int).to_dict() == per["size"].sum().reindex(
        grid.index, fill_value=0).to_dict()
    g = "320214052005001"
    assert want[g]["members"] == (m["grid_code"] == g).sum()
    assert want[g]["available_members"] == ((m["grid_code"] == g) & m["available"]).sum()


def test_seeded_20_percent_scenario_figures_agree(http, own_store, district, tmp_path):
    r = http.post("/api/v1/scenarios", json={"name": "20%", "unavailable_fraction": 0.2, "seed": 11})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    full = http.get(f"/api/v1/scenarios/{sid}").json()
    before = from_coverage(full["coverage_before"]["grid"])
    after = from_coverage(full["coverage_after"]["grid"])
    assert full["district_before"]["uncovered_buildings"] == full["summary"]["before"]["uncovered_buildings"]
    assert full["district_after"]["uncovered_buildings"] == full["summary"]["uncovered_buildings"]
    assert sum(r["uncovered_buildings"] for r in before.values()) == len(full["uncovered_before"])
    assert len(full["uncovered_before"]) > 0  # the outage bites before the rebalance
    out = set(full["unavailable_members"])
    m = district.members
    still = m[m["available"] & ~m["id"].isin(out)].groupby("grid_code").size()
    for fig in (before, after):
        assert {c: r["available_members"] for c, r in fig.items()} == \
            still.reindex(list(fig), fill_value=0).to_dict()
    # the compare page: before on the left, after on the right
    page = from_map(map_layers(http.get(f"/map/scenarios/{sid}/compare").text))
    assert len(page) == 2
    assert_agree("compare page, before", page[0]["grids"], shown_on_map(before))
    assert_agree("compare page, after", page[1]["grids"], shown_on_map(after))
    assert page[0]["uncovered"] == set(full["uncovered_before"])
    assert page[1]["uncovered"] == set(full["uncovered_after"])
    alone = from_map(map_layers(http.get(f"/map/scenarios/{sid}").text))
    assert_agree("scenario page", alone[0]["grids"], shown_on_map(after))
    xlsx = roster(own_store, tmp_path, "--scenario", sid)
    assert_agree("roster --scenario", from_roster(xlsx, "网格汇总", "网格编码"), after)
    # applied, the scenario's after figures are the current ones everywhere
    assert http.post(f"/api/v1/scenarios/{sid}/apply").status_code == 200
    try:
        now = current_everywhere(http, own_store, tmp_path)
        assert_agree("current after apply", now, after)
    finally:
        assert http.post("/api/v1/assignments/revert").status_code == 200
