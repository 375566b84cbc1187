"""The error body of every route: an RFC 9457 problem (``application/problem+json``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA = "application/problem+json"

TITLES = {400: "Bad request", 403: "Forbidden", 404: "Not found", 409: "Conflict",
          413: "Payload too large", 422: "Invalid input or request validation failed",
          500: "Internal error", 503: "Store unavailable"}


class ValidationIssue(BaseModel):
    """One failed check of a request's parameters or body (422 ``validation`` only)."""

    loc: list[str | int] = Field(description="where: ``query``/``body``/``header`` then the field")
    msg: str
    type: str


class Problem(BaseModel):
    """An error as RFC 9457 problem details, plus the core's machine-readable ``code``.

    ``type`` is ``urn:geo-grid:error:{code}`` for errors of the service (``about:blank`` for
    plain HTTP errors such as an unknown path); further members carry the details of the error
    (a feature code, a row number, the offending value).
    """

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "type": "urn:geo-grid:error:invalid_coordinate", "title": "Invalid coordinate",
        "status": 422, "detail": "lat=120.36 is out of range [-90, 90] and lon=31.53 looks like a "
        "latitude: longitude and latitude appear to be swapped (expected lon≈120, lat≈31 here)",
        "instance": "/api/v1/lookup", "code": "invalid_coordinate", "lon": 31.53, "lat": 120.36}]})

    type: str = Field("about:blank", description="``urn:geo-grid:error:{code}`` or about:blank")
    title: str = Field(description="short summary of the kind of error")
    status: int = Field(description="the HTTP status")
    detail: str = Field(description="what exactly is wrong, for a person")
    instance: str = Field(description="the request path")
    code: str | None = Field(None, description="stable machine-readable error code")
    errors: list[ValidationIssue] | None = Field(None, description="request validation failures")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries documenting problem+json bodies for the given statuses."""
    return {s: {"model": Problem, "description": TITLES.get(s, "Error")} for s in statuses}


def problem_media_types(schema: dict[str, Any]) -> dict[str, Any]:
    """Document error bodies as ``application/problem+json`` (what the service sends).

    FastAPI files a ``responses=`` model under ``application/json``; this moves every 4xx/5xx
    body whose schema is :class:`Problem` to the problem media type, in place.
    """
    ref = "#/components/schemas/Problem"
    for path in schema.get("paths", {}).values():
        for op in path.values():
            for status, resp in (op.get("responses") or {}).items() if isinstance(op, dict) else ():
                content = resp.get("content") or {}
                body = content.get("application/json")
                if str(status)[:1] in "45" and body and body.get("schema", {}).get("$ref") == ref:
                    content[PROBLEM_MEDIA] = content.pop("application/json")
    return schema
