"""Coverage metrics per grid and per community for one assignment.

A building is *uncovered* when part of its load has no member (its uncovered households are
``ceil(households × uncovered share)``); a member is *overloaded* when the load it carries is
above its capacity (possible only for an assignment evaluated under new demand, e.g. the
current assignment before a rebalance). The *longest walk* is the largest home → building
distance among the (member, building) pairs serving the grid's buildings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo_grid.assign.flow import capacity_int, demand_int
from geo_grid.assign.model import Params, Problem

GRID_COLUMNS = (
    "grid_code", "community_code", "buildings", "households", "residents", "vulnerable",
    "load", "members", "available_members", "secretary", "social_worker", "volunteer", "capacity",
    "load_per_member", "covered_load", "uncovered_load", "uncovered_buildings",
    "uncovered_households", "overloaded_members", "longest_walk_m",
)


@dataclass(frozen=True)
class Coverage:
    """Coverage of one assignment: per building, per grid and per community."""

    building: pd.DataFrame
    grid: pd.DataFrame
    community: pd.DataFrame
    member_load: np.ndarray
    overloaded: np.ndarray

    def totals(self) -> dict:
        """Street-wide figures: uncovered buildings/households/load, overloaded members,
        longest walk."""
        g = self.grid
        return {
            "uncovered_buildings": int(g["uncovered_buildings"].sum()),
            "uncovered_households": int(g["uncovered_households"].sum()),
            "uncovered_load": float(round(g["uncovered_load"].sum(), 3)),
            "overloaded_members": int(self.overloaded.sum()),
            "max_walk_m": float(g["longest_walk_m"].max()) if len(g) else 0.0,
        }


def coverage(problem: Problem, flow: np.ndarray, params: Params | None = None) -> Coverage:
    """Coverage tables of an assignment given as integer flows.

    Parameters
    ----------
    problem : Problem
        Demand, capacities, availability, grid and community of every building and member.
    flow : numpy.ndarray
        (n, 3) integer rows ``(member index, building index, load in 1/scale units)``.
    params : Params, optional
        For ``scale``.

    Returns
    -------
    Coverage
        ``building`` (code, grid, community, load, covered, uncovered, households uncovered,
        longest walk), ``grid`` (columns :data:`GRID_COLUMNS`) and ``community`` tables, the
        load per member and the overloaded-member mask.
    """
    params = params or Params()
    s = params.scale
    nb, nm = problem.n_buildings, problem.n_members
    flow = np.asarray(flow, dtype=np.int64).reshape(-1, 3)
    fm, fb, ff = flow[:, 0], flow[:, 1], flow[:, 2]
    dem = demand_int(problem, params)
    cap = capacity_int(problem, params)
    covered = np.minimum(np.bincount(fb, weights=ff, minlength=nb).astype(np.int64), dem)
    unc = dem - covered
    unc_share = np.where(dem > 0, unc / np.maximum(dem, 1), 0.0)
    unc_hh = np.ceil(problem.households * unc_share - 1e-9).astype(np.int64)
    d = problem.member_xy[fm] - problem.building_xy[fb]
    dist = np.hypot(d[:, 0], d[:, 1])
    walk = np.zeros(nb)
    if len(fb):
        np.maximum.at(walk, fb, dist)
    mload = np.bincount(fm, weights=ff, minlength=nm).astype(np.int64)
    over = mload > np.where(problem.available, np.floor(problem.capacity * s + 1e-9), 0)
    building = pd.DataFrame({
        "building_code": problem.building_codes,
        "grid_code": problem.building_grid,
        "community_code": problem.building_community,
        "households": problem.households,
        "residents": problem.residents,
        "vulnerable": problem.vulnerable,
        "load": dem / s,
        "covered_load": covered / s,
        "uncovered_load": unc / s,
        "uncovered": unc > 0,
        "uncovered_households": unc_hh,
        "longest_walk_m": np.round(walk, 1),
    })
    g = building.groupby("grid_code", sort=True).agg(
        community_code=("community_code", "first"),
        buildings=("building_code", "size"),
        households=("households", "sum"),
        residents=("residents", "sum"),
        vulnerable=("vulnerable", "sum"),
        load=("load", "sum"),
        covered_load=("covered_load", "sum"),
        uncovered_load=("uncovered_load", "sum"),
        uncovered_buildings=("uncovered", "sum"),
        uncovered_households=("uncovered_households", "sum"),
        longest_walk_m=("longest_walk_m", "max"),
    )
    avail = problem.available
    mem = pd.DataFrame({
        "grid_code": problem.member_grid,
        "role": problem.role,
        "available": avail,
        "capacity": np.where(avail, cap / s, 0.0),
        "overloaded": over,
    })
    roles = (mem[avail].groupby(["grid_code", "role"]).size().unstack(fill_value=0)
             .reindex(columns=["secretary", "social_worker", "volunteer"], fill_value=0))
    per_grid = mem.groupby("grid_code").agg(members=("available", "size"),
                                            available_members=("available", "sum"),
                                            capacity=("capacity", "sum"),
                                            overloaded_members=("overloaded", "sum"))
    g = g.join(roles, how="left").join(per_grid, how="left")
    for col in ("members", "available_members", "secretary", "social_worker", "volunteer",
                "overloaded_members"):
        g[col] = g[col].fillna(0).astype(np.int64)
    g["capacity"] = g["capacity"].fillna(0.0)
    g["load_per_member"] = np.where(g["available_members"] > 0,
                                    g["load"] / g["available_members"].clip(lower=1), np.nan)
    g = g.reset_index()[list(GRID_COLUMNS)]
    for col in ("load", "covered_load", "uncovered_load", "capacity", "load_per_member"):
        g[col] = g[col].round(2)
    c = g.groupby("community_code", sort=True).agg(
        grids=("grid_code", "size"),
        **{col: (col, "sum") for col in GRID_COLUMNS[2:13]},
        covered_load=("covered_load", "sum"),
        uncovered_load=("uncovered_load", "sum"),
        uncovered_buildings=("uncovered_buildings", "sum"),
        uncovered_households=("uncovered_households", "sum"),
        overloaded_members=("overloaded_members", "sum"),
        longest_walk_m=("longest_walk_m", "max"),
    ).reset_index()
    c["load_per_member"] = np.where(c["available_members"] > 0,
                                    c["load"] / c["available_members"].clip(lower=1),
                                    np.nan).round(2)
    return Coverage(building=building, grid=g, community=c, member_load=mload / s,
                    overloaded=over)
