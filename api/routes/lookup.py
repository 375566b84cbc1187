"""Which grid (and team) covers a coordinate or an address.

The point lookup is the hottest route of the service, so it is kept lean:

- a :class:`~api.routes._read.RequestRoute`: the endpoint takes the request alone and is called
  as a plain Starlette endpoint (no dependency solving), and it runs on the event loop (no
  threadpool hop); the query is validated by one pydantic model (:class:`LookupQuery`, which
  also documents the parameters) when it is not the common ``lon=..&lat=..[&crs=..]``;
- the route sits on the app's own router (:func:`install`), so it is matched once;
- the masked answer of each grid is checked against :class:`LookupResult` and encoded once per
  district (:class:`_Encoded`), gzip-encoded once too; a request only adds its point to the
  ready bytes;
- the commonest query of all, degrees written as ``repr`` writes them (:data:`DEGREES_QUERY`),
  is answered with the query's own digits: no float formatting. The gzip verdict is the one
  the edge middleware read (:data:`api.edge.ACCEPTS_GZIP`), and the service is read from the
  scope without Starlette's ``State.__getattr__`` (which raises and catches an
  ``AttributeError`` on every read).

A new query parameter goes into :class:`LookupQuery` (and the validated path of
:func:`lookup`): a query that carries it matches neither fast path (:func:`degrees_query`,
:func:`plain_point` refuse any key but ``lon``, ``lat`` and ``crs``), so it is validated and
answered there.

The benchmark's no-op (``/api/v1/_noop``) is a route of the same class on the same router, just
before the lookup. Address lookups and unmasked answers are built per request and checked
against the model.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.access import unmask
from api.edge import ACCEPTS_GZIP, GzipPrefix, gzip_small
from api.models.lookup import LookupResult
from api.models.problem import problem_responses
from api.routes._read import RequestRoute, takes_gzip
from api.state import ServiceState
from geo_grid.crs import CRS_NAMES
from geo_grid.errors import BadRequest, NotFound
from geo_grid.lookup import Gazetteer

router = APIRouter(prefix="/api/v1", tags=["lookup"], route_class=RequestRoute)
JSON = "application/json"
GZIPPED = [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]


class LookupQuery(BaseModel):
    """The query parameters of ``GET /api/v1/lookup``."""

    model_config = ConfigDict(extra="ignore")

    lon: float | None = Field(None, description="longitude (or easting in metres for epsg:4549)")
    lat: float | None = Field(None, description="latitude (or northing in metres for epsg:4549)")
    crs: str = Field("wgs84", description=f"one of {', '.join(CRS_NAMES)}")
    address: str | None = Field(None, max_length=200, description="free-text Chinese address")
    unmasked: bool = Field(False, description="show names and phones in full (for roles that "
                           "may see them, in their scope; recorded in the audit trail)")
    as_of: str | None = Field(None, max_length=40, description="ISO-8601 time: answer with the "
                              "boundary version in force then (without a zone: China Standard "
                              "Time)")
    street: str | None = Field(None, pattern=r"^\d{9}$",
                               description="street code (9 digits): answer only inside that "
                                           "street (elsewhere covered: false); every street of "
                                           "the store by default")


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI ``parameters`` (in the query) of a pydantic model's fields."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return [{"name": name, "in": "query", "required": name in required,
             "description": prop.get("description", ""),
             "schema": {k: v for k, v in prop.items() if k not in ("description", "title")}}
            for name, prop in schema["properties"].items()]


PARAMETERS = query_parameters(LookupQuery)


#: a plain decimal number, which pydantic's float parsing reads exactly as ``float`` does
DECIMAL = re.compile(rb"-?[0-9]{1,12}(?:\.[0-9]{1,20})?")
CRS_VALUE = re.compile(rb"[A-Za-z0-9:]{1,16}")
#: the query as clients send it: ``lon=..&lat=..``, optionally ``&crs=..``, in this order
COMMON = re.compile(rb"lon=(%s)&lat=(%s)(?:&crs=(%s))?" % (
    DECIMAL.pattern, DECIMAL.pattern, CRS_VALUE.pattern))


#: a coordinate in degrees written exactly as ``repr`` writes the float it stands for: at most
#: 15 significant digits (any decimal of 15 digits or fewer is the shortest one that reads back
#: as its float, so ``repr`` gives those very digits), no trailing zero but in ``X.0``, no
#: leading zero but in ``0.``, and not below 0.0001 unless zero (``repr`` writes ``1e-05``)
REPR_DEGREES = (rb"-?(?:[1-9][0-9]{0,2}\.(?:[0-9]{0,11}[1-9]|0)"
                rb"|0\.(?:0{0,3}[1-9](?:[0-9]{0,10}[1-9])?|0))")
#: the commonest query: ``lon=..&lat=..`` in degrees, optionally ``&crs=`` ``wgs84`` or
#: ``cgcs2000`` (the locator's own coordinates, no conversion); each number is captured as
#: :data:`REPR_DEGREES` without its trailing zeros (``%.6f`` writes some), which change
#: neither its value nor its ``repr``; at most 20 decimals, as :data:`DECIMAL` reads
DEGREES_QUERY = re.compile(rb"lon=(%s)0{0,8}&lat=(%s)0{0,8}(?:&crs=(?:wgs84|cgcs2000))?" % (
    REPR_DEGREES, REPR_DEGREES))


def degrees_query(query: bytes) -> tuple[bytes, bytes] | None:
    """The ``lon`` and ``lat`` digits of the commonest raw query string, or None.

    That query is ``lon=..&lat=..[&crs=wgs84|cgcs2000]`` with both numbers written as ``repr``
    writes a float, but for trailing zeros (:data:`DEGREES_QUERY`; a client formatting with
    ``%.6f`` does): the digits returned, trailing zeros left out, are the answer's own, with no
    float formatting. Any other query returns None and goes through :func:`plain_point`.
    """
    m = DEGREES_QUERY.fullmatch(query)
    return None if m is None else m.group(1, 2)


def plain_point(query: bytes) -> tuple[float, float, str] | None:
    """``(lon, lat, crs)`` of the common raw query string, or None.

    The common query is ``lon=..&lat=..[&crs=..]``: plain decimals, each key once, nothing
    percent-encoded and nothing else asked. It is read straight from the raw bytes, which costs
    a fraction of building Starlette's query dictionary: in that order by one regular
    expression, in any other order key by key. Anything else (an address, ``unmasked``, a
    repeated key, a malformed number) returns None and goes through :func:`parse_query` and its
    422 answers.
    """
    m = COMMON.fullmatch(query)
    if m is not None:
        lon, lat, crs = m.groups()
        return float(lon), float(lat), "wgs84" if crs is None else crs.decode()
    if not query or b"%" in query or b"+" in query:
        return None
    lon = lat = crs = None
    for part in query.split(b"&"):
        key, _, value = part.partition(b"=")
        if key == b"lon" and lon is None and DECIMAL.fullmatch(value):
            lon = value
        elif key == b"lat" and lat is None and DECIMAL.fullmatch(value):
            lat = value
        elif key == b"crs" and crs is None and CRS_VALUE.fullmatch(value):
            crs = value
        else:
            return None
    if lon is None or lat is None:
        return None
    return float(lon), float(lat), crs.decode() if crs is not None else "wgs84"


def parse_query(request: Request) -> LookupQuery:
    """The validated query; a 422 ``validation`` problem like FastAPI's own otherwise."""
    try:
        return LookupQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]) from None


