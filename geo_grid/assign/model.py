"""The assignment model: parameters, the array-level problem, and the solution.

Everything here is plain frozen dataclasses over numpy arrays (and pandas frames for results),
so the solver can run from a :class:`geo_grid.district.District` or from synthetic arrays alike.

Units
-----
- Distances are EPSG:4549 metres, from a member's home to a building's footprint centroid.
- Load is counted in *household-load units*: one ordinary household is ``household_weight``
  (1.0); a vulnerable household (elderly living alone, disabled, chronically ill, infant) adds
  ``vulnerable_weight``; a sealed building multiplies its load by ``sealed_multiplier``; every
  building carries at least ``min_load`` so that shops, offices and factories get someone too.
- The flow works on integers: loads and capacities are multiplied by ``scale`` (10 → 0.1 load
  unit resolution) and rounded; arc costs are metres rounded to integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from geo_grid.district import ROLES
from geo_grid.errors import GeoGridError, InvalidInput

#: Default capacity per role, in household-load units. The reference district has ≈117k
#: households (≈142k load units once the ≈21% vulnerable households are weighted) and 231 grid
#: teams of 1 + 3 + 9 members: 231 × (45 + 3·70 + 9·60) ≈ 184k units, ≈26% headroom on an
#: ordinary day; after a 20% outage capacity ≈ load, so the outage bites wherever members are thin.
DEFAULT_CAPACITY = MappingProxyType({"secretary": 45.0, "social_worker": 70.0, "volunteer": 60.0})

#: Flags of the households table that make a household vulnerable.
VULNERABLE_FLAGS = ("elderly_alone", "disabled", "chronic", "infant")


class AssignmentError(InvalidInput):
    """The inputs of an assignment or a rebalance are inconsistent (unknown code, bad value)."""

    code = "assignment_invalid"
    title = "Invalid assignment input"


@dataclass(frozen=True)
class Params:
    """Weights, capacities and limits of the assignment model.

    Parameters
    ----------
    household_weight : float
        Load of one household.
    vulnerable_weight : float
        Extra load of a household with any vulnerability flag.
    sealed_multiplier : float
        Load multiplier of a sealed building (daily door-to-door delivery).
    min_load : float
        Every building carries at least this load, so every building gets a member.
    capacity : Mapping[str, float]
        Capacity per role; used when the members table has no ``capacity`` value.
    walk_limit_m : float
        Longest walk from a member's home to a building they serve.
    change_penalty_m : float or None
        Extra cost (metre-equivalents per load unit) of moving load to a member who did not
        carry it. ``None`` means ``2 * walk_limit_m + 1``, the smallest value that makes a
        direct hand-over always cheaper than any chain of hand-overs (see ``rebalance``).
    uncovered_cost : float or None
        Price per load unit of the "uncovered" arc. ``None`` computes a price high enough that
        covering more load always wins over any walk (coverage first, then distance).
    cross_grid_penalty_m : float
        Extra cost of serving a building outside the member's own grid (0: grids are ignored).
    k_buildings, k_members : int or None
        Arc pruning: each member gets arcs to its ``k_buildings`` nearest buildings within the
        walking limit, and each building to its ``k_members`` nearest members (the union is
        kept, plus all current arcs). ``None`` for both keeps every pair within the limit and
        makes the solve exact; the defaults keep the reference district sub-second.
        A rebalance also keeps every *hand-over* pair: each building its current members no
        longer cover fully, with its ``k_hand_over`` nearest members within the limit who have
        capacity to spare under the current assignment (None: all of them), and each building
        with its ``k_spare`` nearest such members.
        Coverage is exact whatever the pruning: after a pruned solve that leaves load uncovered,
        the full network (every pair within the limit, generated lazily) is searched for an
        augmenting path (spare member → … → uncovered building); while one exists, the pairs
        it runs along are added and the flow is solved again (each pass covers strictly more),
        and after ``max_passes`` such passes the flow is solved over every pair within the
        limit. The walking distance of a pruned solve may exceed the exact optimum slightly.
    k_hand_over : int or None
        Nearest spare members per short building among the hand-over pairs of a rebalance.
    k_spare : int
        Nearest spare members per building among the hand-over pairs of a rebalance.
    max_passes : int
        Re-solves with the pairs of augmenting paths before falling back to every pair.
    scale : int
        Integer resolution of loads in the flow (10 → 0.1 load unit).
    """

    household_weight: float = 1.0
    vulnerable_weight: float = 1.0
    sealed_multiplier: float = 2.0
    min_load: float = 1.0
    capacity: Any = field(default_factory=lambda: DEFAULT_CAPACITY)
    walk_limit_m: float = 1500.0
    change_penalty_m: float | None = None
    uncovered_cost: float | None = None
    cross_grid_penalty_m: float = 0.0
    k_buildings: int | None = 32
    k_members: int | None = 16
    k_hand_over: int | None = 128
    k_spare: int = 16
    scale: int = 10
    max_passes: int = 3

    def __post_init__(self) -> None:
        if not self.walk_limit_m > 0:
            raise AssignmentError("walk_limit_m must be positive", walk_limit_m=self.walk_limit_m)
        if self.scale < 1:
            raise AssignmentError("scale must be a positive integer", scale=self.scale)
        for name in ("household_weight", "vulnerable_weight", "min_load", "cross_grid_penalty_m"):
            if getattr(self, name) < 0:
                raise AssignmentError(f"{name} must be >= 0", **{name: getattr(self, name)})
        for name in ("k_buildings", "k_members", "k_hand_over", "k_spare", "max_passes"):
            v = getattr(self, name)
            if v is not None and v < 0:
                raise AssignmentError(f"{name} must be >= 0", **{name: v})
        if self.sealed_multiplier <= 0:
            raise AssignmentError("sealed_multiplier must be > 0")
        missing = [r for r in ROLES if r not in self.capacity]
        if missing:
            raise AssignmentError(f"capacity has no value for roles {missing}")
        object.__setattr__(self, "capacity", MappingProxyType(dict(self.capacity)))

    @property
    def penalty_m(self) -> float:
        """The effective change penalty in metre-equivalents per load unit."""
        if self.change_penalty_m is None:
            return 2.0 * self.walk_limit_m + 1.0
        return float(self.change_penalty_m)

    def with_walk_limit(self, walk_limit_m: float | None) -> Params:
        """Return a copy with another walking limit (``None`` keeps this one)."""
        if walk_limit_m is None:
            return self
        return replace(self, walk_limit_m=float(walk_limit_m))


def _arr(x, dtype=None) -> np.ndarray:
    a = np.asarray(x, dtype=dtype)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class Problem:
    """An assignment instance as aligned arrays (B buildings, M members).

    Building arrays: ``building_codes`` (B,), ``building_xy`` (B, 2) EPSG:4549 metres,
    ``demand`` (B,) load units, ``units`` (B,) stair units, ``households``, ``residents``,
    ``vulnerable`` (B,) counts for reporting, ``building_grid``, ``building_community`` (B,)
    codes, ``sealed`` (B,) bool.

    Member arrays: ``member_ids`` (M,), ``member_xy`` (M, 2), ``capacity`` (M,) load units,
    ``role`` (M,), ``member_grid`` (M,), ``available`` (M,) bool, ``home`` (M,) index of the
    home building or -1, ``sealed_in`` (M,) bool: the member lives in a sealed building and may
    serve only that building.

    Current assignment (may be empty): ``cur_member``, ``cur_building`` (indices) and
    ``cur_share`` (share of the building's demand the member carries, 0..1).
    """

    building_codes: np.ndarray
    building_xy: np.ndarray
    demand: np.ndarray
    member_ids: np.ndarray
    member_xy: np.ndarray
    capacity: np.ndarray
    units: np.ndarray | None = None
    households: np.ndarray | None = None
    residents: np.ndarray | None = None
    vulnerable: np.ndarray | None = None
    building_grid: np.ndarray | None = None
    building_community: np.ndarray | None = None
    sealed: np.ndarray | None = None
    role: np.ndarray | None = None
    member_grid: np.ndarray | None = None
    available: np.ndarray | None = None
    home: np.ndarray | None = None
    sealed_in: np.ndarray | None = None
    cur_member: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cur_building: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cur_share: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=float))

    def __post_init__(self) -> None:
        nb = len(self.building_codes)
        nm = len(self.member_ids)
        defaults_b = {
            "units": np.ones(nb, dtype=np.int64),
            "households": np.zeros(nb, dtype=np.int64),
            "residents": np.zeros(nb, dtype=np.int64),
            "vulnerable": np.zeros(nb, dtype=np.int64),
            "building_grid": np.full(nb, "", dtype=object),
            "building_community": np.full(nb, "", dtype=object),
            "sealed": np.zeros(nb, dtype=bool),
        }
        defaults_m = {
            "role": np.full(nm, "volunteer", dtype=object),
            "member_grid": np.full(nm, "", dtype=object),
            "available": np.ones(nm, dtype=bool),
            "home": np.full(nm, -1, dtype=np.int64),
            "sealed_in": np.zeros(nm, dtype=bool),
        }
        for name, default in {**defaults_b, **defaults_m}.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, default)
        casts = {
            "building_xy": float, "demand": float, "member_xy": float, "capacity": float,
            "units": np.int64, "households": np.int64, "residents": np.int64,
            "vulnerable": np.int64, "sealed": bool, "available": bool, "home": np.int64,
            "sealed_in": bool, "cur_member": np.int64, "cur_building": np.int64,
            "cur_share": float,
        }
        for name in (*defaults_b, *defaults_m, "building_codes", "building_xy", "demand",
                     "member_ids", "member_xy", "capacity", "cur_member", "cur_building",
                     "cur_share"):
            object.__setattr__(self, name, _arr(getattr(self, name), casts.get(name)))
        if self.building_xy.shape != (nb, 2) or self.member_xy.shape != (nm, 2):
            raise AssignmentError("building_xy and member_xy must be (n, 2) arrays of metres")
        for name in ("demand", *defaults_b):
            if len(getattr(self, name)) != nb:
                raise AssignmentError(f"{name} must have one value per building ({nb})")
        for name in ("capacity", *defaults_m):
            if len(getattr(self, name)) != nm:
                raise AssignmentError(f"{name} must have one value per member ({nm})")
        if not (len(self.cur_member) == len(self.cur_building) == len(self.cur_share)):
            raise AssignmentError("cur_member, cur_building and cur_share must align")
        if np.any(self.demand < 0) or np.any(self.capacity < 0):
            raise AssignmentError("demand and capacity must be >= 0")
        if not (np.all(np.isfinite(self.building_xy)) and np.all(np.isfinite(self.member_xy))):
            raise AssignmentError("coordinates must be finite EPSG:4549 metres")

    @property
    def n_buildings(self) -> int:
        """Number of buildings."""
        return len(self.building_codes)

    @property
    def n_members(self) -> int:
        """Number of members."""
        return len(self.member_ids)

    def with_(self, **changes: Any) -> Problem:
        """Return a copy with some arrays replaced."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Solution:
    """The result of one flow solve.

    Attributes
    ----------
    assignment : pandas.DataFrame
        One row per (member, building) with positive load: ``member_id``, ``building_code``,
        ``load`` (load units), ``distance_m``, ``share`` (of the building's demand), ``units``
        (the stair units this member takes, e.g. ``"1-2"``; a unit shared with the next member
        appears in both), plus the integer indices ``m`` and ``b`` into the problem arrays.
    flow : numpy.ndarray
        (M, B)-sparse flows as ``(m, b, flow_int)`` triples in scaled integer load units.
    uncovered : numpy.ndarray
        (B,) uncovered load per building, in load units.
    uncovered_int : numpy.ndarray
        (B,) the same in scaled integer units.
    objective : float
        The solver's optimum divided by ``scale``: load-weighted metres plus penalties.
    distance_cost : float
        Σ load × distance over the assignment (load·m), without penalties.
    n_arcs : int
        Member→building arcs in the network.
    solve_seconds : float
        Wall time of graph building and solving.
    """

    assignment: pd.DataFrame
    flow: np.ndarray
    uncovered: np.ndarray
    uncovered_int: np.ndarray
    objective: float
    objective_int: int
    distance_cost: float
    n_arcs: int
    solve_seconds: float

    @property
    def uncovered_buildings(self) -> int:
        """Buildings with any uncovered load."""
        return int(np.count_nonzero(self.uncovered_int))


class SolverFailed(GeoGridError):
    """The min-cost flow solver did not return an optimal solution (a bug, not an input error)."""

    code = "solver_failed"
    title = "Assignment solver failed"
