"""Emergency rebalancing: the same flow, with the current assignment kept cheap.

A :class:`Scenario` names unavailable members (ids, or a seeded fraction of the available
ones), sealed buildings (codes, or an area), surge weights (see :mod:`geo_grid.assign.demand`)
and optionally another walking limit. :func:`rebalance_problem` then

1. recomputes demand (sealed × ``sealed_multiplier``, surges) and removes unavailable members;
   a member living in a sealed building may serve only that building;
2. evaluates the current assignment under the scenario (*coverage before*): each current
   (member, building) pair keeps its share of the building's new demand; pairs of unavailable
   or sealed-in members, and pairs beyond the scenario's walking limit, are lost;
3. solves the flow with every current pair free up to its share and every other unit of load
   costing ``params.penalty_m`` extra (``2 × walk limit + 1`` by default). With that penalty a
   direct hand-over always beats a chain, so when one member falls out and others nearby have
   spare capacity, only that member's buildings change hands; a building the flow split over
   several takers then goes to one person with the room for all of it, where there is one
   (:mod:`geo_grid.assign.fewmoves`: the flow prices load, an office counts hand-overs);
4. lists the moves per building (``from_member`` → ``to_member``, load, reason), the coverage
   after, and for every grid still short: by how much, which available members with spare
   capacity live just beyond the walking limit (up to the limit plus ``max(500 m, 0.5 ×
   limit)``), and whether their spare capacity, counted once across all short grids, closes
   the gap (``closable``, ``reason``).

Reasons: ``member unavailable``, ``member sealed in`` (the giver), ``building sealed``,
``surge`` (the building's load went up), ``rebalanced`` (anything else the optimum moved).
A move with no ``to_member`` leaves load uncovered; one with no ``from_member`` covers load no
one carried before.

Reinforcements (extra people a scenario brings in) join the flow as members with no current
pairs, based where the scenario says; see :func:`rebalance_problem` for their prices and for
``max_moves``. Load they take is listed as *placements*, apart from the moves.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo_grid.assign.coverage import Coverage, coverage
from geo_grid.assign.decompose import current_settings, solver_pool
from geo_grid.assign.demand import demand_from_counts, sealed_mask, split_surge, surge_multiplier
from geo_grid.assign.fewmoves import one_taker_per_building
from geo_grid.assign.flow import capacity_int, current_flow, demand_int, solve, with_flow
from geo_grid.assign.inputs import problem_from_district
from geo_grid.assign.model import AssignmentError, Params, Problem, Solution
from geo_grid.assign.resilience import resilience
from geo_grid.crs import metric_epsg, normalize_crs, to_cgcs2000, to_metric
from geo_grid.district import STREET_DIGITS, District
from geo_grid.errors import InvalidCoordinate, InvalidGeometry
from geo_grid.figures import Figures, coverage_tables, figures

MAX_WALK_LIMIT_M = 20_000.0

MOVE_COLUMNS = ("building_code", "grid_code", "from_member", "to_member", "load", "reason")

#: kinds of reinforcement a scenario may bring in
REINFORCEMENT_KINDS = ("cadre", "auxiliary_police", "security", "volunteer")
REINFORCEMENT_KEYS = ("id", "kind", "lon", "lat", "capacity")
MAX_REINFORCEMENTS = 5_000
MAX_REINFORCEMENT_CAPACITY = 1_000.0


@dataclass(frozen=True)
class Reinforcement:
    """An extra person brought in by a scenario (not a member of the district).

    Parameters
    ----------
    id : str
        Unique, and distinct from every member id.
    kind : str
        One of :data:`REINFORCEMENT_KINDS`.
    lon, lat : float
        Base position, WGS-84 degrees (checked by :func:`geo_grid.crs.to_cgcs2000`); the
        reinforcement walks from there like a member walks from home.
    capacity : float
        In the members' load units, in (0, 1000].
    """

    id: str
    kind: str
    lon: float
    lat: float
    capacity: float

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise AssignmentError(f"reinforcement id must be a non-empty string, not "
                                  f"{_json_type(self.id)}")
        if self.kind not in REINFORCEMENT_KINDS:
            raise AssignmentError(f"reinforcement {self.id!r}: kind must be one of "
                                  f"{list(REINFORCEMENT_KINDS)}, not {_json_type(self.kind)}",
                                  reinforcement=self.id)
        for key in ("lon", "lat", "capacity"):
            v = getattr(self, key)
            if not _is_number(v) or not np.isfinite(float(v)):
                raise AssignmentError(f"reinforcement {self.id!r}: {key} must be a number, "
                                      f"not {_json_type(v)}", reinforcement=self.id)
            object.__setattr__(self, key, float(v))
        if not 0 < self.capacity <= MAX_REINFORCEMENT_CAPACITY:
            raise AssignmentError(f"reinforcement {self.id!r}: capacity must be in "
                                  f"(0, {MAX_REINFORCEMENT_CAPACITY:g}], not {self.capacity:g}",
                                  reinforcement=self.id)
        # range and swapped lon/lat checks, the message naming the reinforcement
        try:
            to_cgcs2000(self.lon, self.lat, "wgs84")
        except InvalidCoordinate as exc:
            raise InvalidCoordinate(f"reinforcement {self.id!r}: {exc}",
                                    reinforcement=self.id) from exc

    @classmethod
    def from_dict(cls, data: Any) -> Reinforcement:
        """From a JSON object with exactly the keys ``id, kind, lon, lat, capacity``."""
        if isinstance(data, Reinforcement):
            return data
        if not isinstance(data, Mapping):
            raise AssignmentError(f"a reinforcement must be a JSON object, not {_json_type(data)}")
        keys = set(data)
        unknown = sorted(str(k) for k in keys - set(REINFORCEMENT_KEYS))
        missing = [k for k in REINFORCEMENT_KEYS if k not in keys]
        if unknown or missing:
            raise AssignmentError(f"a reinforcement needs exactly the keys "
                                  f"{list(REINFORCEMENT_KEYS)} (unknown {unknown}, "
                                  f"missing {missing})")
        return cls(**{k: data[k] for k in REINFORCEMENT_KEYS})

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "lon": self.lon, "lat": self.lat,
                "capacity": self.capacity}


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
    reinforcements : tuple of Reinforcement (or JSON objects)
        Extra people brought in: they serve buildings within the walking limit of their base.
        (The store pool, ``"reinforcements": "pool"``, is resolved to such a list before.)
    max_moves : int, optional
        Cap on the moves (changes of members' buildings); see :func:`rebalance_problem`.
    move_weight : float, optional
        Price of a unit of load moved to another member, relative to a unit placed on a
        reinforcement (default 2 with reinforcements, so a reinforcement is preferred to a move;
        1 without, the plain rebalance).
    at : str, optional
        The time the scenario is for (ISO 8601): which entries of the store's reinforcement
        pool are available. Recorded only; the pool is resolved before the core sees it.
    reinforcements_from : str, optional
        ``"pool"`` when ``reinforcements`` are the pool entries available ``at`` (resolved by
        :func:`geo_grid.store.pool.resolve_scenario_pool`), recorded with the scenario.
    street : str, optional
        In a store holding several streets, the street the ``unavailable_fraction`` is drawn
        from (its members only). Named members, sealed buildings and a sealed area may lie in
        any street, and the rebalance always runs over every street, so a sealed area across
        a street boundary is covered from both sides.
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
    reinforcements: tuple[Reinforcement, ...] = ()
    max_moves: int | None = None
    move_weight: float | None = None
    at: str | None = None
    reinforcements_from: str | None = None
    street: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise AssignmentError("name must be a string")
        for key in ("unavailable_members", "sealed_buildings"):
            value = getattr(self, key)
            if value is None:
                value = ()
            if isinstance(value, str | bytes | Mapping):
                raise AssignmentError(f"{key} must be a list of strings")
            object.__setattr__(self, key, tuple(_plain_str(x) for x in value))
        _check_fraction(self.unavailable_fraction)
        _check_seed(self.seed)
        st = self.street
        if st is not None and not (isinstance(st, str) and len(st) == STREET_DIGITS
                                   and st.isascii() and st.isdigit()):
            raise AssignmentError(f"street must be a street code of {STREET_DIGITS} digits, "
                                  f"not {_json_type(st)}")
        if self.walk_limit_m is not None:
            _check_walk_limit(self.walk_limit_m)
        object.__setattr__(self, "surge", MappingProxyType(_check_surge(self.surge)))
        if self.sealed_area is not None:
            object.__setattr__(self, "sealed_area", sealed_area_geometry(self.sealed_area))
        if not isinstance(self.sealed_area_crs, str):
            raise AssignmentError("sealed_area_crs must be a string")
        normalize_crs(self.sealed_area_crs)
        split_surge(self.surge)
        self._check_reinforcements()

    def _check_reinforcements(self) -> None:
        r = self.reinforcements
        if r is None:
            r = ()
        if isinstance(r, str):
            raise AssignmentError("reinforcements must be a list of objects: the store pool "
                                  "(\"pool\") is resolved against a store first (the API and "
                                  "`geo-grid rebalance` do it)")
        if self.at is not None and not isinstance(self.at, str):
            raise AssignmentError(f"at must be an ISO 8601 time, not {_json_type(self.at)}")
        if self.reinforcements_from not in (None, "pool"):
            raise AssignmentError("reinforcements_from must be \"pool\" or absent")
        if not isinstance(r, list | tuple):
            raise AssignmentError(f"reinforcements must be a list of objects, not {_json_type(r)}")
        if len(r) > MAX_REINFORCEMENTS:
            raise AssignmentError(f"at most {MAX_REINFORCEMENTS} reinforcements, not {len(r)}")
        r = tuple(Reinforcement.from_dict(x) for x in r)
        ids = [x.id for x in r]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[0]
            raise AssignmentError(f"duplicate reinforcement id {dup!r}", reinforcement=dup)
        object.__setattr__(self, "reinforcements", r)
        mm = self.max_moves
        if isinstance(mm, np.integer):
            mm = int(mm)
        if mm is not None and (not isinstance(mm, int) or isinstance(mm, bool) or mm < 0):
            raise AssignmentError(f"max_moves must be a non-negative integer, not {_json_type(mm)}")
        object.__setattr__(self, "max_moves", mm)
        w = self.move_weight
        if w is not None and (not _is_number(w) or not np.isfinite(float(w))
                              or not 0 < float(w) <= 1000):
            raise AssignmentError(f"move_weight must be a number in (0, 1000], not {_json_type(w)}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Build a scenario from a JSON object (the API body or a scenario file).

        Keys: ``name``, ``unavailable_members``, ``unavailable_fraction``, ``seed``,
        ``sealed_buildings``, ``sealed_area`` (GeoJSON Polygon or MultiPolygon, or a Feature or
        FeatureCollection of them), ``sealed_area_crs``, ``surge``, ``walk_limit_m``. Unknown
        keys are refused, and every value is type-checked, so that a scenario file gets the
        same checks as the API body.

        Raises
        ------
        AssignmentError
            On an unknown key or a value of the wrong type or out of range.
        InvalidGeometry
            If ``sealed_area`` is not a valid, non-empty (Multi)Polygon.
        """
        if not isinstance(data, Mapping):
            raise AssignmentError(f"a scenario must be a JSON object, not {_json_type(data)}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(str(k) for k in set(data) - known)
        if unknown:
            raise AssignmentError(f"unknown scenario keys {unknown}", keys=", ".join(unknown))
        d = dict(data)
        if d.get("name") is None:
            d.pop("name", None)
        for key in ("unavailable_members", "sealed_buildings"):
            v = d.get(key)
            if v is None:
                d[key] = ()
            elif not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
                raise AssignmentError(f"{key} must be a list of strings")
        if d.get("surge") is None:
            d.pop("surge", None)
        elif not isinstance(d["surge"], Mapping):
            raise AssignmentError(f"surge must be an object of positive numbers, "
                                  f"not {_json_type(d['surge'])}")
        for key in ("unavailable_fraction", "seed", "sealed_area_crs", "reinforcements",
                    "street"):
            if key in d and d[key] is None:
                d.pop(key)
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
            # the new keys only when used, so plain scenarios serialise as before
            **({"reinforcements": [r.to_dict() for r in self.reinforcements]}
               if self.reinforcements else {}),
            **({"max_moves": self.max_moves} if self.max_moves is not None else {}),
            **({"move_weight": self.move_weight} if self.move_weight is not None else {}),
            **({"at": self.at} if self.at is not None else {}),
            **({"reinforcements_from": self.reinforcements_from}
               if self.reinforcements_from is not None else {}),
            **({"street": self.street} if self.street is not None else {}),
        }


