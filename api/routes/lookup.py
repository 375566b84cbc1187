"""Which grid (and team) covers a coordinate or an address.

The point lookup is the hottest route of the service, so it is kept lean:

- ``async def`` with the request as its only parameter: it runs on the event loop (no
  threadpool hop), and the query is validated by one pydantic model (:class:`LookupQuery`, which
  also documents the parameters) instead of FastAPI's per-parameter dependency solving;
- the masked answer of each grid is checked against :class:`LookupResult` and encoded once per
  district (:class:`_Encoded`); a request only adds its point to the ready bytes.

Address lookups and unmasked answers are built per request and checked against the model.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.deps import allow_unmasked
from api.models.lookup import LookupResult
from api.models.problem import problem_responses
from geo_grid.crs import CRS_NAMES
from geo_grid.errors import BadRequest
from geo_grid.lookup import Gazetteer

router = APIRouter(tags=["lookup"])
JSON = "application/json"


class LookupQuery(BaseModel):
    """The query parameters of ``GET /api/v1/lookup``."""

    model_config = ConfigDict(extra="ignore")

    lon: float | None = Field(None, description="longitude (or easting in metres for epsg:4549)")
    lat: float | None = Field(None, description="latitude (or northing in metres for epsg:4549)")
    crs: str = Field("wgs84", description=f"one of {', '.join(CRS_NAMES)}")
    address: str | None = Field(None, max_length=200, description="free-text Chinese address")
    unmasked: bool = Field(False, description="show names and phones in full (needs X-API-Key)")


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI ``parameters`` (in the query) of a pydantic model's fields."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return [{"name": name, "in": "query", "required": name in required,
             "description": prop.get("description", ""),
             "schema": {k: v for k, v in prop.items() if k not in ("description", "title")}}
            for name, prop in schema["properties"].items()]


PARAMETERS = [*query_parameters(LookupQuery),
              {"name": "x-api-key", "in": "header", "required": False,
               "description": "the admin key, needed for unmasked=true",
               "schema": {"type": "string"}}]


#: a plain decimal number, which pydantic's float parsing reads exactly as ``float`` does
DECIMAL = re.compile(rb"-?[0-9]{1,12}(?:\.[0-9]{1,20})?")
CRS_VALUE = re.compile(rb"[A-Za-z0-9:]{1,16}")


def plain_point(query: bytes) -> tuple[float, float, str] | None:
    """``(lon, lat, crs)`` of the common raw query string, or None.

    The common query is ``lon=..&lat=..[&crs=..]``: plain decimals, each key once, nothing
    percent-encoded and nothing else asked. It is read straight from the raw bytes, which costs
    a fraction of building Starlette's query dictionary. Anything else (an address,
    ``unmasked``, a repeated key, a malformed number) returns None and goes through
    :func:`parse_query` and its 422 answers.
    """
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


class _Encoded:
    """Masked answers per grid code of one gazetteer, encoded once, without the point."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer
        self.heads: dict[str | None, bytes] = {}

    def answer(self, code: str | None, x: float, y: float) -> bytes:
        head = self.heads.get(code)
        if head is None:
            # everything but the closing brace, then the point member
            head = self.heads[code] = encode(self.gazetteer.answer_for_grid(code))[:-1] + b',"point":'
        # repr of a finite float is valid JSON and round-trips exactly
        return b"%s{\"lon\":%s,\"lat\":%s,\"crs\":\"cgcs2000\"}}" % (
            head, repr(x).encode(), repr(y).encode())


_encoded: _Encoded | None = None


def encoded_for(gazetteer: Gazetteer) -> _Encoded:
    """The encoded answers of ``gazetteer`` (rebuilt when the service swaps its snapshot)."""
    global _encoded
    if _encoded is None or _encoded.gazetteer is not gazetteer:
        _encoded = _Encoded(gazetteer)
    return _encoded


@router.get("/_noop", include_in_schema=False)
async def noop() -> Response:
    """Nothing at all: the ceiling of this app for the routes of this router.

    ``benchmarks/http.py`` compares ``/api/v1/lookup`` with it; it is matched first, so the
    lookup pays for one more route test than the no-op does.
    """
    return Response(b"{}", media_type=JSON)


@router.get("/lookup", response_model=LookupResult,
            responses=problem_responses(400, 403, 422, 503),
            openapi_extra={"parameters": PARAMETERS})
async def lookup(request: Request) -> Response:
    """Street, community, grid and team covering a point or an address.

    Give ``lon`` and ``lat`` (with ``crs``), or ``address``. A point outside the street answers
    ``{"covered": false}`` with its ``point``; an address answers a ``match`` object too.
    Names and phones are masked unless ``unmasked=true`` comes with the admin's X-API-Key.
    """
    point = plain_point(request.scope["query_string"])
    if point is not None:
        gaz = request.app.state.service.gazetteer
        code, x, y = gaz.locate_point(*point)
        return Response(encoded_for(gaz).answer(code, x, y), media_type=JSON)
    q = parse_query(request)
    show = q.unmasked and allow_unmasked(request, True, request.headers.get("x-api-key"))
    state = request.app.state.service
    if q.address is not None:
        return Response(encode(state.lookup_address(q.address, show)), media_type=JSON)
    if q.lon is None or q.lat is None:
        raise BadRequest("give both lon and lat, or an address")
    gaz = state.gazetteer
    if show:
        return Response(encode(gaz.lookup(q.lon, q.lat, q.crs, unmasked=True)), media_type=JSON)
    code, x, y = gaz.locate_point(q.lon, q.lat, q.crs)
    return Response(encoded_for(gaz).answer(code, x, y), media_type=JSON)
