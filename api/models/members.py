"""Response models of ``/api/v1/members``."""

from __future__ import annotations

from pydantic import BaseModel, Field

MEMBER_EXAMPLE = {
    "id": "M00001", "name": "张*明", "phone": "138****1234", "role": "secretary",
    "grid_code": "320214052005001", "available": True,
    "buildings": ["32021405200500001", "32021405200500011"], "n_buildings": 2,
    "load": 45.0, "capacity": 45.0, "overloaded": False,
}


class Member(BaseModel):
    """A member with the buildings they cover and their load (figures of the current
    assignment)."""

    model_config = {"json_schema_extra": {"examples": [MEMBER_EXAMPLE]}}

    id: str
    name: str | None = Field(description="masked unless unmasked=true with the admin key")
    phone: str | None = Field(description="masked unless unmasked=true with the admin key")
    role: str = Field(description="secretary, social_worker or volunteer")
    grid_code: str | None
    available: bool
    buildings: list[str] = Field(description="codes of the buildings the member carries load in")
    n_buildings: int
    load: float = Field(description="load carried, household-load units")
    capacity: float = Field(description="capacity, household-load units")
    overloaded: bool = Field(description="load above capacity")
