"""What one boundary edit changes, as plain data the store writes in one transaction.

An edit never touches the store itself: the functions of :mod:`geo_grid.editing` read a
:class:`~geo_grid.district.District` and return an :class:`Edit`; the store
(:func:`geo_grid.store.versions.apply_edit`) writes it as a new boundary version, keeping the
grids and buildings it replaces in the history tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd

from geo_grid.crs import STORE_EPSG

#: Gives ``n`` fresh grid codes in a community: ``codes(community_code, n)``. Codes are never
#: reused, so the source must know every code the store ever held (see
#: :func:`geo_grid.store.versions.code_source`).
CodeSource = Callable[[str, int], list[str]]

GRID_COLUMNS = ("code", "name", "community_code", "kind")


def empty_grids() -> gpd.GeoDataFrame:
    """A grids frame with no rows and the columns an :class:`Edit` carries."""
    return gpd.GeoDataFrame({c: [] for c in GRID_COLUMNS}, geometry=[], crs=STORE_EPSG)


@dataclass(frozen=True)
class Edit:
    """One change of the grid layer and of the buildings' grids.

    Attributes
    ----------
    kind : str
        ``split``, ``merge``, ``geometry``, ``building_grid`` or ``densify``.
    retired : tuple of str
        Grid codes that stop existing (a split or merged grid). Never reused.
    added : GeoDataFrame
        New grids: ``code, name, community_code, kind, geometry`` in EPSG:4490.
    reshaped : GeoDataFrame
        Existing grids (same code) with a new outline, same columns as ``added``.
    moved : dict
        Building code → its new grid code (only buildings whose grid changes).
    members : dict
        Member id → new grid code, for members of a retired grid (they keep their buildings).
    detail : dict
        JSON-able facts for the version record (parts and their households, the line...).
    """

    kind: str
    retired: tuple[str, ...] = ()
    added: gpd.GeoDataFrame = field(default_factory=empty_grids)
    reshaped: gpd.GeoDataFrame = field(default_factory=empty_grids)
    moved: dict[str, str] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Counts and codes of the change (what the CLI prints and the API answers)."""
        return {
            "kind": self.kind,
            "retired": list(self.retired),
            "added": [str(c) for c in self.added["code"]],
            "reshaped": [str(c) for c in self.reshaped["code"]],
            "buildings_moved": len(self.moved),
            "members_moved": len(self.members),
            **self.detail,
        }
