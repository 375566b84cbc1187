"""Imports over HTTP: a street's own layers, its members and its households.

The same imports as ``geo-grid import``, ``import-members`` and ``import-households``, from
``multipart/form-data`` uploads, calling the same core functions on the served store:

- ``POST /api/v1/imports/layers`` builds a brand new store from four layer files
  (:func:`geo_grid.importing.import_store`, written beside the old one and moved over it), then
  makes the service open it again (:meth:`api.state.ServiceState.reopen`);
- ``POST /api/v1/imports/members`` and ``/households`` upsert members / replace households in the
  served store (:mod:`geo_grid.importing.people`, :mod:`geo_grid.importing.households`), then
  reload the snapshot.

Each upload is saved in a temporary directory under its own (sanitised) name, keeping the
suffix that decides how it is read. One import runs at a time: the import holds the service's
write lock, and a second one waiting too long for it is refused (409). Nothing is written when
an import is refused: the layers' violations (422, ``violations``) or the roster's bad rows
(422, ``rows``) say why.
"""

from __future__ import annotations

import json
import logging
import math
import re
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from api.deps import service
from api.models.imports import LayersImport, PeopleImport
from api.models.problem import problem_responses
from api.routes import health
from api.state import ServiceState
from geo_grid.district import LAYERS
from geo_grid.errors import (
    Conflict,
    GeoGridError,
    InvalidInput,
    PayloadTooLarge,
    StoreError,
    TopologyError,
)
from geo_grid.importing.sources import TABLE_SUFFIXES, VECTOR_SUFFIXES
from geo_grid.privacy import mask_id_number, mask_name, mask_phone
from geo_grid.tables.readers import suffixes as table_suffixes

log = logging.getLogger("geo_grid.api")
router = APIRouter(prefix="/imports", tags=["imports"])
T = TypeVar("T")

#: What a layer file may be. A ``.shp`` alone lacks its ``.dbf``/``.shx``/``.prj`` sidecars:
#: a Shapefile is uploaded as a zip of all of them.
LAYER_SUFFIXES = tuple(s for s in VECTOR_SUFFIXES + TABLE_SUFFIXES if s != ".shp")
#: Seconds an import waits for the write lock (held by another import, or by a reload or a
#: scenario being applied) before it is refused.
LOCK_WAIT = 5.0
#: Room for the multipart framing and the form's text fields above the files' own bytes.
FORM_OVERHEAD = 64 * 1024
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off", ""}
#: Personal fields a report row could carry, masked as the roster masks them.
_MASKS = (("name", mask_name), ("phone", mask_phone), ("id_number", mask_id_number))

_CONTENT = "multipart/form-data"


def _string(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **more}


_FILE = {"type": "string", "format": "binary"}
_REPEATED = {"type": "array", "items": {"type": "string"}}
LAYERS_DOC = {"requestBody": {"required": True, "content": {_CONTENT: {"schema": {
    "type": "object", "required": list(LAYERS),
    "properties": {
        **{name: {**_FILE, "description": f"the {name} layer: GeoJSON, GeoPackage, zipped "
                  "Shapefile, KML/KMZ, or CSV/xlsx with a WKT or lon/lat columns"}
           for name in LAYERS},
        **{f"{name}_layer": _string(f"layer (GeoPackage) or sheet (xlsx) of the {name} file; "
                                    "the first by default") for name in LAYERS},
        "crs": {**_REPEATED, "description": "LAYER=CRS (EPSG code, wgs84, cgcs2000, gcj02, "
                "bd09); the file's own CRS otherwise"},
        "field": {**_REPEATED, "description": "LAYER.FIELD=COLUMN, e.g. grids.code=网格号"},
        "encoding": _string("attribute encoding of Shapefiles (e.g. GBK); found from the .cpg "
                            "or the bytes otherwise"),
        "replace": {"type": "boolean", "default": False,
                    "description": "must be true: the new street replaces the served one"},
    }}}}}}


def _people_doc(what: str, kinds: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {_CONTENT: {"schema": {
        "type": "object", "required": ["file"],
        "properties": {
            "file": {**_FILE, "description": f"the {what} (.xlsx, .csv...), title rows above "
                     "the header allowed"},
            "sheet": _string("xlsx sheet (the first by default)"),
            "field": {**_REPEATED, "description": f"FIELD=COLUMN for a header not recognised "
                      f"(fields: {kinds})"},
            "skip_bad_rows": {"type": "boolean", "default": False,
                              "description": "import the good rows of a file with bad ones"},
        }}}}}}


