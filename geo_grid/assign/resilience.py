"""Resilience: how many member losses each grid can take before a building goes uncovered.

Definition (cheap, deterministic, documented)
---------------------------------------------
For a grid ``g`` with a current assignment:

- its *team* is the members carrying load in ``g``'s buildings, ordered by the load they carry
  there, largest first (ties by member order): the grid loses its busiest members first;
- a team member can give ``g`` the load it carries there plus its spare capacity (capacity
  minus its total load); available members outside the team with spare capacity within the
  walking limit of one of ``g``'s buildings can give their spare capacity (they are never
  removed); other grids are left as they are;
- ``g`` is *covered with k losses* when, after removing the first ``k`` team members, a max
  flow over the remaining team (arcs within the walking limit; a sealed-in member only to its
  home) covers the whole demand of ``g``'s buildings.

``losses_tolerated`` is the largest ``k`` for which ``g`` is still covered (monotone in ``k``,
found by binary search); −1 when ``g`` cannot be fully covered even with no losses. A grid is *fragile* when
``losses_tolerated <= fragile_at`` (default 0: losing its busiest member uncovers a building).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from ortools.graph.python import max_flow
from scipy.spatial import cKDTree

from geo_grid.assign.flow import capacity_int, demand_int
from geo_grid.assign.model import Params, Problem


def _reach(problem: Problem, params: Params, bidx: np.ndarray, team: np.ndarray) -> np.ndarray:
    """(team, buildings) bool: who may serve which building (within the walking limit; a
    sealed-in member only its home)."""
    d = problem.member_xy[team][:, None, :] - problem.building_xy[bidx][None, :, :]
    ok = np.hypot(d[..., 0], d[..., 1]) <= params.walk_limit_m
    si = problem.sealed_in[team]
    ok[si] = problem.home[team][si][:, None] == bidx[None, :]
    return ok


def _covered(need_b: np.ndarray, ok: np.ndarray, give: np.ndarray) -> bool:
    """Whether members giving ``give`` over the arcs ``ok`` cover every building's need."""
    need = int(need_b.sum())
    if need == 0:
        return True
    if not len(give) or int(give.sum()) < need:
        return False
    i, j = np.nonzero(ok)
    nt, nb = ok.shape
    smf = max_flow.SimpleMaxFlow()
    snk = 1 + nt + nb
    tails = np.concatenate([np.zeros(nt, np.int64), 1 + i, 1 + nt + np.arange(nb)])
    heads = np.concatenate([1 + np.arange(nt), 1 + nt + j, np.full(nb, snk)])
    caps = np.concatenate([give, need_b[j], need_b]).astype(np.int64)
    smf.add_arcs_with_capacity(tails.astype(np.int64), heads.astype(np.int64), caps)
    smf.solve(0, snk)
    return smf.optimal_flow() >= need


def _upper_bound(need_b: np.ndarray, ok: np.ndarray, give: np.ndarray, n_team: int) -> int:
    """The largest ``k <= n_team`` for which the members from row ``k`` on give at least the
    total need, and at least each building's need over their arcs to it (−1 if none): every
    ``k`` the max flow covers passes, so the answer is at most this."""
    n, nb = ok.shape
    suf = np.zeros((n + 1, nb), np.int64)
    tot = np.zeros(n + 1, np.int64)
    if n:
        suf[:n] = np.cumsum((ok * give[:, None])[::-1], axis=0)[::-1]
        tot[:n] = np.cumsum(give[::-1])[::-1]
    feas = (suf[:n_team + 1] >= need_b[None, :]).all(axis=1) & (tot[:n_team + 1] >= need_b.sum())
    return int(np.argmin(feas)) - 1 if not feas.all() else n_team


