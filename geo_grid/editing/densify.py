"""Densifying: splitting every grid over a household limit, in one edit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from geo_grid.district import District
from geo_grid.editing.common import grid_row, households
from geo_grid.editing.edit import CodeSource, Edit
from geo_grid.editing.split import parts_of_grid, split_edit, split_grids
from geo_grid.errors import InvalidInput


def densify(district: District, max_households: int, codes: CodeSource) -> Edit:
    """Split every grid with more than ``max_households`` households.

    A grid with ``h`` households is cut into ``ceil(h / max_households)`` parts with the
    algorithm of :func:`~geo_grid.editing.split.split_into_parts`, but into no more parts than
    it has buildings: a grid with a single building stays as it is, and such grids (kept or cut
    into fewer parts than asked) are listed in ``detail["capped"]``. The parts are balanced,
    not capped: a part may still hold a little more than ``max_households``.

    Parameters
    ----------
    district : District
    max_households : int
        The most households a grid should hold, at least 1.
    codes : CodeSource
        Gives the parts' fresh codes (asked once per community).

    Returns
    -------
    Edit
        One edit of kind ``densify`` for all the grids split; ``detail["grids"]`` lists each
        with its households and parts. An edit that changes nothing (every grid within the
        limit) has no retired grid.

    Raises
    ------
    InvalidInput
        If ``max_households`` is not a positive integer.
    """
    if (isinstance(max_households, bool) or not isinstance(max_households, (int, np.integer))
            or max_households < 1):
        raise InvalidInput(f"max_households must be a positive integer, got {max_households!r}",
                           max_households=str(max_households))
    b = district.buildings
    grid_of = b["grid_code"].astype(str).to_numpy()
    per = pd.DataFrame({"grid": grid_of, "h": households(b)})
    stats = per.groupby("grid", sort=True)["h"].agg(["sum", "size"])
    over = stats[(stats["sum"] > max_households)
                 & stats.index.isin(district.grids["code"].astype(str))]
    # the buildings of each grid over the limit, found in one pass over the district
    rows_of = pd.Series(np.arange(len(b))).groupby(
        np.where(np.isin(grid_of, over.index), grid_of, "")).indices
    plans = []
    capped = []
    mine: dict[str, pd.DataFrame] = {}
    for code, (h, n) in zip(over.index, over.to_numpy(), strict=True):
        code = str(code)
        k = min(math.ceil(h / max_households), int(n))
        if k < math.ceil(h / max_households):
            capped.append({"grid": code, "households": int(round(h)), "buildings": int(n)})
        if k < 2:
            continue
        row = grid_row(district, code)
        mine[code] = b.iloc[rows_of[code]]
        plans.append((row, parts_of_grid(district, row, k, mine[code])))
    rows, moved, members, details = (split_grids(district, plans, codes, mine) if plans
                                     else ([], {}, {}, []))
    detail = {"max_households": int(max_households), "grids": details, "capped": capped}
    return split_edit("densify", plans, rows, moved, members, detail)
