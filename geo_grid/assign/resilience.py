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


def _merge_rows(ok: np.ndarray, give: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``ok`` that are equal merged into one (``give`` summed), in first-seen order."""
    if len(ok) < 2:
        return ok, give
    if ok.shape[1] <= 62:
        # each row as the bits of one integer
        keys = ok.astype(np.int64) @ (np.int64(1) << np.arange(ok.shape[1], dtype=np.int64))
    else:
        packed = np.packbits(ok, axis=1)
        keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    merged = np.bincount(inv.ravel(), weights=give, minlength=len(first)).astype(np.int64)
    order = np.argsort(first, kind="stable")
    return ok[first[order]], merged[order]


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
               fragile_at: int = 0, part: tuple[int, int] = (0, 1)) -> pd.DataFrame:
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
    part : (k, n)
        Only every ``n``-th grid from the ``k``-th (in code order): the rows of those grids,
        as the whole computation gives them (grids do not depend on each other, so ``n``
        parts computed apart and concatenated, then sorted, are the whole table).

    Returns
    -------
    pandas.DataFrame
        ``grid_code, community_code, team, losses_tolerated, fragile, first_losses`` (ids of the
        busiest members whose loss uncovers a building: the first ``losses_tolerated + 1``),
        sorted by ``losses_tolerated`` then ``grid_code``.
    """
    params = params or Params()
    flow = np.asarray(flow, np.int64).reshape(-1, 3)
    nm = problem.n_members
    limit = params.walk_limit_m
    dem = demand_int(problem, params)
    cap = capacity_int(problem, params)
    used = np.bincount(flow[:, 0], weights=flow[:, 2], minlength=nm)
    spare = np.maximum(cap - used, 0).astype(np.int64)
    grids = pd.Series(problem.building_grid)
    by_grid = grids.groupby(grids, sort=True).indices
    k_part, n_part = part
    codes = list(by_grid)[k_part::n_part]
    helpers = np.flatnonzero((spare > 0) & problem.available)
    helper_xy = problem.member_xy[helpers]
    # every grid's team at once: the members carrying load in its buildings, by the load they
    # carry there (largest first, then member order); team_at[i]:team_at[i+1] is grid i's
    g_of_b = np.full(problem.n_buildings, -1, np.int64)
    for i, g in enumerate(codes):
        g_of_b[by_grid[g]] = i
    key = g_of_b[flow[:, 1]] * max(nm, 1) + flow[:, 0] if len(flow) else np.zeros(0, np.int64)
    uk, inv = np.unique(key, return_inverse=True)
    on = np.bincount(inv.ravel(), weights=flow[:, 2], minlength=len(uk)).astype(np.int64)
    tg, tmem = uk // max(nm, 1), uk % max(nm, 1)
    srt = np.lexsort((tmem, -on, tg))
    tg, tmem, on = tg[srt], tmem[srt], on[srt]
    team_at = np.searchsorted(tg, np.arange(len(codes) + 1))
    # the helpers near every grid, in one query: within the walking limit plus the grid's
    # radius of its centre (a superset of the helpers within the limit of one of its buildings)
    bidxs = [np.asarray(by_grid[g]) for g in codes]
    near_lists: list = [[] for _ in codes]
    if len(helpers) and len(codes):
        centre = np.array([problem.building_xy[b].mean(axis=0) for b in bidxs])
        radius = np.array([float(np.hypot(*(problem.building_xy[b] - c).T).max())
                           for b, c in zip(bidxs, centre, strict=True)])
        near_lists = cKDTree(helper_xy).query_ball_point(
            centre, r=limit + radius + 1e-6, return_sorted=True, workers=-1)
    in_team = np.zeros(nm, bool)
    rows = []
    for i, g in enumerate(codes):
        bidx = bidxs[i]
        team = tmem[team_at[i]:team_at[i + 1]]
        give = on[team_at[i]:team_at[i + 1]] + spare[team]
        near = np.asarray(near_lists[i], np.int64)
        bxy = problem.building_xy[bidx]
        d = helper_xy[near][:, None, :] - bxy[None, :, :]
        # which helper reaches which building: the reach of the helpers kept below (none is
        # sealed in), and they are kept when they reach one
        within = np.hypot(d[..., 0], d[..., 1]) <= limit
        extra = helpers[near]  # sorted and distinct, like helpers
        in_team[team] = True
        keep = within.any(axis=1) & ~in_team[extra] & ~problem.sealed_in[extra]
        in_team[team] = False
        extra, ok_e = extra[keep], within[keep]
        need_b = dem[bidx]
        ok_t = _reach(problem, params, bidx, team)  # once per grid: losses drop leading rows
        # helpers reaching the same buildings are one source to the flow (never removed): one
        # row each, their spare summed (the max flow and the bounds below are the same)
        ok_e, give_e = _merge_rows(ok_e, spare[extra])
        ok = np.concatenate([ok_t, ok_e])
        give_all = np.concatenate([give, give_e])
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
