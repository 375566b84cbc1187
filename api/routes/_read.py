"""Helpers of the read routes that answer from the snapshot (members, grids, coverage).

These routes are on the hot path: they take the ``Request`` and read the service and the
``unmasked`` switch from it directly. FastAPI's dependency machinery (``Depends(service)``,
``Depends(unmasked)``) costs about a third of such a route's rate under load, and FastAPI's
per-request handler around an endpoint even without dependencies costs more than the point
lookup's own work: :class:`RequestRoute` documents a route as FastAPI does but calls its
endpoint as Starlette does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.routing import request_response

from api.access import principal, unmask
from api.edge import accepts_gzip as edge_accepts_gzip
from api.state import Snapshot
from api.views import Body
from geo_grid.district import STREET_DIGITS
from geo_grid.errors import Forbidden, NotFound

#: The ``unmasked`` query parameter, declared in the OpenAPI document for the routes that read
#: it without a dependency.
UNMASKED_PARAMS = {"parameters": [
    {"name": "unmasked", "in": "query", "required": False,
     "description": "show names and phones in full (for roles that may see them, in their "
                    "scope; recorded in the audit trail)",
     "schema": {"type": "boolean", "default": False}},
]}
_BOOL = TypeAdapter(bool)

STREET_DESCRIPTION = ("street code (9 digits): only that street's part of the answer; every "
                      "street of the store by default")
#: The ``street`` query parameter, declared for the routes that read it without a dependency.
STREET_PARAMS = {"parameters": [
    {"name": "street", "in": "query", "required": False, "description": STREET_DESCRIPTION,
     "schema": {"type": "string", "pattern": r"^\d{9}$"}},
]}


def known_street(request: Request, street: str | None) -> str | None:
    """The street a list is cut to: ``street`` when the store holds it and the caller may read
    it; without one, the caller's own street when the store holds several (a caller scoped to
    a street, community or grid reads its street's lists and totals), else None (everything).

    Raises
    ------
    NotFound
        When the store holds no street of that code (a 404).
    Forbidden
        When the caller's scope lies in another street (a 403).
    """
    held = snapshot(request).gazetteer.street_info
    scope = principal(request).scope
    if street is None:
        return scope[:STREET_DIGITS] if scope and len(held) > 1 else None
    if street not in held:
        raise NotFound(f"street {street} does not exist; the store holds "
                       f"{', '.join(sorted(held))}", street=street)
    if scope and not scope.startswith(street):
        raise Forbidden(f"street {street} is outside your scope {scope}", street=street,
                        scope=scope)
    return street


def street_query(request: Request) -> str | None:
    """The ``street`` query parameter of a :class:`RequestRoute` (which declares none):
    checked as FastAPI would (a 422 for a malformed code) and known to the store (a 404)."""
    raw = request.query_params.get("street")
    if raw is not None and not (len(raw) == 9 and raw.isascii() and raw.isdigit()):
        raise RequestValidationError([{"type": "string_pattern_mismatch",
                                       "loc": ("query", "street"),
                                       "msg": "String should match pattern '^\\d{9}$'",
                                       "input": raw, "ctx": {"pattern": r"^\d{9}$"}}])
    return known_street(request, raw)


def path_params(*names: tuple[str, str], extra: dict | None = None) -> dict:
    """``openapi_extra`` declaring the path parameters ``(name, description)`` of a
    :class:`RequestRoute` (its endpoint reads ``request.path_params`` itself, so FastAPI sees
    none), followed by the parameters of ``extra`` (e.g. :data:`UNMASKED_PARAMS`)."""
    params = [{"name": n, "in": "path", "required": True, "description": d,
               "schema": {"type": "string"}} for n, d in names]
    return {"parameters": params + list((extra or {}).get("parameters", []))}


class RequestRoute(APIRoute):
    """A FastAPI route whose endpoint takes the ``Request`` alone and returns a ``Response``.

    It is documented as any FastAPI route is (path, tags, ``response_model``, ``responses``,
    ``openapi_extra`` for the parameters the endpoint reads itself), but called as Starlette
    calls a plain endpoint: no dependency solving (which builds the query dictionary of every
    request even when nothing reads it), no per-request exit stacks, no response model pass.
    Errors raised by the endpoint still reach the app's exception handlers (problem+json).

    Use it (``APIRouter(route_class=RequestRoute)``) only for endpoints that validate their
    own input: FastAPI declares nothing for them, so an endpoint that asked for anything but
    the request would silently get nothing; the constructor refuses such an endpoint.
    """

    def __init__(self, path: str, endpoint: Callable[[Request], Awaitable[Response]],
                 **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        d = self.dependant
        name = getattr(endpoint, "__qualname__", repr(endpoint))
        if (d.path_params or d.query_params or d.header_params or d.cookie_params
                or d.body_params or d.dependencies or d.request_param_name is None):
            raise TypeError(f"{name}: a RequestRoute endpoint takes the request only")
        if self.max_body_size is not None:
            raise TypeError(f"{name}: a RequestRoute reads no body, so it has no body limit")
        self.app = request_response(endpoint)

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        # what FastAPI wraps when the route is reached through an included router
        return self.endpoint


def snapshot(request: Request) -> Snapshot:
    """The service's current snapshot (figures and pre-serialised bodies)."""
    return request.app.state.service.view


async def show_unmasked(request: Request, code: str | None) -> bool:
    """Whether to answer with names and phones in full: ``unmasked=true`` asked (a bad value
    is a 422) and allowed for ``code`` by the policy (a 403 when not; see
    :func:`api.access.unmask`)."""
    raw = request.query_params.get("unmasked")
    if raw is None:
        return False
    try:
        value = _BOOL.validate_python(raw)
    except ValidationError as exc:
        raise RequestValidationError([dict(e, loc=("query", "unmasked"))
                                      for e in exc.errors(include_url=False)]) from None
    return unmask(request, value, code)


def accepts_gzip(request: Request) -> bool:
    """Whether the client's ``Accept-Encoding`` takes gzip (``gzip;q=0`` refuses it)."""
    return takes_gzip(request.scope)


def takes_gzip(scope) -> bool:
    """:func:`accepts_gzip` read from the raw headers of an ASGI ``scope`` (without building
    the request's header mapping, for the hottest route)."""
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            return edge_accepts_gzip(value.decode("latin-1"))
    return False


def send_body(request: Request, body: Body, media_type: str,
              response_class: type[Response] = Response) -> Response:
    """``body`` as it was serialised with the snapshot: its ready gzip encoding when it has one
    and the client takes gzip (the compression middleware leaves encoded bodies alone)."""
    if body.gz is not None and accepts_gzip(request):
        return response_class(body.gz, media_type=media_type,
                              headers={"content-encoding": "gzip", "vary": "Accept-Encoding"})
    # plain: the compression middleware adds ``Vary`` to a body it could have compressed
    return response_class(body.plain, media_type=media_type)
