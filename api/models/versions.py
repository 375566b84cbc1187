"""Response models of ``/api/v1/versions``: the boundary versions and what changed between two.

A boundary version is written by every edit of the grids (see
:mod:`geo_grid.store.versions`); these models only name and type what the core returns.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

CREATED = "2026-12-01T08:30:00.000000+00:00"


class VersionSummary(BaseModel):
    """What an edit changed, as recorded with its version (empty for version 1, the store as
    built). Edits may record further facts (the parts of a split, the line drawn...), kept as
    extra members."""

    model_config = ConfigDict(extra="allow")

    kind: str | None = Field(None, description="split, merge, geometry, building_grid, densify")
    retired: list[str] = Field([], description="grid codes that stopped existing")
    added: list[str] = Field([], description="new grid codes")
    reshaped: list[str] = Field([], description="grids (same code) with a new outline")
    buildings_moved: int = Field(0, description="buildings given to another grid")
    members_moved: int = Field(0, description="members of a retired grid moved to a new one")


SPLIT_DETAIL = {"kind": "split", "retired": ["320214052005001"],
                "added": ["320214052005014", "320214052005015"], "reshaped": [],
                "buildings_moved": 22, "members_moved": 13}
VERSION_EXAMPLE = {"id": 2, "created_at": CREATED, "author": "zhang.wei", "kind": "split",
                   "note": "景渎家园 split along the river", "detail": SPLIT_DETAIL,
                   "current": True}


class VersionItem(BaseModel):
    """One boundary version: when, by whom, what kind of change, why, and its summary."""

    model_config = ConfigDict(json_schema_extra={"examples": [VERSION_EXAMPLE]})

    id: int = Field(description="1 is the store as built; every edit adds one")
    created_at: str = Field(description="ISO-8601 time in UTC")
    author: str
    kind: str = Field(description="init (version 1), split, merge, geometry, building_grid, "
                      "densify")
    note: str
    detail: VersionSummary
    current: bool = Field(description="true for the newest version (the grids in force)")


class VersionLinks(BaseModel):
    """The version's own route, and what changed since the version before it (none for
    version 1)."""

    self: str
    diff: str | None = Field(description="JSON diff against the previous version")
    diff_map: str | None = Field(description="map of the diff against the previous version")


class VersionOut(VersionItem):
    """One boundary version with the number of grids and buildings in force in it."""

    model_config = ConfigDict(json_schema_extra={"examples": [VERSION_EXAMPLE | {
        "grids": 232, "buildings": 4341,
        "links": {"self": "/api/v1/versions/2", "diff": "/api/v1/versions/1/diff/2",
                  "diff_map": "/map/versions/1/diff/2"}}]})

    grids: int
    buildings: int
    links: VersionLinks


class DiffGrid(BaseModel):
    """A grid added or removed between the two versions (households in the version it is in)."""

    code: str
    name: str
    community_code: str
    households: int


class ReshapedGrid(DiffGrid):
    """A grid whose outline changed (households after)."""

    area_change_m2: float = Field(description="area after minus area before, m²")
    area_differs_m2: float = Field(description="area of the symmetric difference, m²")


class MovedBuilding(BaseModel):
    """A building in another grid after than before."""

    code: str
    address: str | None
    from_grid: str
    to_grid: str
    households: int


class HouseholdDelta(BaseModel):
    """A grid whose household count changed (0 for a grid not in that version)."""

    code: str
    before: int
    after: int
    delta: int


class VersionDiff(BaseModel):
    """What changed between two boundary versions (``from`` before, ``to`` after)."""

    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"examples": [{
        "from": 1, "to": 2,
        "grids_added": [{"code": "320214052005014", "name": "景渎社区第14网格",
                         "community_code": "320214052005", "households": 342}],
        "grids_removed": [{"code": "320214052005001", "name": "景渎社区第1网格",
                           "community_code": "320214052005", "households": 509}],
        "grids_reshaped": [{"code": "320214052005002", "name": "景渎社区第2网格",
                            "community_code": "320214052005", "households": 410,
                            "area_change_m2": 5230.4, "area_differs_m2": 5230.4}],
        "buildings_moved": [{"code": "32021405200500001", "address": "景渎家园1栋",
                             "from_grid": "320214052005001", "to_grid": "320214052005014",
                             "households": 16}],
        "households": [{"code": "320214052005001", "before": 509, "after": 0, "delta": -509}],
    }]})

    from_: int = Field(alias="from", description="the version before")
    to: int = Field(description="the version after")
    grids_added: list[DiffGrid]
    grids_removed: list[DiffGrid]
    grids_reshaped: list[ReshapedGrid]
    buildings_moved: list[MovedBuilding]
    households: list[HouseholdDelta] = Field(description="grids whose household count changed")
