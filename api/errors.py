"""Every error as an RFC 9457 problem+json body; core error codes mapped to HTTP in one place."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo_grid.errors import GeoGridError

log = logging.getLogger("geo_grid.api")

PROBLEM = "application/problem+json"
RESERVED = {"type", "title", "status", "detail", "instance", "code"}

#: core error code → HTTP status (the only place this mapping lives)
STATUS_OF_CODE = {
    "invalid_input": 422,
    "invalid_coordinate": 422,
    "unknown_crs": 422,
    "invalid_geometry": 422,
    "assignment_error": 422,
    "not_found": 404,
    "payload_too_large": 413,
    "conflict": 409,
    "forbidden": 403,
    "bad_request": 400,
    "store_error": 503,
}


def status_for(exc: GeoGridError) -> int:
    """HTTP status of a core error (walks the class hierarchy for unmapped subclasses)."""
    for cls in type(exc).__mro__:
        code = getattr(cls, "code", None)
        if code in STATUS_OF_CODE:
            return STATUS_OF_CODE[code]
    return 500


def problem(status: int, title: str, detail: str, request: Request, type_: str = "about:blank",
            **extra) -> JSONResponse:
    """A problem+json response."""
    body = {"type": type_, "title": title, "status": status, "detail": detail,
            "instance": str(request.url.path), **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    @app.exception_handler(GeoGridError)
    async def _core(request: Request, exc: GeoGridError):
        return problem(status_for(exc), exc.title, exc.message, request,
                       type_=f"urn:geo-grid:error:{exc.code}", code=exc.code,
                       **{k: v for k, v in exc.details.items()
                          if isinstance(v, str | int | float | bool) and k not in RESERVED})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in errors)
        return problem(422, "Request validation failed", detail, request,
                       type_="urn:geo-grid:error:validation", code="validation", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        titles = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 413: "Payload too large"}
        return problem(exc.status_code, titles.get(exc.status_code, "HTTP error"), str(exc.detail), request)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        # anything unexpected: a problem+json 500 with no traceback or exception text
        log.error("unhandled error on %s", request.url.path, exc_info=exc)
        return problem(500, "Internal error", "The server failed to handle this request.", request,
                       type_="urn:geo-grid:error:internal", code="internal")