# --------------------------------------------------------------------------------------------
# scenario value checks


def _json_type(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, str):
        return f"the string {v!r}"
    if isinstance(v, Mapping):
        return "an object"
    if isinstance(v, list | tuple):
        return "a list"
    return f"{type(v).__name__} {v!r}"


def _is_number(v) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)


def _plain_str(x) -> str:
    if isinstance(x, np.generic):
        x = x.item()
    if not isinstance(x, str | int):
        raise AssignmentError(f"expected a string, not {_json_type(x)}")
    return str(x)


def _check_fraction(v) -> None:
    if not _is_number(v) or not np.isfinite(float(v)) or not 0.0 <= float(v) <= 1.0:
        raise AssignmentError(f"unavailable_fraction must be a number in [0, 1], not {_json_type(v)}",
                              unavailable_fraction=str(v))


def _check_seed(v) -> None:
    if isinstance(v, np.integer):
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise AssignmentError(f"seed must be a non-negative integer, not {_json_type(v)}",
                              seed=str(v))


def _check_walk_limit(v) -> None:
    if not _is_number(v) or not np.isfinite(float(v)) or not 0 < float(v) <= MAX_WALK_LIMIT_M:
        raise AssignmentError(f"walk_limit_m must be a number in (0, {MAX_WALK_LIMIT_M:g}], "
                              f"not {_json_type(v)}", walk_limit_m=str(v))


