"""Grid teams: 1 secretary + N social workers + X volunteers per grid, as a matching.

:func:`team_slots` decides how many slots of each role every grid gets: one secretary per grid
(while secretaries last), and the social workers and volunteers apportioned to grids in
proportion to grid load (largest remainders, ties by grid code). :func:`match_teams` then fills
the slots, role by role, with a minimum-cost matching (``scipy.optimize.linear_sum_assignment``)
of members to slots minimising the total home → grid-centroid distance. Extra members of a role
stay unplaced (``grid_code`` None); empty slots are reported.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from geo_grid.assign.model import AssignmentError
from geo_grid.district import ROLES

#: Largest dense cost matrix (members × slots of one role) the matching accepts.
MAX_MATRIX = 30_000_000


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainders)."""
    w = np.asarray(weights, dtype=float)
    if total <= 0 or len(w) == 0:
        return np.zeros(len(w), np.int64)
    w = np.where(w > 0, w, 0.0)
    if w.sum() == 0:
        w = np.ones(len(w))
    exact = total * w / w.sum()
    out = np.floor(exact).astype(np.int64)
    rest = total - int(out.sum())
    order = np.lexsort((np.arange(len(w)), -(exact - out)))
    out[order[:rest]] += 1
    return out


def team_slots(grid_codes, grid_load, role_counts: dict[str, int]) -> pd.DataFrame:
    """Slots per grid and role.

    Parameters
    ----------
    grid_codes : array_like
        Grid codes (sorted internally).
    grid_load : array_like
        Load per grid (same order as ``grid_codes``).
    role_counts : dict
        Members available per role.

    Returns
    -------
    pandas.DataFrame
        ``grid_code, secretary, social_worker, volunteer`` (slot counts).
    """
    codes = np.asarray(grid_codes).astype(str)
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    load = np.asarray(grid_load, dtype=float)[order]
    n_sec = int(role_counts.get("secretary", 0))
    sec = np.zeros(len(codes), np.int64)
    # one secretary per grid, the heaviest grids first when secretaries are short
    sec[np.lexsort((codes, -load))[:min(n_sec, len(codes))]] = 1
    return pd.DataFrame({
        "grid_code": codes,
        "secretary": sec,
        "social_worker": apportion(int(role_counts.get("social_worker", 0)), load),
        "volunteer": apportion(int(role_counts.get("volunteer", 0)), load),
    })


def match_teams(member_ids, member_xy, role, grid_codes, grid_xy, grid_load) -> tuple[
        pd.DataFrame, pd.DataFrame]:
    """Assign members to grid teams by role, minimising home → grid-centroid distance.

    Parameters
    ----------
    member_ids, member_xy, role : array_like
        Members (available ones only), homes in EPSG:4549 metres, roles.
    grid_codes, grid_xy, grid_load : array_like
        Grids, their centroids in metres, and their load (for :func:`team_slots`).

    Returns
    -------
    members : pandas.DataFrame
        ``member_id, role, grid_code`` (None when unplaced), ``distance_m``.
    slots : pandas.DataFrame
        ``grid_code, role, slots, filled``.

    Raises
    ------
    AssignmentError
        On an unknown role, or when one role's matrix exceeds :data:`MAX_MATRIX` cells.
    """
    ids = np.asarray(member_ids).astype(str)
    xy = np.asarray(member_xy, dtype=float).reshape(-1, 2)
    role = np.asarray(role).astype(str)
    bad = sorted(set(role) - set(ROLES))
    if bad:
        raise AssignmentError(f"unknown role {bad[0]!r}", role=bad[0])
    gcodes = np.asarray(grid_codes).astype(str)
    gxy = np.asarray(grid_xy, dtype=float).reshape(-1, 2)
    gorder = np.argsort(gcodes, kind="stable")
    gcodes, gxy = gcodes[gorder], gxy[gorder]
    gload = np.asarray(grid_load, dtype=float)[gorder]
    counts = {r: int(np.count_nonzero(role == r)) for r in ROLES}
    slots = team_slots(gcodes, gload, counts)
    out_grid = np.full(len(ids), None, dtype=object)
    out_dist = np.full(len(ids), np.nan)
    slot_rows = []
    for r in ROLES:
        mi = np.flatnonzero(role == r)
        mi = mi[np.argsort(ids[mi], kind="stable")]
        per = slots[r].to_numpy()
        col_grid = np.repeat(np.arange(len(gcodes)), per)
        filled = np.zeros(len(gcodes), np.int64)
        if len(mi) and len(col_grid):
            if len(mi) * len(col_grid) > MAX_MATRIX:
                raise AssignmentError(
                    f"team matching for role {r!r} is too large ({len(mi)} × {len(col_grid)})")
            d = xy[mi][:, None, :] - gxy[col_grid][None, :, :]
            cost = np.hypot(d[..., 0], d[..., 1])
            rows, cols = linear_sum_assignment(cost)
            out_grid[mi[rows]] = gcodes[col_grid[cols]]
            out_dist[mi[rows]] = np.round(cost[rows, cols], 1)
            filled = np.bincount(col_grid[cols], minlength=len(gcodes))
        slot_rows.append(pd.DataFrame({"grid_code": gcodes, "role": r, "slots": per,
                                       "filled": filled}))
    members = pd.DataFrame({"member_id": ids, "role": role, "grid_code": out_grid,
                            "distance_m": out_dist})
    return members, pd.concat(slot_rows, ignore_index=True)
