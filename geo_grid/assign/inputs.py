"""From a :class:`~geo_grid.district.District` to an array-level :class:`Problem`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from geo_grid.assign.demand import demand_from_counts, household_counts
from geo_grid.assign.model import AssignmentError, Params, Problem
from geo_grid.crs import metric_epsg, to_metric
from geo_grid.district import District


def building_xy(buildings, epsg: int | None = None) -> np.ndarray:
    """Footprint centroids of a lon/lat (EPSG:4490) buildings layer, in metres of ``epsg``
    (by default the Gauss-Kruger zone of the layer's own longitude, EPSG:4549 near Wuxi)."""
    geom = np.asarray(buildings.geometry.array if hasattr(buildings, "geometry") else buildings)
    if len(geom) == 0:
        return np.zeros((0, 2))
    c = shapely.get_coordinates(shapely.centroid(geom))
    if epsg is None:
        epsg = metric_epsg(c[:, 0])
    x, y = to_metric(c[:, 0], c[:, 1], epsg)
    return np.column_stack([x, y])


def member_capacity(members: pd.DataFrame, params: Params) -> np.ndarray:
    """Capacity per member: the ``capacity`` column, or the role default where it is missing."""
    role = members["role"].astype(str)
    unknown = sorted(set(role) - set(params.capacity))
    if unknown:
        raise AssignmentError(f"unknown member role {unknown[0]!r}", role=unknown[0])
    default = role.map(dict(params.capacity)).to_numpy(float)
    if "capacity" in members.columns:
        cap = pd.to_numeric(members["capacity"], errors="coerce").to_numpy(float)
        return np.where(np.isfinite(cap), cap, default)
    return default


def problem_from_district(district: District, params: Params | None = None, *,
                          use_assignment: bool = True) -> tuple[Problem, pd.DataFrame]:
    """Build the ordinary-day problem of a district.

    Parameters
    ----------
    district : District
        Buildings, households and members (and, optionally, the current assignment).
    params : Params, optional
        Model parameters.
    use_assignment : bool
        Carry ``district.assignment`` as the current assignment (shares of building demand).

    Returns
    -------
    problem : Problem
        Arrays aligned with ``district.buildings`` and ``district.members`` (in their order).
    counts : pandas.DataFrame
        Households, residents, vulnerable households and flag counts per building (to
        recompute demand under a scenario).
    """
    params = params or Params()
    b = district.buildings
    m = district.members
    if len(b) == 0:
        raise AssignmentError("the district has no buildings")
    counts = household_counts(b, district.households)
    codes = counts.index.to_numpy(dtype=object)
    if not counts.index.is_unique:
        raise AssignmentError("building codes are not unique")
    demand = demand_from_counts(counts, params)
    if len(m):
        ids = m["id"].astype(str).to_numpy(dtype=object)
        if len(set(ids)) != len(ids):
            raise AssignmentError("member ids are not unique")
        mxy = np.column_stack([m["x"].to_numpy(float), m["y"].to_numpy(float)])
        home = (counts.index.get_indexer(m["home_building"].astype(str))
                if "home_building" in m.columns else np.full(len(m), -1))
        available = (m["available"].fillna(False).to_numpy(bool)
                     if "available" in m.columns else np.ones(len(m), bool))
        role = m["role"].astype(str).to_numpy(dtype=object)
        mgrid = (m["grid_code"].astype(str).to_numpy(dtype=object)
                 if "grid_code" in m.columns else np.full(len(m), "", dtype=object))
        cap = member_capacity(m, params)
    else:
        ids = np.zeros(0, dtype=object)
        mxy = np.zeros((0, 2))
        home = np.zeros(0, np.int64)
        available = np.zeros(0, bool)
        role = mgrid = np.zeros(0, dtype=object)
        cap = np.zeros(0)
    cur_m = cur_b = np.zeros(0, np.int64)
    cur_s = np.zeros(0)
    a = district.assignment
    if use_assignment and a is not None and len(a):
        cur_m, cur_b, cur_s = current_shares(a, pd.Index(ids), counts.index, demand)
    problem = Problem(
        building_codes=codes,
        building_xy=building_xy(b, district.metric_epsg),
        demand=demand,
        units=b["units"].fillna(1).to_numpy(np.int64) if "units" in b.columns else None,
        households=counts["households"].to_numpy(),
        residents=counts["residents"].to_numpy(),
        vulnerable=counts["vulnerable"].to_numpy(),
        building_grid=b["grid_code"].astype(str).to_numpy(dtype=object),
        building_community=b["community_code"].astype(str).to_numpy(dtype=object),
        member_ids=ids,
        member_xy=mxy,
        capacity=cap,
        role=role,
        member_grid=mgrid,
        available=available,
        home=home,
        cur_member=cur_m,
        cur_building=cur_b,
        cur_share=cur_s,
    )
    return problem, counts


def current_shares(assignment: pd.DataFrame, member_index: pd.Index, building_index: pd.Index,
                   demand: np.ndarray):
    """Current assignment rows as (member idx, building idx, share of the building's demand).

    The share of a row is its load over the larger of the building's demand and the total load
    assigned to it, so shares of one building never add up to more than 1.
    """
    mi = member_index.get_indexer(assignment["member_id"].astype(str))
    bi = building_index.get_indexer(assignment["building_code"].astype(str))
    if np.any(mi < 0):
        bad = assignment["member_id"].astype(str).to_numpy()[mi < 0][0]
        raise AssignmentError(f"assignment names unknown member {bad!r}", member_id=bad)
    if np.any(bi < 0):
        bad = assignment["building_code"].astype(str).to_numpy()[bi < 0][0]
        raise AssignmentError(f"assignment names unknown building {bad!r}", building_code=bad)
    load = assignment["load"].to_numpy(float)
    total = np.bincount(bi, weights=load, minlength=len(building_index))
    share = load / np.maximum(np.maximum(demand[bi], total[bi]), 1e-12)
    keep = load > 0
    return mi[keep].astype(np.int64), bi[keep].astype(np.int64), share[keep]