def _check_surge(surge) -> dict[str, float]:
    if surge is None:
        return {}
    if not isinstance(surge, Mapping):
        raise AssignmentError(f"surge must be an object of positive numbers, not {_json_type(surge)}")
    out = {}
    for k, v in surge.items():
        if not isinstance(k, str):
            raise AssignmentError(f"surge keys must be strings, not {_json_type(k)}")
        if not _is_number(v) or not np.isfinite(float(v)):
            raise AssignmentError(f"surge value of {k!r} must be a number, not {_json_type(v)}",
                                  key=k)
        out[k] = v.item() if isinstance(v, np.generic) else v
    split_surge(out)  # ranges: flag extras >= 0, code multipliers > 0
    return out


def _shape(obj, where: str):
    if not isinstance(obj, Mapping):
        raise InvalidGeometry(f"{where} must be a GeoJSON geometry object, not {_json_type(obj)}")
    kind = obj.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise InvalidGeometry(f"{where} must be a Polygon or MultiPolygon, not {_json_type(kind)}"
                              if not isinstance(kind, str) else
                              f"{where} must be a Polygon or MultiPolygon, not a {kind}",
                              geometry_type=str(kind))
    try:
        return shapely.geometry.shape(obj)
    except Exception as exc:  # noqa: BLE001 - any parse failure is an input error
        raise InvalidGeometry(f"{where} is not a valid GeoJSON {kind}: {exc}") from exc


def _check_area(geom, where: str):
    if not isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        raise InvalidGeometry(f"{where} must be a Polygon or MultiPolygon, not a {geom.geom_type}",
                              geometry_type=geom.geom_type)
    if geom.is_empty:
        raise InvalidGeometry(f"{where} is empty (no coordinates)")
    if not shapely.is_valid(geom):
        reason = shapely.is_valid_reason(geom)
        raise InvalidGeometry(f"{where} is not a valid polygon: {reason}", reason=reason)
    return geom


