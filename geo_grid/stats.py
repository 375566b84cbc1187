"""Per-grid and per-community figures in the older column names of ``grid_stats``.

The figures themselves come from :mod:`geo_grid.figures`; this module only renames them for
the callers that use these names (the ``stats`` of ``GET /api/v1/grids``).
"""

from __future__ import annotations

import pandas as pd

from geo_grid.district import District
from geo_grid.figures import Figures, district_figures

#: Old name → figure name. ``active_members`` are the available members; ``load`` is
#: households per available member (``households_per_member``).
STATS_COLUMNS = {
    "buildings": "buildings",
    "households": "households",
    "residents": "residents",
    "vulnerable_households": "vulnerable",
    "secretaries": "secretaries",
    "social_workers": "social_workers",
    "volunteers": "volunteers",
    "members": "members",
    "active_members": "available_members",
    "load": "households_per_member",
    "uncovered_buildings": "uncovered_buildings",
}


def _renamed(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({old: table[new] for old, new in STATS_COLUMNS.items()})


def grid_stats(district: District, figures: Figures | None = None) -> pd.DataFrame:
    """Figures per grid, indexed by grid code, in the columns of :data:`STATS_COLUMNS`.

    Parameters
    ----------
    district : District
    figures : Figures, optional
        The district's figures when already computed (:func:`geo_grid.figures.district_figures`).

    Returns
    -------
    pandas.DataFrame
    """
    fig = figures if figures is not None else district_figures(district)
    out = _renamed(fig.grid)
    out.index.name = "code"
    return out


def community_stats(district: District, figures: Figures | None = None) -> pd.DataFrame:
    """The same per community (plus ``grids``), indexed by community code."""
    fig = figures if figures is not None else district_figures(district)
    out = _renamed(fig.community)
    out["grids"] = fig.community["grids"]
    return out
