"""Assignment and rebalancing of grid members to buildings.

Public API (all distances EPSG:4549 metres, loads in household-load units)
-------------------------------------------------------------------------
``initial_assignment(district, params=None) -> pandas.DataFrame``
    The ordinary-day optimum: ``member_id, building_code, load, distance_m`` (the District
    ``assignment`` contract) plus ``share`` (of the building's load) and ``units`` (stair units
    taken, e.g. ``"1-2"``; a building may be split between members). Min-cost flow, coverage
    first then total load-weighted walking distance; deterministic.
``rebalance(district, scenario, params=None) -> RebalanceResult``
    Re-cover a district under a :class:`Scenario` (or its JSON dict), moving as little as it
    must. ``result.summary`` has ``moves, moved_load, uncovered_buildings,
    uncovered_households, uncovered_load, overloaded_members, max_walk_m, solve_seconds,
    n_arcs`` and ``before`` (same figures for the current assignment under the scenario);
    ``result.moves``, ``result.assignment``, ``result.before/after`` (:class:`Coverage`: ``grid``
    and ``community`` tables), ``result.shortages``; ``result.to_dict()`` is JSON-ready.
``district_coverage(district, params=None, assignment=None) -> Coverage``
    Coverage tables of the current (or a given) assignment: per grid and per community
    households, residents, vulnerable households, members by role, load per member, uncovered
    buildings/households, overloaded members, longest walk.
``district_resilience(district, params=None, assignment=None, fragile_at=0) -> DataFrame``
    Per grid: ``losses_tolerated`` (member losses before a building goes uncovered, see
    :mod:`geo_grid.assign.resilience`) and ``fragile``.
``district_teams(district, params=None) -> (members, slots)``
    Grid teams (1 secretary + N social workers + X volunteers) as a matching of available
    members to role slots, minimising home → grid-centroid distance.
``building_demand(buildings, households, params=None, sealed=None, surge=None) -> Series``
    Load per building.

Array-level building blocks: :class:`Problem`, :func:`solve`, :func:`rebalance_problem`,
:func:`coverage`, :func:`resilience`, :func:`match_teams`, :func:`synthetic_problem`.
Errors: :class:`AssignmentError` (``assignment_invalid``, an :class:`~geo_grid.errors.InvalidInput`)
and :class:`SolverFailed` (``solver_failed``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from geo_grid.assign.coverage import Coverage, coverage
from geo_grid.assign.demand import building_demand
from geo_grid.assign.flow import demand_int, solve
from geo_grid.assign.inputs import current_shares, problem_from_district
from geo_grid.assign.model import (
    DEFAULT_CAPACITY,
    AssignmentError,
    Params,
    Problem,
    Solution,
    SolverFailed,
)
from geo_grid.assign.rebalance import RebalanceResult, Scenario, rebalance, rebalance_problem
from geo_grid.assign.resilience import resilience
from geo_grid.assign.synthetic import synthetic_problem
from geo_grid.assign.teams import match_teams, team_slots
from geo_grid.crs import to_metric
from geo_grid.district import District

ASSIGNMENT_COLUMNS = ("member_id", "building_code", "load", "distance_m", "share", "units")

__all__ = [
    "ASSIGNMENT_COLUMNS", "DEFAULT_CAPACITY", "AssignmentError", "Coverage", "Params", "Problem",
    "RebalanceResult", "Scenario", "Solution", "SolverFailed", "building_demand", "coverage",
    "district_coverage", "district_resilience", "district_teams", "flow_of", "initial_assignment",
    "match_teams", "rebalance", "rebalance_problem", "resilience", "solve", "synthetic_problem",
    "team_slots",
]


def initial_assignment(district: District, params: Params | None = None) -> pd.DataFrame:
    """Optimal ordinary-day assignment of a district's available members to its buildings.

    Parameters
    ----------
    district : District
        ``buildings``, ``households`` and ``members`` (its ``assignment`` is ignored).
    params : Params, optional
        Model parameters (``Params()``).

    Returns
    -------
    pandas.DataFrame
        ``member_id, building_code, load, distance_m, share, units``, sorted by building then
        member. Buildings left (partly) uncovered have less load than their demand (see
        :func:`district_coverage`).
    """
    params = params or Params()
    problem, _ = problem_from_district(district, params, use_assignment=False)
    sol = solve(problem, params)
    return sol.assignment[list(ASSIGNMENT_COLUMNS)].reset_index(drop=True)


def flow_of(problem: Problem, params: Params, assignment: pd.DataFrame | None) -> np.ndarray:
    """Integer flows ``(member, building, load × scale)`` of an assignment's rows (the
    ordinary-day optimum when ``assignment`` is None or empty)."""
    if assignment is None or not len(assignment):
        return solve(problem, params).flow
    mi, bi, share = current_shares(assignment, pd.Index(problem.member_ids.astype(str)),
                                   pd.Index(problem.building_codes.astype(str)), problem.demand)
    f = np.rint(share * demand_int(problem, params)[bi]).astype(np.int64)
    return np.stack([mi, bi, f], axis=1)


def district_coverage(district: District, params: Params | None = None,
                      assignment: pd.DataFrame | None = None) -> Coverage:
    """Coverage of a district's current assignment (or of ``assignment``).

    With neither (an empty ``district.assignment`` and no ``assignment``) the ordinary-day
    optimum is computed first.
    """
    params = params or Params()
    problem, _ = problem_from_district(district, params, use_assignment=False)
    a = assignment if assignment is not None else district.assignment
    return coverage(problem, flow_of(problem, params, a), params)


def district_resilience(district: District, params: Params | None = None,
                        assignment: pd.DataFrame | None = None,
                        fragile_at: int = 0) -> pd.DataFrame:
    """Member losses each grid can take before a building goes uncovered (fragile grids first).

    See :mod:`geo_grid.assign.resilience` for the definition.
    """
    params = params or Params()
    problem, _ = problem_from_district(district, params, use_assignment=False)
    a = assignment if assignment is not None else district.assignment
    return resilience(problem, flow_of(problem, params, a), params, fragile_at=fragile_at)


def district_teams(district: District, params: Params | None = None):
    """Grid teams of a district's available members (see :mod:`geo_grid.assign.teams`).

    Returns
    -------
    members : pandas.DataFrame
        ``member_id, role, grid_code, distance_m`` (grid None when unplaced).
    slots : pandas.DataFrame
        ``grid_code, role, slots, filled``.
    """
    params = params or Params()
    m = district.members
    avail = m["available"].fillna(False).to_numpy(bool) if "available" in m else np.ones(len(m), bool)
    m = m[avail]
    load = building_demand(district.buildings, district.households, params)
    grid_load = load.groupby(district.buildings["grid_code"].astype(str).to_numpy()).sum()
    g = district.grids
    c = shapely.get_coordinates(shapely.point_on_surface(np.asarray(g.geometry.array)))
    gx, gy = to_metric(c[:, 0], c[:, 1], district.metric_epsg)
    codes = g["code"].astype(str).to_numpy()
    return match_teams(m["id"].astype(str).to_numpy(), np.column_stack([m["x"], m["y"]]),
                       m["role"].to_numpy(), codes, np.column_stack([gx, gy]),
                       grid_load.reindex(codes, fill_value=0.0).to_numpy())
