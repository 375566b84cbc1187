"""Merging split hand-overs: fewer moves, the same coverage, every rule still held."""

from __future__ import annotations

import numpy as np
import pytest

from geo_grid.assign import Params, Problem, rebalance_problem, solve, synthetic_problem
from geo_grid.assign.fewmoves import one_taker_per_building
from geo_grid.assign.flow import capacity_int, current_flow, demand_int

X0, Y0 = 500_000.0, 3_500_000.0
PARAMS = Params(walk_limit_m=600.0)


def with_current(p, params):
    f = solve(p, params).flow
    return p.with_(cur_member=f[:, 0], cur_building=f[:, 1],
                   cur_share=f[:, 2] / demand_int(p, params)[f[:, 1]])


def split_problem() -> Problem:
    """B0 (load 10) is carried by M0, who falls out. M1 and M2 stand next to it with room 5
    each; M3, 300 m off, has room 10. A per-unit flow hands B0 to M1 and M2 (shorter walks,
    two moves); one taker, M3, is one move."""
    bx = [0.0, 100.0, 150.0, 500.0]
    mx = [0.0, 20.0, 30.0, 300.0]
    cap = [10.0, 10.0, 10.0, 10.0]
    cur = [(0, 0), (1, 1), (2, 2)]  # M1 and M2 each carry a building of load 5
    demand = np.array([10.0, 5.0, 5.0, 0.0])
    cm, cb = zip(*cur, strict=True)
    return Problem(
        building_codes=np.array([f"B{i}" for i in range(4)], dtype=object),
        building_xy=np.column_stack([X0 + np.array(bx), np.full(4, Y0)]),
        demand=demand,
        member_ids=np.array([f"M{i}" for i in range(4)], dtype=object),
        member_xy=np.column_stack([X0 + np.array(mx), np.full(4, Y0)]),
        capacity=np.array(cap),
        building_grid=np.array(["G1"] * 4, dtype=object),
        member_grid=np.array(["G1"] * 4, dtype=object),
        cur_member=np.array(cm), cur_building=np.array(cb), cur_share=np.ones(3),
    )


def out_kw(p, out):
    u = np.zeros(p.n_members, bool)
    u[list(out)] = True
    return dict(unavailable=u, sealed=np.zeros(p.n_buildings, bool), demand=p.demand)


def test_split_hand_over_becomes_one_move():
    p = split_problem()
    r = rebalance_problem(p, PARAMS, **out_kw(p, [0]))
    moves = r.moves
    assert r.summary["uncovered_load"] == 0
    assert len(moves) == 1, moves
    assert moves.iloc[0]["to_member"] == "M3"
    assert moves.iloc[0]["reason"] == "member unavailable"


def test_nothing_to_merge_when_no_one_has_room():
    p = split_problem().with_(capacity=np.array([10.0, 10.0, 10.0, 4.0]))
    r = rebalance_problem(p, PARAMS, **out_kw(p, [0]))
    # M1 and M2 must share B0 (M3 has room 4 only): two moves, nothing lost
    assert r.summary["uncovered_load"] == 0
    assert sorted(r.moves["to_member"]) == ["M1", "M2"]


def rows(p, params, old, flow):
    from geo_grid.assign.rebalance import _moves
    return len(_moves(p, old, flow, p.demand, p.demand, params))


@pytest.mark.parametrize("seed", range(6))
def test_merge_keeps_coverage_capacity_and_limit(seed):
    params = Params(walk_limit_m=700.0)
    p = with_current(synthetic_problem(40, 400, 300, seed=seed), params)
    rng = np.random.default_rng(seed)
    out = rng.choice(p.n_members, size=max(1, p.n_members // 8), replace=False)
    scn = p.with_(available=p.available & ~np.isin(np.arange(p.n_members), out))
    dem = demand_int(scn, params)
    cm, cb, cf = current_flow(scn, params, dem)
    old = np.stack([cm, cb, cf], axis=1)
    sol = solve(scn, params, use_current=True)
    merged = one_taker_per_building(scn, params, old, sol.flow, np.zeros(p.n_members, bool))
    # the same load on every building, no pair twice
    covered = np.bincount(sol.flow[:, 1], weights=sol.flow[:, 2], minlength=p.n_buildings)
    assert np.array_equal(np.bincount(merged[:, 1], weights=merged[:, 2],
                                      minlength=p.n_buildings), covered)
    assert len({(m, b) for m, b, _ in merged}) == len(merged)
    # capacities, availability and the walking limit hold
    load = np.bincount(merged[:, 0], weights=merged[:, 2], minlength=p.n_members)
    assert np.all(load <= capacity_int(scn, params))
    walk = np.hypot(*(scn.member_xy[merged[:, 0]] - scn.building_xy[merged[:, 1]]).T)
    assert np.all(walk <= params.walk_limit_m + 1e-6)
    # never more moves than the flow's own answer
    assert rows(scn, params, old, merged) <= rows(scn, params, old, sol.flow)


@pytest.mark.parametrize("seed", range(3))
def test_fewer_takers_same_coverage_fewer_moves(seed, monkeypatch):
    import sys

    from geo_grid.assign.rebalance import Reinforcement, Scenario, with_reinforcements

    rb = sys.modules["geo_grid.assign.rebalance"]
    params = Params(walk_limit_m=700.0)
    p = with_current(synthetic_problem(60, 600, 450, seed=seed), params)
    rng = np.random.default_rng(seed)
    # two reinforcements where the members are densest, a fifth of the members out
    from geo_grid.crs import from_metric
    reinfs = []
    for i, (x, y) in enumerate(p.building_xy[rng.choice(p.n_buildings, 2, replace=False)]):
        lon, lat = from_metric(x, y)
        reinfs.append(Reinforcement(id=f"R{i}", kind="volunteer", lon=float(lon),
                                    lat=float(lat), capacity=40.0))
    q = with_reinforcements(p, reinfs, 4549)
    out = np.zeros(q.n_members, bool)
    out[rng.choice(p.n_members, p.n_members // 5, replace=False)] = True
    kw = dict(unavailable=out, sealed=np.zeros(q.n_buildings, bool), demand=q.demand,
              scenario=Scenario(reinforcements=tuple(reinfs)), n_reinforcements=2)
    full = rb.rebalance_problem(q, params, **kw)
    monkeypatch.setattr(rb, "FEWER_TAKERS_SOLVES", 0)
    one = rb.rebalance_problem(q, params, **kw)
    s_full, s_one = full.summary, one.summary
    assert s_full["uncovered_load"] == s_one["uncovered_load"]
    assert (s_full["moves"] + s_full["reinforcements_used"]
            <= s_one["moves"] + s_one["reinforcements_used"])
    # the answer is a valid assignment: capacities and the walking limit hold
    f = full.solution.flow
    cap = capacity_int(q.with_(available=q.available & ~out), params)
    assert np.all(np.bincount(f[:, 0], weights=f[:, 2], minlength=q.n_members) <= cap)
    walk = np.hypot(*(q.member_xy[f[:, 0]] - q.building_xy[f[:, 1]]).T)
    assert np.all(walk <= params.walk_limit_m + 1e-6)
