"""Building code → grid and community names: what a matched address adds to its row."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from geo_grid.errors import InvalidInput

__all__ = ["BuildingLookup", "GridDirectory", "building_lookup"]

#: ``lookup(building_code) -> (grid code, grid name, community name) | None``
BuildingLookup = Callable[[str], "tuple[str | None, str | None, str | None] | None"]


@dataclass(frozen=True)
class GridDirectory:
    """Building code → (grid code, grid name, community name); grid code → (name, community).

    Build it with :meth:`from_frames` or :meth:`from_district`; it is also a callable on a
    building code, so it fits wherever a building lookup callable is accepted.
    """

    buildings: Mapping[str, tuple[str, str | None, str | None]]
    grids: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @classmethod
    def from_frames(
        cls,
        buildings: pd.DataFrame,
        grids: pd.DataFrame | None = None,
        communities: pd.DataFrame | None = None,
    ) -> GridDirectory:
        """Join buildings (code, grid_code) with grids (code, name, community_code) and
        communities (code, name)."""
        comm = {}
        if communities is not None and len(communities):
            comm = dict(zip(communities["code"].astype(str), communities["name"], strict=True))
        gmap: dict[str, tuple[str | None, str | None]] = {}
        if grids is not None and len(grids):
            codes = grids["code"].astype(str).tolist()
            owners = (grids["community_code"].astype(str).tolist() if "community_code" in grids
                      else [c[:12] for c in codes])
            for code, name, owner in zip(codes, grids["name"], owners, strict=True):
                gmap[code] = (name, comm.get(owner))
        bmap: dict[str, tuple[str, str | None, str | None]] = {}
        for code, gcode in zip(buildings["code"].astype(str), buildings["grid_code"].astype(str),
                               strict=True):
            name, community = gmap.get(gcode, (None, comm.get(gcode[:12])))
            bmap[code] = (gcode, name, community)
        return cls(bmap, gmap)

    @classmethod
    def from_district(cls, district: Any) -> GridDirectory:
        """Build from a :class:`geo_grid.district.District`."""
        return cls.from_frames(district.buildings, district.grids, district.communities)

    def __call__(self, code: str) -> tuple[str, str | None, str | None] | None:
        return self.buildings.get(code)

    def grid(self, code: str) -> tuple[str | None, str | None] | None:
        """(grid name, community name) of a grid code, or None."""
        return self.grids.get(code)


def building_lookup(directory: Any) -> BuildingLookup:
    """A building lookup callable from a directory, a mapping, a buildings frame or None."""
    if directory is None:
        return lambda code: None
    if isinstance(directory, Mapping):
        return directory.get
    if isinstance(directory, pd.DataFrame):
        return GridDirectory.from_frames(directory)
    if callable(directory):
        return directory
    raise InvalidInput(f"cannot map building codes with a {type(directory).__name__}")
