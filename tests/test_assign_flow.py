"""Min-cost flow assignment: LP cross-check, determinism, feasibility, walking limit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from geo_grid.assign import Params, Problem, solve, synthetic_problem
from geo_grid.assign.model import AssignmentError

EXACT = Params(k_buildings=None, k_members=None, uncovered_cost=1_000_000)


def small(seed: int, members: int = 14, cap_scale: float = 1.0) -> Problem:
    p = synthetic_problem(4, 30, members, cell_m=500, households_mean=20, seed=seed)
    return p.with_(capacity=p.capacity * cap_scale)


def lp_objective(p: Problem, params: Params, penalty_pairs=None) -> float:
    """Independent LP of the same model with scipy's HiGHS (brute-force distances)."""
    s = params.scale
    dem = np.rint(p.demand * s).astype(int)
    dem = np.where((p.demand > 0) & (dem == 0), 1, dem)
    cap = np.where(p.available, np.floor(p.capacity * s + 1e-9), 0).astype(int)
    d = np.hypot(*(p.member_xy[:, None, :] - p.building_xy[None, :, :]).transpose(2, 0, 1))
    mi, bi = np.nonzero((d <= params.walk_limit_m) & (cap[:, None] > 0) & (dem[None, :] > 0))
    cost = np.rint(d[mi, bi])
    na, nb, nm = len(mi), p.n_buildings, p.n_members
    # variables: x (arcs), then u (uncovered per building)
    c = np.concatenate([cost, np.full(nb, params.uncovered_cost)])
    a_ub = coo_matrix((np.ones(na), (mi, np.arange(na))), shape=(nm, na + nb))
    rows = np.concatenate([bi, np.arange(nb)])
    cols = np.concatenate([np.arange(na), na + np.arange(nb)])
    a_eq = coo_matrix((np.ones(na + nb), (rows, cols)), shape=(nb, na + nb))
    bounds = np.column_stack([np.zeros(na + nb), np.concatenate([dem[bi], dem])])
    res = linprog(c, A_ub=a_ub, b_ub=cap, A_eq=a_eq, b_eq=dem, bounds=bounds, method="highs")
    assert res.status == 0
    return res.fun


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("cap_scale", [1.0, 0.5])
def test_objective_equals_lp(seed, cap_scale):
    p = small(seed, cap_scale=cap_scale)
    sol = solve(p, EXACT)
    lp = lp_objective(p, EXACT)
    assert sol.objective_int == pytest.approx(lp, rel=1e-9, abs=1e-6)
    if cap_scale == 0.5:
        assert sol.uncovered_int.sum() > 0  # capacity short: shortage reported, still solved


def test_deterministic_and_consistent():
    p = synthetic_problem(25, 400, 250, seed=7)
    a, b = solve(p), solve(p)
    assert a.assignment.equals(b.assignment)
    assert a.objective_int == b.objective_int
    dem = np.rint(p.demand * 10)
    covered = np.bincount(a.flow[:, 1], weights=a.flow[:, 2], minlength=p.n_buildings)
    assert np.array_equal(covered + a.uncovered_int, dem)
    load = np.bincount(a.flow[:, 0], weights=a.flow[:, 2], minlength=p.n_members)
    assert np.all(load <= np.floor(p.capacity * 10 + 1e-9) * p.available)


def test_walk_limit_and_shortage_reported():
    p = small(3)
    params = Params(walk_limit_m=150, k_buildings=None, k_members=None)
    sol = solve(p, params)
    assert (sol.assignment["distance_m"] <= 150).all()
    assert sol.uncovered_buildings > 0
    # every uncovered building has no member with spare capacity within the limit
    used = np.bincount(sol.flow[:, 0], weights=sol.flow[:, 2], minlength=p.n_members)
    spare = (np.floor(p.capacity * 10) * p.available - used) > 0
    for b in np.flatnonzero(sol.uncovered_int):
        d = np.hypot(*(p.member_xy[spare] - p.building_xy[b]).T)
        assert not (d <= 150).any()


def test_pruned_close_to_exact_and_covers():
    p = synthetic_problem(16, 300, 180, seed=11)
    exact = solve(p, Params(k_buildings=None, k_members=None))
    pruned = solve(p, Params(k_buildings=16, k_members=8))
    assert pruned.uncovered_int.sum() == exact.uncovered_int.sum()
    assert pruned.n_arcs < exact.n_arcs
    assert pruned.objective_int >= exact.objective_int


def test_split_building_reports_units():
    # one building of 4 units and 100 households, two members of capacity 60
    p = Problem(building_codes=np.array(["B1"], dtype=object), building_xy=[[0.0, 0.0]],
                demand=[100.0], units=[4], member_ids=np.array(["A", "B"], dtype=object),
                member_xy=[[10.0, 0.0], [20.0, 0.0]], capacity=[60.0, 60.0])
    sol = solve(p, EXACT)
    a = sol.assignment.set_index("member_id")
    assert a.loc["A", "load"] == 60 and a.loc["B", "load"] == 40
    assert a.loc["A", "units"] == "1-3" and a.loc["B", "units"] == "3-4"
    assert a["share"].sum() == pytest.approx(1.0)


def test_bad_input_raises():
    with pytest.raises(AssignmentError):
        Params(walk_limit_m=0)
    with pytest.raises(AssignmentError):
        Problem(building_codes=np.array(["B"]), building_xy=[[0, 0]], demand=[-1.0],
                member_ids=np.array([]), member_xy=np.zeros((0, 2)), capacity=[])
