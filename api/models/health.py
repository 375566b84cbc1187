"""The answer of ``GET /healthz``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Health(BaseModel):
    """Service status with the store's boundary version and counts."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "status": "ok", "boundaries_version": "e681ad020e90b2c5", "grids": 231, "buildings": 4341,
        "members": 3003, "synthetic": True}]})

    status: Literal["ok"]
    boundaries_version: str | None = Field(description="version of the loaded boundary layers")
    grids: int = Field(ge=0)
    buildings: int = Field(ge=0)
    members: int = Field(ge=0)
    synthetic: bool = Field(description="true for the synthetic reference street, false for a "
                                        "street imported with `geo-grid import`")