def sealed_area_geometry(area):
    """The sealed area as a valid, non-empty shapely (Multi)Polygon.

    ``area`` is a shapely geometry, or a GeoJSON Polygon / MultiPolygon, or a Feature or
    FeatureCollection of them (features are united).

    Raises
    ------
    InvalidGeometry
        On any other type, an empty or invalid polygon (with :func:`shapely.is_valid_reason`),
        or a feature without geometry.
    """
    if isinstance(area, shapely.Geometry):
        return _check_area(area, "sealed_area")
    if not isinstance(area, Mapping):
        raise InvalidGeometry(f"sealed_area must be a GeoJSON object, not {_json_type(area)}")
    kind = area.get("type")
    if kind == "Feature":
        if area.get("geometry") is None:
            raise InvalidGeometry("sealed_area is a Feature with no geometry")
        return _check_area(_shape(area["geometry"], "sealed_area geometry"), "sealed_area geometry")
    if kind == "FeatureCollection":
        feats = area.get("features")
        if not isinstance(feats, list) or not feats:
            raise InvalidGeometry("sealed_area FeatureCollection has no features")
        geoms = []
        for i, f in enumerate(feats):
            where = f"sealed_area feature {i}"
            if not isinstance(f, Mapping) or f.get("geometry") is None:
                raise InvalidGeometry(f"{where} has no geometry", feature=i)
            geoms.append(_check_area(_shape(f["geometry"], where), where))
        return _check_area(shapely.union_all(geoms), "sealed_area")
    return _check_area(_shape(area, "sealed_area"), "sealed_area")


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
        grid_code, distance_m, spare_load, allocated_load, shared_with``: available members
        with spare capacity just beyond the walking limit, nearest first; ``spare_load`` is the
        member's whole spare capacity, ``allocated_load`` the part handed to this grid when the
        spare capacity is shared out once over every short grid, ``shared_with`` the other short
        grids it could serve), ``closable`` (the allocated spare covers the gap) and ``reason``
        (text; says so when no candidate exists).
    placements : pandas.DataFrame or None
        Load placed on reinforcements: ``reinforcement, building, load, reason`` (apart from
        ``moves``, which list only hand-overs between members).
    candidates : pandas.DataFrame
        Each candidate once: ``member_id, grid_code, spare_load, serves`` (short grids).
    unavailable : tuple of str
        Every member id out in this scenario (named or drawn).
    sealed : tuple of str
        Every sealed building code.
    summary : dict
        ``moves, moved_load, uncovered_buildings, uncovered_households, overloaded_members,
        max_walk_m, solve_seconds`` (after), plus ``before`` with the same figures.
    solution : Solution
        The raw flow solution.
    figures_before, figures_after : Figures
        Every figure (per building, member, grid, community, district) of the current
        assignment under the scenario and of the new one (:mod:`geo_grid.figures`).
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
    candidates: pd.DataFrame | None = None
    figures_before: Figures | None = None
    figures_after: Figures | None = None
    placements: pd.DataFrame | None = None

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
            "coverage_before": coverage_tables(self.figures_before),
            "coverage_after": coverage_tables(self.figures_after),
            "shortages": recs(self.shortages),
            "candidates": recs(self.candidates) if self.candidates is not None else [],
            "uncovered_before": self.figures_before.uncovered_buildings(),
            "uncovered_after": self.figures_after.uncovered_buildings(),
            "figures_before": self.figures_before.to_dict(),
            "figures_after": self.figures_after.to_dict(),
            **({"placements": recs(self.placements)}
               if self.placements is not None and len(self.placements) else {}),
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


