"""Emergency rebalancing: the same flow, with the current assignment kept cheap.

A :class:`Scenario` names unavailable members (ids, or a seeded fraction of the available
ones), sealed buildings (codes, or an area), surge weights (see :mod:`geo_grid.assign.demand`)
and optionally another walking limit. :func:`rebalance_problem` then

1. recomputes demand (sealed × ``sealed_multiplier``, surges) and removes unavailable members;
   a member living in a sealed building may serve only that building;
2. evaluates the current assignment under the scenario (*coverage before*): each current
   (member, building) pair keeps its share of the building's new demand; pairs of unavailable
   or sealed-in members are lost;
3. solves the flow with every current pair free up to its share and every other unit of load
   costing ``params.penalty_m`` extra (``2 × walk limit + 1`` by default). With that penalty a
   direct hand-over always beats a chain, so when one member falls out and others nearby have
   spare capacity, only that member's buildings change hands;
4. lists the moves per building (``from_member`` → ``to_member``, load, reason), the coverage
   after, and for every grid still short: by how much and which available members with spare
   capacity live just beyond the walking limit (up to ``beyond_factor ×`` the limit).

Reasons: ``member unavailable``, ``member sealed in`` (the giver), ``building sealed``,
``surge`` (the building's load went up), ``rebalanced`` (anything else the optimum moved).
A move with no ``to_member`` leaves load uncovered; one with no ``from_member`` covers load no
one carried before.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo_grid.assign.coverage import Coverage, coverage
from geo_grid.assign.demand import demand_from_counts, sealed_mask, split_surge, surge_multiplier
from geo_grid.assign.flow import capacity_int, current_flow, demand_int, solve
from geo_grid.assign.inputs import problem_from_district
from geo_grid.assign.model import AssignmentError, Params, Problem, Solution
from geo_grid.crs import normalize_crs, to_cgcs2000
from geo_grid.district import District

MOVE_COLUMNS = ("building_code", "grid_code", "from_member", "to_member", "load", "reason")


@dataclass(frozen=True)
class Scenario:
    """An emergency scenario.

    Parameters
    ----------
    name : str
        Free text.
    unavailable_members : tuple of str
        Ids of members who fall out.
    unavailable_fraction : float
        Also remove this fraction (0..1) of the members still available, drawn with ``seed``.
    seed : int
        Seed of the fraction draw (the same seed and district always remove the same members).
    sealed_buildings : tuple of str
        Codes of sealed buildings.
    sealed_area : shapely geometry or GeoJSON mapping, optional
        Every building whose footprint intersects it is sealed.
    sealed_area_crs : str
        CRS of ``sealed_area`` (any name of :func:`geo_grid.crs.normalize_crs`; default CGCS2000).
    surge : mapping of str to float
        Surge weights (flag extras or code multipliers, see :mod:`geo_grid.assign.demand`).
    walk_limit_m : float, optional
        Walking limit for this scenario (default: ``Params.walk_limit_m``).
    """

    name: str = ""
    unavailable_members: tuple[str, ...] = ()
    unavailable_fraction: float = 0.0
    seed: int = 0
    sealed_buildings: tuple[str, ...] = ()
    sealed_area: Any = None
    sealed_area_crs: str = "cgcs2000"
    surge: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    walk_limit_m: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "unavailable_members",
                           tuple(str(x) for x in self.unavailable_members))
        object.__setattr__(self, "sealed_buildings", tuple(str(x) for x in self.sealed_buildings))
        object.__setattr__(self, "surge", MappingProxyType(dict(self.surge or {})))
        if not 0.0 <= float(self.unavailable_fraction) <= 1.0:
            raise AssignmentError("unavailable_fraction must lie in [0, 1]",
                                  unavailable_fraction=self.unavailable_fraction)
        if self.walk_limit_m is not None and not float(self.walk_limit_m) > 0:
            raise AssignmentError("walk_limit_m must be positive")
        if self.sealed_area is not None and not isinstance(self.sealed_area,
                                                           shapely.Geometry):
            try:
                geom = shapely.geometry.shape(self.sealed_area)
            except Exception as exc:  # noqa: BLE001 - any parse failure is an input error
                raise AssignmentError(f"sealed_area is not a GeoJSON geometry: {exc}") from exc
            object.__setattr__(self, "sealed_area", geom)
        normalize_crs(self.sealed_area_crs)
        split_surge(self.surge)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Build a scenario from a JSON object (the API body or a scenario file).

        Keys: ``name``, ``unavailable_members``, ``unavailable_fraction``, ``seed``,
        ``sealed_buildings``, ``sealed_area`` (GeoJSON geometry, Feature or FeatureCollection),
        ``sealed_area_crs``, ``surge``, ``walk_limit_m``. Unknown keys are refused.
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise AssignmentError(f"unknown scenario keys {unknown}", keys=unknown)
        d = dict(data)
        area = d.get("sealed_area")
        if isinstance(area, Mapping) and area.get("type") == "Feature":
            d["sealed_area"] = area.get("geometry")
        elif isinstance(area, Mapping) and area.get("type") == "FeatureCollection":
            geoms = [shapely.geometry.shape(f["geometry"]) for f in area.get("features", [])]
            d["sealed_area"] = shapely.union_all(geoms) if geoms else None
        for key in ("unavailable_members", "sealed_buildings"):
            if d.get(key) is None:
                d[key] = ()
            elif isinstance(d[key], str):
                raise AssignmentError(f"{key} must be a list of strings")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (the sealed area as a GeoJSON geometry)."""
        return {
            "name": self.name,
            "unavailable_members": list(self.unavailable_members),
            "unavailable_fraction": self.unavailable_fraction,
            "seed": self.seed,
            "sealed_buildings": list(self.sealed_buildings),
            "sealed_area": (shapely.geometry.mapping(self.sealed_area)
                            if self.sealed_area is not None else None),
            "sealed_area_crs": self.sealed_area_crs,
            "surge": dict(self.surge),
            "walk_limit_m": self.walk_limit_m,
        }


