"""An import from start to end: read the four layers, check them, build the store atomically."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geo_grid.district import LAYERS, District
from geo_grid.errors import Conflict, InvalidInput, StoreError
from geo_grid.importing.assemble import DEFAULTS, assemble
from geo_grid.importing.checks import HOUSEHOLD_RANGE, store_checks, warnings_of
from geo_grid.importing.encoding import GB18030
from geo_grid.importing.fields import parse_field_options, recognise
from geo_grid.importing.fixes import violation_dict
from geo_grid.importing.read import read_raw
from geo_grid.importing.repair import Repair
from geo_grid.importing.repair import repair as repair_layers
from geo_grid.importing.reproject import parse_crs_options, to_store_crs
from geo_grid.importing.sources import parse_source
from geo_grid.topology import Violation, validate

Progress = Callable[[str, float], None]

__all__ = ["ImportResult", "import_store", "read_layers", "violation_dict"]


@dataclass(frozen=True)
class ImportResult:
    """What an import read and found.

    Attributes
    ----------
    district : District
        The layers in the store's columns (no households or members).
    errors : tuple of Violation
        Problems that stop the import.
    warnings : tuple of Violation
        Problems reported but accepted.
    report : dict
        The import report (JSON-ready): sources, CRS and encodings, fields, codes made,
        defaults, ``violations`` (errors then warnings, each with its suggested ``fix``; also
        split into ``errors`` and ``warnings``) and the ``repairs`` made with ``--repair``.
    repairs : tuple of Repair
        What ``repair=True`` changed (empty otherwise).
    """

    district: District
    errors: tuple[Violation, ...]
    warnings: tuple[Violation, ...]
    report: dict
    repairs: tuple[Repair, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing stops the import."""
        return not self.errors


