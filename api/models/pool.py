"""Answers of ``/api/v1/reinforcements`` (the reinforcement pool) and ``/api/v1/posts``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

POOL_EXAMPLE: dict[str, Any] = {
    "id": "RP0001", "street_code": "320214052", "name": "王*明", "phone": "139****5678",
    "kind": "auxiliary_police", "lon": 120.3731, "lat": 31.5552, "capacity": 60.0,
    "available_from": "2026-03-01T00:00:00+08:00", "available_to": None,
    "community_code": "320214052005"}


class PoolEntryOut(BaseModel):
    """One person of the reinforcement pool (name and phone masked unless allowed)."""

    model_config = {"json_schema_extra": {"examples": [POOL_EXAMPLE]}}

    id: str
    street_code: str
    name: str | None = Field(description="masked unless unmasked=true and allowed")
    phone: str | None = Field(description="masked unless unmasked=true and allowed")
    kind: Literal["cadre", "auxiliary_police", "security", "volunteer"]
    lon: float = Field(description="base, CGCS2000 (≈ WGS-84) degrees")
    lat: float
    capacity: float = Field(description="in the members' load units")
    available_from: str | None = Field(description="ISO 8601; null: open")
    available_to: str | None = Field(description="ISO 8601; null: open")
    community_code: str | None = Field(description="the community the base lies in")


POST_FEATURE_EXAMPLE: dict[str, Any] = {
    "type": "Feature", "id": "PT0001",
    "geometry": {"type": "Point", "coordinates": [120.3012, 31.5713]},
    "properties": {"id": "PT0001", "kind": "checkpoint", "name": "景渎一号门", "per_shift": 2,
                   "min_security": 1, "community_code": "320214052005",
                   "street_code": "320214052"}}


class PostFeature(BaseModel):
    """A post of the posts layer as a GeoJSON Feature (a point, CGCS2000 lon/lat)."""

    model_config = {"json_schema_extra": {"examples": [POST_FEATURE_EXAMPLE]}}

    type: Literal["Feature"]
    id: str
    geometry: dict[str, Any]
    properties: dict[str, Any] = Field(description="id, kind, name, per_shift, min_security, "
                                       "community_code, street_code")


class PostCollection(BaseModel):
    """The posts layer as a GeoJSON FeatureCollection."""

    model_config = {"json_schema_extra": {"examples": [
        {"type": "FeatureCollection", "features": [POST_FEATURE_EXAMPLE]}]}}

    type: Literal["FeatureCollection"]
    features: list[PostFeature]
