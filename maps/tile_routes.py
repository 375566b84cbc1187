"""``GET /tiles/{layer}/{z}/{x}/{y}.mvt``: the district's layers as Mapbox Vector Tiles.

Wire into the app (the route reads grids, so it needs the ``read`` action)::

    from maps import tile_routes
    app.include_router(tile_routes.router, dependencies=[needs("read")])

Layers: ``grids``, ``coverage``, ``buildings`` (empty below zoom
:data:`maps.vector_tiles.BUILDINGS_MIN_ZOOM`), ``communities`` — see :mod:`maps.vector_tiles`.
A caller scoped to a community or a grid gets the features of its scope only, as
``GET /api/v1/grids`` lists them.

Caching: the layers in Web Mercator (:class:`~maps.vector_tiles.TileSource`) are prepared once
per district snapshot and assignment version (a boundary edit or a new assignment is a new
snapshot), and encoded tiles are kept in an LRU keyed by that version, the caller's scope and
the tile, so an edit invalidates them. Each tile has a strong ``ETag`` (a hash of its bytes); a
request naming it gets ``304``. The app's compression middleware gzips tiles like its other
bodies (``Content-Type: application/vnd.mapbox-vector-tile``).

Invalid tiles: a zoom outside 0–22 or a non-integer coordinate is a ``422``, a column or row
outside the zoom's ``2**z`` tiles or an unknown layer a ``404`` (problem+json both).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.models.problem import problem_responses
from geo_grid.errors import NotFound
from maps import _data as D  # noqa: N812
from maps.vector_tiles import LAYERS, MAX_ZOOM, MEDIA_TYPE, TileSource, valid_tile

router = APIRouter(tags=["maps"])

#: Encoded tiles kept (all layers, scopes and versions together), and their total bytes at most.
CACHE_ENTRIES = 8192
CACHE_BYTES = 128 * 1024 * 1024
#: Tile sources kept (one per district snapshot, assignment version and datum shift).
SOURCES = 2

_lock = threading.Lock()
_build_lock = threading.Lock()


class TileCache:
    """An LRU of encoded tiles, bounded in entries and bytes: key → ``(bytes, etag)``."""

    def __init__(self, entries: int = CACHE_ENTRIES, max_bytes: int = CACHE_BYTES):
        self.entries = entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._data: OrderedDict[tuple, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[bytes, str] | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
            return hit

    def put(self, key: tuple, body: bytes) -> tuple[bytes, str]:
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.bytes -= len(old[0])
            self._data[key] = (body, etag)
            self.bytes += len(body)
            while self._data and (len(self._data) > self.entries or self.bytes > self.max_bytes):
                _, (b, _) = self._data.popitem(last=False)
                self.bytes -= len(b)
        return body, etag

    def __len__(self) -> int:
        return len(self._data)


def _state_cache(request: Request) -> tuple[TileCache, OrderedDict]:
    state = request.app.state
    with _lock:
        cache = getattr(state, "gg_tile_cache", None)
        if cache is None:
            cache = state.gg_tile_cache = TileCache()
            state.gg_tile_sources = OrderedDict()
        return cache, state.gg_tile_sources


def _shift(request: Request) -> str | None:
    from maps.routes import tiles_of

    t = tiles_of(request)
    ts = D.tile_settings(t["tiles"], t["tiles_key"], t["tiles_attr"])
    return ts["shift"] if ts else None


def tile_source(request: Request) -> tuple[TileSource, tuple]:
    """The current layers ready for tiling, and the version key they were prepared for."""
    from maps.routes import district_of, figures_of

    district, version = district_of(request)
    shift = _shift(request)
    key = (version, getattr(district, "boundary_version", None), shift)
    _, sources = _state_cache(request)
    with _lock:
        src = sources.get(key)
    if src is not None:
        return src, key
    with _build_lock:  # one build at a time: concurrent first tiles wait for the same build
        with _lock:
            src = sources.get(key)
        if src is None:
            src = TileSource(district, figures_of(request, district), shift=shift)
            with _lock:
                sources[key] = src
                while len(sources) > SOURCES:
                    sources.popitem(last=False)
    return src, key


def _scope(request: Request):
    """The caller's scope and a filter of feature codes (None: everything)."""
    if getattr(request.app.state, "service", None) is None:
        return None, None  # a maps-only app has no accounts
    from api.access import principal
    from geo_grid.auth import policy

    who = principal(request)
    if policy.in_scope(who, None):
        return None, None
    return who.scope, lambda code: policy.in_scope(who, code)


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.mvt",
    response_class=Response,
    summary="A vector tile (MVT) of grids, coverage, buildings or communities",
    responses={200: {"content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
                     "description": "Mapbox Vector Tile (empty when no feature meets the tile)"},
               304: {"description": "Not modified (the ETag named in If-None-Match)"},
               **problem_responses(404, 422)},
)
async def vector_tile(
    request: Request,
    layer: str = Path(description="grids, coverage, buildings or communities"),
    z: int = Path(ge=0, le=MAX_ZOOM, description="zoom"),
    x: int = Path(ge=0, description="column, from the west"),
    y: int = Path(ge=0, description="row, from the north"),
) -> Response:
    """One tile of a layer, cut for the caller's scope; buildings only from zoom 15 on."""
    if layer not in LAYERS:
        raise NotFound(f"no tile layer {layer!r}; layers: {', '.join(LAYERS)}", layer=layer)
    if not valid_tile(z, x, y):
        raise NotFound(f"tile {z}/{x}/{y} does not exist (x and y must be below {1 << z})",
                       tile=f"{z}/{x}/{y}")
    cache, _ = _state_cache(request)
    scope, allow = _scope(request)
    src, version = await run_in_threadpool(tile_source, request)
    key = (version, scope, layer, z, x, y)
    hit = cache.get(key)
    if hit is None:
        body = await run_in_threadpool(src.tile, layer, z, x, y, allow)
        hit = cache.put(key, body)
    body, etag = hit
    # revalidated on every use (an edit changes tiles at once); private: cut for the caller
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    inm = request.headers.get("if-none-match")
    if inm and (inm.strip() == "*" or etag in {t.strip().removeprefix("W/") for t in inm.split(",")}):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPE, headers=headers)