@dataclass(frozen=True)
class RebalanceResult:
    """What a rebalance returns.

    Attributes
    ----------
    assignment : pandas.DataFrame
        The new assignment: ``member_id, building_code, load, distance_m, share, units``.
    moves : pandas.DataFrame
        ``building_code, grid_code, from_member, to_member, load, reason`` (None for no member).
    before, after : Coverage
        Coverage of the current assignment under the scenario, and of the new one.
    shortages : pandas.DataFrame
        Per grid still short: ``grid_code, community_code, uncovered_buildings,
        uncovered_load, uncovered_households, candidates`` (list of dicts ``member_id,
        grid_code, distance_m, spare_load``: available members with spare capacity beyond the
        walking limit, nearest first) and ``closable`` (their spare capacity covers the gap).
    unavailable : tuple of str
        Every member id out in this scenario (named or drawn).
    sealed : tuple of str
        Every sealed building code.
    summary : dict
        ``moves, moved_load, uncovered_buildings, uncovered_households, overloaded_members,
        max_walk_m, solve_seconds`` (after), plus ``before`` with the same figures.
    solution : Solution
        The raw flow solution.
    """

    scenario: Scenario
    assignment: pd.DataFrame
    moves: pd.DataFrame
    before: Coverage
    after: Coverage
    shortages: pd.DataFrame
    unavailable: tuple[str, ...]
    sealed: tuple[str, ...]
    summary: dict
    solution: Solution

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable result (records), for the API and ``geo-grid rebalance -o``."""
        recs = records
        cols = ["member_id", "building_code", "load", "distance_m", "share", "units"]
        return {
            "scenario": self.scenario.to_dict(),
            "summary": self.summary,
            "unavailable": list(self.unavailable),
            "sealed": list(self.sealed),
            "moves": recs(self.moves),
            "assignment": recs(self.assignment[cols]),
            "coverage_before": {"grid": recs(self.before.grid),
                                "community": recs(self.before.community)},
            "coverage_after": {"grid": recs(self.after.grid),
                               "community": recs(self.after.community)},
            "shortages": recs(self.shortages),
        }


def records(df: pd.DataFrame) -> list[dict]:
    """JSON-ready records of a frame, column by column: numpy scalars become Python numbers,
    NaN and infinities None; object columns (lists of dicts included) go through
    :func:`_plain`."""
    cols = [str(c) for c in df.columns]
    values = []
    for c in df.columns:
        s = df[c]
        if isinstance(s.dtype, np.dtype) and s.dtype.kind in "biu":
            values.append(s.to_numpy().tolist())
        elif isinstance(s.dtype, np.dtype) and s.dtype.kind == "f":
            a = s.to_numpy()
            out = a.tolist()
            for i in np.flatnonzero(~np.isfinite(a)):
                out[i] = None
            values.append(out)
        else:
            values.append([_plain(v) for v in s.tolist()])
    return [dict(zip(cols, row, strict=True)) for row in zip(*values, strict=True)]


def _plain(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, list):
        return [{k: _plain(x) for k, x in d.items()} if isinstance(d, dict) else _plain(d)
                for d in v]
    return v


# --------------------------------------------------------------------------------------------
# scenario → masks


def draw_unavailable(member_ids, available: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Seeded draw of ``round(fraction × available)`` available members (mask over members).

    Members are ordered by id before drawing, so the draw does not depend on table order.
    """
    ids = np.asarray(member_ids).astype(str)
    out = np.zeros(len(ids), dtype=bool)
    pool = np.flatnonzero(np.asarray(available, bool))
    k = int(round(fraction * len(pool)))
    if k == 0:
        return out
    pool = pool[np.argsort(ids[pool], kind="stable")]
    pick = np.random.default_rng(seed).choice(len(pool), size=k, replace=False)
    out[pool[pick]] = True
    return out