# ------------------------------------------------------------------ the form


def _text(form: FormData, name: str) -> str | None:
    """A text field of the form (None when missing or blank)."""
    value = form.get(name)
    if isinstance(value, UploadFile):
        raise InvalidInput(f"form field {name!r} must be text, not a file", field=name)
    if value is None:
        return None
    return value.strip() or None


def _texts(form: FormData, name: str) -> list[str]:
    """Every value of a repeatable text field."""
    out = []
    for value in form.getlist(name):
        if isinstance(value, UploadFile):
            raise InvalidInput(f"form field {name!r} must be text, not a file", field=name)
        if value.strip():
            out.append(value.strip())
    return out


def _flag(form: FormData, name: str) -> bool:
    """A boolean field: true/false, 1/0, yes/no, on/off (false when missing)."""
    value = (_text(form, name) or "").lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise InvalidInput(f"form field {name!r} must be true or false, not {value!r}", field=name)


def safe_name(filename: str | None, fallback: str) -> str:
    """The base name of an uploaded file with anything but letters, digits, ``.``, ``-`` and
    ``_`` replaced (Chinese letters are kept); ``fallback`` plus the suffix when nothing is
    left. The suffix is lower-cased: it decides how the file is read."""
    name = re.split(r"[\\/]", filename or "")[-1]
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = re.sub(r"[^\w\-]+", "_", stem).strip("_") or fallback
    suffix = re.sub(r"[^\w]+", "", suffix).lower()
    return f"{stem}.{suffix}" if suffix else stem


@asynccontextmanager
async def _form(request: Request, limit: int, files: int) -> AsyncIterator[FormData]:
    """The request's form (its spooled files closed at the end), refused (413) when the
    request says it is over ``limit`` before it is read."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise PayloadTooLarge(f"upload of {declared} bytes is over the import limit of {limit} "
                              "bytes", limit=limit)
    if not request.headers.get("content-type", "").startswith(_CONTENT):
        raise InvalidInput(f"an import is sent as {_CONTENT}")
    form = await request.form(max_files=files, max_fields=200)
    try:
        yield form
    finally:
        await form.close()


class _Budget:
    """Bytes left for the files of one request: the limit counts them all together."""

    def __init__(self, limit: int) -> None:
        self.limit = self.left = limit

    def take(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise PayloadTooLarge(f"the uploaded files are over the import limit of {self.limit} "
                                  "bytes", limit=self.limit)


async def _save(form: FormData, field: str, folder: Path, allowed: tuple[str, ...],
                budget: _Budget) -> tuple[Path, str]:
    """Save the file of ``field`` in its own folder under ``folder``; its path and name.

    Raises
    ------
    InvalidInput
        The field is missing or not a file, or its suffix is not one of ``allowed``.
    PayloadTooLarge
        The files of the request are over the limit.
    """
    upload = form.get(field)
    if upload is None:
        raise InvalidInput(f"the form has no file field {field!r}", field=field)
    if not isinstance(upload, UploadFile):
        raise InvalidInput(f"form field {field!r} must be a file", field=field)
    name = safe_name(upload.filename, field)
    suffix = Path(name).suffix
    if suffix not in allowed:
        hint = (" (a Shapefile is uploaded as a .zip of its .shp, .shx, .dbf and .prj)"
                if suffix in (".shp", ".dbf", ".shx", ".prj") else "")
        raise InvalidInput(f"{field}: file {upload.filename!r} is not a format the import reads"
                           f"{hint}; give one of {', '.join(allowed)}",
                           field=field, file=upload.filename or "")
    path = folder / field / name
    path.parent.mkdir()
    with path.open("wb") as fh:
        while chunk := await upload.read(1 << 20):
            budget.take(len(chunk))
            fh.write(chunk)
    return path, name


def _locked(state: ServiceState, work: Callable[[], T]) -> T:
    """Run ``work`` holding the service's write lock (in a worker thread)."""
    if not state.write_lock.acquire(timeout=LOCK_WAIT):
        raise Conflict("another import or assignment change is running; try again when it "
                       "has finished")
    try:
        return work()
    finally:
        state.write_lock.release()


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinite floats as None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _renamed(exc: GeoGridError, names: dict[str, str], tmp: str) -> GeoGridError:
    """``exc`` with the temporary paths of the uploads in its message and text details
    replaced by the names the files were sent with."""

    def fix(text: str) -> str:
        for path, name in names.items():
            text = text.replace(path, name)
        return text.replace(tmp + "/", "").replace(tmp, "")

    details = {k: fix(v) if isinstance(v, str) else v for k, v in exc.details.items()}
    out = type(exc)(fix(exc.message), **details)
    out.__cause__ = exc
    return out


