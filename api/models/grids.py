"""Schemas of ``/api/v1/grids`` (GeoJSON, ``application/geo+json``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Person(BaseModel):
    """A team member (name and phone masked unless allowed)."""

    id: str
    name: str | None
    phone: str | None
    role: str
    available: bool


class Team(BaseModel):
    """1 secretary + N social workers + X volunteers."""

    secretary: Person | None
    social_workers: list[Person]
    volunteers: list[Person]


class Named(BaseModel):
    code: str
    name: str


class GridStats(BaseModel):
    """A grid's figures (see :mod:`geo_grid.figures`). The first names are the older ones:
    ``vulnerable_households`` = ``vulnerable``, ``active_members`` = ``available_members`` and
    ``load`` = ``households_per_member`` (households per available member); ``demand_load`` is
    the grid's load in household-load units (``load`` in ``/api/v1/coverage``)."""

    buildings: int
    households: int
    residents: int
    vulnerable_households: int
    secretaries: int
    social_workers: int
    volunteers: int
    members: int = Field(description="every member, available or not")
    active_members: int = Field(description="available members")
    load: float | None = Field(description="households per available member")
    uncovered_buildings: int
    demand_load: float
    vulnerable: int
    available_members: int
    available_secretaries: int
    available_social_workers: int
    available_volunteers: int
    capacity: float
    covered_load: float
    uncovered_load: float
    load_per_member: float | None
    households_per_member: float | None
    covered_buildings: int
    uncovered_households: int
    overloaded_members: int
    longest_walk_m: float
    coverage_pct: float
    team: int
    losses_tolerated: int
    fragile: bool


class GridProperties(BaseModel):
    code: str
    name: str
    kind: str | None
    community: Named
    stats: GridStats
    team: Team | None = Field(None, description="only in GET /api/v1/grids/{code}")


class Geometry(BaseModel):
    """A GeoJSON Polygon or MultiPolygon, lon/lat CGCS2000 (EPSG:4490)."""

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any]


STATS_EXAMPLE = {
    "buildings": 22, "households": 509, "residents": 1388, "vulnerable_households": 114,
    "secretaries": 1, "social_workers": 3, "volunteers": 9, "members": 13, "active_members": 12,
    "load": 42.42, "uncovered_buildings": 0, "demand_load": 625.0, "vulnerable": 114,
    "available_members": 12, "available_secretaries": 1, "available_social_workers": 3,
    "available_volunteers": 8, "capacity": 735.0, "covered_load": 625.0, "uncovered_load": 0.0,
    "load_per_member": 52.08, "households_per_member": 42.42, "covered_buildings": 22,
    "uncovered_households": 0, "overloaded_members": 0, "longest_walk_m": 180.7,
    "coverage_pct": 100.0, "team": 15, "losses_tolerated": 10, "fragile": False,
}
FEATURE_EXAMPLE = {
    "type": "Feature",
    "geometry": {"type": "Polygon", "coordinates": [[[120.35, 31.53], [120.36, 31.53],
                                                     [120.36, 31.54], [120.35, 31.53]]]},
    "properties": {"code": "320214052005001", "name": "叙丰家园第一网格", "kind": "residential",
                   "community": {"code": "320214052005", "name": "叙丰社区居民委员会"},
                   "stats": STATS_EXAMPLE},
}


class GridFeature(BaseModel):
    """One grid as a GeoJSON Feature."""

    model_config = {"json_schema_extra": {"examples": [FEATURE_EXAMPLE]}}

    type: Literal["Feature"]
    geometry: Geometry
    properties: GridProperties


class GridCollection(BaseModel):
    """Grids as a GeoJSON FeatureCollection."""

    model_config = {"json_schema_extra": {"examples": [{
        "type": "FeatureCollection", "features": [FEATURE_EXAMPLE], "numberMatched": 1,
        "crs_note": "lon/lat, CGCS2000 (EPSG:4490)"}]}}

    type: Literal["FeatureCollection"]
    features: list[GridFeature]
    numberMatched: int  # noqa: N815 - the OGC API - Features name
    crs_note: str
