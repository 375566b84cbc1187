"""Request bodies (pydantic lives only at the API edge)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ReinforcementIn(BaseModel):
    """An extra person a scenario brings in, based at a WGS-84 position."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=100, description="distinct from every member id")
    kind: Literal["cadre", "auxiliary_police", "security", "volunteer"]
    lon: float = Field(description="WGS-84 longitude of the base")
    lat: float = Field(description="WGS-84 latitude of the base")
    capacity: float = Field(gt=0, le=1_000, description="in the members' load units")


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
    reinforcements: list[ReinforcementIn] | Literal["pool"] = Field(
        default_factory=list, max_length=5_000,
        description="extra people placed where the members cannot cover: a list, or \"pool\" "
                    "for the entries of the store's reinforcement pool available at `at` (the "
                    "kept scenario lists the entries used)")
    at: str | None = Field(None, max_length=40,
                           description="ISO 8601 time the scenario is for (default now; without "
                                       "a zone China Standard Time): picks the pool entries")
    max_moves: int | None = Field(None, ge=0, description="cap on changes of members' buildings")
    move_weight: float | None = Field(
        None, gt=0, le=1_000,
        description="price of a moved load unit relative to a placed one (default 2 with "
                    "reinforcements)")
    street: str | None = Field(
        None, pattern=r"^\d{9}$",
        description="in a store of several streets: the street the unavailable fraction is "
                    "drawn from (the rebalance still runs over every street)")