def encode(answer: dict[str, Any]) -> bytes:
    """An answer checked against :class:`LookupResult`, as JSON (absent members left out)."""
    return LookupResult.model_validate(answer).model_dump_json(exclude_unset=True).encode()


#: the names under which a point is given in the locator's own coordinates (CGCS2000 degrees,
#: which WGS-84 degrees are taken to be, as :meth:`Gazetteer.locate_point` does)
DEGREES = frozenset({"wgs84", "cgcs2000"})


class _Encoded:
    """Masked answers per grid of one gazetteer, encoded once, without the point.

    An answer is its grid's ready bytes (everything up to the point's ``lon``) followed by the
    point: one formatting operation per request. The ready bytes are kept gzip-encoded too
    (:class:`~api.edge.GzipPrefix`), to which the point is joined at the cost of a CRC.
    """

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer
        self.locator = gazetteer.locator
        self.heads: dict[str | None, bytes] = {}  # by grid code (None: outside the street)
        # by the locator's grid index (-1: outside): the head and its gzip encoding
        self.by_index: dict[int, tuple[bytes, GzipPrefix]] = {}

    def head(self, code: str | None) -> bytes:
        """The encoded answer for ``code`` up to the point's longitude."""
        head = self.heads.get(code)
        if head is None:
            # everything but the closing brace, then the point member up to its first value
            head = self.heads[code] = (encode(self.gazetteer.answer_for_grid(code))[:-1]
                                       + b',"point":{"lon":')
        return head

    def _ready(self, idx: int) -> tuple[bytes, GzipPrefix]:
        """The head of the grid at locator index ``idx`` and its gzip encoding (made once)."""
        ready = self.by_index.get(idx)
        if ready is None:
            head = self.head(None if idx < 0 else str(self.locator.codes[idx]))
            ready = self.by_index[idx] = (head, GzipPrefix(head))
        return ready

    def answer(self, code: str | None, x: float, y: float) -> bytes:
        """The masked answer for grid ``code`` (None: not covered) at CGCS2000 point ``x, y``."""
        # repr of a finite float is valid JSON and round-trips exactly
        return b'%s%r,"lat":%r,"crs":"cgcs2000"}}' % (self.head(code), x, y)

    def degrees(self, lon: bytes, lat: bytes, gz: bool = False) -> bytes | None:
        """The masked answer for a point in degrees written as ``repr`` writes them (the digits
        of :func:`degrees_query`), gzip-encoded with ``gz``; None when out of range (then
        :meth:`point` answers, or raises the error)."""
        x, y = float(lon), float(lat)
        if not (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
            return None
        idx = self.locator.locate_one(x, y)
        head, prefix = self.by_index.get(idx) or self._ready(idx)
        # the digits are repr's own (see REPR_DEGREES): the very bytes ``point`` would write
        end = b'%s,"lat":%s,"crs":"cgcs2000"}}' % (lon, lat)
        return prefix.join(end) if gz else head + end

    def point(self, lon: float, lat: float, crs: str, gz: bool = False) -> bytes:
        """The masked answer for a point given in ``crs``, as :meth:`Gazetteer.locate_point`
        locates it (gzip-encoded with ``gz``, for degrees); a bad point or CRS raises its
        error."""
        if crs in DEGREES and -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0:
            # plain degrees, which need no conversion and cannot be invalid
            head, prefix = self._ready(self.locator.locate_one(lon, lat))
            end = b'%r,"lat":%r,"crs":"cgcs2000"}}' % (lon, lat)
            return prefix.join(end) if gz else head + end
        code, x, y = self.gazetteer.locate_point(lon, lat, crs)
        body = self.answer(code, x, y)
        return gzip_small(body) if gz else body


_encoded: _Encoded | None = None


def encoded_for(gazetteer: Gazetteer) -> _Encoded:
    """The encoded answers of ``gazetteer`` (rebuilt when the service swaps its snapshot)."""
    global _encoded
    if _encoded is None or _encoded.gazetteer is not gazetteer:
        _encoded = _Encoded(gazetteer)
    return _encoded


def service_of(scope) -> ServiceState:
    """The running service (``request.app.state.service``) read from the ASGI scope.

    Straight from the dictionary behind Starlette's ``app.state``: reading it as an attribute
    goes through ``State.__getattr__``, reached only after the ordinary attribute lookup has
    failed and built an ``AttributeError``, which costs the point lookup more than its locator.
    """
    return scope["app"].state._state["service"]


def install(app: FastAPI) -> None:
    """Put the no-op and the point lookup on the app's own router, after the routes already there.

    Not ``app.include_router``: an included router is matched as a whole and then again route
    by route, which costs the hottest route of the service a second pass over its siblings.
    """
    app.router.routes.extend(router.routes)


@router.get("/_noop", include_in_schema=False)
async def noop(request: Request) -> Response:
    """Nothing at all: the ceiling of this app for a route of the lookup's kind.

    ``benchmarks/http.py`` compares ``/api/v1/lookup`` with it: the same route class, router
    and middleware; it is matched first, so the lookup pays for one more route test than the
    no-op does.
    """
    return Response(b"{}", media_type=JSON)


@router.get("/lookup", response_model=LookupResult,
            responses=problem_responses(400, 403, 404, 422, 503),
            openapi_extra={"parameters": PARAMETERS})
async def lookup(request: Request) -> Response:
    """Street, community, grid and team covering a point or an address.

    Give ``lon`` and ``lat`` (with ``crs``), or ``address``. A point outside the street answers
    ``{"covered": false}`` with its ``point``; an address answers a ``match`` object too.
    Names and phones are masked unless ``unmasked=true`` is asked by a role that may see them,
    inside its scope. ``as_of`` answers with the grids in force at that time.
    """
    scope = request.scope
    query = scope["query_string"]
    digits = degrees_query(query)
    point = plain_point(query) if digits is None else None
    if digits is not None or point is not None:
        enc = encoded_for(service_of(scope).view.gazetteer)
        gz = scope.get(ACCEPTS_GZIP)
        if gz is None:  # no edge middleware in front (read the header here)
            gz = takes_gzip(scope)
        body = None if digits is None else enc.degrees(*digits, gz=gz)
        if body is None:
            # any other plain point: its floats formatted, converted from its CRS if need be
            body = enc.point(*(point or plain_point(query)), gz=gz)
        if gz:
            # encoded here at the cost of a CRC (see api.edge.GzipPrefix), not by the edge
            resp = Response(body, media_type=JSON)
            resp.raw_headers += GZIPPED
            return resp
        return Response(body, media_type=JSON)  # the edge adds Vary
    q = parse_query(request)
    state = request.app.state.service
    gaz = state.gazetteer
    if q.as_of is not None:  # the boundary version in force then, with its own locator
        view = await run_in_threadpool(state.as_of, q.as_of)
        gaz = view.gazetteer
    if q.street is not None and q.street not in gaz.street_info:
        raise NotFound(f"street {q.street} does not exist; the store holds "
                       f"{', '.join(sorted(gaz.street_info))}", street=q.street)
    if q.address is not None:
        body = gaz.lookup_address(q.address, False)
        if q.unmasked:
            body = _unmasked(request, body, lambda: gaz.lookup_address(q.address, True))
    else:
        if q.lon is None or q.lat is None:
            raise BadRequest("give both lon and lat, or an address")
        if not q.unmasked and q.as_of is None:
            code, x, y = gaz.locate_point(q.lon, q.lat, q.crs)
            if q.street is not None and code is not None and not code.startswith(q.street):
                code = None  # covered, but by another street than the one asked for
            return Response(encoded_for(gaz).answer(code, x, y), media_type=JSON)
        body = gaz.lookup(q.lon, q.lat, q.crs)
        if q.unmasked:
            body = _unmasked(request, body, lambda: gaz.lookup(q.lon, q.lat, q.crs, unmasked=True))
    if q.street is not None:
        body = _in_street(body, q.street)
    if q.as_of is not None:
        body = {**body, "boundary_version": gaz.district.boundary_version}
    return Response(encode(body), media_type=JSON)


def _in_street(body: dict, street: str) -> dict:
    """The answer as from outside when the grid found lies in another street than ``street``
    (the point and an address's ``match`` kept)."""
    grid = (body.get("grid") or {}).get("code")
    if grid is None or str(grid).startswith(street):
        return body
    return {**body, "covered": False, "street": None, "community": None, "grid": None,
            "team": None}


def _unmasked(request: Request, masked: dict, full) -> dict:
    """The answer with names and phones in full if the caller may see them for the grid found
    (403 otherwise; the read is audited), computed by ``full()``."""
    grid = (masked.get("grid") or {}).get("code")
    unmask(request, True, grid)
    return full()
