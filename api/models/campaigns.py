"""Request and response models of ``/api/v1/campaigns``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class CampaignScope(BaseModel):
    """Exactly one of: grid codes, a GeoJSON Polygon (lon/lat, CGCS2000), a scenario id."""

    model_config = ConfigDict(extra="forbid")

    grids: list[str] | None = Field(None, max_length=10_000)
    area: dict[str, Any] | None = Field(None, description="GeoJSON Polygon or MultiPolygon")
    scenario: str | None = Field(None, max_length=64)

    @model_validator(mode="after")
    def _one(self) -> CampaignScope:
        given = [k for k in ("grids", "area", "scenario") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("the scope takes exactly one of grids, area, scenario")
        return self


class CampaignIn(BaseModel):
    """A new campaign."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    scope: CampaignScope
    deadline: str = Field(..., max_length=64, description="ISO-8601 time (UTC when no offset)")


class CampaignCreated(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "8d9290993ece", "buildings": 41, "households": 1523, "unassigned_buildings": 0}]})

    id: str
    buildings: int
    households: int
    unassigned_buildings: int = Field(0, description="buildings nobody covers")


class VisitIn(BaseModel):
    """A visit; ``id`` is made by the client (a UUID), so that sending it again is safe."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(..., min_length=8, max_length=64, pattern=r"^[0-9A-Za-z-]+$")
    building: str = Field(..., min_length=1, max_length=64)
    unit: str = Field("", max_length=32)
    households_reached: int = Field(..., ge=0, le=100_000)
    status: Literal["done", "not_home", "refused"]
    member: str | None = Field(None, max_length=64)
    at: str = Field(..., max_length=64, description="ISO-8601 time of the visit")


VISIT_EXAMPLE = {"id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "campaign": "8d9290993ece",
                 "building": "32021405200500013", "unit": "2", "households_reached": 6,
                 "status": "done", "member": "M00003", "at": "2026-12-01T09:30:00+08:00",
                 "building_households": 13, "building_reached": 6}


class VisitOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [VISIT_EXAMPLE]})

    id: str
    campaign: str
    building: str
    unit: str
    households_reached: int
    status: str
    member: str | None
    at: str
    building_households: int
    building_reached: int = Field(..., description="the building's households reached after "
                                  "this visit (capped at its households)")


class Tally(BaseModel):
    buildings: int
    households: int
    reached: int
    percent: float
    done_buildings: int
    overdue_buildings: int


class GridTally(Tally):
    grid: str


class CommunityTally(Tally):
    community: str


class MemberTally(Tally):
    member: str | None


class BuildingProgress(BaseModel):
    code: str
    grid: str
    community: str
    member: str | None
    households: int
    reached: int
    done: bool
    overdue: bool


_TALLY = {"buildings": 2, "households": 66, "reached": 6, "percent": 9.1,
          "done_buildings": 0, "overdue_buildings": 0}


class Progress(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "8d9290993ece", "name": "入户排查", "deadline": "2026-12-03T18:00:00+08:00",
        "as_of": "2026-12-01T10:00:00+00:00", "past_deadline": False, "totals": _TALLY,
        "grids": [{"grid": "320214052005001", **_TALLY}],
        "communities": [{"community": "320214052005", **_TALLY}],
        "members": [{"member": "M00003", **_TALLY}],
        "buildings": [{"code": "32021405200500013", "grid": "320214052005001",
                       "community": "320214052005", "member": "M00003", "households": 13,
                       "reached": 6, "done": False, "overdue": False}],
        "overdue": []}]})

    id: str
    name: str
    deadline: str
    as_of: str
    past_deadline: bool
    totals: Tally
    grids: list[GridTally]
    communities: list[CommunityTally]
    members: list[MemberTally]
    buildings: list[BuildingProgress]
    overdue: list[str]
