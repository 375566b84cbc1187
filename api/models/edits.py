"""Request and response models of the grid edits (``/api/v1/grids/.../split`` and the rest)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CODE = r"^\d{15}$"
BUILDING = r"^\d{17}$"


class _EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    author: str = Field("api", min_length=1, max_length=100,
                        description="who makes the change (kept with the version)")
    note: str = Field("", max_length=2000, description="why (kept with the version)")


class _GeoIn(_EditIn):
    crs: str = Field("wgs84", description="CRS of the coordinates: wgs84 (RFC 7946, the "
                     "default), cgcs2000, gcj02 (Amap), bd09 (Baidu) or an EPSG code")


class SplitIn(_GeoIn):
    """Split a grid along a line, or into ``parts`` contiguous parts balanced by households."""

    line: dict[str, Any] | None = Field(
        None, description="GeoJSON LineString crossing the grid from edge to edge",
        examples=[{"type": "LineString", "coordinates": [[120.40, 31.52], [120.41, 31.53]]}])
    parts: int | None = Field(None, ge=2, le=50, description="number of parts")


class MergeIn(_EditIn):
    """Merge adjacent grids of one community into one new grid."""

    codes: list[str] = Field(..., min_length=2, max_length=50,
                             examples=[["320214052005001", "320214052005002"]])
    name: str | None = Field(None, max_length=100, description="name of the merged grid "
                             "(the first grid's by default)")


class GeometryIn(_GeoIn):
    """A grid's new outline, and optionally its neighbours' (to move a shared border)."""

    geometry: dict[str, Any] = Field(..., description="GeoJSON Polygon or MultiPolygon")
    neighbours: dict[str, dict[str, Any]] = Field(
        default_factory=dict, max_length=50,
        description="grid code → new GeoJSON outline, for grids redrawn in the same edit")


class BuildingGridIn(_EditIn):
    """The grid a building now belongs to."""

    grid: str = Field(..., pattern=CODE)


class DensifyIn(_EditIn):
    """Split every grid above a household count (a finer grid for an emergency)."""

    max_households: int = Field(..., ge=1, le=100_000)


class VersionHead(BaseModel):
    """A boundary version: when, by whom, what kind of change."""

    id: int
    created_at: str
    author: str
    kind: str
    note: str


class EditSummary(BaseModel):
    """What an edit changed."""

    model_config = ConfigDict(extra="allow")

    kind: str = Field(..., examples=["split"])
    retired: list[str] = Field(..., description="grid codes retired (never reused)")
    added: list[str] = Field(..., description="new grid codes")
    reshaped: list[str] = Field(..., description="grids whose outline changed")
    buildings_moved: int
    members_moved: int


class EditOut(BaseModel):
    """A written edit: the new boundary version and what changed, with links."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "version": {"id": 2, "created_at": "2026-12-01T08:30:00.000000+00:00",
                    "author": "网格办", "kind": "split", "note": "超过500户"},
        "edit": {"kind": "split", "retired": ["320214052005002"],
                 "added": ["320214052005014", "320214052005015"], "reshaped": [],
                 "buildings_moved": 23, "members_moved": 13, "grid": "320214052005002",
                 "households": 621, "k": 2,
                 "parts": [{"code": "320214052005014", "name": "景渎社区第2网格-1",
                            "households": 300, "buildings": 12},
                           {"code": "320214052005015", "name": "景渎社区第2网格-2",
                            "households": 321, "buildings": 11}]},
        "links": {"version": "http://127.0.0.1:8000/api/v1/versions/2",
                  "diff": "http://127.0.0.1:8000/api/v1/versions/1/diff/2",
                  "diff_map": "http://127.0.0.1:8000/map/versions/1/diff/2"},
    }]})

    version: VersionHead
    edit: EditSummary
    links: dict[str, str] = Field(default_factory=dict)
