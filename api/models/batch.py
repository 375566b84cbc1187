"""The JSON answer of ``POST /api/v1/lookup/batch`` (the file variant answers the roster file)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.models.lookup import GridRef, Match, Named

Status = Literal["matched", "ambiguous", "unmatched", "located", "not_covered", "error"]


class BatchItem(BaseModel):
    """One item's answer, in the order given."""

    index: int = Field(ge=0, description="position of the item in the request")
    input: Any = Field(description="the item as sent")
    status: Status = Field(description="matched/ambiguous/unmatched for an address, "
                           "located/not_covered for a point, error for an unreadable item")
    grid: GridRef | None
    community: Named | None
    match: Match | None = Field(description="how an address was matched (null for a point)")
    error: str | None = Field(description="why the item could not be read")


class BatchSummary(BaseModel):
    """How many items there were, and how many of each status (statuses that occur only)."""

    model_config = ConfigDict(extra="forbid")

    items: int = Field(ge=0)
    matched: int | None = Field(None, ge=0)
    ambiguous: int | None = Field(None, ge=0)
    unmatched: int | None = Field(None, ge=0)
    located: int | None = Field(None, ge=0)
    not_covered: int | None = Field(None, ge=0)
    error: int | None = Field(None, ge=0)


class BatchResult(BaseModel):
    """Every item's answer in order, and the counts per status."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "results": [
            {"index": 0, "input": {"lon": 120.36, "lat": 31.53}, "status": "located",
             "grid": {"code": "320214052043003", "name": "春暖第二社区第3网格",
                      "kind": "residential"},
             "community": {"code": "320214052043", "name": "春暖第二社区居民委员会"},
             "match": None, "error": None},
            {"index": 1, "input": {"lon": 120.2, "lat": 31.5}, "status": "not_covered",
             "grid": None, "community": None, "match": None, "error": None}],
        "summary": {"items": 2, "located": 1, "not_covered": 1}}]})

    results: list[BatchItem]
    summary: BatchSummary