def _of_street(district: District, problem: Problem, scenario: Scenario) -> np.ndarray:
    """Mask of the members of the scenario's street (every member without one).

    Raises
    ------
    AssignmentError
        If the district holds no street of that code.
    """
    if scenario.street is None:
        return np.ones(problem.n_members, dtype=bool)
    if scenario.street not in district.street_codes:
        raise AssignmentError(f"street {scenario.street} is not in this store (it holds "
                              f"{', '.join(district.street_codes)})", street=scenario.street)
    grid = district.members.set_index("id")["grid_code"].astype(str)
    codes = grid.reindex(problem.member_ids.astype(str)).fillna("").to_numpy(str)
    return np.char.startswith(codes, scenario.street)


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
        bad = str(np.asarray(scenario.unavailable_members)[named < 0][0])
        raise AssignmentError(f"unknown member id {bad!r}", member_id=bad)
    out = np.zeros(problem.n_members, dtype=bool)
    out[named] = True
    if scenario.unavailable_fraction > 0:
        out |= draw_unavailable(problem.member_ids,
                                problem.available & ~out & _of_street(district, problem, scenario),
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
    return solve_prepared(prepare_rebalance(district, scenario, params), scenario)


@dataclass(frozen=True)
class PreparedRebalance:
    """A scenario resolved against a district once, ready to be solved several times with
    other reinforcements or move caps (see :func:`prepare_rebalance`).

    Attributes
    ----------
    params : Params
        The model parameters, with the scenario's walking limit.
    problem : Problem
        The ordinary-day problem with its current assignment, without reinforcements.
    unavailable : (M,) bool
        Members out in the scenario (named or drawn).
    sealed : (B,) bool
        Sealed buildings.
    demand : (B,) float
        Demand under the scenario (sealed buildings and surges).
    grids : (codes, communities)
        Every grid of the district, for the figures.
    epsg : int or None
        The district's metric CRS (where reinforcements are projected).
    """

    params: Params
    problem: Problem
    unavailable: np.ndarray
    sealed: np.ndarray
    demand: np.ndarray
    grids: tuple
    epsg: int | None


def prepare_rebalance(district: District, scenario: Scenario,
                      params: Params | None = None) -> PreparedRebalance:
    """Everything :func:`rebalance` computes before the solve: the problem of the district (the
    ordinary-day optimum taken as current when the district has no assignment), the masks of
    the members out and of the sealed buildings, and the demand under the scenario.

    Only the scenario's ``walk_limit_m``, ``unavailable_*``, ``seed``, ``sealed_*`` and
    ``surge`` are used here; its reinforcements, ``max_moves`` and ``move_weight`` are read by
    :func:`solve_prepared`, so one preparation serves every variant of them.
    """
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
    g = district.grids
    return PreparedRebalance(params, problem, unavailable, sealed, demand,
                             (g["code"].astype(str).to_numpy(),
                              g["community_code"].astype(str).to_numpy()),
                             getattr(district, "metric_epsg", None))


def solve_prepared(prep: PreparedRebalance, scenario: Scenario) -> RebalanceResult:
    """Rebalance a prepared scenario (:func:`prepare_rebalance`) with ``scenario``'s
    reinforcements, ``max_moves`` and ``move_weight`` (its other fields were resolved by the
    preparation; the scenario is carried into the result)."""
    problem, unavailable = prep.problem, prep.unavailable
    n_r = len(scenario.reinforcements)
    if n_r:
        problem = with_reinforcements(problem, scenario.reinforcements, prep.epsg)
        unavailable = np.r_[unavailable, np.zeros(n_r, bool)]
    return rebalance_problem(problem, prep.params, unavailable=unavailable, sealed=prep.sealed,
                             demand=prep.demand, scenario=scenario, n_reinforcements=n_r,
                             grids=prep.grids)


def with_reinforcements(problem: Problem, reinforcements, epsg: int | None = None) -> Problem:
    """The problem with the reinforcements appended as members (last, in the given order).

    Each is placed at its base (projected like the buildings, to ``epsg`` metres), available,
    with no home building and no current pairs, its role the kind and its grid that of the
    nearest building (so that the per-grid figures count it where it stands).

    Raises
    ------
    AssignmentError
        If a reinforcement id is also a member id.
    """
    ids = np.array([r.id for r in reinforcements], dtype=object)
    clash = np.flatnonzero(np.isin(ids, problem.member_ids.astype(str)))
    if len(clash):
        bad = str(ids[clash[0]])
        raise AssignmentError(f"reinforcement id {bad!r} is also a member id", reinforcement=bad)
    lon = np.array([r.lon for r in reinforcements], float)
    lat = np.array([r.lat for r in reinforcements], float)
    lon, lat = to_cgcs2000(lon, lat, "wgs84")
    x, y = to_metric(lon, lat, epsg or metric_epsg(lon))
    xy = np.column_stack([x, y])
    n = len(ids)
    if problem.n_buildings:
        _, near = cKDTree(problem.building_xy).query(xy)
        grid = problem.building_grid[near]
    else:
        grid = np.full(n, "", dtype=object)
    return problem.with_(
        member_ids=np.r_[problem.member_ids.astype(object), ids],
        member_xy=np.vstack([problem.member_xy, xy]),
        capacity=np.r_[problem.capacity, [r.capacity for r in reinforcements]],
        role=np.r_[problem.role.astype(object), [r.kind for r in reinforcements]],
        member_grid=np.r_[problem.member_grid.astype(object), grid.astype(object)],
        available=np.r_[problem.available, np.ones(n, bool)],
        home=np.r_[problem.home, np.full(n, -1, np.int64)],
        sealed_in=np.r_[problem.sealed_in, np.zeros(n, bool)],
    )


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
                      beyond_m: float | None = None, from_scratch: bool = False,
                      grids: tuple | None = None, n_reinforcements: int = 0) -> RebalanceResult:
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
    beyond_m : float, optional
        Members with spare capacity up to ``walk_limit_m + beyond_m`` (default
        ``max(500 m, 0.5 × walk_limit_m)``) from an uncovered building are listed as candidates
        to close the shortage.
    from_scratch : bool
        Ignore the current assignment in the solve (every pair priced alike): the moves then
        show what a plain re-optimisation would change.
    grids : (codes, communities), optional
        Every grid of the district, so that the figures list grids without buildings too.
    n_reinforcements : int
        The last ``n_reinforcements`` members are reinforcements (see
        :func:`with_reinforcements`): they have no current pairs, and a unit of load placed on
        one costs ``params.penalty_m`` extra while a unit moved to another member costs
        ``move_weight × params.penalty_m`` (default weight 2). Both prices sit far below the
        price of uncovered load and above any difference of walks, so the solve covers all it
        can first, then prefers placing reinforcements to moving members, then walks least.
        The prices are per load unit, and a flow cannot price a count; so with reinforcements
        or a ``move_weight`` the moves are then brought down by re-solving with fewer takers
        (see :func:`_fewer_takers`: the same coverage, fewer moves plus reinforcements used).
        ``scenario.max_moves`` is applied by re-solving instead: if the moves exceed it, only
        the members taking the most load in the first solve, as many as the budget allows, may
        take new load; this is repeated a few times and ``max_moves_met`` says whether the cap
        held (moves that only drop load, e.g. of members out, cannot be avoided).

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
    # ... and pairs beyond the scenario's walking limit (a lowered limit loses them too)
    if len(cm):
        walk = np.hypot(*(scn.member_xy[cm] - scn.building_xy[cb]).T)
        kept &= walk <= params.walk_limit_m + 1e-6
    nm = scn.n_members
    is_r = np.arange(nm) >= nm - n_reinforcements
    # before the scenario, reinforcements are not there: their capacity does not count
    scn_before = scn.with_(available=scn.available & ~is_r) if n_reinforcements else scn
    before = coverage(scn_before, old[kept], params)
    codes, comms = grids if grids is not None else (None, None)
    kw = {"grid_codes": codes, "grid_community": comms}
    workers = _solve_workers(scn, params)
    with solver_pool(workers) as pool, ThreadPoolExecutor(1) as aside:
        # a city-scale flow is solved by worker processes (started first, before the thread):
        # meanwhile this process computes the figures before, which do not depend on the solve
        fig_before_job = (aside.submit(figures, scn_before, old[kept], params, cov=before, **kw)
                          if workers > 1 else None)
        sol, moves, placements, shortages, candidates, after = _settle_all(
            problem, scn, params, old, demand, is_r, scenario, from_scratch, n_reinforcements,
            beyond_m)
        fig_after = _figures_split(pool, scn, sol.flow, params, after, kw)
        fig_before = (fig_before_job.result() if fig_before_job is not None
                      else figures(scn_before, old[kept], params, cov=before, **kw))
    max_moves = scenario.max_moves if scenario is not None else None
    if n_reinforcements:
        moves = moves[~moves["to_member"].isin(scn.member_ids[is_r].astype(str))] \
            .reset_index(drop=True)
    seconds = time.perf_counter() - t0
    summary = {
        "moves": int(len(moves)),
        "moved_load": float(round(moves["load"].sum(), 2)) if len(moves) else 0.0,
        **after.totals(),
        "solve_seconds": round(seconds, 3),
        "n_arcs": sol.n_arcs,
        "before": before.totals(),
    }
    if n_reinforcements or max_moves is not None:
        summary["reinforcements_used"] = int(placements["reinforcement"].nunique())
        summary["placements"] = records(placements)
        summary["max_moves"] = max_moves
        summary["max_moves_met"] = max_moves is None or len(moves) <= max_moves
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
        candidates=candidates,
        figures_before=fig_before,
        figures_after=fig_after,
        placements=placements,
    )


