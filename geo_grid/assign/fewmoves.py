"""Fewer moves after the flow: one taker per building where one has the room.

The min-cost flow of :mod:`geo_grid.assign.flow` prices load per unit, so it is indifferent to
*how many* people take over a building: the load of a member who is out may go to three
neighbours with a little room each, where one of them (or a fourth) could take it all. An
office counts moves, not load units: every (building, from, to) row is a person to re-brief.

:func:`one_taker_per_building` rewrites such splits: for every building whose new load went to
two or more takers, it looks for one person within the walking limit with the room to take all
of it (a reinforcement first, since its placement is not a member move; then a member already
taking part of it; then the nearest) and gives it to them. Coverage, capacities and the
walking limit hold as before; only the number of rows (and perhaps the walk) changes, which is
the order of the objective: cover, then move least, then walk least.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from geo_grid.assign.flow import capacity_int
from geo_grid.assign.model import Params, Problem

#: passes over the split buildings (a pass can free room another pass uses)
PASSES = 3


def one_taker_per_building(problem: Problem, params: Params, old: np.ndarray,
                           new: np.ndarray, is_r: np.ndarray) -> np.ndarray:
    """The flow ``new`` with split takers merged wherever one person can take it all.

    Parameters
    ----------
    problem : Problem
        The scenario's problem (availability and sealing applied).
    params : Params
        Model parameters (walking limit).
    old, new : (K, 3) int arrays
        ``(member, building, flow)`` before (the current assignment under the scenario's
        demand) and after the solve.
    is_r : (M,) bool
        Reinforcements (preferred takers: a placement is not a member move).

    Returns
    -------
    (K', 3) int64 array
        The rewritten flow; the same load on every building.
    """
    if not len(new):
        return new
    # plain Python ints from whole columns (iterating numpy rows is far slower)
    new_c = np.asarray(new, np.int64)
    flow = dict(zip(zip(new_c[:, 0].tolist(), new_c[:, 1].tolist(), strict=True),
                    new_c[:, 2].tolist(), strict=True))
    before: dict[tuple[int, int], int] = {}
    old_c = np.asarray(old, np.int64).reshape(-1, 3)
    for mb, x in zip(zip(old_c[:, 0].tolist(), old_c[:, 1].tolist(), strict=True),
                     old_c[:, 2].tolist(), strict=True):
        before[mb] = before.get(mb, 0) + x
    cap = capacity_int(problem, params)
    load = np.bincount(new[:, 0], weights=new[:, 2], minlength=problem.n_members).astype(np.int64)
    taker_ok = (cap > 0) & ~problem.sealed_in
    tree = cKDTree(problem.member_xy)
    for _ in range(PASSES):
        gained: dict[int, list[tuple[int, int]]] = {}
        for (m, b), x in flow.items():
            d = x - before.get((m, b), 0)
            if d > 0:
                gained.setdefault(b, []).append((m, d))
        split = sorted(((b, lst) for b, lst in gained.items() if len(lst) > 1),
                       key=lambda t: (-sum(d for _, d in t[1]), t[0]))
        changed = 0
        # the members within the limit of every split building, in one query (unsorted, in
        # the order a query of the building alone gives)
        near = tree.query_ball_point(problem.building_xy[[b for b, _ in split]],
                                     params.walk_limit_m * (1 + 1e-12), return_sorted=False,
                                     workers=-1) if split else []
        for (b, lst), near_b in zip(split, near, strict=True):
            total = sum(d for _, d in lst)
            cand = np.asarray(near_b, np.int64)
            cand = cand[taker_ok[cand]]
            # what each candidate already takes of this building counts as room
            taking = np.zeros(len(cand), np.int64)
            for m, d in lst:
                taking[cand == m] += d
            room = cap[cand] - load[cand] + taking
            ok = room >= total
            cand, taking = cand[ok], taking[ok]
            if not len(cand):
                continue
            dist = np.hypot(*(problem.member_xy[cand] - problem.building_xy[b]).T)
            rank = np.where(is_r[cand], 0, np.where(taking > 0, 1, 2))
            t = int(cand[np.lexsort((dist, rank))[0]])
            for m, d in lst:
                if m == t:
                    continue
                left = flow[(m, b)] - d
                if left:
                    flow[(m, b)] = left
                else:
                    del flow[(m, b)]
                load[m] -= d
                flow[(t, b)] = flow.get((t, b), 0) + d
                load[t] += d
            changed += 1
        if not changed:
            break
    out = np.array([(m, b, x) for (m, b), x in flow.items() if x > 0], np.int64)
    return out[np.lexsort((out[:, 0], out[:, 1]))] if len(out) else out.reshape(0, 3)