def resilience(problem: Problem, flow: np.ndarray, params: Params | None = None,
               fragile_at: int = 0) -> pd.DataFrame:
    """Losses each grid can take (see the module docstring).

    Parameters
    ----------
    problem : Problem
        The instance.
    flow : numpy.ndarray
        (n, 3) integer rows ``(member, building, load)``: the current assignment.
    params : Params, optional
        Model parameters.
    fragile_at : int
        Grids with ``losses_tolerated <= fragile_at`` are fragile.

    Returns
    -------
    pandas.DataFrame
        ``grid_code, community_code, team, losses_tolerated, fragile, first_losses`` (ids of the
        busiest members whose loss uncovers a building: the first ``losses_tolerated + 1``),
        sorted by ``losses_tolerated`` then ``grid_code``.
    """
    params = params or Params()
    flow = np.asarray(flow, np.int64).reshape(-1, 3)
    dem = demand_int(problem, params)
    cap = capacity_int(problem, params)
    used = np.bincount(flow[:, 0], weights=flow[:, 2], minlength=problem.n_members)
    spare = np.maximum(cap - used, 0).astype(np.int64)
    grids = pd.Series(problem.building_grid)
    helpers = np.flatnonzero((spare > 0) & problem.available)
    tree = cKDTree(problem.member_xy[helpers]) if len(helpers) else None
    rows = []
    fg = problem.building_grid[flow[:, 1]] if len(flow) else np.zeros(0, dtype=object)
    rows_of = pd.Series(fg).groupby(fg, sort=False).indices if len(fg) else {}
    none = np.zeros(0, np.int64)
    helper_xy = problem.member_xy[helpers]
    for g, bidx in grids.groupby(grids, sort=True).indices.items():
        rows_g = flow[rows_of.get(g, none)]
        if len(rows_g):
            tm, inv = np.unique(rows_g[:, 0], return_inverse=True)
            on_g = np.bincount(inv, weights=rows_g[:, 2]).astype(np.int64)
            srt = np.lexsort((tm, -on_g))
            team, give = tm[srt], (on_g + spare[tm])[srt]
        else:
            team, give = np.zeros(0, np.int64), np.zeros(0, np.int64)
        bidx = np.asarray(bidx)
        if tree is not None:
            # helpers within the limit of a building of the grid: one query around the grid's
            # centre, then the distances (a helper reaching none would add an empty row only)
            bxy = problem.building_xy[bidx]
            centre = bxy.mean(axis=0)
            radius = float(np.hypot(*(bxy - centre).T).max())
            near = np.sort(np.asarray(tree.query_ball_point(
                centre, r=params.walk_limit_m + radius + 1e-6), np.int64))
            d = helper_xy[near][:, None, :] - bxy[None, :, :]
            near = near[(np.hypot(d[..., 0], d[..., 1]) <= params.walk_limit_m).any(axis=1)]
            extra = helpers[near]  # sorted and distinct, like helpers
            extra = extra[~np.isin(extra, team)]
            extra = extra[~problem.sealed_in[extra]]
        else:
            extra = np.zeros(0, np.int64)
        team_all = np.concatenate([team, extra])
        give_all = np.concatenate([give, spare[extra]])
        need_b = dem[bidx]
        ok = _reach(problem, params, bidx, team_all)  # once per grid: losses drop leading rows
        # a necessary condition, cheap for every k at once: what the members left can give,
        # in all and to each building alone, reaches the need; the largest such k is an upper
        # bound of the answer, and usually the answer (one max flow instead of a search)
        top = _upper_bound(need_b, ok, give_all, len(team))
        if top >= 0 and _covered(need_b, ok[top:], give_all[top:]):
            k = top
        elif top <= 0 or not _covered(need_b, ok, give_all):
            k = -1
        else:
            lo, hi = 0, top - 1  # covered with lo losses; find the largest
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if _covered(need_b, ok[mid:], give_all[mid:]):
                    lo = mid
                else:
                    hi = mid - 1
            k = lo
        rows.append((g, problem.building_community[bidx[0]], len(team), k,
                     [str(x) for x in problem.member_ids[team[:max(k + 1, 0)]]]))
    df = pd.DataFrame(rows, columns=["grid_code", "community_code", "team", "losses_tolerated",
                                     "first_losses"])
    df["fragile"] = df["losses_tolerated"] <= fragile_at
    df = df[["grid_code", "community_code", "team", "losses_tolerated", "fragile",
             "first_losses"]]
    return df.sort_values(["losses_tolerated", "grid_code"], kind="stable").reset_index(drop=True)
