"""The in-memory district: every layer and table the service works on, loaded once.

A :class:`District` is what the store returns (``geo_grid.store.load_district``) and what the
locator, assignment, maps and API read. Layers are GeoDataFrames in EPSG:4490 (lon/lat); tables
are DataFrames. Column contracts:

- ``street``: code, name, geometry
- ``communities``: code, name, short_name, geometry
- ``grids``: code, name, community_code, kind (residential|commercial|industrial|mixed), geometry
- ``buildings``: code, grid_code, community_code, address, compound, number, category
  (slab|point|shop|factory|dormitory|office), floors, units, rooms_per_floor, households, geometry
  (Polygon footprint). ``address`` is the standard address, e.g. ``叙丰家园12栋`` or ``锡兴路88号``;
  ``compound`` is the compound or road part (``叙丰家园``, ``锡兴路``), ``number`` the building
  or door number (12, 88). A residential room is ``floor * 100 + door`` (502 = 5th floor door 2),
  door in 1..rooms_per_floor, unit in 1..units.
- ``households``: id, building_code, unit, room, size, elderly_alone, disabled, chronic, infant
- ``members``: id, name, phone, role (secretary|social_worker|volunteer), grid_code, branch_code,
  branch_name, org_code, org_name, home_building, x, y (metres of the home in
  ``District.metric_epsg``, EPSG:4549 here), available,
  capacity (household-load units)
- ``assignment``: member_id, building_code, load (household-load units), distance_m
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

LAYERS = ("street", "communities", "grids", "buildings")
TABLES = ("households", "members", "assignment")
ROLES = ("secretary", "social_worker", "volunteer")
GRID_KINDS = ("residential", "commercial", "industrial", "mixed")
BUILDING_CATEGORIES = ("slab", "point", "shop", "factory", "dormitory", "office")


@dataclass(frozen=True)
class District:
    """All layers and tables of the streets a store holds, as loaded from it (one street for a
    street office's store; :meth:`for_street` cuts one out of a district's or a city's)."""

    street: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    households: pd.DataFrame = field(default_factory=pd.DataFrame)
    members: pd.DataFrame = field(default_factory=pd.DataFrame)
    assignment: pd.DataFrame = field(default_factory=pd.DataFrame)
    version: str = ""
    #: The boundary version the grids and buildings are of (1: the layers as built).
    boundary_version: int = 1

    @property
    def metric_epsg(self) -> int:
        """The metric CRS of this street: the CGCS2000 3-degree Gauss-Kruger zone of its own
        longitude (EPSG:4549 for the reference district; see :func:`geo_grid.crs.metric_epsg`).
        Members' ``x``/``y`` and every distance are in it."""
        from geo_grid.crs import metric_epsg_of

        layer = self.street if len(self.street) else self.buildings
        return metric_epsg_of(layer)

    @property
    def street_codes(self) -> list[str]:
        """The codes of the streets this district holds, sorted (one for a street office's
        own store, several for a district's or a city's)."""
        return sorted(str(c) for c in self.street["code"])

    def for_street(self, code: str) -> District:
        """The part of this district that belongs to one street.

        Codes are hierarchical (street 9 digits, community 12, grid 15, building 17; see
        :func:`street_of`), so a row belongs to the street its code (or its grid's or
        building's code) starts with.

        Parameters
        ----------
        code : str
            A street code of :attr:`street_codes`.

        Returns
        -------
        District
            The street's layers and tables (same version and boundary version); the district
            itself when it holds that street alone.

        Raises
        ------
        NotFound
            If the district holds no street of that code.
        """
        from geo_grid.errors import NotFound

        code = str(code)
        if code not in self.street_codes:
            raise NotFound(f"street {code} does not exist; the store holds "
                           f"{', '.join(self.street_codes) or 'no street'}", street=code)
        if len(self.street) == 1:
            return self

        def of(frame: pd.DataFrame, column: str) -> pd.DataFrame:
            if not len(frame) or column not in frame.columns:
                return frame
            return frame[frame[column].astype(str).str.startswith(code)]

        return District(
            of(self.street, "code"), of(self.communities, "code"), of(self.grids, "code"),
            of(self.buildings, "code"), households=of(self.households, "building_code"),
            members=of(self.members, "grid_code"), assignment=of(self.assignment, "building_code"),
            version=self.version, boundary_version=self.boundary_version)


#: Digits of a street code; a community's code is its street's and 3 more, a grid's its
#: community's and 3 more, a building's its community's and 5 more.
STREET_DIGITS = 9


def street_of(codes) -> np.ndarray:
    """The street code of each community, grid or building code (vectorised).

    Parameters
    ----------
    codes : array_like of str
        Community, grid or building codes (None stays None).

    Returns
    -------
    numpy.ndarray of object
    """
    arr = np.asarray(codes, dtype=object)
    return np.array([None if c is None else str(c)[:STREET_DIGITS] for c in arr], dtype=object)