def sealed_by_area(buildings, area, crs: str = "cgcs2000") -> np.ndarray:
    """Mask of buildings whose lon/lat footprint intersects ``area`` (given in ``crs``)."""
    name = normalize_crs(crs)
    if name not in ("wgs84", "cgcs2000"):
        area = shapely.transform(area, lambda xy: np.column_stack(
            to_cgcs2000(xy[:, 0], xy[:, 1], name)))
    geom = np.asarray(buildings.geometry.array)
    return shapely.intersects(geom, area)


def scenario_masks(district: District, problem: Problem, scenario: Scenario):
    """Resolve a scenario against a district: (unavailable mask, sealed mask).

    Raises
    ------
    AssignmentError
        If a member id or building code is unknown.
    """
    ids = pd.Index(problem.member_ids.astype(str))
    named = ids.get_indexer(list(scenario.unavailable_members))
    if np.any(named < 0):
        bad = np.asarray(scenario.unavailable_members)[named < 0][0]
        raise AssignmentError(f"unknown member id {bad!r}", member_id=str(bad))
    out = np.zeros(problem.n_members, dtype=bool)
    out[named] = True
    if scenario.unavailable_fraction > 0:
        out |= draw_unavailable(problem.member_ids, problem.available & ~out,
                                scenario.unavailable_fraction, scenario.seed)
    sealed = sealed_mask(problem.building_codes, scenario.sealed_buildings)
    if scenario.sealed_area is not None:
        sealed |= sealed_by_area(district.buildings, scenario.sealed_area,
                                 scenario.sealed_area_crs)
    return out, sealed


# --------------------------------------------------------------------------------------------
# the rebalance


def rebalance(district: District, scenario: Scenario | Mapping[str, Any],
              params: Params | None = None) -> RebalanceResult:
    """Rebalance a district's current assignment under a scenario.

    Parameters
    ----------
    district : District
        With ``buildings``, ``households``, ``members`` and the current ``assignment`` (if the
        assignment is empty, the ordinary-day optimum is computed first and used as current).
    scenario : Scenario or mapping
        The scenario (a mapping is read with :meth:`Scenario.from_dict`).
    params : Params, optional
        Model parameters; ``scenario.walk_limit_m`` overrides ``params.walk_limit_m``.

    Returns
    -------
    RebalanceResult
    """
    if not isinstance(scenario, Scenario):
        scenario = Scenario.from_dict(scenario)
    params = (params or Params()).with_walk_limit(scenario.walk_limit_m)
    problem, counts = problem_from_district(district, params)
    if not len(problem.cur_member):
        base = solve(problem, params)
        f = base.flow
        problem = problem.with_(cur_member=f[:, 0], cur_building=f[:, 1],
                                cur_share=f[:, 2] / np.maximum(demand_int(problem, params)[f[:, 1]], 1))
    unavailable, sealed = scenario_masks(district, problem, scenario)
    flags, codes = split_surge(scenario.surge)
    mult = surge_multiplier(codes, problem.building_codes, problem.building_grid,
                            problem.building_community)
    demand = demand_from_counts(counts, params, sealed=sealed, multiplier=mult, flag_extra=flags)
    return rebalance_problem(problem, params, unavailable=unavailable, sealed=sealed,
                             demand=demand, scenario=scenario)


