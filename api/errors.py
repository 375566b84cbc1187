"""Every error as an RFC 9457 problem+json body; core error classes mapped to HTTP in one place."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo_grid import errors as E  # noqa: N812
from geo_grid.assign.model import AssignmentError, SolverFailed

log = logging.getLogger("geo_grid.api")

PROBLEM = "application/problem+json"
RESERVED = {"type", "title", "status", "detail", "instance", "code"}

#: Core error class → HTTP status: the only place this mapping lives. Every subclass of
#: :class:`geo_grid.errors.GeoGridError` has its own entry (a test walks the class tree), so a
#: new error class must be given a status here on purpose rather than inherit one by accident.
#: Details that are lists of JSON objects and go into the problem body as they are (the
#: violations of a refused import or edit, the bad rows of a refused roster).
LISTED_DETAILS = ("violations", "rows")

STATUS_OF_ERROR: dict[type[E.GeoGridError], int] = {
    E.GeoGridError: 500,
    E.InvalidInput: 422,
    E.InvalidCoordinate: 422,
    E.UnknownCRS: 422,
    E.InvalidGeometry: 422,
    E.TopologyError: 422,
    AssignmentError: 422,
    E.BadRequest: 400,
    E.PayloadTooLarge: 413,
    E.NotFound: 404,
    E.Conflict: 409,
    E.Forbidden: 403,
    E.Unauthorized: 401,
    E.StoreError: 503,
    SolverFailed: 500,
}


def status_for(exc: E.GeoGridError) -> int:
    """HTTP status of a core error.

    Parameters
    ----------
    exc : GeoGridError
        The error raised by the core.

    Returns
    -------
    int
        The status of the error's class in :data:`STATUS_OF_ERROR`; a class without an entry
        (which the test suite forbids) gets its nearest listed ancestor's status.
    """
    for cls in type(exc).__mro__:
        if cls in STATUS_OF_ERROR:
            return STATUS_OF_ERROR[cls]
    return 500


def problem(status: int, title: str, detail: str, request: Request, type_: str = "about:blank",
            **extra) -> JSONResponse:
    """A problem+json response."""
    body = {"type": type_, "title": title, "status": status, "detail": detail,
            "instance": str(request.url.path), **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    @app.exception_handler(E.GeoGridError)
    async def _core(request: Request, exc: E.GeoGridError):
        status = status_for(exc)
        if status >= 500:
            # a failure of ours, not of the caller's input: keep the traceback in the log
            log.error("%s on %s: %s", exc.code, request.url.path, exc.message, exc_info=exc)
        return problem(status, exc.title, exc.message, request,
                       type_=f"urn:geo-grid:error:{exc.code}", code=exc.code,
                       **{k: v for k, v in exc.details.items()
                          if k not in RESERVED and (isinstance(v, str | int | float | bool)
                                                    or k in LISTED_DETAILS)})

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
        # anything unexpected: logged with its traceback, answered as a problem+json 500 with
        # no traceback or exception text
        log.error("unhandled error on %s", request.url.path, exc_info=exc)
        return problem(500, "Internal error", "The server failed to handle this request.", request,
                       type_="urn:geo-grid:error:internal", code="internal")