def _figures_split(pool, scn: Problem, flow: np.ndarray, params: Params, cov: Coverage,
                   kw: dict) -> Figures:
    """The figures of ``flow``; with a pool of workers, half of the grids' resilience (the
    costly part) is computed by a worker meanwhile (the same table: grids do not depend on
    each other, and the rows are sorted the same way)."""
    res = None
    if pool is not None:
        far = pool.apply_async(_resilience_part, (scn, flow, _params_state(params), (1, 2)))
        near = resilience(scn, flow, params, part=(0, 2))
        parts = [x for x in (near, far.get()) if len(x)]
        if parts:
            res = pd.concat(parts, ignore_index=True).sort_values(
                ["losses_tolerated", "grid_code"], kind="stable").reset_index(drop=True)
    return figures(scn, flow, params, cov=cov, res=res, **kw)


def _params_state(params: Params) -> dict:
    """The fields of ``params`` as plain values (a worker process rebuilds them)."""
    return {f.name: (dict(getattr(params, f.name)) if f.name == "capacity"
                     else getattr(params, f.name)) for f in fields(params)}


def _resilience_part(scn: Problem, flow: np.ndarray, params_state: dict,
                     part: tuple[int, int]) -> pd.DataFrame:
    """:func:`geo_grid.assign.resilience.resilience` of a part of the grids, in a worker."""
    return resilience(scn, flow, Params(**params_state), part=part)


def _solve_workers(scn: Problem, params: Params) -> int:
    """Worker processes for the flow of a rebalance: more than one only when the network is
    likely big enough to be solved in parts (members × ``k_buildings`` plus buildings ×
    ``k_members`` pairs at least, against :class:`geo_grid.assign.decompose.Decomposition`)."""
    settings = current_settings()
    n_m = int(np.count_nonzero(scn.available))
    n_b = int(np.count_nonzero(np.asarray(scn.demand) > 0))
    estimate = n_m * (params.k_buildings or 64) + n_b * (params.k_members or 64)
    return settings.n_workers(estimate) if estimate >= settings.min_arcs else 1


def _settle_all(problem, scn, params, old, demand, is_r, scenario, from_scratch,
                n_reinforcements, beyond_m):
    """The solve(s) of a rebalance and what follows from the flow: (solution, moves,
    placements, shortages, candidates, coverage after)."""
    weight = scenario.move_weight if scenario is not None else None
    max_moves = scenario.max_moves if scenario is not None else None
    pen = None
    if n_reinforcements or weight is not None:
        P = params.penalty_m
        w = weight if weight is not None else (2.0 if n_reinforcements else 1.0)
        pen = np.full(scn.n_members, int(round(P * w)), np.int64)
        pen[is_r] = int(round(P))
    settle = _Settle(scn, params, old, problem.demand, demand, is_r, not from_scratch)
    sol, moves = settle(pen)
    if max_moves is not None:
        sol, moves = _cap_moves(scn, params, settle, sol, moves, is_r, pen, max_moves)
    elif n_reinforcements or weight is not None:
        sol, moves = _fewer_takers(scn, params, settle, sol, moves, is_r, pen)
    after = coverage(scn, sol.flow, params)
    placements = _placements(scn, sol, moves, is_r, params)
    shortages, candidates = _shortages(scn, sol, after, params, beyond_m)
    return sol, moves, placements, shortages, candidates, after


PLACEMENT_COLUMNS = ("reinforcement", "building", "load", "reason")


