"""Trade-off curves: uncovered load against moves and against reinforcements.

Each point is checked against a rebalance run here on its own, the efficient marks against a
dominance check written here, and the API's cache over real HTTP on the reference district.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from geo_grid.assign import Params, Scenario, rebalance, rebalance_problem, synthetic_problem
from geo_grid.assign.rebalance import PreparedRebalance
from geo_grid.assign.tradeoff import (
    MAX_BUDGETS,
    default_budgets,
    parse_budgets,
    table,
    tradeoff,
    tradeoff_prepared,
)
from geo_grid.errors import InvalidInput
from tests.test_assign_rebalance import tiny_district, with_current
from tests.test_reinforcements import PARAMS as LINE_PARAMS
from tests.test_reinforcements import line_problem, reinforcement, screenshot

FIGURES = ("moves", "uncovered_load", "uncovered_buildings", "reinforcements_used")


def members_out(seed: int = 0, n: int = 16, nb: int = 250, nh: int = 200):
    """A synthetic street with its ordinary-day assignment and a fifth of the members out."""
    p = with_current(synthetic_problem(n, nb, nh, seed=seed))
    out = np.zeros(p.n_members, bool)
    out[np.random.default_rng(seed).choice(p.n_members, p.n_members // 5, replace=False)] = True
    kw = dict(unavailable=out, sealed=np.zeros(p.n_buildings, bool), demand=p.demand)
    return p, kw


def prepared(p, kw, params=None, epsg=None) -> PreparedRebalance:
    return PreparedRebalance(params or Params(), p, kw["unavailable"], kw["sealed"], kw["demand"], None, epsg)


def figures(summary: dict) -> dict:
    return {"moves": summary["moves"], "uncovered_load": summary["uncovered_load"],
            "uncovered_buildings": summary["uncovered_buildings"],
            "reinforcements_used": summary.get("reinforcements_used", 0)}


def expected_efficient(points, objectives, tiebreak=None) -> list[bool]:
    """Pareto marks by the definition: dominated by a point no worse in every objective and
    better in one; of equal points the first (by ``tiebreak``, then position) only."""
    out = []
    for i, p in enumerate(points):
        beaten = False
        for j, q in enumerate(points):
            if j == i:
                continue
            le = all(q[k] <= p[k] for k in objectives)
            lt = any(q[k] < p[k] for k in objectives)
            same = all(q[k] == p[k] for k in objectives)
            first = ((q[tiebreak], j) < (p[tiebreak], i)) if tiebreak else j < i
            if (le and lt) or (same and first):
                beaten = True
        out.append(not beaten)
    return out


@pytest.mark.parametrize("seed, size", [(1, (25, 400, 260)), (4, (25, 400, 260))])
def test_moves_curve_points_are_what_a_rebalance_measures(seed, size):
    p, kw = members_out(seed, *size)
    curve = tradeoff_prepared(prepared(p, kw), Scenario())
    pts = curve.by_moves
    print(f"\n{table(curve)}")
    assert len(pts) >= 5
    assert pts[-1]["max_moves"] is None
    budgets = [q["max_moves"] for q in pts[:-1]]
    assert budgets == sorted(set(budgets)) and budgets[0] == 0
    # the unconstrained end is a plain rebalance; every budget a rebalance with that cap
    plain = rebalance_problem(p, Params(), **kw)
    assert {k: pts[-1][k] for k in FIGURES} == figures(plain.summary)
    for q in pts[:-1]:
        alone = rebalance_problem(p, Params(), **kw, scenario=Scenario(max_moves=q["max_moves"]))
        assert {k: q[k] for k in FIGURES} == figures(alone.summary), q
        assert q["max_moves_met"] == alone.summary["max_moves_met"]
        if q["max_moves_met"]:
            assert q["moves"] <= q["max_moves"]
    # the ladder runs from budget 0 (the floor) to a quarter above the unconstrained moves
    floor, top = pts[0]["moves"], pts[-1]["moves"]
    assert all(floor < b <= np.ceil(1.25 * max(floor, top)) for b in budgets[1:])
    assert pts[0]["uncovered_load"] > pts[-1]["uncovered_load"]
    # efficient: by the definition; uncovered load falls as the budget (and the moves) grow
    assert [q["efficient"] for q in pts] == expected_efficient(
        pts, ("moves", "uncovered_load"), "reinforcements_used")
    eff = [q for q in pts if q["efficient"]]
    assert len(eff) >= 3
    by_budget = [q["uncovered_load"] for q in eff]
    assert all(a >= b for a, b in itertools.pairwise(by_budget))
    by_moves = [q["uncovered_load"] for q in sorted(eff, key=lambda q: q["moves"])]
    assert all(a > b for a, b in itertools.pairwise(by_moves))


def test_budgets_asked_for():
    p, kw = members_out(0)
    top = rebalance_problem(p, Params(), **kw).summary["moves"]
    curve = tradeoff_prepared(prepared(p, kw), Scenario(), budgets=[top + 50, 0, top - 10, 0])
    assert curve.budgets == (0, top - 10, top + 50)
    assert [q["max_moves"] for q in curve.by_moves] == [0, top - 10, top + 50, None]
    # every budget is solved, even one above the unconstrained moves
    for q in curve.by_moves[:-1]:
        alone = rebalance_problem(p, Params(), **kw, scenario=Scenario(max_moves=q["max_moves"]))
        assert {k: q[k] for k in FIGURES} == figures(alone.summary)
        assert q["max_moves_met"] == alone.summary["max_moves_met"]
    assert curve.by_moves[2]["max_moves_met"] and curve.by_moves[2]["moves"] <= top + 50
    assert curve.solves == 4  # unconstrained, 0, top - 10, top + 50
    assert curve.by_reinforcements == () and curve.reinforcement_order == ()


def test_reinforcement_curve_adds_the_busiest_first():
    # m0 (b0, b1) is out: R_near takes both; R_small one of them; R_far reaches nothing
    reinfs = (reinforcement("R_far", 1600.0, 50.0), reinforcement("R_small", 100.0, 10.0),
              reinforcement("R_near", 0.0, 20.0))
    from geo_grid.assign.rebalance import with_reinforcements

    base = line_problem()
    kw = dict(unavailable=np.array([True, False, False, False]), sealed=np.zeros(4, bool),
              demand=base.demand)
    scn = Scenario(reinforcements=reinfs)
    curve = tradeoff_prepared(prepared(base, kw, LINE_PARAMS, epsg=4549), scn)
    print(f"\n{table(curve)}")
    full = with_reinforcements(base, reinfs, 4549)
    free = rebalance_problem(full, LINE_PARAMS, **kw | {"unavailable": np.r_[kw["unavailable"],
                                                                             [False] * 3]},
                             scenario=scn, n_reinforcements=3)
    carried = free.placements.groupby("reinforcement")["load"].sum().to_dict()
    assert carried and "R_far" not in carried
    # busiest first, ties in the scenario's order; those carrying nothing last
    pos = {r.id: i for i, r in enumerate(reinfs)}
    assert list(curve.reinforcement_order) == sorted(
        pos, key=lambda r: (-carried.get(r, 0.0), pos[r]))
    ks = [q["reinforcements"] for q in curve.by_reinforcements]
    assert ks[0] == 0 and ks[-1] == 3 and ks == sorted(set(ks))
    order = {r.id: r for r in reinfs}
    for q in curve.by_reinforcements:
        first = tuple(order[i] for i in curve.reinforcement_order[:q["reinforcements"]])
        prob = with_reinforcements(base, first, 4549) if first else base
        un = np.r_[kw["unavailable"], [False] * len(first)]
        alone = rebalance_problem(prob, LINE_PARAMS, unavailable=un, sealed=kw["sealed"],
                                  demand=kw["demand"], scenario=Scenario(reinforcements=first),
                                  n_reinforcements=len(first))
        assert {k: q[k] for k in FIGURES} == figures(alone.summary), q
    none, every = curve.by_reinforcements[0], curve.by_reinforcements[-1]
    assert none["reinforcements_used"] == 0 and none["uncovered_load"] > 0
    assert every["uncovered_load"] == 0 < every["reinforcements_used"]
    assert [q["efficient"] for q in curve.by_reinforcements] == expected_efficient(
        curve.by_reinforcements, ("reinforcements_used", "moves", "uncovered_load"))
    # all three do what the two that carry load do: that one is not efficient, those are
    used = next(q for q in curve.by_reinforcements if q["reinforcements"] == len(carried))
    assert {k: used[k] for k in FIGURES} == {k: every[k] for k in FIGURES}
    assert none["efficient"] and used["efficient"] and not every["efficient"]


def test_district_curve_ends_with_the_plain_rebalance():
    d = tiny_district()
    spec = {"unavailable_fraction": 0.3, "seed": 2, "max_moves": 3}
    curve = tradeoff(d, spec, workers=2)
    plain = rebalance(d, {k: v for k, v in spec.items() if k != "max_moves"})
    assert {k: curve.unconstrained[k] for k in FIGURES} == figures(plain.summary)
    # the scenario's own cap is one of the budgets, and that point is the scenario itself
    own = next(q for q in curve.by_moves if q["max_moves"] == 3)
    assert {k: own[k] for k in FIGURES} == figures(rebalance(d, spec).summary)


def test_default_ladder():
    assert default_budgets(391, 1524) == sorted(set(default_budgets(391, 1524)))
    ladder = default_budgets(391, 1524)
    assert len(ladder) == 6 and ladder[0] > 391 and ladder[-1] < 1524
    gaps = np.diff([391, *ladder])
    assert gaps[0] < gaps[-1]  # denser near the floor
    assert default_budgets(10, 11) == [] and default_budgets(5, 5) == []


@pytest.mark.parametrize("text, words", [
    ("", "at least one"),
    ("0,,5", r"value 2 \(''\)"),
    ("0,abc", r"value 2 \('abc'\)"),
    ("-1", r"value 1 \('-1'\)"),
    ("1.5", r"value 1 \('1.5'\)"),
    ("1e3", r"value 1 \('1e3'\)"),
    ("99999999999", "not an integer in"),
    (",".join(["1"] * (MAX_BUDGETS + 1)), f"at most {MAX_BUDGETS}"),
])
def test_bad_budgets(text, words):
    with pytest.raises(InvalidInput, match=words):
        parse_budgets(text)


def test_budgets_parsed():
    assert parse_budgets(" 500, 0,100,100 ") == (0, 100, 500)


# ------------------------------------------------------------------ over HTTP


LATTICE = [{"id": f"R{i:03d}", "kind": "volunteer", "lon": float(lo), "lat": float(la),
            "capacity": 60}
           for i, (lo, la) in enumerate(itertools.product(np.linspace(120.3725, 120.3815, 10),
                                                          np.linspace(31.5535, 31.5595, 10)))]


@pytest.fixture(scope="module")
def server(own_store):
    from tests.test_api import start_server

    with start_server(own_store) as url:
        yield url


@pytest.fixture(scope="module")
def http(server):
    from tests.test_api import authed

    with authed(server, timeout=600) as c:
        yield c


def test_api_screenshot_curve_is_cached(http, own_store):
    from tests.test_api import PROBLEM

    r = http.post("/api/v1/scenarios", json=screenshot(LATTICE))
    assert r.status_code == 201, r.text
    sid, summary = r.json()["id"], r.json()["summary"]
    t0 = time.perf_counter()
    first = http.get(f"/api/v1/scenarios/{sid}/tradeoff")
    t_first = time.perf_counter() - t0
    assert first.status_code == 200, first.text
    assert first.headers["x-cache"] == "miss"
    body = first.json()
    print(f"\nscreenshot with 100 reinforcements: {t_first:.1f} s, {body['solves']} solves\n"
          f"{table(body)}")
    assert body["scenario"] == sid and body["links"]["scenario"] == f"/api/v1/scenarios/{sid}"
    # the body is what the response model says, field for field
    from api.models.scenarios import ReinforcementPoint, TradeoffOut, TradeoffPoint

    TradeoffOut.model_validate(body)
    assert set(body) == set(TradeoffOut.model_fields)
    assert all(set(q) == set(TradeoffPoint.model_fields) for q in body["by_moves"])
    assert all(set(q) == set(ReinforcementPoint.model_fields) for q in body["by_reinforcements"])
    pts = body["by_moves"]
    assert len(pts) >= 5 and pts[-1]["max_moves"] is None
    # the unconstrained end is the scenario as kept (it has no cap)
    assert pts[-1]["moves"] == summary["moves"]
    assert pts[-1]["uncovered_load"] == summary["uncovered_load"]
    assert pts[-1]["reinforcements_used"] == summary["reinforcements_used"]
    for q in pts:
        if q["max_moves"] is not None and q["max_moves_met"]:
            assert q["moves"] <= q["max_moves"]
    eff = sorted((q for q in pts if q["efficient"]), key=lambda q: q["moves"])
    assert all(a["uncovered_load"] > b["uncovered_load"] for a, b in itertools.pairwise(eff))
    ks = [q["reinforcements"] for q in body["by_reinforcements"]]
    assert ks[0] == 0 and ks[-1] == len(LATTICE)
    assert sorted(body["reinforcement_order"]) == [x["id"] for x in LATTICE]
    # the second call reads the kept curve: the same body, much sooner
    t0 = time.perf_counter()
    again = http.get(f"/api/v1/scenarios/{sid}/tradeoff")
    t_again = time.perf_counter() - t0
    assert again.status_code == 200 and again.headers["x-cache"] == "hit"
    assert again.content == first.content
    print(f"second call {t_again:.3f} s")
    assert t_again < t_first / 5
    # an unknown scenario
    missing = http.get("/api/v1/scenarios/000000000000/tradeoff")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith(PROBLEM)
    assert "000000000000" in missing.json()["detail"]
    # the CLI reads the same kept curve
    import json
    import subprocess
    import sys

    cli = [sys.executable, "-m", "geo_grid.cli", "tradeoff"]
    out = subprocess.run([*cli, sid, "--db", str(own_store), "--json"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {k: v for k, v in body.items() if k != "links"}
    out = subprocess.run([*cli, sid, "--db", str(own_store)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and f"scenario {sid} (kept)" in out.stdout
    assert out.stdout.rstrip().endswith(table(body).rstrip())
    out = subprocess.run([*cli, "000000000000", "--db", str(own_store)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 2 and "not_found" in out.stdout + out.stderr


@pytest.mark.parametrize("budgets, words", [
    ("0,abc", "value 2 ('abc')"),
    (",".join(str(i) for i in range(MAX_BUDGETS + 1)), f"at most {MAX_BUDGETS}"),
    ("-5", "value 1 ('-5')"),
])
def test_api_bad_budgets(http, district, budgets, words):
    from tests.test_api import PROBLEM

    member = str(district.assignment["member_id"].iloc[0])
    r = http.post("/api/v1/scenarios", json={"unavailable_members": [member]})
    assert r.status_code == 201, r.text
    bad = http.get(f"/api/v1/scenarios/{r.json()['id']}/tradeoff", params={"budgets": budgets})
    assert bad.status_code == 422, bad.text
    assert bad.headers["content-type"].startswith(PROBLEM)
    assert words in bad.json()["detail"]


def test_api_budgets_and_invalidation(http, district):
    # a small scenario: the members of one grid out
    grid = str(district.members["grid_code"].iloc[0])
    out = district.members.loc[district.members["grid_code"] == grid, "id"].astype(str).tolist()
    r = http.post("/api/v1/scenarios", json={"unavailable_members": out})
    assert r.status_code == 201, r.text
    sid, summary = r.json()["id"], r.json()["summary"]
    url = f"/api/v1/scenarios/{sid}/tradeoff"
    a = http.get(url, params={"budgets": "5,0"})
    assert a.status_code == 200, a.text
    assert a.headers["x-cache"] == "miss"
    assert a.json()["budgets"] == [0, 5]
    assert [q["max_moves"] for q in a.json()["by_moves"]] == [0, 5, None]
    assert a.json()["by_moves"][-1]["moves"] == summary["moves"]
    assert http.get(url, params={"budgets": "0,5"}).headers["x-cache"] == "hit"
    # other budgets: another curve
    b = http.get(url, params={"budgets": "0"})
    assert b.headers["x-cache"] == "miss" and len(b.json()["by_moves"]) == 2
    # the scenario's inputs change (it is applied: another assignment is current): computed
    # again, on the district as the scenario was computed on, so with the same points
    assert http.post(f"/api/v1/scenarios/{sid}/apply").status_code == 200
    c = http.get(url, params={"budgets": "0,5"})
    assert c.status_code == 200 and c.headers["x-cache"] == "miss"
    assert c.json()["by_moves"] == a.json()["by_moves"]
    assert c.json()["computed_at"] > a.json()["computed_at"]