def apply_scenario(problem: Problem, *, unavailable: np.ndarray, sealed: np.ndarray,
                   demand: np.ndarray) -> Problem:
    """The scenario's problem: members out, sealed buildings and their residents, new demand."""
    available = problem.available & ~np.asarray(unavailable, bool)
    sealed = np.asarray(sealed, bool)
    home_ok = problem.home >= 0
    sealed_in = home_ok & sealed[np.where(home_ok, problem.home, 0)] & available
    return problem.with_(available=available, sealed=sealed, sealed_in=sealed_in, demand=demand)


def rebalance_problem(problem: Problem, params: Params, *, unavailable: np.ndarray,
                      sealed: np.ndarray, demand: np.ndarray, scenario: Scenario | None = None,
                      beyond_factor: float = 1.5, from_scratch: bool = False) -> RebalanceResult:
    """Rebalance at the array level (see the module docstring).

    Parameters
    ----------
    problem : Problem
        The ordinary-day problem with its current assignment (``cur_*`` arrays).
    params : Params
        Model parameters (the walking limit already set).
    unavailable : (M,) bool
        Members out in this scenario.
    sealed : (B,) bool
        Sealed buildings.
    demand : (B,) float
        Demand under the scenario.
    scenario : Scenario, optional
        Carried into the result.
    beyond_factor : float
        Members with spare capacity up to ``beyond_factor × walk_limit_m`` from an uncovered
        building are listed as candidates to close the shortage.
    from_scratch : bool
        Ignore the current assignment in the solve (every pair priced alike): the moves then
        show what a plain re-optimisation would change.

    Returns
    -------
    RebalanceResult
    """
    t0 = time.perf_counter()
    scn = apply_scenario(problem, unavailable=unavailable, sealed=sealed, demand=demand)
    dem = demand_int(scn, params)
    cm, cb, cf = current_flow(scn, params, dem)
    old = np.stack([cm, cb, cf], axis=1)
    # coverage before: lost pairs of members out or sealed in elsewhere
    kept = scn.available[cm] & (~scn.sealed_in[cm] | (scn.home[cm] == cb)) & (cf > 0)
    before = coverage(scn, old[kept], params)
    sol = solve(scn, params, use_current=not from_scratch)
    after = coverage(scn, sol.flow, params)
    moves = _moves(scn, old, sol.flow, problem.demand, demand, params)
    shortages = _shortages(scn, sol, after, params, beyond_factor)
    seconds = time.perf_counter() - t0
    summary = {
        "moves": int(len(moves)),
        "moved_load": float(round(moves["load"].sum(), 2)) if len(moves) else 0.0,
        **after.totals(),
        "solve_seconds": round(seconds, 3),
        "n_arcs": sol.n_arcs,
        "before": before.totals(),
    }
    return RebalanceResult(
        scenario=scenario or Scenario(),
        assignment=sol.assignment,
        moves=moves,
        before=before,
        after=after,
        shortages=shortages,
        unavailable=tuple(problem.member_ids[np.asarray(unavailable, bool)].astype(str)),
        sealed=tuple(problem.building_codes[np.asarray(sealed, bool)].astype(str)),
        summary=summary,
        solution=sol,
    )


