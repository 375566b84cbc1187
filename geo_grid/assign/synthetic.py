"""Seeded synthetic assignment instances (tests and benchmarks; nothing here is real).

Grids are square cells of ``cell_m`` metres on a lattice (7 consecutive grids make a
community); buildings are uniform inside their cell with a Poisson number of households and
≈21% vulnerable households; each grid has a team of 1 secretary, 3 social workers and
volunteers, living in a random building of their grid (jittered a few metres), with the
default capacities; 3% are unavailable.
"""

from __future__ import annotations

import numpy as np

from geo_grid.assign.model import DEFAULT_CAPACITY, Params, Problem


def synthetic_problem(n_grids: int = 16, buildings: int = 300, members: int = 200, *,
                      cell_m: float = 360.0, households_mean: float = 27.0,
                      vulnerable_share: float = 0.21, available_share: float = 0.97,
                      seed: int = 0, params: Params | None = None,
                      origin=(500_000.0, 3_490_000.0)) -> Problem:
    """A seeded synthetic :class:`Problem` (no current assignment).

    Parameters
    ----------
    n_grids, buildings, members : int
        Sizes; buildings and members are spread evenly over the grids.
    cell_m : float
        Grid cell side in metres (360 m ≈ the reference district's density).
    households_mean : float
        Mean households per building (Poisson; at least 1 in 90% of buildings).
    vulnerable_share, available_share : float
        Share of vulnerable households and of available members.
    seed : int
        Seed.
    params : Params, optional
        For the demand weights.
    origin : (float, float)
        South-west corner in EPSG:4549 metres.
    """
    params = params or Params()
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(n_grids)))
    g = np.arange(n_grids)
    gx = origin[0] + (g % cols) * cell_m
    gy = origin[1] + (g // cols) * cell_m
    grid_code = np.array([f"G{i:06d}" for i in g], dtype=object)
    comm_code = np.array([f"C{i // 7:05d}" for i in g], dtype=object)
    bg = np.sort(np.arange(buildings) % n_grids)
    bxy = np.column_stack([gx[bg] + rng.random(buildings) * cell_m,
                           gy[bg] + rng.random(buildings) * cell_m])
    hh = rng.poisson(households_mean, buildings)
    hh[rng.random(buildings) < 0.1] = 0  # shops, offices
    vul = rng.binomial(hh, vulnerable_share)
    demand = np.maximum(params.household_weight * hh + params.vulnerable_weight * vul,
                        params.min_load)
    mg = np.sort(np.arange(members) % n_grids)
    first = np.r_[True, mg[1:] != mg[:-1]]
    rank = np.arange(members) - np.maximum.accumulate(np.where(first, np.arange(members), 0))
    role = np.where(rank == 0, "secretary", np.where(rank <= 3, "social_worker", "volunteer"))
    # home: a random building of the member's grid (or the cell centre when it has none)
    starts = np.searchsorted(bg, mg, "left")
    ends = np.searchsorted(bg, mg, "right")
    has = ends > starts
    pick = starts + (rng.random(members) * np.maximum(ends - starts, 1)).astype(np.int64)
    home = np.where(has, pick, -1)
    mxy = np.where(has[:, None], bxy[np.clip(home, 0, None)],
                   np.column_stack([gx[mg] + cell_m / 2, gy[mg] + cell_m / 2]))
    mxy = mxy + rng.normal(0, 5.0, (members, 2))
    cap = np.array([DEFAULT_CAPACITY[r] for r in ("secretary", "social_worker", "volunteer")])
    role_idx = np.where(role == "secretary", 0, np.where(role == "social_worker", 1, 2))
    return Problem(
        building_codes=np.array([f"B{i:07d}" for i in range(buildings)], dtype=object),
        building_xy=bxy,
        demand=demand,
        units=rng.integers(1, 5, buildings),
        households=hh,
        residents=np.rint(hh * 2.6).astype(np.int64),
        vulnerable=vul,
        building_grid=grid_code[bg],
        building_community=comm_code[bg],
        member_ids=np.array([f"M{i:06d}" for i in range(members)], dtype=object),
        member_xy=mxy,
        capacity=cap[role_idx],
        role=role.astype(object),
        member_grid=grid_code[mg],
        available=rng.random(members) < available_share,
        home=home,
    )
