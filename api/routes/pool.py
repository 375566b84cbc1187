"""The reinforcement pool and the posts layer kept in the store.

- ``POST /api/v1/reinforcements`` imports a pool file (multipart upload, as the imports of
  members take it), ``geo-grid import-reinforcements`` over HTTP;
- ``GET /api/v1/reinforcements`` lists the pool (names and phones masked unless asked for and
  allowed; a scoped caller sees the entries based in its scope);
- ``GET /api/v1/posts`` is the posts layer (``geo-grid import-posts``) as GeoJSON.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.access import audit_targets, audited, needs, principal
from api.deps import service
from api.models.imports import PeopleImport
from api.models.pool import PoolEntryOut, PostCollection
from api.models.problem import problem_responses
from api.routes._read import UNMASKED_PARAMS, show_unmasked
from api.routes.grids import GeoJSONResponse
from api.routes.imports import (
    _Budget,
    _finite,
    _flag,
    _form,
    _people_doc,
    _renamed,
    _save,
    _text,
    _texts,
    masked,
)
from api.state import ServiceState
from geo_grid.auth import policy
from geo_grid.errors import Conflict, GeoGridError, InvalidInput
from geo_grid.privacy import mask_name, mask_phone
from geo_grid.tables.readers import suffixes as table_suffixes

router = APIRouter(tags=["reinforcements"])
# the posts layer is what rosters staff: documented with them (one tag: Swagger UI lists an
# operation once per tag)
posts_router = APIRouter(tags=["rosters"])

_POOL_DOC = _people_doc("reinforcement pool (姓名, 电话, 类别, 经度, 纬度, 容量, 开始, 结束)",
                        "name, phone, kind, lon, lat, capacity, available_from, available_to, "
                        "ref")
# the pool's form has "replace" where the people imports have "skip_bad_rows"
_props = _POOL_DOC["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
_props.pop("skip_bad_rows", None)
_props["replace"] = {"type": "boolean", "default": False,
                     "description": "replace the street's whole pool (otherwise entries are "
                                    "added, or updated by id or phone)"}

#: Seconds an import waits for the pool to be free.
LOCK_WAIT = 5.0


@router.post("/reinforcements", status_code=201, response_model=PeopleImport,
             openapi_extra=_POOL_DOC,
             dependencies=[audited("import", street_wide=True)],
             responses={201: {"description": "the per-row report; GET /api/v1/reinforcements "
                              "lists the pool"}, **problem_responses(400, 409, 413, 422)})
async def import_pool(request: Request, state: ServiceState = Depends(service)) -> JSONResponse:
    """Import the reinforcement pool from a table, as ``geo-grid import-reinforcements`` does.

    Form fields: ``file`` (xlsx or csv in UTF-8 or GBK, title rows above the header allowed),
    optionally ``sheet``, ``field`` (``FIELD=COLUMN``, repeatable) and ``replace``. Columns:
    姓名, 电话, 类别 (干部/辅警/保安/志愿者), 经度, 纬度 (WGS-84), 容量 (load units), 开始, 结束
    (ISO 8601, optional) and 编号 (optional). A file with a bad row writes nothing (422 with
    its ``rows``, each problem naming its column).
    """
    from geo_grid.importing.people import parse_fields
    from geo_grid.importing.pool import import_reinforcements

    limit = request.app.state.settings.max_import_bytes
    async with _form(request, limit, files=1) as form:
        sheet, replace = _text(form, "sheet"), _flag(form, "replace")
        fields = parse_fields(_texts(form, "field"))
        with tempfile.TemporaryDirectory(prefix="geo-grid-pool-") as tmp:
            path, sent = await _save(form, "file", Path(tmp), table_suffixes(), _Budget(limit))

            def work():
                if not state.write_lock.acquire(timeout=LOCK_WAIT):
                    raise Conflict("another import or assignment change is running; try again")
                try:
                    return import_reinforcements(state.store.path, path, sheet=sheet,
                                                 fields=fields, replace=replace)
                except GeoGridError as exc:
                    raise _renamed(exc, {str(path): sent}, tmp) from exc
                finally:
                    state.write_lock.release()

            rep = await run_in_threadpool(work)
    out = _finite(rep.to_dict())
    out["file"] = sent
    out["rows"] = [masked(r) for r in out["rows"]]
    if not rep.written:
        bad = [r for r in out["rows"] if r["problems"]]
        raise InvalidInput(f"{len(bad)} bad row(s) in {sent}; nothing was written"
                           if bad else f"{sent} has no data rows; nothing was written",
                           rows=bad, bad_rows=len(bad), file=sent)
    audit_targets(request, sent)
    see = request.url_for("list_pool").path
    out["links"] = {"reinforcements": see}
    return JSONResponse(out, status_code=201, headers={"Location": see})


def _where(code: str | None, street: str) -> str:
    """The code a pool entry or a post is scoped by: its community, else its street."""
    return code or street


@router.get("/reinforcements", response_model=list[PoolEntryOut], openapi_extra=UNMASKED_PARAMS,
            dependencies=[needs("read")])
async def list_pool(request: Request, state: ServiceState = Depends(service),
                    at: str | None = Query(None, max_length=40,
                                           description="only the entries available at this ISO "
                                                       "8601 time"),
                    kind: Literal["cadre", "auxiliary_police", "security", "volunteer"] | None
                    = Query(None)) -> JSONResponse:
    """The reinforcement pool: who, of which kind, based where, with which capacity and window.

    Names and phones are masked unless ``unmasked=true`` is asked and allowed (recorded in the
    audit trail). A caller scoped to a community sees the entries based in it.
    """
    from geo_grid.store.pool import parse_time, read_pool

    entries = await run_in_threadpool(read_pool, state.store)
    if at is not None:
        when = parse_time(at, "at")
        entries = [e for e in entries if e.available_at(when)]
    if kind is not None:
        entries = [e for e in entries if e.kind == kind]
    who = principal(request)
    entries = [e for e in entries
               if policy.in_scope(who, _where(e.community_code, e.street_code))]
    show = await show_unmasked(request, who.scope)
    out = []
    for e in entries:
        d = e.to_dict()
        if not show:
            d["name"], d["phone"] = mask_name(d["name"]), mask_phone(d["phone"] or None)
        out.append(d)
    return JSONResponse(out)


@posts_router.get("/posts", response_class=GeoJSONResponse, response_model=PostCollection,
                  dependencies=[needs("read")])
async def list_posts(request: Request, state: ServiceState = Depends(service)) -> GeoJSONResponse:
    """The posts layer (checkpoints and the 信息/隔离/后勤 posts) as a GeoJSON FeatureCollection
    (CGCS2000 lon/lat, which RFC 7946 readers take as WGS-84); empty when none were imported
    (a roster with ``"posts": "layer"`` then uses the generated group posts)."""
    from geo_grid.store.pool import read_posts

    posts = await run_in_threadpool(read_posts, state.store)
    who = principal(request)
    features = []
    for p in posts:
        if not policy.in_scope(who, _where(p.community_code, p.street_code)):
            continue
        props = p.to_dict()
        lon, lat = props.pop("lon"), props.pop("lat")
        features.append({"type": "Feature", "id": p.id,
                         "geometry": {"type": "Point",
                                      "coordinates": [round(lon, 7), round(lat, 7)]},
                         "properties": props})
    return GeoJSONResponse({"type": "FeatureCollection", "features": features})
