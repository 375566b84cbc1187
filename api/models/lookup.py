"""The answer of ``GET /api/v1/lookup``: street, community, grid and team of a point or address."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Named(BaseModel):
    """A street or community: its statistical code and name."""

    code: str = Field(description="9-digit street or 12-digit community code")
    name: str


class GridRef(BaseModel):
    """A grid: 15-digit code, name and kind."""

    code: str = Field(description="community code + 3-digit sequence")
    name: str
    kind: str = Field(description="residential, mixed, business... (from the grids layer)")


class Person(BaseModel):
    """A team member; name and phone masked unless unmasked data were asked for with the key."""

    id: str
    name: str
    phone: str
    role: Literal["secretary", "social_worker", "volunteer"]
    available: bool


class Team(BaseModel):
    """A grid's team: 1 secretary, N social workers, X volunteers (sorted by member id)."""

    secretary: Person | None
    social_workers: list[Person]
    volunteers: list[Person]


class Point(BaseModel):
    """The point as looked up, converted to CGCS2000 lon/lat."""

    lon: float
    lat: float
    crs: Literal["cgcs2000"]


class BuildingRef(BaseModel):
    """A building: 17-digit code and standard address."""

    code: str
    address: str


class Candidate(BaseModel):
    """One ranked candidate building of an address."""

    code: str
    address: str
    confidence: float = Field(ge=0, le=1)


class Match(BaseModel):
    """How an address was matched to a building."""

    status: Literal["matched", "ambiguous", "unmatched"] = Field(
        description="only ``matched`` names a building and a grid")
    confidence: float = Field(ge=0, le=1)
    building: BuildingRef | None
    grid_code: str | None
    community_code: str | None
    unit: int | None = Field(description="unit (单元) written in the address")
    room: int | None = Field(description="room (室) written in the address")
    candidates: list[Candidate]
    reasons: list[str] = Field(description="why the confidence is lower or nothing matched")
    normalized: str = Field(description="the address after normalisation")


TEAM_EXAMPLE = {
    "secretary": {"id": "M02614", "name": "秦*", "phone": "199****6112", "role": "secretary",
                  "available": True},
    "social_workers": [{"id": "M02615", "name": "汤*娟", "phone": "199****9791",
                        "role": "social_worker", "available": True}],
    "volunteers": [{"id": "M02618", "name": "付*", "phone": "199****2424", "role": "volunteer",
                    "available": True}],
}


class LookupResult(BaseModel):
    """Street, community, grid and team covering a point or an address.

    A point outside the street, or an address not ``matched``, is ``covered: false`` with
    ``street``, ``community``, ``grid`` and ``team`` null.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "covered": True,
        "street": {"code": "320214052", "name": "江溪街道"},
        "community": {"code": "320214052043", "name": "春暖第二社区居民委员会"},
        "grid": {"code": "320214052043003", "name": "春暖第二社区第3网格", "kind": "residential"},
        "team": TEAM_EXAMPLE,
        "point": {"lon": 120.36, "lat": 31.53, "crs": "cgcs2000"},
    }]})

    covered: bool
    street: Named | None
    community: Named | None
    grid: GridRef | None
    team: Team | None
    point: Point | None = Field(None, description="present for a lon/lat lookup")
    match: Match | None = Field(None, description="present for an address lookup")