def _placements(scn: Problem, sol: Solution, moves: pd.DataFrame, is_r: np.ndarray,
                params: Params) -> pd.DataFrame:
    """Per (reinforcement, building) of the new flow: load and reason (the reason of the
    largest move that handed the load over, else ``rebalanced``)."""
    f = sol.flow
    f = f[is_r[f[:, 0]]] if len(f) else f
    if not len(f):
        return pd.DataFrame({c: [] for c in PLACEMENT_COLUMNS})
    rid = scn.member_ids[f[:, 0]].astype(str)
    bcode = scn.building_codes[f[:, 1]].astype(str)
    why: dict[tuple[str, str], str] = {}
    if len(moves):
        mv = moves[moves["to_member"].notna()].sort_values("load", ascending=False, kind="stable")
        for r in mv.itertuples():
            why.setdefault((str(r.to_member), str(r.building_code)), str(r.reason))
    out = pd.DataFrame({
        "reinforcement": rid,
        "building": bcode,
        "load": f[:, 2] / params.scale,
        "reason": [why.get((a, b), "rebalanced") for a, b in zip(rid, bcode, strict=True)],
    })
    return out.sort_values(["reinforcement", "building"]).reset_index(drop=True)


def _member_moves(moves: pd.DataFrame, is_r: np.ndarray, scn: Problem) -> pd.DataFrame:
    """The moves that change members' buildings (placements on reinforcements left out)."""
    r_ids = scn.member_ids[is_r].astype(str)
    return moves[~moves["to_member"].isin(r_ids)]


class _Settle:
    """One solve of a rebalance with given member prices, its split hand-overs merged, and its
    moves: what every re-solve of the disruption budget repeats."""

    def __init__(self, scn, params, old, old_demand, new_demand, is_r, use_current):
        self.scn, self.params, self.old, self.is_r = scn, params, old, is_r
        self.old_demand, self.new_demand, self.use_current = old_demand, new_demand, use_current

    def __call__(self, pen):
        sol = solve(self.scn, self.params, use_current=self.use_current, member_penalty=pen)
        if self.use_current:
            # the flow is indifferent to how many people share a hand-over; merge them
            merged = one_taker_per_building(self.scn, self.params, self.old, sol.flow, self.is_r)
            if len(merged) != len(sol.flow) or not np.array_equal(merged, sol.flow):
                sol = with_flow(self.scn, self.params, sol, merged)
        return sol, _moves(self.scn, self.old, sol.flow, self.old_demand, self.new_demand,
                           self.params)


def _base_prices(scn, params, pen) -> np.ndarray:
    if pen is not None:
        return pen
    return np.full(scn.n_members, int(round(params.penalty_m)), np.int64)


def _cap_moves(scn, params, settle, sol, moves, is_r, pen, max_moves, rounds: int = 4):
    """Re-solve while the member moves exceed ``max_moves``: only the takers of the most load
    (as many as fit in the budget, counting their moves) may take new load. Stops early when
    the set of takers allowed does not change (the same solve again)."""
    base = _base_prices(scn, params, pen)
    idx = {str(m): i for i, m in enumerate(scn.member_ids.astype(str))}
    seen = None
    for _ in range(rounds):
        mm = _member_moves(moves, is_r, scn)
        if len(mm) <= max_moves:
            break
        # moves that only drop load (no taker) cannot be avoided by forbidding takers
        budget = max_moves - int(mm["to_member"].isna().sum())
        taken = mm[mm["to_member"].notna()].groupby("to_member")["load"].agg(["sum", "size"]) \
            .sort_values(["sum", "size"], ascending=[False, True], kind="stable")
        keep = taken.index[np.cumsum(taken["size"].to_numpy()) <= max(budget, 0)]
        allowed = is_r.copy()
        allowed[[idx[str(m)] for m in keep]] = True
        key = allowed.tobytes()
        if key == seen:
            break
        seen = key
        sol, moves = settle(np.where(allowed, base, -1))
    return sol, moves


#: :func:`_fewer_takers`: the first share of takers left out, the smallest, and the most solves
FEWER_TAKERS_FIRST, FEWER_TAKERS_LAST, FEWER_TAKERS_SOLVES = 0.5, 0.05, 6


def _disruption(scn, sol, moves, is_r) -> int:
    """Member moves plus reinforcements used: what the disruption budget keeps low."""
    f = sol.flow
    used = len(np.unique(f[is_r[f[:, 0]], 0])) if len(f) else 0
    return len(_member_moves(moves, is_r, scn)) + used


def _fewer_takers(scn, params, settle, sol, moves, is_r, pen):
    """The second level of the disruption budget's objective: fewer moves at the same coverage.

    The flow prices load, not hand-overs, so it spreads new load over every member with a
    little room. A share of the members taking the least new load are barred from taking any
    (their current buildings stay theirs) and the rebalance is solved again; the answer is kept
    when it covers as much with fewer moves plus reinforcements used, and the same share is tried again on top of it;
    when it is not, the share is halved (from ``FEWER_TAKERS_FIRST`` down to
    ``FEWER_TAKERS_LAST``, at most ``FEWER_TAKERS_SOLVES`` solves).
    """
    base = _base_prices(scn, params, pen)
    idx = {str(m): i for i, m in enumerate(scn.member_ids.astype(str))}
    covered = int(sol.uncovered_int.sum())
    allowed = np.ones(scn.n_members, bool)
    best_n = _disruption(scn, sol, moves, is_r)
    share = FEWER_TAKERS_FIRST
    for _ in range(FEWER_TAKERS_SOLVES):
        if share < FEWER_TAKERS_LAST:
            break
        mm = _member_moves(moves, is_r, scn)
        taken = mm[mm["to_member"].notna()].groupby("to_member")["load"].sum() \
            .sort_values(kind="stable")
        drop = taken.index[:int(np.ceil(share * len(taken)))]
        if not len(drop):
            break
        trial = allowed.copy()
        trial[[idx[str(m)] for m in drop]] = False
        trial |= is_r
        s2, m2 = settle(np.where(trial, base, -1))
        n2 = _disruption(scn, s2, m2, is_r)
        if int(s2.uncovered_int.sum()) <= covered and n2 < best_n:
            sol, moves, allowed, best_n = s2, m2, trial, n2
        else:
            share /= 2
    return sol, moves


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


