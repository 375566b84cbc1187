"""Load per building: households weighted by vulnerability, sealing and surges.

The load of a building, in household-load units, is::

    base  = max(min_load, household_weight * households
                          + vulnerable_weight * vulnerable_households
                          + sum(surge[flag] * households_with_flag))
    load  = base * (sealed_multiplier if sealed else 1) * product of code surges

A household is vulnerable when any of ``elderly_alone``, ``disabled``, ``chronic``, ``infant``
is set. Surge keys are either one of these flag names (extra load per household with that flag,
e.g. ``{"elderly_alone": 2.0}`` for daily visits) or a building, grid or community code
(a multiplier on the load of the buildings it names, e.g. ``{"320214052013": 1.5}``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from geo_grid.assign.model import VULNERABLE_FLAGS, AssignmentError, Params

COUNT_COLUMNS = ("households", "residents", "vulnerable", *VULNERABLE_FLAGS)


def household_counts(buildings: pd.DataFrame, households: pd.DataFrame | None) -> pd.DataFrame:
    """Count households, residents and vulnerable households per building.

    Parameters
    ----------
    buildings : pandas.DataFrame
        The ``buildings`` layer (``code`` and, as a fallback, ``households``).
    households : pandas.DataFrame or None
        The ``households`` table (``building_code``, ``size`` and the four flags). When empty,
        the buildings' own ``households`` column is used and residents and flags are 0.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``buildings`` (one row per building, in order), with integer columns
        ``households``, ``residents``, ``vulnerable``, ``elderly_alone``, ``disabled``,
        ``chronic``, ``infant``.
    """
    codes = pd.Index(buildings["code"].astype(str))
    out = pd.DataFrame(0, index=codes, columns=list(COUNT_COLUMNS), dtype=np.int64)
    if households is None or len(households) == 0:
        if "households" in buildings.columns:
            out["households"] = buildings["households"].fillna(0).to_numpy(np.int64)
        return out
    hh = households
    code = hh["building_code"].astype(str)
    pos = codes.get_indexer(code)
    if np.any(pos < 0):
        bad = code[pos < 0].iloc[0]
        raise AssignmentError(f"household in unknown building {bad!r}", building_code=bad)
    nb = len(codes)
    out["households"] = np.bincount(pos, minlength=nb)
    if "size" in hh.columns:
        out["residents"] = np.bincount(pos, weights=hh["size"].fillna(0).to_numpy(float),
                                       minlength=nb).astype(np.int64)
    any_flag = np.zeros(len(hh), dtype=bool)
    for flag in VULNERABLE_FLAGS:
        if flag in hh.columns:
            f = hh[flag].fillna(False).to_numpy(bool)
            any_flag |= f
            out[flag] = np.bincount(pos, weights=f, minlength=nb).astype(np.int64)
    out["vulnerable"] = np.bincount(pos, weights=any_flag, minlength=nb).astype(np.int64)
    return out


#: Largest surge weight (a flag's extra or a code's multiplier). A weight is a factor on a
#: building's load: beyond this, loads overflow the solver's numbers (1e308 becomes inf).
MAX_SURGE = 100.0


def split_surge(surge: Mapping[str, float] | None) -> tuple[dict[str, float], dict[str, float]]:
    """Split a surge mapping into (flag extras, code multipliers), checking the values
    (finite, and at most :data:`MAX_SURGE`)."""
    flags: dict[str, float] = {}
    codes: dict[str, float] = {}
    for key, value in (surge or {}).items():
        v = float(value)
        if not np.isfinite(v):
            raise AssignmentError(f"surge weight for {key!r} must be finite", key=key)
        if v > MAX_SURGE:
            raise AssignmentError(f"surge weight for {key!r} is {v:g}, over the limit of "
                                  f"{MAX_SURGE:g}", key=key)
        if key in VULNERABLE_FLAGS:
            if v < 0:
                raise AssignmentError(f"surge extra for {key!r} must be >= 0", key=key)
            flags[key] = v
        else:
            if v <= 0:
                raise AssignmentError(f"surge multiplier for {key!r} must be > 0", key=key)
            codes[str(key)] = v
    return flags, codes


def surge_multiplier(codes: Mapping[str, float], building_codes, building_grid=None,
                     building_community=None) -> np.ndarray:
    """Multiplier per building from code surges (building, grid or community codes).

    Raises
    ------
    AssignmentError
        If a code names no building, grid or community.
    """
    bc = np.asarray(building_codes).astype(str)
    nb = len(bc)
    bg = np.asarray(building_grid if building_grid is not None else np.full(nb, "")).astype(str)
    bm = np.asarray(building_community if building_community is not None
                    else np.full(nb, "")).astype(str)
    mult = np.ones(nb)
    for key, v in codes.items():
        hit = (bc == key) | (bg == key) | (bm == key)
        if not hit.any():
            raise AssignmentError(
                f"surge key {key!r} is neither a household flag ({', '.join(VULNERABLE_FLAGS)}) "
                "nor a known building, grid or community code", key=key)
        mult[hit] *= v
    return mult


def demand_from_counts(counts: pd.DataFrame | Mapping[str, np.ndarray], params: Params, *,
                       sealed: np.ndarray | None = None, multiplier: np.ndarray | None = None,
                       flag_extra: Mapping[str, float] | None = None) -> np.ndarray:
    """Load per building (vectorised) from per-building counts.

    Parameters
    ----------
    counts : DataFrame or mapping of arrays
        ``households``, ``vulnerable`` and, for flag surges, the flag columns.
    params : Params
        Weights.
    sealed : numpy.ndarray of bool, optional
        Sealed buildings (load × ``params.sealed_multiplier``).
    multiplier : numpy.ndarray, optional
        Extra multiplier per building (code surges).
    flag_extra : mapping, optional
        Extra load per household with a flag.

    Returns
    -------
    numpy.ndarray
        Load per building in household-load units.
    """
    hh = np.asarray(counts["households"], dtype=float)
    load = params.household_weight * hh + params.vulnerable_weight * np.asarray(
        counts["vulnerable"], dtype=float)
    for flag, extra in (flag_extra or {}).items():
        load = load + extra * np.asarray(counts[flag], dtype=float)
    load = np.maximum(load, params.min_load)
    if sealed is not None:
        load = np.where(np.asarray(sealed, bool), load * params.sealed_multiplier, load)
    if multiplier is not None:
        load = load * np.asarray(multiplier, dtype=float)
    return load


def building_demand(buildings: pd.DataFrame, households: pd.DataFrame | None,
                    params: Params | None = None, *, sealed=None,
                    surge: Mapping[str, float] | None = None) -> pd.Series:
    """Load per building from the District's ``buildings`` and ``households`` tables.

    Parameters
    ----------
    buildings, households : pandas.DataFrame
        District layers (see :mod:`geo_grid.district`).
    params : Params, optional
        Weights (defaults to ``Params()``).
    sealed : iterable of str or bool array, optional
        Sealed building codes, or a boolean mask aligned with ``buildings``.
    surge : mapping, optional
        Surge weights (see the module docstring).

    Returns
    -------
    pandas.Series
        Load units indexed by building code, named ``load``.
    """
    params = params or Params()
    counts = household_counts(buildings, households)
    codes = counts.index.to_numpy()
    mask = sealed_mask(codes, sealed)
    flags, code_mult = split_surge(surge)
    mult = surge_multiplier(code_mult, codes, buildings.get("grid_code"),
                            buildings.get("community_code"))
    load = demand_from_counts(counts, params, sealed=mask, multiplier=mult, flag_extra=flags)
    return pd.Series(load, index=counts.index, name="load")


def sealed_mask(codes, sealed) -> np.ndarray:
    """Boolean mask over ``codes`` from sealed codes (or a mask, returned as is)."""
    codes = np.asarray(codes).astype(str)
    if sealed is None:
        return np.zeros(len(codes), dtype=bool)
    arr = np.asarray(list(sealed) if not isinstance(sealed, np.ndarray) else sealed)
    if arr.dtype == bool:
        if len(arr) != len(codes):
            raise AssignmentError("sealed mask must have one value per building")
        return arr
    wanted = arr.astype(str)
    unknown = np.setdiff1d(wanted, codes)
    if len(unknown):
        bad = str(unknown[0])
        raise AssignmentError(f"unknown sealed building code {bad!r}", building_code=bad)
    return np.isin(codes, wanted)