# ------------------------------------------------------------------ layers


@router.post("/layers", status_code=201, response_model=LayersImport, openapi_extra=LAYERS_DOC,
             responses={201: {"description": "the import report; the service now serves the "
                              "new street (see Location: /healthz)"},
                        **problem_responses(400, 409, 413, 422, 503)})
async def import_layers(request: Request, state: ServiceState = Depends(service)) -> JSONResponse:
    """Replace the served street with a street office's own four layers.

    Form fields: the files ``street``, ``communities``, ``grids``, ``buildings`` (GeoJSON,
    GeoPackage, zipped Shapefile, KML/KMZ, CSV or xlsx with WKT or lon/lat columns), and
    optionally ``crs`` (``LAYER=CRS``, repeatable), ``field`` (``LAYER.FIELD=COLUMN``,
    repeatable), ``encoding`` (of Shapefiles), ``street_layer``... (a layer or sheet inside a
    file), and ``replace=true``, needed because the service already serves a street (409
    otherwise).

    The layers are read and checked as ``geo-grid import`` does; gaps, overlaps and the other
    errors refuse the import (422 with ``violations``) and leave the served store as it was.
    Otherwise a new store is built and moved over the served one, the service opens it again,
    and the answer is the import report (201).
    """
    settings = request.app.state.settings
    limit = settings.max_import_bytes
    async with _form(request, limit, files=len(LAYERS)) as form:
        replace = _flag(form, "replace")
        if not replace and len(state.district.street):
            raise Conflict("the service already serves a street: send replace=true to replace "
                           "it with the uploaded layers (its grids, buildings, members and "
                           "history are not kept)")
        crs, fields, encoding = _texts(form, "crs"), _texts(form, "field"), _text(form, "encoding")
        layer_names = {name: _text(form, f"{name}_layer") for name in LAYERS}
        with tempfile.TemporaryDirectory(prefix="geo-grid-import-") as tmp:
            folder, budget = Path(tmp), _Budget(limit)
            saved = {name: await _save(form, name, folder, LAYER_SUFFIXES, budget)
                     for name in LAYERS}
            files = {name: f"{path}:{layer_names[name]}" if layer_names[name] else path
                     for name, (path, _) in saved.items()}
            names = {str(path): name for path, name in saved.values()}
            report_path = folder / "report.json"

            def work() -> dict[str, Any]:
                return _import_layers(state, files, crs, fields, encoding, report_path, names, tmp)

            report = await run_in_threadpool(_locked, state, work)
    for name, (_, sent) in saved.items():
        report["layers"][name]["file"] = sent
    report["links"] = {"health": request.url_for("healthz").path}
    return JSONResponse(report, status_code=201, headers={"Location": report["links"]["health"]})


def _import_layers(state: ServiceState, files: dict[str, Any], crs: list[str],
                   fields: list[str], encoding: str | None, report_path: Path,
                   names: dict[str, str], tmp: str) -> dict[str, Any]:
    """Import the layers into the served store's file and open it again (lock held)."""
    from geo_grid.importing import import_store

    try:
        import_store(state.store.path, files, crs=crs, fields=fields, encoding=encoding,
                     force=True, report_path=report_path)
    except StoreError as exc:
        report = _read_report(report_path)
        errors = report.get("errors") if report else None
        if errors:  # the layers' own errors: the caller's to fix, nothing was written
            kinds = sorted({e["kind"] for e in errors})
            raise TopologyError(
                f"{len(errors)} error(s) in the layers ({', '.join(kinds)}); nothing was "
                "written: " + "; ".join(e["message"] for e in errors[:3]),
                violations=errors) from exc
        raise _renamed(exc, names, tmp) from exc
    except GeoGridError as exc:
        raise _renamed(exc, names, tmp) from exc
    # the file was replaced: the service's connections still read the old one
    state.reopen(locked=True)
    health._synthetic.cache_clear()  # read once per store path: the new file says false
    log.info("imported layers into %s (boundaries %s)", state.store.path,
             state.snapshot.district.version)
    return _read_report(report_path)