def _moves(scn: Problem, old: np.ndarray, new: np.ndarray, old_demand: np.ndarray,
           new_demand: np.ndarray, params: Params) -> pd.DataFrame:
    nb = max(scn.n_buildings, 1)
    keys = np.concatenate([old[:, 0] * nb + old[:, 1], new[:, 0] * nb + new[:, 1]])
    vals = np.concatenate([-old[:, 2], new[:, 2]])
    uk, inv = np.unique(keys, return_inverse=True)
    delta = np.bincount(inv, weights=vals, minlength=len(uk)).astype(np.int64)
    nz = delta != 0
    uk, delta = uk[nz], delta[nz]
    m, b = uk // nb, uk % nb
    if not len(m):
        return pd.DataFrame({c: [] for c in MOVE_COLUMNS})
    grew = new_demand > old_demand * (1 + 1e-9)
    # member-level reasons of the givers
    giver_reason = np.where(~scn.available[m], "member unavailable",
                            np.where(scn.sealed_in[m] & (scn.home[m] != b), "member sealed in",
                                     ""))
    bld_reason = np.where(scn.sealed[b], "building sealed",
                          np.where(grew[b], "surge", "rebalanced"))
    order = np.lexsort((m, delta > 0, b))  # per building: givers first, then takers
    m, b, delta = m[order], b[order], delta[order]
    giver_reason, bld_reason = giver_reason[order], bld_reason[order]
    rows = []
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    ends = np.r_[starts[1:], len(b)]
    for s, e in zip(starts, ends, strict=True):
        dec = [(int(m[i]), int(-delta[i]), giver_reason[i]) for i in range(s, e) if delta[i] < 0]
        inc = [(int(m[i]), int(delta[i])) for i in range(s, e) if delta[i] > 0]
        bi = int(b[s])
        breason = bld_reason[s]
        di = ii = 0
        drem = dec[0][1] if dec else 0
        irem = inc[0][1] if inc else 0
        while di < len(dec) or ii < len(inc):
            if di < len(dec) and ii < len(inc):
                amt = min(drem, irem)
                rows.append((bi, dec[di][0], inc[ii][0], amt, dec[di][2] or breason))
                drem -= amt
                irem -= amt
            elif di < len(dec):
                amt = drem
                rows.append((bi, dec[di][0], -1, amt, dec[di][2] or breason))
                drem = 0
            else:
                amt = irem
                rows.append((bi, -1, inc[ii][0], amt, breason))
                irem = 0
            if di < len(dec) and drem == 0:
                di += 1
                drem = dec[di][1] if di < len(dec) else 0
            if ii < len(inc) and irem == 0:
                ii += 1
                irem = inc[ii][1] if ii < len(inc) else 0
    rb, rf, rt, ra, rr = (np.asarray(c) for c in zip(*rows, strict=True))
    ids = scn.member_ids
    return pd.DataFrame({
        "building_code": scn.building_codes[rb],
        "grid_code": scn.building_grid[rb],
        "from_member": np.where(rf >= 0, ids[np.maximum(rf, 0)], None),
        "to_member": np.where(rt >= 0, ids[np.maximum(rt, 0)], None),
        "load": ra / params.scale,
        "reason": rr.astype(object),
    })


def _shortages(scn: Problem, sol: Solution, after: Coverage, params: Params,
               beyond_factor: float) -> pd.DataFrame:
    cols = ["grid_code", "community_code", "uncovered_buildings", "uncovered_load",
            "uncovered_households", "candidates", "closable"]
    short = after.grid[after.grid["uncovered_buildings"] > 0]
    if not len(short):
        return pd.DataFrame({c: [] for c in cols})
    cap = capacity_int(scn, params)
    used = np.bincount(sol.flow[:, 0], weights=sol.flow[:, 2],
                       minlength=scn.n_members).astype(np.int64)
    spare_m = np.flatnonzero((cap - used > 0) & ~scn.sealed_in)
    unc_b = np.flatnonzero(sol.uncovered_int > 0)
    cand: dict[str, list] = {g: [] for g in short["grid_code"]}
    if len(spare_m) and len(unc_b):
        tree = cKDTree(scn.member_xy[spare_m])
        lists = tree.query_ball_point(scn.building_xy[unc_b], r=beyond_factor * params.walk_limit_m)
        bi = np.repeat(unc_b, [len(x) for x in lists])
        mi = spare_m[np.concatenate([np.asarray(x, dtype=np.int64) for x in lists])] \
            if len(bi) else np.zeros(0, np.int64)
        d = np.hypot(*(scn.member_xy[mi] - scn.building_xy[bi]).T)
        df = pd.DataFrame({"grid": scn.building_grid[bi], "m": mi, "d": d})
        df = df.groupby(["grid", "m"], as_index=False)["d"].min().sort_values(["grid", "d", "m"])
        for g, part in df.groupby("grid", sort=False):
            cand[g] = [{"member_id": str(scn.member_ids[r.m]), "grid_code": str(scn.member_grid[r.m]),
                        "distance_m": round(float(r.d), 1),
                        "spare_load": float((cap[r.m] - used[r.m]) / params.scale)}
                       for r in part.head(10).itertuples()]
    out = short[cols[:5]].copy()
    out["candidates"] = [cand.get(g, []) for g in out["grid_code"]]
    out["closable"] = [sum(c["spare_load"] for c in cl) >= u - 1e-9
                       for cl, u in zip(out["candidates"], out["uncovered_load"], strict=True)]
    return out.reset_index(drop=True)
