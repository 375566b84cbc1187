"""OGC API – Features under ``/ogc``: Part 1 (Core, GeoJSON, OpenAPI 3.0) and Part 2 (CRS by
reference: CRS84 and EPSG:4490), so QGIS, GDAL and other OGC clients read the layers directly.

- ``GET /ogc`` the landing page, ``GET /ogc/conformance`` the classes implemented;
- ``GET /ogc/collections[/{id}]``: ``streets``, ``communities``, ``grids`` and ``buildings``
  (members and households are never exposed), with their extent (lon/lat bounds, and the time
  from the first boundary version on) and CRSs;
- ``GET /ogc/collections/{id}/items``: a page of features, filtered by ``bbox`` (in
  ``bbox-crs``), in ``crs``, of the boundary version in force at ``datetime`` (an instant;
  a time before the store's first version is a 404 problem, an interval a 400);
- ``GET /ogc/collections/{id}/items/{featureId}``: one feature by its code.

A caller scoped to a community or grid sees only the features inside its scope (buildings by
their grid); a feature asked for by code outside it is a 403, as everywhere in the API. Bad
parameters, unknown ones included, are 400 problems (Part 1 asks for 400, not 422).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.access import check_code, principal
from api.models.problem import problem_responses
from api.ogc import params as P  # noqa: N812
from api.ogc.layers import COLLECTIONS, Collection, Features, collection, features_of
from api.ogc.models import (
    FEATURE_COLLECTION_SCHEMA,
    FEATURE_SCHEMA,
    CollectionInfo,
    Collections,
    Conformance,
    Landing,
)
from api.state import Snapshot
from geo_grid.auth import policy
from geo_grid.errors import BadRequest, InvalidInput, NotFound
from geo_grid.store.versions import list_versions

router = APIRouter(prefix="/ogc", tags=["ogc"])

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
)
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

#: The query parameters each route knows; any other is a 400 (``f`` picks the only format).
ITEMS_PARAMS = frozenset({"bbox", "bbox-crs", "limit", "offset", "crs", "datetime", "f"})
FEATURE_PARAMS = frozenset({"crs", "datetime", "f"})
JSON_PARAMS = frozenset({"f"})

_CRS_DOC = f"the CRS of the coordinates: {P.CRS84} (default, lon/lat) or {P.EPSG4490} (lat/lon)"


def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict:
    out = {"href": href, "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


def _check_params(request: Request, known: frozenset[str]) -> None:
    """400 for a parameter the route does not know, or an ``f`` other than JSON."""
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise BadRequest(f"unknown query parameter(s) {', '.join(unknown)}; this resource "
                         f"takes {', '.join(sorted(known))}", parameter=unknown[0])
    f = request.query_params.get("f")
    if f is not None and f.lower() not in ("json", "geojson"):
        raise BadRequest(f"f={f!r}: only json (GeoJSON for features) is offered", parameter="f")


def _json(obj, media_type: str = JSON) -> Response:
    return Response(_dumps(obj), media_type=media_type)


def _snapshot(request: Request, when: str | None) -> Snapshot:
    """The current snapshot, or the one of the boundary version in force at ``when``."""
    state = request.app.state.service
    if when is None:
        return state.view
    try:
        # a time before the store's first version raises NotFound: a 404 problem naming the
        # first version's time
        return state.as_of(when)
    except InvalidInput as exc:  # not an ISO-8601 time: a 400, as OGC asks
        raise BadRequest(exc.message.replace("as_of", "datetime", 1),
                         parameter="datetime") from None


# ------------------------------------------------------------------ landing and conformance

@router.get("", response_model=Landing, responses=problem_responses(400))
def landing(request: Request) -> Response:
    """The landing page: links to the API definition, the conformance classes and the data."""
    _check_params(request, JSON_PARAMS)
    base = str(request.base_url).rstrip("/")
    root = base + "/ogc"
    return _json({
        "title": "geo-grid",
        "description": "The street's layers (street, communities, grids, buildings) as OGC API "
                       "– Features. The reference district's layers are synthetic.",
        "links": [
            _link(root, "self", JSON, "this document"),
            _link(base + "/openapi.json", "service-desc", OPENAPI, "the API definition"),
            _link(base + "/docs", "service-doc", "text/html", "the API documentation"),
            _link(root + "/conformance", "conformance", JSON, "conformance classes"),
            _link(root + "/collections", "data", JSON, "the collections"),
        ],
    })


@router.get("/conformance", response_model=Conformance, responses=problem_responses(400))
def conformance(request: Request) -> Response:
    """The conformance classes implemented (Part 1 Core, GeoJSON, OpenAPI 3.0; Part 2 CRS)."""
    _check_params(request, JSON_PARAMS)
    return _json({"conformsTo": list(CONFORMANCE)})


# ------------------------------------------------------------------ collections

def _interval(request: Request) -> list[list[str | None]]:
    """The temporal extent: from the first boundary version on, open-ended (still current)."""
    versions = list_versions(request.app.state.service.store)
    first = versions[0].created_at if versions else None
    return [[first, None]]


def _collection(request: Request, coll: Collection, snap: Snapshot, interval) -> dict:
    root = _root(request)
    feats = features_of(snap.district, coll)
    here = f"{root}/collections/{coll.id}"
    return {
        "id": coll.id,
        "title": coll.title,
        "description": coll.description,
        "itemType": "feature",
        "extent": {
            "spatial": {"bbox": [feats.extent], "crs": P.CRS84},
            "temporal": {"interval": interval, "trs": GREGORIAN},
        },
        "crs": list(P.CRS_LIST),
        "storageCrs": P.STORAGE_CRS,
        "links": [
            _link(here, "self", JSON, coll.title),
            _link(here + "/items", "items", GEOJSON, f"{coll.title} (GeoJSON)"),
        ],
    }


@router.get("/collections", response_model=Collections, responses=problem_responses(400))
def collections(request: Request) -> Response:
    """The four collections: streets, communities, grids and buildings."""
    _check_params(request, JSON_PARAMS)
    snap = request.app.state.service.view
    interval = _interval(request)
    root = _root(request)
    return _json({
        "links": [_link(root + "/collections", "self", JSON, "the collections")],
        "crs": list(P.CRS_LIST),
        "collections": [_collection(request, c, snap, interval) for c in COLLECTIONS.values()],
    })


@router.get("/collections/{collection_id}", response_model=CollectionInfo,
            responses=problem_responses(400, 404))
def one_collection(collection_id: str, request: Request) -> Response:
    """One collection (404 for another name)."""
    _check_params(request, JSON_PARAMS)
    coll = collection(collection_id)
    return _json(_collection(request, coll, request.app.state.service.view, _interval(request)))


# ------------------------------------------------------------------ features

def _keep(request: Request, feats: Features):
    """Which features the caller's scope covers (None: all of them)."""
    who = principal(request)
    return None if who.scope is None else policy.scope_filter(who, feats.scope_keys)


