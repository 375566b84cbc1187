"""Batch lookup: a JSON array of addresses/points, or an uploaded CSV/xlsx roster."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.bodies import parse_json
from api.deps import service
from api.models.batch import BatchResult
from api.models.problem import problem_responses
from api.state import ServiceState
from geo_grid.batch import run_batch
from geo_grid.crs import CRS_NAMES, normalize_crs
from geo_grid.errors import InvalidInput, PayloadTooLarge
from geo_grid.tables import read_table_safely

router = APIRouter(tags=["lookup"])

MEDIA = {".csv": "text/csv; charset=utf-8",
         ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
BATCH_DOC = {
    "requestBody": {"content": {
        "application/json": {"schema": {"type": "array", "maxItems": 10_000, "items": {
            "oneOf": [{"type": "string"},
                      {"type": "object", "properties": {"address": {"type": "string"}}},
                      {"type": "object", "properties": {"lon": {"type": "number"}, "lat": {"type": "number"},
                                                        "crs": {"type": "string"}}}]}}},
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}, "address_column": {"type": "string"},
            "crs": {"type": "string", "enum": list(CRS_NAMES), "default": "wgs84",
                    "description": "CRS of the roster's lon/lat (or x/y) columns"},
            "sheet": {"type": "string", "description": "xlsx sheet name (the first by default)"}}}},
    }},
}


FILE_BODY = {"schema": {"type": "string", "format": "binary"}}


# The JSON answer is returned as a ready JSONResponse (a 10,000-item batch is not re-validated);
# ``response_model`` documents it, and the tests check real answers against the model.
@router.post("/lookup/batch", openapi_extra=BATCH_DOC, response_model=BatchResult, responses={
    200: {"description": "JSON results, or the roster file with columns added (summary in the "
                         "X-Batch-Summary header)",
          "content": {media.split(";")[0]: FILE_BODY for media in MEDIA.values()}},
    **problem_responses(400, 413, 422, 503)})
async def lookup_batch(request: Request, state: ServiceState = Depends(service)):
    """Place many addresses or points at once.

    - ``application/json``: an array (up to ``max_batch_items``, 10,000 by default) of address
      strings, ``{"address": ...}`` or ``{"lon", "lat", "crs"}`` objects →
      ``{"results": [...], "summary": {...}}``, in order; a bad item says why and the rest go on.
    - ``multipart/form-data`` with ``file`` (``.csv`` or ``.xlsx``, up to ``max_upload_bytes``) and
      optional ``address_column``, ``crs`` (of the coordinate columns: wgs84 by default, cgcs2000,
      gcj02, bd09, epsg:4549) and ``sheet`` (xlsx sheet name) → the same rows back in the same format with grid code and name,
      community, match status, confidence and best candidate added; the summary report is in the
      ``X-Batch-Summary`` header (JSON).
    """
    settings = request.app.state.settings
    ctype = request.headers.get("content-type", "")
    # the body's size is limited as it streams in (api.edge): max_upload_bytes for a file,
    # max_json_bytes for JSON
    if ctype.startswith("multipart/form-data"):
        return await _file(request, state, settings.max_upload_bytes)
    items = parse_json(await request.body(), settings.max_json_depth)
    if not isinstance(items, list):
        raise InvalidInput("body must be a JSON array of addresses or {lon, lat, crs} objects")
    if len(items) > settings.max_batch_items:
        raise PayloadTooLarge(f"{len(items)} items is over the limit of {settings.max_batch_items}; "
                              "split the batch or upload a file")
    results, summary = await run_in_threadpool(state.gazetteer.lookup_many, items)
    return JSONResponse({"results": results, "summary": summary})


async def _file(request: Request, state: ServiceState, limit: int):
    form = await request.form(max_files=1, max_fields=5)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise InvalidInput("multipart upload needs a 'file' field (.csv or .xlsx)")
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in MEDIA:
        raise InvalidInput(f"file {upload.filename!r}: only .csv and .xlsx rosters are accepted")
    column = form.get("address_column")
    crs = normalize_crs(str(form.get("crs") or "wgs84"))  # an unknown name is a 422 before the upload
    sheet = form.get("sheet")
    sheet = str(sheet) if sheet and not isinstance(sheet, UploadFile) else None
    tmp = tempfile.TemporaryDirectory(prefix="geo-grid-batch-")
    src = Path(tmp.name) / f"in{suffix}"
    size = 0
    with src.open("wb") as fh:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > limit:
                tmp.cleanup()
                raise PayloadTooLarge(f"file is over the upload limit of {limit} bytes")
            fh.write(chunk)
    dst = Path(tmp.name) / f"out{suffix}"
    gaz = state.gazetteer
    settings = request.app.state.settings
    try:
        # read in a child process with a memory and time limit (a spreadsheet bomb must not
        # take the service down); run_batch then gets these rows instead of reading the file
        raw = await run_in_threadpool(read_table_safely, src, sheet=sheet,
                                      max_seconds=settings.max_read_seconds,
                                      max_mib=settings.max_read_mib)
        report = await run_in_threadpool(
            run_batch, src, dst, gaz.matcher, gaz.directory,
            address_column=str(column) if column else None, sheet=sheet, crs=crs,
            locate=lambda lon, lat: gaz.locator.codes_of(gaz.locator.locate(lon, lat)))
    except BaseException:
        tmp.cleanup()  # only the temporary files: the error goes on to the problem+json handlers
        raise
    name = Path(upload.filename).stem + f"_网格{suffix}"
    media = MEDIA[suffix]
    if suffix == ".csv":
        # the CSV is written back in the roster's own encoding: say which
        charset = {"utf-8-sig": "utf-8"}.get(raw.encoding, raw.encoding)
        media = f"text/csv; charset={charset}"
    return FileResponse(dst, media_type=media, filename=name,
                        headers={"X-Batch-Summary": json.dumps(report, ensure_ascii=True, default=str)},
                        background=BackgroundTask(tmp.cleanup))
