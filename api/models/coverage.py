"""Response models of ``/api/v1/coverage`` and the figure tables it shares with the scenarios.

Every figure is defined once in :mod:`geo_grid.figures`; these models only name and type them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class CountFigures(BaseModel):
    """Figures of a grid, a community or the district (see :mod:`geo_grid.figures`)."""

    buildings: int
    households: int
    residents: int
    vulnerable: int = Field(description="vulnerable households")
    members: int = Field(description="every member, available or not")
    available_members: int
    secretaries: int = Field(description="every secretary")
    social_workers: int = Field(description="every social worker")
    volunteers: int = Field(description="every volunteer")
    available_secretaries: int
    available_social_workers: int
    available_volunteers: int
    capacity: float = Field(description="capacity of the available members, household-load units")
    load: float = Field(description="demand, household-load units")
    covered_load: float
    uncovered_load: float
    load_per_member: float | None = Field(description="load per available member")
    households_per_member: float | None = Field(description="households per available member")
    covered_buildings: int
    uncovered_buildings: int = Field(description="buildings where some load has no member")
    uncovered_households: int
    overloaded_members: int
    longest_walk_m: float = Field(description="longest home → building walk serving it")
    coverage_pct: float = Field(description="share of households in covered buildings, %")
    losses_tolerated: int = Field(
        description="member losses before a building goes uncovered (-1: not coverable); "
        "for a community or the district, the least of its grids")
    fragile: bool = Field(description="losses_tolerated <= 0 (for several grids: any fragile)")


class GridFigures(CountFigures):
    """One grid's figures; ``secretary``/``social_worker``/``volunteer`` are the older names of
    the available counts by role."""

    grid_code: str
    community_code: str
    team: int = Field(description="members carrying load in the grid")
    secretary: int
    social_worker: int
    volunteer: int


class CommunityFigures(CountFigures):
    """One community's figures (grid figures summed)."""

    community_code: str
    grids: int
    fragile_grids: int
    secretary: int
    social_worker: int
    volunteer: int


class DistrictFigures(CountFigures):
    """The whole district's figures."""

    grids: int
    fragile_grids: int


class UncoveredTotals(BaseModel):
    """Uncovered buildings, households and load, overloaded members and the longest walk."""

    uncovered_buildings: int
    uncovered_households: int
    uncovered_load: float
    overloaded_members: int
    max_walk_m: float


class Totals(UncoveredTotals):
    """Street-wide totals (older names)."""

    fragile_grids: int


class Resilience(BaseModel):
    """How many member losses a grid can take."""

    grid_code: str
    community_code: str
    team: int
    losses_tolerated: int
    fragile: bool


GRID_EXAMPLE = {
    "grid_code": "320214052005001", "community_code": "320214052005", "buildings": 22,
    "households": 509, "residents": 1388, "vulnerable": 114, "members": 13,
    "available_members": 12, "secretaries": 1, "social_workers": 3, "volunteers": 9,
    "available_secretaries": 1, "available_social_workers": 3, "available_volunteers": 8,
    "capacity": 735.0, "load": 625.0, "covered_load": 625.0, "uncovered_load": 0.0,
    "load_per_member": 52.08, "households_per_member": 42.42, "covered_buildings": 22,
    "uncovered_buildings": 0, "uncovered_households": 0, "overloaded_members": 0,
    "longest_walk_m": 180.7, "coverage_pct": 100.0, "team": 15, "losses_tolerated": 10,
    "fragile": False, "secretary": 1, "social_worker": 3, "volunteer": 8,
}


class Coverage(BaseModel):
    """Coverage of the current assignment per grid, community and district."""

    model_config = {"json_schema_extra": {"examples": [{
        "totals": {"uncovered_buildings": 0, "uncovered_households": 0, "uncovered_load": 0.0,
                   "overloaded_members": 0, "max_walk_m": 321.1, "fragile_grids": 0},
        "district": {k: v for k, v in GRID_EXAMPLE.items()
                     if k not in ("grid_code", "community_code", "team", "secretary",
                                  "social_worker", "volunteer")} | {"grids": 1, "fragile_grids": 0},
        "grids": [GRID_EXAMPLE],
        "communities": [],
        "resilience": [{"grid_code": "320214052005001", "community_code": "320214052005",
                        "team": 15, "losses_tolerated": 10, "fragile": False}],
        "fragile_grids": [],
    }]}}

    totals: Totals
    district: DistrictFigures
    grids: list[GridFigures]
    communities: list[CommunityFigures]
    resilience: list[Resilience]
    fragile_grids: list[str]
