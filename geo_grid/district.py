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
import pandas as pd

LAYERS = ("street", "communities", "grids", "buildings")
TABLES = ("households", "members", "assignment")
ROLES = ("secretary", "social_worker", "volunteer")
GRID_KINDS = ("residential", "commercial", "industrial", "mixed")
BUILDING_CATEGORIES = ("slab", "point", "shop", "factory", "dormitory", "office")


@dataclass(frozen=True)
class District:
    """All layers and tables of one street, as loaded from a store."""

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
