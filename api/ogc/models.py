"""Pydantic models documenting the JSON documents of OGC API – Features (for the OpenAPI
document; the routes send the bodies they build)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Link(BaseModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class Landing(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "title": "geo-grid", "links": [{"href": "http://host/ogc", "rel": "self",
                                        "type": "application/json"}]}})
    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    conformsTo: list[str]  # noqa: N815 - the standard's name


class Extent(BaseModel):
    spatial: dict[str, Any]
    temporal: dict[str, Any]


class CollectionInfo(BaseModel):
    id: str
    title: str
    description: str
    itemType: str = "feature"  # noqa: N815
    extent: Extent
    crs: list[str]
    storageCrs: str  # noqa: N815
    links: list[Link]


class Collections(BaseModel):
    links: list[Link]
    crs: list[str]
    collections: list[CollectionInfo]


#: The OpenAPI schema of a page of features (``application/geo+json``).
FEATURE_COLLECTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "timeStamp": {"type": "string", "format": "date-time"},
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0},
        "links": {"type": "array", "items": {"type": "object"}},
        "features": {"type": "array", "items": {"type": "object"}},
    },
}
#: The OpenAPI schema of one feature (``application/geo+json``).
FEATURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"type": "string"},
        "geometry": {"type": "object"},
        "properties": {"type": "object"},
        "links": {"type": "array", "items": {"type": "object"}},
    },
}
