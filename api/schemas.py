"""Request bodies (pydantic lives only at the API edge)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ScenarioIn(BaseModel):
    """An emergency scenario."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=200)
    unavailable_members: list[str] = Field(default_factory=list, max_length=100_000)
    unavailable_fraction: float = Field(0.0, ge=0.0, le=1.0)
    seed: int = Field(0, ge=0)
    sealed_buildings: list[str] = Field(default_factory=list, max_length=100_000)
    sealed_area: dict[str, Any] | None = Field(None, description="GeoJSON geometry, Feature or FeatureCollection")
    sealed_area_crs: str = "cgcs2000"
    surge: dict[str, float] = Field(default_factory=dict)
    walk_limit_m: float | None = Field(None, gt=0, le=20_000)
