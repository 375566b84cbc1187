"""Bodies and answers of the roster routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PostIn(BaseModel):
    """A post given inline (lon/lat in CGCS2000 degrees)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=100)
    kind: Literal["checkpoint", "information", "isolation", "logistics"]
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    per_shift: int = Field(1, ge=1, le=50)
    min_security: int = Field(0, ge=0, le=50)


class ReinforcementIn(BaseModel):
    """Someone lent to the street: cadre, auxiliary police, security guard or volunteer."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=100)
    kind: Literal["cadre", "auxiliary_police", "security", "volunteer"]
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    capacity: int | None = Field(None, ge=0, description="most shifts over the roster")


class RosterIn(BaseModel):
    """A roster request. ``posts: "layer"``: the store's posts layer when it has posts, else
    the three group posts (信息/隔离/后勤) of each community at its representative point; plus
    ``checkpoints``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "start": "2026-03-01T08:00:00", "days": 7, "shift_hours": 8, "posts": "layer",
        "checkpoints": [{"id": "gate-1", "kind": "checkpoint", "lon": 120.301, "lat": 31.571,
                         "per_shift": 2, "min_security": 1}],
        "max_hours_per_week": 48, "min_rest_hours": 12, "max_travel_m": 2000,
        "reinforcements": [{"id": "r1", "kind": "security", "lon": 120.302, "lat": 31.57,
                            "capacity": 10}]}]})
    scenario: str | None = Field(None, description="leave out this scenario's unavailable members")
    previous: str | None = Field(None, description="a kept roster to change as little as possible")
    start: str = Field(description="ISO 8601 time of the first shift")
    days: int = Field(7, ge=1, le=31)
    shift_hours: int = Field(8, ge=1, le=24)
    posts: Literal["layer"] | list[PostIn] = "layer"
    checkpoints: list[PostIn] = Field(default_factory=list, max_length=1000)
    max_hours_per_week: float = Field(48, gt=0, le=168)
    min_rest_hours: float = Field(12, ge=0, le=72)
    max_travel_m: float = Field(2000, ge=0, le=50_000)
    reinforcements: list[ReinforcementIn] | Literal["pool"] = Field(
        default_factory=list, max_length=10_000,
        description='a list, or "pool": the entries of the store\'s reinforcement pool '
                    'available during the whole roster')
    time_limit_s: float = Field(30, gt=0, le=120)


class ShiftOut(BaseModel):
    post: str
    start: str
    end: str
    people: list[str]


class PersonOut(BaseModel):
    id: str
    kind: str
    hours: float
    shifts: int


class UnfilledOut(BaseModel):
    post: str
    start: str
    end: str
    missing: int
    missing_security: int = 0


ROSTER_EXAMPLE = {
    "id": "5c1e2a9b0d3f", "created_at": "2026-03-01T07:59:12.104532+00:00",
    "status": "optimal", "gap": 0.0, "proven": True, "changes": None,
    "shifts": [{"post": "gate-1", "start": "2026-03-01T08:00:00", "end": "2026-03-01T16:00:00",
                "people": ["r1", "M0005"]}],
    "people": [{"id": "r1", "kind": "security", "hours": 16, "shifts": 2}],
    "unfilled": [],
}


class RosterOut(BaseModel):
    """A kept roster: person ids only."""

    model_config = {"json_schema_extra": {"examples": [ROSTER_EXAMPLE]}}

    id: str
    created_at: str
    status: Literal["optimal", "feasible", "infeasible"]
    gap: float
    proven: bool
    changes: int | None = None
    shifts: list[ShiftOut]
    people: list[PersonOut]
    unfilled: list[UnfilledOut]
    reinforcements_from_pool: list[str] | None = Field(
        None, description='with "reinforcements": "pool": the ids of the pool entries offered')