def _read_report(path: Path) -> dict[str, Any] | None:
    """The report ``import_store`` wrote (None if it wrote none), NaN as None."""
    if not path.exists():
        return None
    return _finite(json.loads(path.read_text(encoding="utf-8")))


# ------------------------------------------------------------------ members and households


@router.post("/members", status_code=201, response_model=PeopleImport,
             openapi_extra=_people_doc("member roster", "name, phone, id, role, grid, "
                                       "address, lon, lat"),
             responses={201: {"description": "the per-row report; GET /api/v1/members shows "
                              "the members"}, **problem_responses(400, 409, 413, 422, 503)})
async def import_members(request: Request, state: ServiceState = Depends(service)) -> JSONResponse:
    """Add or update grid-team members from a roster, as ``geo-grid import-members`` does.

    Form fields: ``file`` (xlsx or csv, title rows above the header allowed), optionally
    ``sheet``, ``field`` (``FIELD=COLUMN``, repeatable) and ``skip_bad_rows``. Rows are matched
    to members by ID number (kept only as a digest), else by phone. A roster with bad rows
    writes nothing (422 with its ``rows``) unless ``skip_bad_rows=true``. The report names rows
    by their number in the file, never by a person's name, phone or ID number.
    """
    from geo_grid.importing.people import import_members as run

    return await _people(request, state, run, "members",
                         request.url_for("list_members").path)


@router.post("/households", status_code=201, response_model=PeopleImport,
             openapi_extra=_people_doc("households file (per-building counts or a household "
                                       "roster)", "building, households, size, residents, "
                                       "tags, elderly_alone, disabled, chronic, infant, "
                                       "address"),
             responses={201: {"description": "the per-row report"},
                        **problem_responses(400, 409, 413, 422, 503)})
async def import_households(request: Request,
                            state: ServiceState = Depends(service)) -> JSONResponse:
    """Replace the households of the buildings a file names, as ``geo-grid import-households``.

    Form fields: ``file`` (per-building counts with a 户数 column, or one row a household),
    optionally ``sheet``, ``field`` (``FIELD=COLUMN``, repeatable) and ``skip_bad_rows``. A
    file with bad rows writes nothing (422 with its ``rows``) unless ``skip_bad_rows=true``.
    """
    from geo_grid.importing.households import import_households as run

    return await _people(request, state, run, "households",
                         request.url_for("coverage").path)


async def _people(request: Request, state: ServiceState, run: Callable, kind: str,
                  see: str) -> JSONResponse:
    """Save the upload, run the core import on the served store, reload, answer."""
    from geo_grid.importing.people import parse_fields

    limit = request.app.state.settings.max_import_bytes
    async with _form(request, limit, files=1) as form:
        sheet, skip = _text(form, "sheet"), _flag(form, "skip_bad_rows")
        fields = parse_fields(_texts(form, "field"))
        with tempfile.TemporaryDirectory(prefix=f"geo-grid-{kind}-") as tmp:
            path, sent = await _save(form, "file", Path(tmp), table_suffixes(), _Budget(limit))

            def work():
                try:
                    return run(state.store.path, path, sheet=sheet, fields=fields,
                               skip_bad_rows=skip)
                except GeoGridError as exc:
                    raise _renamed(exc, {str(path): sent}, tmp) from exc
                finally:  # whatever was written is what the service serves from now on
                    if state.store.assignment_version() != state.snapshot.assignment_version:
                        state.reload()

            rep = await run_in_threadpool(_locked, state, work)
    out = _finite(rep.to_dict())
    out["file"] = sent
    out["rows"] = [masked(r) for r in out["rows"]]
    if rep.bad and not rep.written:
        bad = [r for r in out["rows"] if r["problems"]]
        why = ("no row is good" if len(bad) == len(out["rows"])
               else "fix them or send skip_bad_rows=true to import the good rows")
        raise InvalidInput(f"{len(bad)} bad row(s) in {sent}; nothing was written: {why}",
                           rows=bad, bad_rows=len(bad), file=sent)
    out["links"] = {kind if kind == "members" else "coverage": see}
    return JSONResponse(out, status_code=201, headers={"Location": see})


def masked(row: dict[str, Any]) -> dict[str, Any]:
    """A report row with any name, phone or ID number masked as the roster masks them (the
    core's reports name rows by number and carry none today: this keeps it so if one is ever
    added)."""
    out = dict(row)
    for key, fn in _MASKS:
        if key in out:
            out[key] = fn(out[key])
    return out
