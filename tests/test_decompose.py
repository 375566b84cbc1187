"""Flows solved in parts (geo_grid.assign.decompose) against the one-piece solve."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo_grid.assign import Params, Problem, rebalance_problem, solve, synthetic_problem
from geo_grid.assign.decompose import Decomposition, components, current_settings, decomposition
from geo_grid.assign.flow import candidate_arcs, capacity_int, demand_int

ONE_PIECE = dict(min_arcs=math.inf)
COMPONENTS = dict(min_arcs=0, part_arcs=math.inf)


def clusters(n: int, seed: int, gap_m: float = 10_000.0, **kw) -> Problem:
    """``n`` seeded synthetic districts side by side, ``gap_m`` apart (beyond any walk)."""
    parts = [synthetic_problem(9, kw.get("buildings", 160), kw.get("members", 90), seed=seed + i,
                               origin=(500_000.0 + i * gap_m, 3_490_000.0)) for i in range(n)]
    cat = {}
    for name in ("building_codes", "building_xy", "demand", "units", "households", "residents",
                 "vulnerable", "building_grid", "building_community", "member_ids", "member_xy",
                 "capacity", "role", "member_grid", "available"):
        cat[name] = np.concatenate([getattr(p, name) for p in parts])
    cat["building_codes"] = np.array([f"{c}-{i}" for i, p in enumerate(parts)
                                      for c in p.building_codes], dtype=object)
    cat["member_ids"] = np.array([f"{c}-{i}" for i, p in enumerate(parts)
                                  for c in p.member_ids], dtype=object)
    cat["building_grid"] = np.array([f"{c}-{i}" for i, p in enumerate(parts)
                                     for c in p.building_grid], dtype=object)
    cat["member_grid"] = np.array([f"{c}-{i}" for i, p in enumerate(parts)
                                   for c in p.member_grid], dtype=object)
    offs = np.cumsum([0] + [p.n_buildings for p in parts[:-1]])
    cat["home"] = np.concatenate([np.where(p.home >= 0, p.home + o, -1)
                                  for p, o in zip(parts, offs, strict=True)])
    return Problem(**cat)


def with_current(p: Problem, params: Params) -> Problem:
    with decomposition(**ONE_PIECE):
        f = solve(p, params).flow
    return p.with_(cur_member=f[:, 0], cur_building=f[:, 1],
                   cur_share=f[:, 2] / np.maximum(demand_int(p, params)[f[:, 1]], 1))


def scenario(p: Problem, share: float, seed: int) -> Problem:
    """The current assignment kept, ``share`` of the members out (as a rebalance sees it)."""
    out = np.random.default_rng(seed).random(p.n_members) < share
    return p.with_(available=p.available & ~out)


def n_components(p: Problem, params: Params) -> int:
    dem, cap = demand_int(p, params), capacity_int(p, params)
    return len(np.unique(components(p, candidate_arcs(p, params, dem, cap))))


def solve_with(p, params, settings, **kw):
    with decomposition(**settings):
        return solve(p, params, **kw)


def test_defaults_keep_small_networks_in_one_piece():
    s = current_settings()
    assert s.min_arcs > 100_000  # a street or a district never goes through the parts
    with decomposition(min_arcs=0) as inner:
        assert inner.min_arcs == 0 and current_settings().min_arcs == 0
    assert current_settings() == s


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_separated_clusters_same_optimum(seed):
    params = Params()
    p = clusters(4, seed)
    assert n_components(p, params) >= 4
    one = solve_with(p, params, ONE_PIECE)
    parts = solve_with(p, params, COMPONENTS)
    assert parts.objective_int == one.objective_int
    assert np.array_equal(parts.uncovered_int, one.uncovered_int)
    # the same with the full price of uncovered load (no lower price)
    full = solve_with(p, params, {**COMPONENTS, "price_hops": 0})
    assert full.objective_int == one.objective_int


@pytest.mark.parametrize("seed", [0, 1])
def test_separated_clusters_rebalance_same_optimum(seed):
    params = Params()
    p = scenario(with_current(clusters(3, seed), params), 0.3, seed)
    one = solve_with(p, params, ONE_PIECE, use_current=True)
    parts = solve_with(p, params, COMPONENTS, use_current=True)
    assert one.uncovered_int.sum() > 0  # a scenario that bites
    assert parts.objective_int == one.objective_int
    assert np.array_equal(parts.uncovered_int, one.uncovered_int)


@pytest.mark.parametrize("seed", [3, 4])
def test_connected_instance_components_same_optimum(seed):
    params = Params()
    p = synthetic_problem(16, 600, 360, seed=seed)
    assert n_components(p, params) == 1
    one = solve_with(p, params, ONE_PIECE)
    parts = solve_with(p, params, COMPONENTS)
    assert parts.objective_int == one.objective_int
    assert np.array_equal(parts.uncovered_int, one.uncovered_int)


@pytest.mark.parametrize(("seed", "out"), [(5, 0.2), (6, 0.45)])
def test_tiles_cover_exactly_and_cost_close(seed, out):
    params = Params()
    p = scenario(with_current(synthetic_problem(25, 1500, 900, seed=seed), params), out, seed)
    one = solve_with(p, params, ONE_PIECE, use_current=True)
    for seam in (True, False):
        tiled = solve_with(p, params, dict(min_arcs=0, part_arcs=15_000, seam=seam),
                           use_current=True)
        assert tiled.uncovered_int.sum() == one.uncovered_int.sum()
        # the same pairs: the one-piece optimum is a lower bound, tiles stay close to it
        assert one.objective_int <= tiled.objective_int <= one.objective_int * 1.02 + 1


def test_lower_price_falls_back_when_a_dear_path_covers_more():
    # price_hops=1 prices uncovered load below any chain of hand-overs: the pieces leave load
    # a chain would cover, the coverage check finds the path, and the full price is used
    params = Params()
    p = scenario(with_current(clusters(2, 7, members=70), params), 0.35, 7)
    one = solve_with(p, params, ONE_PIECE, use_current=True)
    low = solve_with(p, params, {**COMPONENTS, "price_hops": 1}, use_current=True)
    assert one.uncovered_int.sum() > 0
    assert low.objective_int == one.objective_int
    assert np.array_equal(low.uncovered_int, one.uncovered_int)


def _rebalance_both(seed: int, share: float):
    params = Params()
    p = with_current(clusters(3, seed), params)
    out = np.random.default_rng(seed).random(p.n_members) < share
    kw = dict(unavailable=out, sealed=np.zeros(p.n_buildings, bool), demand=p.demand)
    with decomposition(**ONE_PIECE):
        one = rebalance_problem(p, params, **kw)
    with decomposition(**COMPONENTS):
        parts = rebalance_problem(p, params, **kw)
    return one, parts


def test_rebalance_problem_equal_with_and_without_parts():
    # an instance where the two solves reach the same optimal flow: the same moves and figures
    one, parts = _rebalance_both(11, 0.05)
    assert len(one.moves) > 0
    assert np.array_equal(one.solution.flow, parts.solution.flow)
    assert one.moves.equals(parts.moves)
    drop = ("solve_seconds",)
    assert {k: v for k, v in one.summary.items() if k not in drop} == \
        {k: v for k, v in parts.summary.items() if k not in drop}


@pytest.mark.parametrize(("seed", "share"), [(12, 0.1), (14, 0.1), (14, 0.05)])
def test_rebalance_problem_same_optimum_with_and_without_parts(seed, share):
    # where the optimum is not unique the flows may differ, never the objective or the coverage
    one, parts = _rebalance_both(seed, share)
    assert one.solution.objective_int == parts.solution.objective_int
    assert one.summary["uncovered_load"] == parts.summary["uncovered_load"]
    assert one.summary["before"] == parts.summary["before"]


def _pieces_with(workers: int, p: Problem, params: Params, **settings):
    """Solve and rebalance ``p`` with ``workers`` processes (``parallel_arcs=0``: even this
    small network goes through the pool)."""
    out = np.random.default_rng(21).random(p.n_members) < 0.15
    kw = dict(unavailable=out, sealed=np.zeros(p.n_buildings, bool), demand=p.demand)
    with decomposition(min_arcs=0, workers=workers, parallel_arcs=0, **settings):
        sol = solve(p, params)
        reb = rebalance_problem(p, params, **kw)
    return sol, reb


@pytest.mark.parametrize("settings", [dict(part_arcs=math.inf), dict(part_arcs=4_000)])
def test_parallel_and_serial_pieces_identical(settings):
    # several components (and tiles with their seams): the pool solves the same pieces, and
    # their results are written in the same order, so nothing depends on the worker count
    params = Params()
    p = with_current(clusters(4, 20), params)
    assert n_components(p, params) >= 4
    serial, reb_serial = _pieces_with(1, p, params, **settings)
    parallel, reb_parallel = _pieces_with(2, p, params, **settings)
    assert np.array_equal(serial.flow, parallel.flow)
    assert serial.objective_int == parallel.objective_int
    assert np.array_equal(serial.uncovered_int, parallel.uncovered_int)
    assert serial.assignment.equals(parallel.assignment)
    assert np.array_equal(reb_serial.solution.flow, reb_parallel.solution.flow)
    assert reb_serial.assignment.equals(reb_parallel.assignment)
    assert reb_serial.moves.equals(reb_parallel.moves)
    assert reb_serial.figures_after.grid.equals(reb_parallel.figures_after.grid)


def test_worker_count_follows_the_settings():
    s = Decomposition(workers=2, parallel_arcs=1_000)
    assert s.n_workers(999) == 1 and s.n_workers(1_000) == 2
    assert Decomposition(workers=1, parallel_arcs=0).n_workers(10**9) == 1


def test_workers_of_a_threaded_process_come_from_a_fork_server():
    # a web server's process runs threads: its solver workers are not forked from it (a lock
    # held by another thread at the fork would stay held in the child), and solve the same
    import threading

    from geo_grid.assign.decompose import _pool_context

    params = Params()
    p = with_current(clusters(3, 12), params)
    serial, _ = _pieces_with(1, p, params, part_arcs=math.inf)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert _pool_context().get_start_method() == "forkserver"
        parallel, _ = _pieces_with(2, p, params, part_arcs=math.inf)
    finally:
        stop.set()
        other.join()
    assert np.array_equal(serial.flow, parallel.flow)
    assert serial.assignment.equals(parallel.assignment)
