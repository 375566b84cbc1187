"""Large flows solved in parts: connected components exactly, big components by tiles.

A city-scale network (hundreds of thousands of members and buildings, millions of candidate
pairs) is slow to solve in one piece, and the solver's time grows faster than the network.
:func:`solve_parts` takes the same network as :func:`geo_grid.assign.flow.solve` (the same
candidate pairs, the same arc costs, the same price of uncovered load) and solves it in pieces:

1. **Connected components** of the member–building graph of the candidate pairs. No flow can
   pass from one component to another, so the optimum of the whole is the union of the optima
   of the components, and its cost their sum: this step is exact (equal objective; the flow
   itself may differ only where the optimum is not unique).
2. **Tiles** for a component with more than ``part_arcs`` pairs: its buildings are cut into
   rectangles of about equal counts (columns by x, then rows by y within each column); members
   go to the tile their home falls in, and each tile is solved over its own pairs only.
3. **Seam**: every member and building with a pair crossing a tile border is freed, the flow on
   their pairs is dropped, and the freed part is solved again over all its pairs (the crossing
   ones included), the rest of the flow held fixed (members give what they have left, buildings
   take what is still missing). The tile flow restricted to the seam is one solution of the
   seam problem, so the seam can only lower the cost.
4. **Lower price of uncovered load**: the solver (cost scaling) works longer the larger the
   largest cost, and the price that puts coverage first, ``(members + 1) × (dearest arc + 1)``,
   is huge. The pieces are solved with uncovered load at ``price_hops × (dearest arc + 1)``
   instead. If the flow so found covers as much load as any flow over the pairs can, it is also
   optimal at the full price (any other flow leaves at least as much uncovered, so its cost
   rises at least as much when the price goes up); the objective is reported at the full price.
5. **Coverage check**: tiles can leave load uncovered that a path across a border would cover,
   and the lower price load whose augmenting path costs more than it. So when the flow leaves
   any load uncovered, the full network (every pair within the walking limit) is searched for
   an augmenting path (:func:`geo_grid.assign.flow.augmenting_arcs`); if there is one, the
   network is solved again in one piece at the full price, as without decomposition. So the
   coverage is never below what the one-piece solve reaches, components alone (with the lower
   price) give the one-piece optimum, and only the walking and move cost of a tiled solve may
   be slightly above it (pairs near a border).

Pieces that do not share a member or a building (packs of components, the tiles of one
component) are solved at the same time by a pool of ``workers`` processes (the solver holds
the interpreter lock, so threads would not run two solves at once); each piece is the same
solve with the same input whatever process runs it, and its result is written in the order
of a serial solve, so the flow does not depend on the worker count. A network below
``parallel_arcs`` pairs is solved serially (starting the processes would not pay). The seam
of a tiled component waits for its tiles.

Tiles are used only for a component above ``part_arcs``; components alone never change the
optimum. Which solves are split is set by :class:`Decomposition` (:func:`decomposition` sets it
for a block of code); by default a network below ``min_arcs`` candidate pairs (every street
and district) is solved in one piece exactly as before.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import multiprocessing.pool
import os
import threading
from contextvars import ContextVar
from dataclasses import dataclass, replace

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geo_grid.assign.flow import (
    Arcs,
    augmenting_arcs,
    network_solve,
    sorted_unique,
    transport_arcs,
)
from geo_grid.assign.model import Params, Problem


@dataclass(frozen=True)
class Decomposition:
    """When and how a flow is solved in parts.

    Parameters
    ----------
    min_arcs : float
        Networks with fewer candidate pairs are solved in one piece (``math.inf``: never split).
    part_arcs : float
        A connected component with more pairs is cut into tiles of about this many pairs
        (``math.inf``: components only, which is exact).
    seam : bool
        Re-solve the members and buildings with pairs across tile borders (step 3).
    price_hops : int
        Solve with the uncovered load priced at ``price_hops × (dearest arc + 1)`` instead of
        the full price (0: the full price); see the module docstring.
    workers : int or None
        Processes solving independent pieces at once (None: the machine's cores, at most 2;
        1: serial, in this process). The result does not depend on it.
    parallel_arcs : float
        Networks with fewer pairs are solved serially whatever ``workers`` says.
    """

    min_arcs: float = 2_000_000
    part_arcs: float = 1_000_000
    seam: bool = True
    price_hops: int = 8
    workers: int | None = None
    parallel_arcs: float = 1_000_000

    def n_workers(self, n_arcs: int) -> int:
        """Worker processes for a network of ``n_arcs`` pairs (1 below ``parallel_arcs``)."""
        if n_arcs < self.parallel_arcs:
            return 1
        w = self.workers if self.workers is not None else min(2, os.cpu_count() or 1)
        return max(1, int(w))


_SETTINGS: ContextVar[Decomposition | None] = ContextVar("decomposition", default=None)


def current_settings() -> Decomposition:
    """The decomposition in force (see :func:`decomposition`)."""
    return _SETTINGS.get() or Decomposition()


@contextlib.contextmanager
def decomposition(**changes):
    """Within the block, flows are split as ``Decomposition(**changes)`` says (the fields not
    given keep their values in force), e.g. ``decomposition(min_arcs=math.inf)`` solves every
    network in one piece, ``decomposition(min_arcs=0, part_arcs=math.inf)`` splits every
    network into its connected components."""
    token = _SETTINGS.set(replace(current_settings(), **changes))
    try:
        yield current_settings()
    finally:
        _SETTINGS.reset(token)


def components(problem: Problem, arcs: Arcs) -> np.ndarray:
    """Component label of every candidate pair (members and buildings linked by pairs)."""
    nm, nb = problem.n_members, problem.n_buildings
    n = nm + nb
    if not len(arcs):
        return np.zeros(0, np.int64)
    g = coo_matrix((np.ones(len(arcs), np.int8), (arcs.m, nm + arcs.b)), shape=(n, n))
    _, label = connected_components(g.tocsr(), directed=False)
    return label[arcs.m].astype(np.int64)


def _local_solve(tm, tb, t_cap, t_cost, dem, cap, U):
    """Solve the network restricted to the members and buildings of the arcs ``tm → tb``
    (node numbers compacted); ``dem`` and ``cap`` are full-length (what each building still
    takes, each member still gives). Returns (flow per arc, {building: uncovered}, cost)."""
    mm = sorted_unique(tm)
    bb = sorted_unique(tb)
    lm = np.searchsorted(mm, tm)
    lb = np.searchsorted(bb, tb)
    flow, unc, cost = network_solve(lm, lb, t_cap, t_cost, dem[bb], cap[mm], U, len(mm), len(bb))
    return flow, bb, unc, cost


def _tiles(problem: Problem, m: np.ndarray, b: np.ndarray, n_tiles: int) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """Tile numbers of pairs' members and buildings: columns by building x (equal counts),
    rows by building y within each column; a member falls in the tile of its position."""
    bu = sorted_unique(b)
    cols = max(1, math.ceil(math.sqrt(n_tiles)))
    rows = max(1, math.ceil(n_tiles / cols))
    bx, by = problem.building_xy[bu, 0], problem.building_xy[bu, 1]
    xcut = np.quantile(bx, np.arange(1, cols) / cols) if cols > 1 else np.zeros(0)

    # the row cuts of each column, once (the same cuts for members and buildings)
    col_b = np.searchsorted(xcut, bx, side="right")
    ycuts = []
    for k in range(cols):
        col_y = by[col_b == k]
        ycuts.append(np.quantile(col_y, np.arange(1, rows) / rows)
                     if rows > 1 and len(col_y) else np.zeros(0))

    def tile_of(xy: np.ndarray) -> np.ndarray:
        c = np.searchsorted(xcut, xy[:, 0], side="right")
        t = np.zeros(len(xy), np.int64)
        for k in range(cols):
            in_c = np.flatnonzero(c == k)
            t[in_c] = k * rows + np.searchsorted(ycuts[k], xy[in_c, 1], side="right")
        return t

    # a node's tile depends on its position only: once per member and building, then per pair
    return tile_of(problem.member_xy)[m], tile_of(problem.building_xy)[b]


def solve_parts(problem: Problem, params: Params, arcs: Arcs, dem: np.ndarray, cap: np.ndarray,
                use_current: bool, member_penalty: np.ndarray | None = None,
                settings: Decomposition | None = None):
    """The flow of :func:`geo_grid.assign.flow.solve` over ``arcs``, solved in parts.

    Same arguments and result as the one-piece solve (``((m, b, flow), uncovered, cost)``,
    integers; see the module docstring for what is exact).
    """
    settings = settings or current_settings()
    t_pair, t_cap, t_cost, U = transport_arcs(problem, params, arcs, dem, cap, use_current,
                                              member_penalty)
    tm, tb = arcs.m[t_pair], arcs.b[t_pair]
    # a lower price of uncovered load: the solver's work grows with the largest cost; exact
    # when the flow found this way covers as much as any can (checked below)
    U_solve = U
    if params.uncovered_cost is None and settings.price_hops and len(t_cost):
        U_solve = min(U, settings.price_hops * (int(t_cost.max()) + 1))
    workers = settings.n_workers(len(t_pair))
    with _Runner(workers) as run:
        flow, unc, tiled = _solve_pieces(problem, arcs, t_pair, tm, tb, t_cap, t_cost, dem, cap,
                                         U_solve, settings, run)
    if unc.any() and (tiled or U_solve < U):
        pair_flow = np.bincount(t_pair, weights=flow, minlength=len(arcs)).astype(np.int64)
        used = pair_flow > 0
        path = augmenting_arcs(problem, params, dem, cap,
                               (arcs.m[used], arcs.b[used], pair_flow[used]), unc)
        if path is not None:
            # more could be covered (across a tile border, or through a path dearer than the
            # lower price): solve in one piece at the full price, as without decomposition
            f, bb, u, _ = _local_solve(tm, tb, t_cap, t_cost, dem, cap, U)
            flow, unc = f, np.where(dem > 0, dem, 0).astype(np.int64)
            unc[bb] = u
    pair_flow = np.bincount(t_pair, weights=flow, minlength=len(arcs)).astype(np.int64)
    used = pair_flow > 0
    cost = int(np.dot(flow, t_cost)) + U * int(unc.sum())
    return (arcs.m[used], arcs.b[used], pair_flow[used]), unc, cost


def _pool_context():
    """How the workers start. Forked workers start at once and see the parent's modules (no
    re-import), but a process forked while other threads run (a web server's, a database
    listener's) may inherit a lock one of them held, and hang on it: such a process gets its
    workers from a fork server instead (a clean single-threaded process; the pieces' data go
    through pipes either way). Where neither is available, the platform's default."""
    methods = multiprocessing.get_all_start_methods()
    if threading.active_count() > 1 and "forkserver" in methods:
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("fork" if "fork" in methods else None)


_POOL: ContextVar[multiprocessing.pool.Pool | None] = ContextVar("flow_pool", default=None)


@contextlib.contextmanager
def solver_pool(workers: int):
    """Within the block, the parts of big flows are solved by these ``workers`` processes
    (none with ``workers <= 1``), started here at once: a caller that runs threads of its own
    during the solve (the rebalance computes the figures before meanwhile) starts the pool
    first, so that no process is forked while those threads run."""
    if workers <= 1:
        yield None
        return
    pool = _pool_context().Pool(workers)
    token = _POOL.set(pool)
    try:
        yield pool
    finally:
        _POOL.reset(token)
        pool.terminate()
        pool.join()


class _Done:
    """The result of a solve run in this process, read like a pool's ``AsyncResult``."""

    def __init__(self, value):
        self.value = value

    def get(self):
        return self.value


class _Runner:
    """Runs piece solves: at once on ``workers`` processes (the pool of :func:`solver_pool`
    when one is in force, else a pool for this solve), or one after the other in this process
    (1 worker).

    :meth:`submit` returns a handle either way (``get()`` gives the result), so the caller
    writes the results in the order it submitted them: the same flow whatever the worker count.
    """

    def __init__(self, workers: int):
        self.pool = _POOL.get() if workers > 1 else None
        self.own = None
        if workers > 1 and self.pool is None:
            self.own = self.pool = _pool_context().Pool(workers)

    def __enter__(self) -> _Runner:
        return self

    def __exit__(self, *exc) -> None:
        if self.own is not None:
            self.own.terminate()
            self.own.join()

    def submit(self, fn, *args):
        if self.pool is not None:
            return self.pool.apply_async(fn, args)
        return _Done(fn(*args))


def _solve_pieces(problem, arcs, t_pair, tm, tb, t_cap, t_cost, dem, cap, U, settings,
                  run: _Runner | None = None):
    """Components (packed together up to ``part_arcs``), big ones by tiles: (flow per network
    arc, uncovered per building, whether any component was tiled)."""
    run = run or _Runner(1)
    label = components(problem, arcs)[t_pair] if len(t_pair) else np.zeros(0, np.int64)
    flow = np.zeros(len(t_pair), np.int64)
    unc = np.where(dem > 0, dem, 0).astype(np.int64)  # buildings with no pair stay uncovered
    order = np.argsort(label, kind="stable")
    starts = np.flatnonzero(np.r_[True, label[order][1:] != label[order][:-1]]) \
        if len(order) else np.zeros(0, np.int64)
    ends = np.r_[starts[1:], len(order)]
    packs: list[np.ndarray] = []
    pack: list[np.ndarray] = []
    big: list[tuple[np.ndarray, int]] = []
    size = 0
    for s, e in zip(starts, ends, strict=True):
        idx = order[s:e]
        n_pairs = len(sorted_unique(t_pair[idx])) if e - s > settings.part_arcs else e - s
        if n_pairs > settings.part_arcs:
            big.append((idx, math.ceil(n_pairs / settings.part_arcs)))
            continue
        pack.append(idx)
        size += e - s
        if size >= min(settings.part_arcs, 1_000_000):
            packs.append(np.concatenate(pack))
            pack, size = [], 0
    if pack:
        packs.append(np.concatenate(pack))
    # every independent piece is submitted before any result is awaited: the tiles of the
    # tiled components first (their seams wait for them), then the packs of small components
    tiled_jobs = [_submit_tiles(run, problem, idx, tm, tb, t_cap, t_cost, dem, cap, U, n_tiles)
                  for idx, n_tiles in big]
    pack_jobs = [run.submit(_local_solve, tm[idx], tb[idx], t_cap[idx], t_cost[idx], dem, cap, U)
                 for idx in packs]
    for (idx, _), job in zip(big, tiled_jobs, strict=True):
        _finish_tiled(run, idx, tm, tb, t_cap, t_cost, dem, cap, U, flow, unc, job,
                      settings.seam)
    for idx, job in zip(packs, pack_jobs, strict=True):
        f, bb, u, _ = job.get()
        flow[idx] = f
        unc[bb] = u
    return flow, unc, bool(big)


def _submit_tiles(run, problem, idx, tm, tb, t_cap, t_cost, dem, cap, U, n_tiles):
    """Submit the tile solves of the component of network arcs ``idx``: (tile of each arc's
    member and building, [(arcs of the tile, future)])."""
    m, b = tm[idx], tb[idx]
    tile_m, tile_b = _tiles(problem, m, b, n_tiles)
    inside = tile_m == tile_b
    # the arcs of each tile, grouped by one stable sort instead of a mask per tile
    ins = np.flatnonzero(inside)
    by_tile = ins[np.argsort(tile_b[ins], kind="stable")]
    t_sorted = tile_b[by_tile]
    cut = np.flatnonzero(np.r_[True, t_sorted[1:] != t_sorted[:-1]]) if len(by_tile) \
        else np.zeros(0, np.int64)
    jobs = []
    for s, e in zip(cut, np.r_[cut[1:], len(by_tile)], strict=True):
        sel = idx[by_tile[s:e]]
        jobs.append((sel, run.submit(_local_solve, tm[sel], tb[sel], t_cap[sel], t_cost[sel],
                                     dem, cap, U)))
    return inside, jobs


def _finish_tiled(run, idx, tm, tb, t_cap, t_cost, dem, cap, U, flow, unc, job, seam):
    """Write the tile solves of the component of network arcs ``idx`` into ``flow`` (per
    network arc) and ``unc`` (per building), then solve its seam."""
    inside, jobs = job
    m, b = tm[idx], tb[idx]
    for sel, fut in jobs:
        f, bb, u, _ = fut.get()
        flow[sel] = f
        unc[bb] = u
    # buildings whose every pair crosses a border got no tile solve: all uncovered for now
    own = np.zeros(len(dem), bool)
    own[b[inside]] = True
    lone = sorted_unique(b[~inside])
    lone = lone[~own[lone]]
    unc[lone] = dem[lone]
    if not seam or inside.all():
        return
    free_m = np.zeros(len(cap), bool)
    free_b = np.zeros(len(dem), bool)
    free_m[m[~inside]] = True
    free_b[b[~inside]] = True
    both = free_m[m] & free_b[b]
    fixed = idx[~both]
    # what the fixed flow leaves: members' spare capacity, buildings' missing load
    cap_left = cap - np.bincount(tm[fixed], weights=flow[fixed], minlength=len(cap)).astype(
        np.int64)
    dem_left = dem - np.bincount(tb[fixed], weights=flow[fixed], minlength=len(dem)).astype(
        np.int64)
    sel = idx[both]
    # in a worker too: this process stays free (e.g. for the figures of a rebalance)
    f, bb, u, _ = run.submit(_local_solve, tm[sel], tb[sel], t_cap[sel], t_cost[sel],
                             np.maximum(dem_left, 0), np.maximum(cap_left, 0), U).get()
    flow[sel] = f
    unc[bb] = u

