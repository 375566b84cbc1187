"""Optimal members → buildings assignment as a min-cost flow (OR-Tools ``SimpleMinCostFlow``).

Network
-------
::

    source ──(capacity_m, 0)──▶ member m ──(demand_b, cost_mb)──▶ building b   supply −demand_b
    source ──(demand_b, U)───────────────────────────────────────▶ building b   "uncovered"

All quantities are integers: loads and capacities in ``params.scale`` units, costs in metres.
``cost_mb`` is the home → building-centroid distance rounded to the metre (plus
``cross_grid_penalty_m`` outside the member's own grid). Member → building arcs exist only
within ``walk_limit_m`` (from KD-trees; see ``Params.k_buildings`` for pruning). The uncovered
arc makes every instance feasible; its price ``U`` is above the cost of any augmenting path
(``(members + 1) × (longest arc cost + 1)``), so the solve covers as much load as any
assignment within the walking limit can, and then minimises walking.

With a current assignment (rebalancing), each current pair ``(m, b)`` keeps the flow it carries
(its share of the new demand) at ``cost_mb``; any flow beyond it, on any pair, costs
``cost_mb + P`` with ``P = params.penalty_m``. A member who lives in a sealed building has one
arc only: to that building. Members not available, or with no capacity, have no arcs.

The solve is deterministic: arcs are generated and ordered the same way for the same input.
A network of two million candidate pairs or more (a city, not a street or a district) is solved
in parts: by connected components, big ones by tiles, with the coverage checked exactly (see
:mod:`geo_grid.assign.decompose`, which also says how to switch it off or on).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from ortools.graph.python import min_cost_flow
from scipy.spatial import cKDTree

from geo_grid.assign.model import Params, Problem, Solution, SolverFailed


@dataclass(frozen=True)
class Arcs:
    """Candidate member → building pairs, sorted by (member, building), with distances."""

    m: np.ndarray
    b: np.ndarray
    dist: np.ndarray

    def __len__(self) -> int:
        return len(self.m)


def scaled(values: np.ndarray, scale: int) -> np.ndarray:
    """Loads or capacities as integers of ``1/scale`` load units (round half to even)."""
    return np.rint(np.asarray(values, dtype=float) * scale).astype(np.int64)


def demand_int(problem: Problem, params: Params) -> np.ndarray:
    """Integer demand per building; a building with any load gets at least 1."""
    d = scaled(problem.demand, params.scale)
    return np.where((problem.demand > 0) & (d == 0), 1, d)


def capacity_int(problem: Problem, params: Params) -> np.ndarray:
    """Integer capacity per member (0 when not available)."""
    c = np.floor(np.asarray(problem.capacity) * params.scale + 1e-9).astype(np.int64)
    return np.where(problem.available, c, 0)


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array, by sorting.

    ``np.unique`` without ``return_inverse`` goes through a hash table in numpy 2.x, which is
    far slower than a sort on millions of keys (seconds against a tenth of a second).
    """
    s = np.sort(np.asarray(a).ravel())
    if len(s) < 2:
        return s
    return s[np.r_[True, s[1:] != s[:-1]]]


