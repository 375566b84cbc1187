"""Which buildings a campaign holds, who visits each, and in which order a member walks them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape

from geo_grid.campaigns.model import CampaignBuilding
from geo_grid.crs import STORE_EPSG, metric_epsg_of, transformer
from geo_grid.errors import InvalidGeometry, InvalidInput, NotFound


def buildings_of_grids(buildings: gpd.GeoDataFrame, grids: Sequence[str],
                       known_grids: Iterable[str]) -> gpd.GeoDataFrame:
    """The buildings of the given grid codes.

    Raises
    ------
    InvalidInput
        No grid given.
    NotFound
        A code that is not a grid of the district.
    """
    if not grids:
        raise InvalidInput("the campaign's scope names no grid", field="scope.grids")
    known = set(known_grids)
    unknown = sorted(set(grids) - known)
    if unknown:
        raise NotFound(f"grid {unknown[0]} does not exist", grid=unknown[0])
    return buildings[buildings["grid_code"].isin(set(grids))]


def buildings_in_area(buildings: gpd.GeoDataFrame, area: dict[str, Any]) -> gpd.GeoDataFrame:
    """The buildings whose representative point lies in a GeoJSON Polygon (lon/lat, EPSG:4490).

    Raises
    ------
    InvalidGeometry
        Not a valid Polygon or MultiPolygon.
    """
    if not isinstance(area, dict) or area.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidGeometry("the campaign's area must be a GeoJSON Polygon", field="scope.area")
    try:
        poly = shape(area)
    except Exception as exc:  # shapely raises several types on malformed coordinates
        raise InvalidGeometry(f"the campaign's area is not a valid polygon: {exc}",
                              field="scope.area") from exc
    if poly.is_empty or not poly.is_valid:
        raise InvalidGeometry("the campaign's area is empty or self-intersecting",
                              field="scope.area")
    points = shapely.point_on_surface(buildings.geometry.to_numpy())
    return buildings[shapely.contains(poly, points)]


def owners(assignment: pd.DataFrame) -> dict[str, str]:
    """Building code → the member who covers it: the one with the largest load (ties: the
    smallest member id, so the choice does not depend on row order)."""
    if assignment is None or not len(assignment):
        return {}
    a = assignment.sort_values(["building_code", "load", "member_id"],
                               ascending=[True, False, True])
    first = a.drop_duplicates("building_code")
    return dict(zip(first["building_code"].astype(str), first["member_id"].astype(str),
                    strict=True))


def campaign_buildings(selected: gpd.GeoDataFrame,
                       assignment: pd.DataFrame) -> list[CampaignBuilding]:
    """The campaign's buildings, each with the member who covers it.

    Raises
    ------
    InvalidInput
        When the scope holds no building.
    """
    if not len(selected):
        raise InvalidInput("the campaign's scope holds no building", field="scope")
    who = owners(assignment)
    return [CampaignBuilding(building_code=str(r.code), grid_code=str(r.grid_code),
                             community_code=str(r.community_code),
                             member_id=who.get(str(r.code)), households=int(r.households))
            for r in selected.itertuples(index=False)]


def walking_order(codes: Sequence[str], buildings: gpd.GeoDataFrame) -> list[tuple[str, float]]:
    """A walking order through buildings: the nearest unvisited building next, starting from
    the first one given (distances between representative points, in metres).

    Returns
    -------
    list of (code, metres from the previous building)
        The first building's distance is 0.
    """
    if not codes:
        return []
    b = buildings.set_index("code").loc[list(codes)]
    pts = shapely.point_on_surface(b.geometry.to_numpy())
    lon, lat = shapely.get_x(pts), shapely.get_y(pts)
    x, y = transformer(STORE_EPSG, metric_epsg_of(b)).transform(lon, lat)
    xy = np.column_stack([x, y])
    left = np.ones(len(xy), dtype=bool)
    order, at = [(str(codes[0]), 0.0)], 0
    left[0] = False
    while left.any():
        d = np.hypot(*(xy - xy[at]).T)
        d[~left] = np.inf
        at = int(np.argmin(d))
        left[at] = False
        order.append((str(codes[at]), round(float(d[at]), 1)))
    return order