def read_layers(files: Mapping[str, str | Path], *, crs: Sequence[str] = (),
                fields: Sequence[str] = (), encoding: str | None = None,
                tolerance_m2: float = 1.0, repair: bool = False, tolerance_m: float = 1.0,
                household_range: tuple[int, int] = HOUSEHOLD_RANGE) -> ImportResult:
    """Read, convert and check the four layers of a street office.

    Parameters
    ----------
    files : mapping
        ``street``, ``communities``, ``grids``, ``buildings`` → ``FILE`` or ``FILE:layername``.
    crs : sequence of str
        ``LAYER=CRS`` options (EPSG code, ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``).
    fields : sequence of str
        ``LAYER.FIELD=COLUMN`` options.
    encoding : str, optional
        Attribute encoding of Shapefiles (found from ``.cpg`` or the bytes otherwise).
    tolerance_m2 : float
        Gaps and overlaps up to this area are accepted.
    repair : bool
        Repair what can be repaired first (:func:`geo_grid.importing.repair.repair`): invalid
        polygons, slivers, gaps, overlaps and outside parts narrower than ``tolerance_m``,
        buildings straddling grids; every repair is listed in the report.
    tolerance_m : float
        The repairs' width tolerance in metres.
    household_range : (int, int)
        Residential and mixed grids with households outside it get a warning.

    Returns
    -------
    ImportResult

    Raises
    ------
    InvalidInput
        A layer missing from ``files``, a file that cannot be read, a bad option.
    """
    missing = [k for k in LAYERS if not files.get(k)]
    if missing:
        raise InvalidInput(f"give every layer: missing {', '.join('--' + m for m in missing)}")
    crs_by = parse_crs_options(crs)
    field_by = parse_field_options(fields)
    layers, mapped, info = {}, {}, {}
    for name in LAYERS:
        src = parse_source(files[name])
        raw = read_raw(src, name, encoding, field_by.get(name))
        gdf, crs_label = to_store_crs(raw, crs_by.get(name), name)
        columns = [c for c in gdf.columns if c != gdf.geometry.name]
        mapped[name] = recognise(name, columns, {k: v for k, v in field_by.get(name, {}).items()
                                                 if k != "wkt"})
        layers[name] = gdf
        note = raw.encoding_note
        info[name] = {
            "file": str(src.path), "layer": raw.layer, "format": raw.format,
            "sha256": src.sha256(), "features": len(gdf), "crs": crs_label,
            "encoding": raw.encoding, "encoding_note": {
                "detected": f"no .cpg and the attributes are not UTF-8: read as {GB18030}"
                if raw.format == "shapefile" else f"text read as {raw.encoding}",
                "cpg": "named by the .cpg file", "given": "given with --encoding",
            }.get(note, note),
            "fields": mapped[name],
        }
    district, notes, extra = assemble(layers, mapped)
    repairs: list[Repair] = []
    if repair:
        district, repairs = repair_layers(district, tolerance_m=tolerance_m)
    errors = validate(district, tolerance_m2=tolerance_m2) + store_checks(district)
    # a straddling building given to the grid holding most of it is accepted as it is
    straddled = {r.code for r in repairs if r.kind == "building_crosses_edge"}
    errors = [v for v in errors if not (v.kind == "building_crosses_edge" and v.code in straddled)]
    warnings = warnings_of(district, households_given="households" in mapped["buildings"],
                           household_range=household_range)
    errors_out = [violation_dict(v, "error") for v in errors]
    warnings_out = [violation_dict(v, "warning") for v in warnings]
    residents = extra["residents"]
    report = {
        "ok": not errors,
        "synthetic": False,
        "layers": info,
        "counts": {k: len(getattr(district, k)) for k in LAYERS}
        | {"households": int(district.buildings["households"].sum()),
           "residents": int(np.nansum(residents)) if np.isfinite(residents).any() else None},
        "generated_codes": notes.generated,
        "defaults": {k: {"default": DEFAULTS[k], "features": n} for k, n in notes.defaults.items()},
        "messages": notes.messages,
        "household_range": list(household_range),
        "repair": {"enabled": bool(repair), "tolerance_m": tolerance_m},
        "violations": errors_out + warnings_out,
        "errors": errors_out,
        "warnings": warnings_out,
        "repairs": [r.to_dict() for r in repairs],
    }
    return ImportResult(district, tuple(errors), tuple(warnings), report, tuple(repairs))


def sources_version(report: dict) -> str:
    """A short hash of the source files' hashes: the imported store's boundary version."""
    h = hashlib.sha256()
    for name in LAYERS:
        h.update(report["layers"][name]["sha256"].encode())
    return h.hexdigest()[:16]


def _streets_in(db) -> list[str] | None:
    """The street codes of the store at ``db`` (None when there is no store yet)."""
    from geo_grid.store.backend import open_backend
    from geo_grid.store.store import Store
    from geo_grid.store.streets import street_codes

    if not open_backend(db).exists():
        return None
    store = Store(db)
    try:
        return street_codes(store)
    finally:
        store.close()


def _adds(db, code: str, present: list[str], force: bool) -> bool:
    """Whether importing street ``code`` into a store holding ``present`` adds it (True) or
    replaces the store (False, with ``force``); refuses what would lose another street's data
    or replace a street without ``force``."""
    from geo_grid.store.backend import display

    if force:
        if len(present) > 1:
            raise Conflict(f"store {display(db)} holds {len(present)} streets "
                           f"({', '.join(present)}): replacing it would lose them; add a new "
                           "street without --force, redraw a street's grids with `geo-grid "
                           "grid`, or import into a store of its own", path=display(db),
                           street=code)
        return False
    if code in present:
        raise StoreError(f"store {display(db)} holds street {code} already; give --force to "
                         "replace it", path=display(db), street=code)
    return True


def _add(db, district: District, sources: list[dict]) -> dict:
    """Add an imported street to the store at ``db`` (see :func:`geo_grid.store.streets.add_street`)."""
    from geo_grid.store.store import Store
    from geo_grid.store.streets import add_street

    store = Store(db)
    try:
        return add_street(store, district, author="geo-grid import",
                          note=json.dumps([s["file"] for s in sources], ensure_ascii=False))
    finally:
        store.close()