def _distances(problem: Problem, m: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = problem.member_xy[m] - problem.building_xy[b]
    return np.hypot(d[:, 0], d[:, 1])


def _pairs_within(xy_a: np.ndarray, xy_b: np.ndarray, limit: float):
    """All (i, j) with ‖a_i − b_j‖ ≤ limit, as index arrays."""
    if len(xy_a) == 0 or len(xy_b) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    sdm = cKDTree(xy_a).sparse_distance_matrix(cKDTree(xy_b), limit, output_type="ndarray")
    return sdm["i"].astype(np.int64), sdm["j"].astype(np.int64)


def _query_workers(n_queries: int) -> int:
    """Threads of a KD-tree query of ``n_queries`` points (the answer is the same with any)."""
    return min(2, os.cpu_count() or 1) if n_queries >= 50_000 else 1


def _knn(xy_from: np.ndarray, xy_to: np.ndarray, k: int, limit: float):
    """(i, j) pairs: the k nearest points of xy_to for each point of xy_from, within limit."""
    if len(xy_from) == 0 or len(xy_to) == 0 or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    k = min(k, len(xy_to))
    d, j = cKDTree(xy_to).query(xy_from, k=k, distance_upper_bound=limit * (1 + 1e-12),
                                workers=_query_workers(len(xy_from)))
    d = d.reshape(len(xy_from), k)
    j = j.reshape(len(xy_from), k)
    ok = np.isfinite(d)
    i = np.broadcast_to(np.arange(len(xy_from))[:, None], d.shape)[ok]
    return i.astype(np.int64), j[ok].astype(np.int64)


def candidate_arcs(problem: Problem, params: Params, dem: np.ndarray, cap: np.ndarray,
                   hand_over: bool = False) -> Arcs:
    """Member → building pairs the flow may use.

    Pairs within the walking limit between members with capacity and buildings with demand:
    all of them (``k_buildings`` and ``k_members`` None), or the union of each member's
    ``k_buildings`` nearest buildings and each building's ``k_members`` nearest members; plus
    current pairs still within the limit. A sealed-in member gets only the pair with its home.
    With ``hand_over`` (rebalancing, pruned), every building whose current members no longer
    cover its demand also gets every pair within the limit with a member who has capacity to
    spare under the current assignment: the direct hand-overs, so that the pruned solve never
    needs a chain where the exact one hands a building straight over.
    """
    limit = params.walk_limit_m
    mm = np.flatnonzero((cap > 0) & ~problem.sealed_in)
    bb = np.flatnonzero(dem > 0)
    mxy, bxy = problem.member_xy[mm], problem.building_xy[bb]
    if params.k_buildings is None and params.k_members is None:
        i, j = _pairs_within(mxy, bxy, limit)
        parts_m, parts_b = [mm[i]], [bb[j]]
    else:
        i1, j1 = _knn(mxy, bxy, params.k_buildings or 0, limit)
        j2, i2 = _knn(bxy, mxy, params.k_members or 0, limit)
        parts_m, parts_b = [mm[i1], mm[i2]], [bb[j1], bb[j2]]
    # current pairs (kept when still allowed)
    if len(problem.cur_member):
        cm, cb = problem.cur_member, problem.cur_building
        ok = (cap[cm] > 0) & (dem[cb] > 0) & ~problem.sealed_in[cm]
        parts_m.append(cm[ok])
        parts_b.append(cb[ok])
        if hand_over and (params.k_buildings is not None or params.k_members is not None):
            hm, hb = _hand_over_pairs(problem, params, dem, cap)
            parts_m.append(hm)
            parts_b.append(hb)
    # sealed-in members: only their home building, whatever the distance
    si = np.flatnonzero(problem.sealed_in & (cap > 0) & (problem.home >= 0))
    si = si[dem[problem.home[si]] > 0]
    parts_m.append(si)
    parts_b.append(problem.home[si])
    return _make_arcs(problem, params, np.concatenate(parts_m), np.concatenate(parts_b), si)


def kept_flow(problem: Problem, params: Params, dem: np.ndarray,
              cap: np.ndarray) -> tuple[np.ndarray, ...]:
    """The current pairs a rebalance can keep, as (m, b, flow_int).

    Each current pair keeps its share of the new demand unless its member is out (no capacity)
    or sealed in elsewhere; a member's kept flows are cut back to its capacity.
    """
    cm, cb, cf = current_flow(problem, params, dem)
    ok = (cap[cm] > 0) & (cf > 0) & (~problem.sealed_in[cm] | (problem.home[cm] == cb))
    cm, cb, cf = cm[ok], cb[ok], cf[ok]
    if len(cm):
        order = np.lexsort((cb, cm))
        cm, cb, cf = cm[order], cb[order], cf[order]
        before = np.cumsum(cf) - cf
        start = np.r_[0, np.flatnonzero(cm[1:] != cm[:-1]) + 1]
        first = np.repeat(before[start], np.diff(np.r_[start, len(cm)]))
        cf = np.clip(cap[cm] - (before - first), 0, cf)
    return cm, cb, cf


def _hand_over_pairs(problem: Problem, params: Params, dem: np.ndarray, cap: np.ndarray):
    """Hand-over pairs of a rebalance: members with capacity to spare under the kept assignment,
    to every building short under it (its ``params.k_hand_over`` nearest, or all within the
    limit) and to every building with
    demand (each to its ``params.k_spare`` nearest spare members within the limit)."""
    km, kb, kf = kept_flow(problem, params, dem, cap)
    short = np.flatnonzero(dem - np.bincount(kb, weights=kf, minlength=len(dem)) > 0)
    spare = np.flatnonzero((cap - np.bincount(km, weights=kf, minlength=len(cap)) > 0)
                           & ~problem.sealed_in)
    if params.k_hand_over is None:
        i, j = _pairs_within(problem.building_xy[short], problem.member_xy[spare],
                             params.walk_limit_m)
    else:
        i, j = _knn(problem.building_xy[short], problem.member_xy[spare], params.k_hand_over,
                    params.walk_limit_m)
    ms, bs = [spare[j]], [short[i]]
    if params.k_spare:
        bb = np.flatnonzero(dem > 0)
        i, j = _knn(problem.building_xy[bb], problem.member_xy[spare], params.k_spare,
                    params.walk_limit_m)
        ms.append(spare[j])
        bs.append(bb[i])
    return np.concatenate(ms), np.concatenate(bs)


def augmenting_arcs(problem: Problem, params: Params, dem: np.ndarray, cap: np.ndarray,
                    flow: tuple[np.ndarray, ...], uncovered: np.ndarray,
                    k: int = 16, k_spare: int = 64) -> tuple[np.ndarray, np.ndarray] | None:
    """Search the *full* network (every pair within the limit) for coverage augmenting paths.

    A flow covers as much load as any assignment within the walking limit can if and only if
    its residual network has no path from a member with spare capacity to a building with
    uncovered load (max-flow/min-cut). Such a path runs ``m_k → b_k ⇢ m_{k-1} → … → m_0 → b_0``:
    ``m_i → b_i`` any pair within the limit, ``b_i ⇢ m_{i-1}`` a pair carrying flow (that
    member hands part of ``b_i`` over and takes ``b_{i-1}``), ``m_k`` spare, ``b_0`` uncovered.

    The search is a breadth-first search backwards from the uncovered buildings, level by level:
    the members within the limit of the current building frontier (found from the member side
    with a KD-tree of the frontier, so it costs O(M log B) per level, not one query per pair),
    then the buildings those members carry. Pairs within the limit are generated lazily, never
    all at once.

    Returns
    -------
    (m, b) or None
        None when no augmenting path exists (the coverage is provably maximal); otherwise the
        member → building pairs the search went along (each member to its ``k`` nearest
        buildings of the frontier it was found from), which contain at least one augmenting
        path.
    """
    pm, pb, pf = flow
    nm = problem.n_members
    limit = params.walk_limit_m
    used = np.bincount(pm, weights=pf, minlength=nm)
    spare = cap - used > 0
    elig = (cap > 0) & ~problem.sealed_in
    sealed_in = np.flatnonzero(problem.sealed_in & (cap > 0) & (problem.home >= 0))
    seen_m = np.zeros(nm, bool)
    seen_b = np.zeros(problem.n_buildings, bool)
    frontier = np.flatnonzero(uncovered > 0)
    seen_b[frontier] = True
    out_m, out_b = [], []
    found = False
    spare_m = np.flatnonzero(spare & elig)
    spare_tree = cKDTree(problem.member_xy[spare_m]) if len(spare_m) else None
    ks = min(k_spare, len(spare_m))
    while len(frontier):
        in_frontier = np.zeros(problem.n_buildings, bool)
        in_frontier[frontier] = True
        if spare_tree is not None and ks:
            # the ends of the paths: each frontier building to its nearest spare members
            d, j = spare_tree.query(problem.building_xy[frontier], k=ks,
                                    distance_upper_bound=limit * (1 + 1e-9))
            d, j = d.reshape(len(frontier), ks), j.reshape(len(frontier), ks)
            ok = d <= limit
            out_m.append(spare_m[j[ok]])
            out_b.append(np.broadcast_to(frontier[:, None], ok.shape)[ok])
        cand = np.flatnonzero(elig & ~seen_m)
        new_m = np.zeros(0, np.int64)
        if len(cand):
            kk = min(k, len(frontier))
            d, j = cKDTree(problem.building_xy[frontier]).query(
                problem.member_xy[cand], k=kk, distance_upper_bound=limit * (1 + 1e-9))
            d, j = d.reshape(len(cand), kk), j.reshape(len(cand), kk)
            ok = d <= limit
            new_m = cand[ok.any(axis=1)]
            out_m.append(np.broadcast_to(cand[:, None], ok.shape)[ok])
            out_b.append(frontier[j[ok]])
        # a member sealed in reaches its home building only (that pair is always an arc)
        si = sealed_in[~seen_m[sealed_in] & in_frontier[problem.home[sealed_in]]]
        new_m = np.concatenate([new_m, si])
        if not len(new_m):
            break
        seen_m[new_m] = True
        found = found or bool(spare[new_m].any())
        carried = pb[seen_m[pm] & ~seen_b[pb] & (pf > 0)]
        frontier = sorted_unique(carried)
        seen_b[frontier] = True
    if not found:
        return None
    m = np.concatenate(out_m) if out_m else np.zeros(0, np.int64)
    b = np.concatenate(out_b) if out_b else np.zeros(0, np.int64)
    return m.astype(np.int64), b.astype(np.int64)


def _make_arcs(problem: Problem, params: Params, m: np.ndarray, b: np.ndarray,
               sealed_members: np.ndarray | None = None) -> Arcs:
    nb = max(problem.n_buildings, 1)
    key = sorted_unique(m.astype(np.int64) * nb + b.astype(np.int64))
    m, b = key // nb, key % nb
    dist = _distances(problem, m, b)
    keep = dist <= params.walk_limit_m
    if sealed_members is not None and len(sealed_members):
        home_pair = problem.sealed_in[m] & (problem.home[m] == b)
        keep |= home_pair
    return Arcs(m[keep], b[keep], dist[keep])


def current_flow(problem: Problem, params: Params, dem: np.ndarray) -> tuple[np.ndarray, ...]:
    """Current pairs as (m, b, flow_int): each keeps its share of the (new) demand."""
    if not len(problem.cur_member):
        z = np.zeros(0, np.int64)
        return z, z, z
    f = np.rint(np.clip(problem.cur_share, 0, 1) * dem[problem.cur_building]).astype(np.int64)
    return problem.cur_member, problem.cur_building, f


def _arc_costs(problem: Problem, params: Params, arcs: Arcs) -> np.ndarray:
    cost = np.rint(arcs.dist).astype(np.int64)
    if params.cross_grid_penalty_m:
        other = problem.member_grid[arcs.m] != problem.building_grid[arcs.b]
        cost = cost + np.where(other, int(round(params.cross_grid_penalty_m)), 0)
    return cost


def uncovered_price(params: Params, n_members: int, penalise: bool) -> int:
    """Price per scaled load unit of the uncovered arc (see the module docstring)."""
    if params.uncovered_cost is not None:
        return int(round(params.uncovered_cost))
    longest = params.walk_limit_m + params.cross_grid_penalty_m + (
        params.penalty_m if penalise else 0.0)
    return int((n_members + 1) * (np.ceil(longest) + 1))


def solve(problem: Problem, params: Params | None = None, *, use_current: bool = False,
          member_penalty: np.ndarray | None = None) -> Solution:
    """Solve the assignment exactly over the candidate arcs.

    Parameters
    ----------
    problem : Problem
        The instance (demand, capacities, positions, availability).
    params : Params, optional
        Model parameters (``Params()`` by default).
    use_current : bool
        Rebalancing mode: keep the current assignment cheap; every unit of load that moves to a
        member who did not carry it costs ``params.penalty_m`` extra.
    member_penalty : (M,) int array, optional
        Rebalancing mode only: the extra cost per load unit of new flow, member by member
        (instead of ``params.penalty_m`` for all); a negative value forbids new flow to that
        member (only its current pairs remain).

    Returns
    -------
    Solution
        The assignment, uncovered load per building and the objective.

    Raises
    ------
    SolverFailed
        If OR-Tools does not report an optimal solution.
    """
    params = params or Params()
    t0 = time.perf_counter()
    dem = demand_int(problem, params)
    cap = capacity_int(problem, params)
    arcs = candidate_arcs(problem, params, dem, cap, hand_over=use_current)
    pruned = params.k_buildings is not None or params.k_members is not None
    sol = _solve_arcs(problem, params, arcs, dem, cap, use_current, member_penalty)
    # coverage exactness of a pruned solve: while the full network still has an augmenting
    # path (a spare member → … → an uncovered building), add the pairs it runs along and
    # solve again; each pass covers strictly more load (the price of the uncovered arc puts
    # coverage first). When passes run out, solve over every pair within the limit.
    verify = pruned and params.uncovered_cost is None
    passes = 0
    while verify and sol[1].any():
        extra = augmenting_arcs(problem, params, dem, cap, sol[0], sol[1])
        if extra is None:
            break
        if passes >= params.max_passes:
            arcs = candidate_arcs(problem, replace(params, k_buildings=None, k_members=None),
                                  dem, cap)
            sol = _solve_arcs(problem, params, arcs, dem, cap, use_current, member_penalty)
            break
        arcs = _make_arcs(problem, params, np.concatenate([arcs.m, extra[0]]),
                          np.concatenate([arcs.b, extra[1]]), np.flatnonzero(problem.sealed_in))
        sol = _solve_arcs(problem, params, arcs, dem, cap, use_current, member_penalty)
        passes += 1
    (pm, pb, pf), unc_int, obj = sol
    return _solution(problem, params, pm, pb, pf, unc_int, obj, len(arcs),
                     time.perf_counter() - t0)


def _solve_arcs(problem: Problem, params: Params, arcs: Arcs, dem: np.ndarray, cap: np.ndarray,
                use_current: bool, member_penalty: np.ndarray | None = None):
    if len(arcs) >= _decompose_from():
        from geo_grid.assign.decompose import solve_parts

        return solve_parts(problem, params, arcs, dem, cap, use_current, member_penalty)
    t_pair, t_cap, t_cost, U = transport_arcs(problem, params, arcs, dem, cap, use_current,
                                              member_penalty)
    pair_flow, unc, obj = network_solve(arcs.m[t_pair], arcs.b[t_pair], t_cap, t_cost, dem, cap,
                                        U, problem.n_members, problem.n_buildings)
    pair_flow = np.bincount(t_pair, weights=pair_flow, minlength=len(arcs)).astype(np.int64)
    used = pair_flow > 0
    return (arcs.m[used], arcs.b[used], pair_flow[used]), unc, obj


def _decompose_from() -> float:
    """Arcs from which a solve is split into parts (:mod:`geo_grid.assign.decompose`)."""
    from geo_grid.assign.decompose import current_settings

    return current_settings().min_arcs


def transport_arcs(problem: Problem, params: Params, arcs: Arcs, dem: np.ndarray,
                   cap: np.ndarray, use_current: bool, member_penalty: np.ndarray | None = None):
    """The member → building arcs of the network and the price of uncovered load.

    Returns
    -------
    (t_pair, t_cap, t_cost, U)
        Network arc ``i`` runs along candidate pair ``t_pair[i]`` with capacity ``t_cap[i]`` and
        unit cost ``t_cost[i]`` (rebalancing gives a kept pair two arcs: its kept share at the
        plain cost, the rest at the cost plus the penalty); ``U`` is the uncovered price.
    """
    nb = problem.n_buildings
    cost = _arc_costs(problem, params, arcs)
    n_pairs = len(arcs)
    pair = np.arange(n_pairs)
    arc_cap = dem[arcs.b]
    penalise = use_current and len(problem.cur_member) > 0
    if penalise:
        P = int(round(params.penalty_m))
        cm, cb, cf = current_flow(problem, params, dem)
        key_pairs = arcs.m * max(nb, 1) + arcs.b
        key_cur = cm * max(nb, 1) + cb
        f0 = np.zeros(n_pairs, np.int64)
        if n_pairs:
            pos = np.clip(np.searchsorted(key_pairs, key_cur), 0, n_pairs - 1)
            found = key_pairs[pos] == key_cur
            np.add.at(f0, pos[found], cf[found])
        f0 = np.minimum(f0, arc_cap)
        kept = f0 > 0
        # kept part at plain cost, the rest at cost + P
        rest = arc_cap - f0
        if member_penalty is None:
            extra = np.full(n_pairs, P, np.int64)
        else:
            extra = np.asarray(member_penalty, np.int64)[arcs.m]
            rest = np.where(extra < 0, 0, rest)  # new flow forbidden for that member
        t_pair = np.concatenate([pair[kept], pair[rest > 0]])
        t_cap = np.concatenate([f0[kept], rest[rest > 0]])
        t_cost = np.concatenate([cost[kept], cost[rest > 0] + extra[rest > 0]])
    else:
        t_pair, t_cap, t_cost = pair, arc_cap, cost
    U = uncovered_price(params, int(np.count_nonzero(cap)), penalise)
    if penalise and member_penalty is not None and params.uncovered_cost is None:
        # the dearest new flow of any member bounds the cost of an augmenting path
        longest = params.walk_limit_m + params.cross_grid_penalty_m + max(
            float(np.max(member_penalty, initial=0)), params.penalty_m)
        U = int((np.count_nonzero(cap) + 1) * (np.ceil(longest) + 1))
    return t_pair, t_cap, t_cost, U


def network_solve(tm: np.ndarray, tb: np.ndarray, t_cap: np.ndarray, t_cost: np.ndarray,
                  dem: np.ndarray, cap: np.ndarray, U: int, nm: int, nb: int):
    """Solve the network: member ``tm[i]`` → building ``tb[i]`` arcs, members giving up to
    ``cap``, buildings taking ``dem`` (the rest uncovered at ``U`` a unit).

    Returns
    -------
    (flow per arc, uncovered per building, optimal cost), integers.
    """
    src = 0
    member_node = 1 + np.arange(nm)
    building_node = 1 + nm + np.arange(nb)
    has_cap = np.flatnonzero(cap > 0)
    has_dem = np.flatnonzero(dem > 0)
    tails = np.concatenate([
        member_node[tm],
        np.full(len(has_cap), src),
        np.full(len(has_dem), src),
    ]).astype(np.int64)
    heads = np.concatenate([
        building_node[tb],
        member_node[has_cap],
        building_node[has_dem],
    ]).astype(np.int64)
    caps = np.concatenate([t_cap, cap[has_cap], dem[has_dem]]).astype(np.int64)
    costs = np.concatenate([t_cost, np.zeros(len(has_cap), np.int64),
                            np.full(len(has_dem), U, np.int64)]).astype(np.int64)
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(1 + nm + nb, np.int64)
    supplies[src] = int(dem.sum())
    supplies[building_node] = -dem
    smcf.set_nodes_supplies(np.arange(len(supplies)), supplies)
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise SolverFailed(f"min-cost flow returned {status!r}", status=str(status))
    n_t = len(tm)
    flows = smcf.flows(np.arange(len(tails)))
    unc = np.zeros(nb, np.int64)
    unc[has_dem] = flows[n_t + len(has_cap):]
    return flows[:n_t].astype(np.int64), unc, int(smcf.optimal_cost())


def unit_ranges(b: np.ndarray, share: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Stair units each (building, share) row covers, rows grouped by building in order.

    Shares are laid end to end along units ``1..units``; a row covering ``[s, e)`` of the
    building takes units ``floor(s*u)+1 .. ceil(e*u)``, e.g. ``"1-2"`` or ``"3"``.
    """
    if not len(b):
        return np.zeros(0, dtype=object)
    end = pd.Series(share).groupby(b, sort=False).cumsum().to_numpy()
    start = end - share
    u = np.maximum(units, 1)
    lo = np.clip(np.floor(start * u + 1e-9).astype(np.int64) + 1, 1, u)
    hi = np.clip(np.ceil(end * u - 1e-9).astype(np.int64), lo, u)
    lo_s = lo.astype(str).astype(object)
    return np.where(lo == hi, lo_s, lo_s + "-" + hi.astype(str).astype(object))


def _solution(problem: Problem, params: Params, pm, pb, pf, unc_int, obj, n_arcs, seconds):
    order = np.lexsort((pm, pb))
    pm, pb, pf = pm[order], pb[order], pf[order]
    dem = demand_int(problem, params)
    dist = _distances(problem, pm, pb)
    share = pf / np.maximum(dem[pb], 1)
    load = pf / params.scale
    df = pd.DataFrame({
        "member_id": problem.member_ids[pm],
        "building_code": problem.building_codes[pb],
        "load": load,
        "distance_m": np.round(dist, 1),
        "share": share,
        "units": unit_ranges(pb, share, problem.units[pb]),
        "m": pm,
        "b": pb,
    })
    return Solution(
        assignment=df,
        flow=np.stack([pm, pb, pf], axis=1) if len(pm) else np.zeros((0, 3), np.int64),
        uncovered=unc_int / params.scale,
        uncovered_int=unc_int,
        objective=obj / params.scale,
        objective_int=obj,
        distance_cost=float(np.sum(load * dist)),
        n_arcs=n_arcs,
        solve_seconds=seconds,
    )


def with_flow(problem: Problem, params: Params, sol: Solution, flow: np.ndarray) -> Solution:
    """``sol`` with its flow replaced by ``flow`` (``(member, building, flow_int)`` rows, each
    pair once): assignment, uncovered load and walking recomputed; ``objective`` stays the
    solve's."""
    dem = demand_int(problem, params)
    unc = dem - np.bincount(flow[:, 1], weights=flow[:, 2], minlength=len(dem)).astype(np.int64)
    return _solution(problem, params, flow[:, 0], flow[:, 1], flow[:, 2], np.maximum(unc, 0),
                     sol.objective_int, sol.n_arcs, sol.solve_seconds)
