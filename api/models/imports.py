"""The answers of ``POST /api/v1/imports/...``: the import reports of ``geo-grid import``,
``import-members`` and ``import-households``, as JSON."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class LayerReport(BaseModel):
    """How one uploaded layer was read."""

    model_config = ConfigDict(extra="allow")

    file: str = Field(description="the uploaded file's name (sanitised)")
    layer: str | None = Field(None, description="the layer or sheet read inside the file")
    format: str = Field(description="geojson, gpkg, shapefile, kml, csv, xlsx...")
    sha256: str = Field(description="SHA-256 of the uploaded bytes")
    features: int = Field(ge=0)
    crs: str = Field(description="the CRS the layer was read in, and where it was found")
    encoding: str | None = Field(None, description="attribute encoding (Shapefiles and text)")
    encoding_note: str | None = None
    fields: dict[str, str] = Field(description="store field → the column it was read from")


class ImportViolation(BaseModel):
    """A problem found in the layers: errors stop the import, warnings are accepted."""

    model_config = ConfigDict(extra="allow")

    severity: str = Field(description="error or warning")
    kind: str = Field(description="overlap, gap, outside_parent, bad_reference...")
    layer: str
    code: str = Field(description="code of the feature concerned")
    lon: float | None = None
    lat: float | None = None
    message: str
    fix: str | None = Field(None, description="how the problem can be fixed, where known")


LAYERS_EXAMPLE: dict[str, Any] = {
    "ok": True, "synthetic": False,
    "layers": {"grids": {
        "file": "grids.geojson", "layer": None, "format": "geojson",
        "sha256": "9f2c0d6a1e…", "features": 21, "crs": "EPSG:4490 (file)", "encoding": None,
        "encoding_note": None,
        "fields": {"code": "code", "name": "name", "community_code": "community_code"}}},
    "counts": {"street": 1, "communities": 3, "grids": 21, "buildings": 147,
               "households": 5210, "residents": None},
    "generated_codes": {"buildings": 0}, "defaults": {}, "messages": [], "errors": [],
    "warnings": [], "store": "data/jiangxi.gpkg", "boundaries_version": "3b9e51c07a2d4f18",
    "import_seconds": 1.84, "links": {"health": "/healthz"},
}


class LayersImport(BaseModel):
    """The report of a layers import (as ``geo-grid import --report`` writes it)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [LAYERS_EXAMPLE]})

    ok: bool = Field(description="true: nothing stopped the import")
    synthetic: bool = Field(description="always false: the street is the office's own")
    layers: dict[str, LayerReport] = Field(description="street, communities, grids, buildings")
    counts: dict[str, int | None] = Field(description="features per layer, households, residents")
    generated_codes: dict[str, int] = Field(description="codes made for features without one")
    defaults: dict[str, dict[str, Any]] = Field(description="defaults used and for how many "
                                                "features")
    messages: list[str]
    errors: list[ImportViolation]
    warnings: list[ImportViolation]
    store: str | None = Field(description="the store written")
    boundaries_version: str | None = Field(None, description="version of the new boundaries "
                                           "(what /healthz reports from now on)")
    import_seconds: float
    links: dict[str, str] = Field(description="``health``: where to see the service's new state")


class RowReport(BaseModel):
    """One data row of an uploaded table: no names, phones or ID numbers, only the row number."""

    model_config = ConfigDict(extra="allow")

    row: int = Field(ge=1, description="1-based row number in the file")
    status: str = Field(description="imported, imported_unplaced, updated or bad")
    problems: list[str] = Field(description="why the row was refused (empty when it was not)")
    notes: list[str] | None = Field(None, description="accepted, but worth knowing")
    member_id: str | None = None
    building_code: str | None = None


PEOPLE_EXAMPLE: dict[str, Any] = {
    "file": "花名册.xlsx", "kind": "members",
    "columns": {"id": "身份证号", "phone": "手机号码", "lon": None, "lat": None, "name": "姓名",
                "role": "职务", "grid": "所属网格", "address": "居住地址"},
    "written": True, "assignment_version": "20261201T165500-4f1a",
    "summary": {"imported": 2, "updated": 1}, "bad_rows": 0,
    "rows": [{"row": 3, "status": "imported", "problems": [], "notes": [],
              "member_id": "M03004"},
             {"row": 4, "status": "imported", "problems": [], "notes": [],
              "member_id": "M03005"},
             {"row": 5, "status": "updated", "problems": [], "notes": [],
              "member_id": "M00017"}],
    "links": {"members": "/api/v1/members"},
}


class PeopleImport(BaseModel):
    """The report of a members or households import (as ``--report`` writes it)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [PEOPLE_EXAMPLE]})

    file: str = Field(description="the uploaded file's name (sanitised)")
    kind: str = Field(description="members or households")
    columns: dict[str, str | None] = Field(description="field → the column it was read from")
    written: bool = Field(description="false when nothing was written")
    assignment_version: str | None = Field(description="the assignment version written")
    summary: dict[str, int] = Field(description="rows per status")
    bad_rows: int = Field(ge=0)
    rows: list[RowReport]
    mode: str | None = Field(None, description="households: counts (a row a building) or "
                             "roster (a row a household)")
    buildings: int | None = Field(None, description="households: buildings replaced")
    households: int | None = Field(None, description="households: households written")
    residents: int | None = Field(None, description="households: residents written")
    unknown_kinds: list[str] | None = Field(None, description="households: kinds of household "
                                            "the store has no column for (低保, 特困...)")
    buildings_without_households: int | None = None
    links: dict[str, str]