def _crs_header(crs: str) -> dict[str, str]:
    return {"Content-Crs": f"<{crs}>"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@router.get(
    "/collections/{collection_id}/items", response_class=Response,
    responses={200: {"description": "a page of features",
                     "content": {GEOJSON: {"schema": FEATURE_COLLECTION_SCHEMA}}},
               **problem_responses(400, 403, 404)})
def items(
    collection_id: str,
    request: Request,
    bbox: str | None = Query(None, description="minx,miny,maxx,maxy (in bbox-crs axis order)"),
    bbox_crs: str | None = Query(None, alias="bbox-crs", description="CRS of bbox; " + _CRS_DOC),
    limit: str | None = Query(None, description=f"features per page, 1..{P.MAX_LIMIT} "
                                                 f"(default {P.DEFAULT_LIMIT})"),
    offset: str | None = Query(None, description="features skipped (default 0)"),
    crs: str | None = Query(None, description=_CRS_DOC),
    datetime_: str | None = Query(None, alias="datetime",
                                  description="an instant: the layers as they were then"),
) -> Response:
    """A page of a collection's features (GeoJSON), with ``next``/``prev`` links.

    Parameters are validated here rather than by FastAPI so that a bad one is a 400 problem,
    as OGC API – Features asks."""
    _check_params(request, ITEMS_PARAMS)
    coll = collection(collection_id)
    out_crs = P.parse_crs(crs)
    box = P.parse_bbox(bbox, P.parse_crs(bbox_crs, "bbox-crs"))
    n = P.parse_limit(limit)
    start = P.parse_int(offset, "offset", 0, 0)
    snap = _snapshot(request, P.parse_datetime(datetime_))
    feats = features_of(snap.district, coll)
    rows = feats.select(box, _keep(request, feats))
    page = rows[start:start + n]
    url = request.url
    links = [_link(str(url), "self", GEOJSON, "this page"),
             _link(f"{_root(request)}/collections/{coll.id}", "collection", JSON, coll.title)]
    if start + len(page) < len(rows):
        links.append(_link(str(url.include_query_params(offset=start + n, limit=n)),
                           "next", GEOJSON, "next page"))
    if start > 0:
        links.append(_link(str(url.include_query_params(offset=max(0, start - n), limit=n)),
                           "prev", GEOJSON, "previous page"))
    head = _dumps({"type": "FeatureCollection", "timeStamp": _now(),
                   "numberMatched": int(len(rows)), "numberReturned": int(len(page)),
                   "links": links})
    # the features were serialised with the snapshot: splice them into the head object
    body = (head[:-1] + b',"features":['
            + ",".join(feats.text[out_crs][page]).encode() + b"]}")
    return Response(body, media_type=GEOJSON, headers=_crs_header(out_crs))


@router.get(
    "/collections/{collection_id}/items/{feature_id}", response_class=Response,
    responses={200: {"description": "one feature",
                     "content": {GEOJSON: {"schema": FEATURE_SCHEMA}}},
               **problem_responses(400, 403, 404)})
def feature(
    collection_id: str,
    feature_id: str,
    request: Request,
    crs: str | None = Query(None, description=_CRS_DOC),
    datetime_: str | None = Query(None, alias="datetime",
                                  description="an instant: the feature as it was then"),
) -> Response:
    """One feature by its code (404 if the collection has none such; 403 outside the caller's
    scope)."""
    _check_params(request, FEATURE_PARAMS)
    coll = collection(collection_id)
    out_crs = P.parse_crs(crs)
    snap = _snapshot(request, P.parse_datetime(datetime_))
    feats = features_of(snap.district, coll)
    row = feats.position.get(feature_id)
    if row is None:
        raise NotFound(f"{coll.id} has no feature {feature_id!r}", collection=coll.id,
                       feature=feature_id)
    check_code(request, "read", str(feats.scope_keys[row]))
    here = f"{_root(request)}/collections/{coll.id}"
    links = _dumps([_link(str(request.url), "self", GEOJSON, "this feature"),
                    _link(here, "collection", JSON, coll.title)])
    text = feats.text[out_crs][row].encode()
    body = text[:-1] + b',"links":' + links + b"}"
    return Response(body, media_type=GEOJSON, headers=_crs_header(out_crs))