def import_store(db: str | Path, files: Mapping[str, str | Path], *, crs: Sequence[str] = (),
                 fields: Sequence[str] = (), encoding: str | None = None, force: bool = False,
                 report_path: str | Path | None = None,
                 progress: Progress | None = None, repair: bool = False,
                 tolerance_m: float = 1.0,
                 household_range: tuple[int, int] = HOUSEHOLD_RANGE,
                 on_report: Callable[[ImportResult], None] | None = None) -> ImportResult:
    """Import a street's own layers into a new store, or add them to a store holding other
    streets, all or nothing.

    The layers are read and checked (:func:`read_layers`); the report is written to
    ``report_path`` whatever the outcome. Into a new store (or with ``force`` over a store of
    one street, replaced) the store is built only when nothing stops it, in a temporary file
    moved into place at the end, so an existing store is untouched on failure. Without
    ``force``, a street the store does not hold yet is added to it in one transaction
    (``report["added_street"]``; :func:`geo_grid.store.streets.add_street`).
    ``repair``, ``tolerance_m`` and ``household_range`` go to :func:`read_layers`;
    ``on_report`` is called with the result once the layers are read and checked, whatever
    the outcome (the command line writes the report map with it).

    Returns
    -------
    ImportResult
        With ``report["store"]`` set when the store was written.

    Raises
    ------
    StoreError
        If the store holds the street already and ``force`` is not given, the layers have
        errors, or writing fails.
    Conflict, InvalidInput
        ``force`` over a store of several streets; adding the street would reuse another
        street's codes or overlap its outline.
    """
    from geo_grid.store.build import build_store_from, now_iso

    t0 = time.perf_counter()
    from geo_grid.store.backend import display, locate

    db = locate(db)  # a GeoPackage path or a postgresql+psycopg:// URL
    present = _streets_in(db)
    result = read_layers(files, crs=crs, fields=fields, encoding=encoding, repair=repair,
                         tolerance_m=tolerance_m, household_range=household_range)
    if progress:
        progress("read and checked layers", 1)
    report = result.report
    report["store"] = None
    try:
        if result.errors:
            kinds = sorted({v.kind for v in result.errors})
            raise StoreError(
                f"{len(result.errors)} error(s) in the layers ({', '.join(kinds)}); nothing was "
                "written: " + "; ".join(str(v) for v in result.errors[:5]),
                violations=len(result.errors))
        sources = [{"layer": k, "file": report["layers"][k]["file"],
                    "sha256": report["layers"][k]["sha256"]} for k in LAYERS]
        code = str(result.district.street["code"].iloc[0])
        if present is not None and _adds(db, code, present, force):
            report["added_street"] = _add(db, result.district, sources)
            report["store"] = display(db)
            report["boundaries_version"] = sources_version(report)
            return result
        meta = {
            "boundaries_version": sources_version(report),
            "boundaries": json.dumps([s["file"] for s in sources], ensure_ascii=False),
            "built_at": now_iso(),
            "synthetic": "false",
            "sources": json.dumps(sources, ensure_ascii=False),
            "import_crs": json.dumps({k: report["layers"][k]["crs"] for k in LAYERS},
                                     ensure_ascii=False),
            "import_encodings": json.dumps({k: report["layers"][k]["encoding"] for k in LAYERS}),
        }
        build_store_from(db, result.district, meta, force=force, progress=progress)
        report["store"] = display(db)
        report["boundaries_version"] = meta["boundaries_version"]
    finally:
        report["import_seconds"] = round(time.perf_counter() - t0, 3)
        if report_path is not None:
            Path(report_path).write_text(json.dumps(report, ensure_ascii=False, indent=2),
                                         encoding="utf-8")
        if on_report is not None:
            on_report(result)
    return result