def beyond_radius(walk_limit_m: float, beyond_m: float | None = None) -> float:
    """How far shortage candidates are searched: the limit plus ``beyond_m`` (default
    ``max(500 m, 0.5 × limit)``)."""
    extra = max(500.0, 0.5 * walk_limit_m) if beyond_m is None else float(beyond_m)
    return float(walk_limit_m) + extra


SHORTAGE_COLUMNS = ("grid_code", "community_code", "uncovered_buildings", "uncovered_load",
                    "uncovered_households", "candidates", "closable", "reason")
CANDIDATE_COLUMNS = ("member_id", "grid_code", "spare_load", "serves")


def _shortages(scn: Problem, sol: Solution, after: Coverage, params: Params,
               beyond_m: float | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(shortages per grid, candidates once per member).

    A candidate's spare capacity is shared: it is counted once, handed out grid by grid (largest
    gap first, nearest candidate first) and ``closable`` says whether the share a grid gets
    covers its gap. Each candidate entry of a grid carries ``spare_load`` (all of the member's
    spare capacity), ``allocated_load`` (its share for this grid) and ``shared_with`` (the
    other short grids it could serve).
    """
    cols = list(SHORTAGE_COLUMNS)
    short = after.grid[after.grid["uncovered_buildings"] > 0]
    empty_c = pd.DataFrame({c: [] for c in CANDIDATE_COLUMNS})
    if not len(short):
        return pd.DataFrame({c: [] for c in cols}), empty_c
    radius = beyond_radius(params.walk_limit_m, beyond_m)
    cap = capacity_int(scn, params)
    used = np.bincount(sol.flow[:, 0], weights=sol.flow[:, 2],
                       minlength=scn.n_members).astype(np.int64)
    spare_m = np.flatnonzero((cap - used > 0) & ~scn.sealed_in & scn.available)
    unc_b = np.flatnonzero(sol.uncovered_int > 0)
    pairs = pd.DataFrame({"grid": [], "m": [], "d": []})
    if len(spare_m) and len(unc_b):
        tree = cKDTree(scn.member_xy[spare_m])
        lists = tree.query_ball_point(scn.building_xy[unc_b], r=radius)
        bi = np.repeat(unc_b, [len(x) for x in lists])
        mi = spare_m[np.concatenate([np.asarray(x, dtype=np.int64) for x in lists])] \
            if len(bi) else np.zeros(0, np.int64)
        d = np.hypot(*(scn.member_xy[mi] - scn.building_xy[bi]).T)
        pairs = pd.DataFrame({"grid": scn.building_grid[bi].astype(str), "m": mi, "d": d})
        pairs = pairs.groupby(["grid", "m"], as_index=False)["d"].min() \
            .sort_values(["grid", "d", "m"])
    serves = pairs.groupby("m")["grid"].agg(lambda g: sorted(set(g))) if len(pairs) else {}
    out = short[cols[:5]].copy()
    out["grid_code"] = out["grid_code"].astype(str)
    gap = dict(zip(out["grid_code"], np.rint(out["uncovered_load"].to_numpy() * params.scale)
                   .astype(np.int64), strict=True))
    left = {int(m): int(cap[m] - used[m]) for m in pairs["m"].unique()} if len(pairs) else {}
    by_grid = {g: part for g, part in pairs.groupby("grid", sort=False)} if len(pairs) else {}
    cand: dict[str, list] = {}
    got: dict[str, int] = {}
    # joint hand-out: largest gap first, nearest candidate first; spare counted once
    for g in sorted(gap, key=lambda g: (-gap[g], g)):
        need = gap[g]
        entries = []
        part = by_grid.get(g)
        for r in (part.itertuples() if part is not None else ()):
            m = int(r.m)
            take = min(need, left[m])
            left[m] -= take
            need -= take
            if len(entries) < 10 or take > 0:
                entries.append({
                    "member_id": str(scn.member_ids[m]),
                    "grid_code": str(scn.member_grid[m]),
                    "distance_m": round(float(r.d), 1),
                    "spare_load": float((cap[m] - used[m]) / params.scale),
                    "allocated_load": float(take / params.scale),
                    "shared_with": [x for x in serves[m] if x != g],
                })
        cand[g] = entries
        got[g] = gap[g] - need
    out["candidates"] = [cand.get(g, []) for g in out["grid_code"]]
    out["closable"] = [bool(got.get(g, 0) >= gap[g]) for g in out["grid_code"]]
    reasons = []
    for g in out["grid_code"]:
        if not cand.get(g):
            reasons.append(f"no available member with spare capacity within {radius:.0f} m")
        elif got[g] >= gap[g]:
            reasons.append(f"members with spare capacity within {radius:.0f} m can cover the gap")
        else:
            reasons.append(f"spare capacity within {radius:.0f} m covers "
                           f"{got[g] / params.scale:g} of {gap[g] / params.scale:g} "
                           f"(shared with other short grids)")
    out["reason"] = reasons
    if len(pairs):
        near = pairs.groupby("m")["d"].min()
        members = np.asarray(near.index, dtype=np.int64)
        cands = pd.DataFrame({
            "member_id": scn.member_ids[members].astype(str),
            "grid_code": scn.member_grid[members].astype(str),
            "spare_load": (cap[members] - used[members]) / params.scale,
            "serves": [serves[m] for m in members],
        }).sort_values("member_id").reset_index(drop=True)
    else:
        cands = empty_c
    return out.reset_index(drop=True), cands
