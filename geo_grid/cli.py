"""The ``geo-grid`` command line: a thin typer layer over the core.

Web and map modules are imported inside the commands that need them, so importing the core
(``geo_grid``) never imports fastapi, pydantic or folium.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from geo_grid.commands import audit, export, grid, pool, shifts, tradeoff, users
from geo_grid.errors import GeoGridError
from geo_grid.store import DEFAULT_STORE
from geo_grid.store.backend import display, locate

app = typer.Typer(help="geo-grid: grid management for a street office (网格化管理).",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True)

DbOption = typer.Option(Path(DEFAULT_STORE), "--db", parser=locate, help="store: a GeoPackage file or a postgresql+psycopg:// URL", envvar="GEO_GRID_DB")


def audited(db: Path, action: str, command: str, targets=()) -> None:
    """Record a state change made here in the store's audit trail (as ``cli:<login>``)."""
    from geo_grid.auth.audit import record_command

    record_command(db, action=action, command=command, targets=[str(t) for t in targets])


def fail(exc: GeoGridError) -> None:
    """Print a core error as ``error[code]: message`` and exit 2."""
    console.print(f"[red]error[/red]\\[{exc.code}]: {escape(exc.message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@contextmanager
def steps(total: int, label: str):
    """A rich progress bar; yields ``advance(step, n)``."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task(label, total=total)

        def advance(step: str, n: float = 1) -> None:
            bar.update(task, advance=n, description=f"{label}: {step}")

        yield advance


def ensure_store(db: Path, boundaries: Path | None = None, force: bool = False) -> dict | None:
    """Build the store if it is missing (or ``force``), with a progress bar."""
    from geo_grid.store import build_store

    if db.exists() and not force:
        return None
    with steps(8, "building store") as advance:
        return build_store(db, boundaries, progress=advance)


@app.command()
def init(db: Path = DbOption,
         boundaries: Path = typer.Option(None, help="layer folder (default: the reference district)"),
         force: bool = typer.Option(False, help="rebuild even if the store exists")) -> None:
    """Build the store (a GeoPackage file, or PostGIS with --db postgresql+psycopg://...) from
    the layers plus a synthetic population; a store that exists and holds other streets gets
    this street added (with its own synthetic population)."""
    try:
        report = ensure_store(db, boundaries, force) or _add_synthetic_street(db, boundaries)
    except GeoGridError as exc:
        fail(exc)
    if report is None:
        console.print(f"store {display(db)} exists (use --force to rebuild)")
        return
    typer.echo(json.dumps(report, ensure_ascii=False))


def _add_synthetic_street(db: Path, boundaries: Path | None) -> dict | None:
    """Add the folder's street, with a synthetic population, to the existing store ``db``
    unless the store holds it already (None then)."""
    from geo_grid.layers import DEFAULT_BOUNDARIES, read_layer
    from geo_grid.store import Store
    from geo_grid.store.build import synthetic_district
    from geo_grid.store.streets import add_street, street_codes

    store = Store(db)
    try:
        # the street's code alone first: the whole folder is read only to add it
        street = read_layer(Path(boundaries or DEFAULT_BOUNDARIES) / "street.geojson", "street")
        code = str(street["code"].iloc[0])
        if code in street_codes(store):
            return None
        with steps(4, "adding street") as advance:
            district = synthetic_district(boundaries, progress=advance)
            done = add_street(store, district, author="geo-grid init", synthetic=True,
                              note=str(boundaries or "reference district"))
            advance("added street", 1)
    finally:
        store.close()
    audited(db, "import", "geo-grid init", [str(boundaries or "reference district")])
    return done


@app.command()
def migrate(source: Path = typer.Option(..., "--from", parser=locate,
                                        help="the store to copy: a GeoPackage file or a URL"),
            target: Path = typer.Option(..., "--to", parser=locate,
                                        help="where to copy it: a postgresql+psycopg:// URL "
                                             "or a GeoPackage file"),
            force: bool = typer.Option(False, help="replace a store the target already holds")
            ) -> None:
    """Copy a whole store to another backend (GeoPackage -> PostGIS or back): layers, boundary
    versions and history, people, assignment versions, scenarios, accounts, audit trail,
    campaigns, rosters, the reinforcement pool and the posts. A target that already holds a
    store is refused unless --force (nothing is written then)."""
    from geo_grid.store.migrate import migrate as run

    try:
        with steps(24, "copying store") as advance:
            report = run(source, target, force=force, progress=advance)
        audited(target, "import", "geo-grid migrate", [display(source)])
    except GeoGridError as exc:
        fail(exc)
    typer.echo(json.dumps(report, ensure_ascii=False))


def _write_report_map(district, report: dict, path: Path) -> None:
    """Write the report map (maps is imported here: the core never imports folium)."""
    from maps.report import write_report_map

    write_report_map(district, report, path)


@app.command()
def validate(boundaries: Path = typer.Option(None, help="layer folder (default: the reference district)"),
             tolerance: float = typer.Option(1.0, help="gap/overlap tolerance in m²"),
             street: str = typer.Option(None, help="an office's street outline: FILE or FILE:layername"),
             communities: str = typer.Option(None, help="an office's community polygons"),
             grids: str = typer.Option(None, help="an office's grid polygons"),
             buildings: str = typer.Option(None, help="an office's building footprints"),
             crs: list[str] = typer.Option([], "--crs", metavar="LAYER=CRS",
                                           help="CRS of a layer: EPSG code, wgs84, cgcs2000, gcj02, bd09"),
             field: list[str] = typer.Option([], "--field", metavar="LAYER.FIELD=COLUMN",
                                             help="the column holding a field, e.g. grids.code=网格号"),
             encoding: str = typer.Option(None, help="attribute encoding of Shapefiles (e.g. GBK)"),
             household_range: str = typer.Option("300-500", "--household-range", metavar="LOW-HIGH",
                                                 help="households a grid should hold (warning outside)"),
             report: Path = typer.Option(None, help="write the report (JSON) here"),
             report_map: Path = typer.Option(None, "--report-map",
                                             help="write the report map (HTML) here")) -> None:
    """Check the layers' topology and codes; print every violation, exit 1 if any.

    With --street/--communities/--grids/--buildings an office's own files are read as
    ``geo-grid import`` reads them, and warnings (households outside the range) are printed
    too; only errors make the exit code 1."""
    from geo_grid.errors import InvalidInput
    from geo_grid.importing.checks import parse_household_range
    from geo_grid.importing.fixes import violation_dict
    from geo_grid.layers import load_layers
    from geo_grid.topology import validate as run

    files = {"street": street, "communities": communities, "grids": grids, "buildings": buildings}
    own = any(files.values())
    t = time.perf_counter()
    try:
        if own:
            from geo_grid.importing import read_layers

            if boundaries is not None:
                raise InvalidInput("give --boundaries or the layer files, not both")
            result = read_layers(files, crs=crs, fields=field, encoding=encoding,
                                 tolerance_m2=tolerance,
                                 household_range=parse_household_range(household_range))
            district, errors, warnings, out = (result.district, list(result.errors),
                                               list(result.warnings), result.report)
        else:
            district = load_layers(boundaries)
            t = time.perf_counter()  # the check's own time, as before
            errors, warnings = run(district, tolerance_m2=tolerance), []
            listed = [violation_dict(v, "error") for v in errors]
            out = {"ok": not errors, "boundaries": str(boundaries) if boundaries else "reference",
                   "counts": {k: len(getattr(district, k)) for k in
                              ("street", "communities", "grids", "buildings")},
                   "violations": listed, "errors": listed, "warnings": [], "repairs": []}
        if report is not None:
            report.write_text(json.dumps(out, ensure_ascii=False, indent=2), encoding="utf-8")
        if report_map is not None:
            _write_report_map(district, out, report_map)
    except GeoGridError as exc:
        fail(exc)
    except OSError as exc:
        fail(InvalidInput(f"cannot write the report: {exc}"))
    for v in errors:
        typer.echo(str(v))
    for v in warnings:
        typer.echo(f"warning {v}")
    counts = {k: len(getattr(district, k)) for k in ("communities", "grids", "buildings")}
    msg = (f"{len(errors)} violation(s) in {counts['communities']} communities, "
           f"{counts['grids']} grids, {counts['buildings']} buildings ({time.perf_counter() - t:.2f} s)")
    if warnings:
        msg += f"; {len(warnings)} warning(s)"
    console.print(msg)
    if errors:
        raise typer.Exit(1)


@app.command("import")
def import_(db: Path = typer.Option(..., "--db", parser=locate, help="store to create or add the street to: a GeoPackage file or a postgresql+psycopg:// URL"),
            street: str = typer.Option(..., help="street outline: FILE or FILE:layername"),
            communities: str = typer.Option(..., help="community polygons"),
            grids: str = typer.Option(..., help="grid polygons"),
            buildings: str = typer.Option(..., help="building footprints"),
            crs: list[str] = typer.Option([], "--crs", metavar="LAYER=CRS",
                                          help="CRS of a layer: EPSG code, wgs84, cgcs2000, gcj02, bd09"),
            field: list[str] = typer.Option([], "--field", metavar="LAYER.FIELD=COLUMN",
                                            help="the column holding a field, e.g. grids.code=网格号"),
            encoding: str = typer.Option(None, help="attribute encoding of Shapefiles (e.g. GBK)"),
            report: Path = typer.Option(None, help="write the import report (JSON) here"),
            report_map: Path = typer.Option(None, "--report-map",
                                            help="write the report map (HTML) here, whatever the outcome"),
            repair: bool = typer.Option(False, "--repair",
                                        help="make invalid polygons valid, snap away slivers, gaps "
                                             "and overlaps under --tolerance, give straddling "
                                             "buildings to the grid holding most of them"),
            tolerance: float = typer.Option(1.0, "--tolerance", help="repair tolerance in metres (width)"),
            household_range: str = typer.Option("300-500", "--household-range", metavar="LOW-HIGH",
                                                help="households a grid should hold (warning outside)"),
            force: bool = typer.Option(False, help="replace an existing store of one street (without it, a street the store does not hold is added to it)")) -> None:
    """Build a store from a street office's own layers (GeoJSON, GeoPackage, Shapefile or zip,
    KML/KMZ, CSV/xlsx with WKT or lon/lat), or add the street to an existing store holding
    others; errors stop it and leave an existing store as it was."""
    from geo_grid.errors import InvalidInput
    from geo_grid.importing import import_store
    from geo_grid.importing.checks import parse_household_range

    files = {"street": street, "communities": communities, "grids": grids, "buildings": buildings}

    def on_report(result) -> None:
        if report_map is not None:
            _write_report_map(result.district, result.report, report_map)

    try:
        hh = parse_household_range(household_range)
        with steps(6, "importing") as advance:
            result = import_store(db, files, crs=crs, fields=field, encoding=encoding,
                                  force=force, report_path=report, progress=advance,
                                  repair=repair, tolerance_m=tolerance, household_range=hh,
                                  on_report=on_report)
        audited(db, "import", "geo-grid import", [str(f) for f in files.values()])
    except GeoGridError as exc:
        fail(exc)
    except OSError as exc:
        fail(InvalidInput(f"cannot write the report: {exc}"))
    for v in result.warnings[:5]:
        console.print(f"[yellow]warning[/yellow] {escape(str(v))}", highlight=False)
    if len(result.warnings) > 5:
        console.print(f"… {len(result.warnings) - 5} more warnings (see --report)")
    for r in result.repairs[:5]:
        console.print(f"[blue]repaired[/blue] {escape(str(r))}", highlight=False)
    if len(result.repairs) > 5:
        console.print(f"… {len(result.repairs) - 5} more repairs (see --report)")
    summary = {k: result.report[k] for k in ("store", "counts", "generated_codes",
                                              "boundaries_version", "import_seconds")}
    summary["warnings"] = len(result.warnings)
    summary["repairs"] = len(result.repairs)
    summary["crs"] = {k: v["crs"] for k, v in result.report["layers"].items()}
    summary["encodings"] = {k: v["encoding"] for k, v in result.report["layers"].items()
                            if v["encoding"]}
    typer.echo(json.dumps(summary, ensure_ascii=False))


def row_report(rep, report: Path | None, shown: int = 5) -> None:
    """Write a row-by-row import's report (``--report``), print its first ``shown`` bad rows
    and its summary (one JSON line, without the rows)."""
    out = rep.to_dict()
    if report is not None:
        report.write_text(json.dumps(out, ensure_ascii=False, indent=1), "utf-8")
    for r in rep.bad[:shown]:
        console.print(f"[yellow]row {r['row']}[/yellow] {escape('; '.join(r['problems']))}",
                      highlight=False)
    if len(rep.bad) > shown:
        console.print(f"… {len(rep.bad) - shown} more bad rows (see --report)")
    typer.echo(json.dumps({k: v for k, v in out.items() if k != "rows"}, ensure_ascii=False))


def _people_result(rep, report: Path | None) -> None:
    """Write a people import's report, print its summary; exit 1 when bad rows stopped it."""
    row_report(rep, report)
    if rep.bad and not rep.written:
        console.print("nothing written: " + ("no good row to write" if len(rep.bad) == len(rep.rows)
                                             else "fix the rows above or give --skip-bad-rows"))
        raise typer.Exit(1)


FieldOption = typer.Option([], "--field", metavar="FIELD=COLUMN",
                           help="the column holding a field, e.g. grid=网格号")


@app.command("import-members")
def import_members(file: Path = typer.Argument(..., help="member roster (.xlsx or .csv)"),
                   db: Path = DbOption,
                   sheet: str = typer.Option(None, help="xlsx sheet (default: the first)"),
                   field: list[str] = FieldOption,
                   skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows",
                                                      help="import the good rows anyway"),
                   report: Path = typer.Option(None, help="write the per-row report (JSON) here")
                   ) -> None:
    """Add or update grid-team members from a roster (upsert by ID number, else phone)."""
    from geo_grid.importing.people import import_members as run
    from geo_grid.importing.people import parse_fields

    try:
        rep = run(db, file, sheet=sheet, fields=parse_fields(field), skip_bad_rows=skip_bad_rows)
        if rep.written:
            audited(db, "import", "geo-grid import-members", [file.name])
    except GeoGridError as exc:
        fail(exc)
    _people_result(rep, report)


@app.command("import-households")
def import_households(file: Path = typer.Argument(..., help="households file (.xlsx or .csv)"),
                      db: Path = DbOption,
                      sheet: str = typer.Option(None, help="xlsx sheet (default: the first)"),
                      field: list[str] = FieldOption,
                      skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows",
                                                         help="import the good rows anyway"),
                      report: Path = typer.Option(None, help="write the per-row report (JSON) here")
                      ) -> None:
    """Replace the households of the buildings a file names (per-building counts or one row a
    household), and the buildings' household counts with them."""
    from geo_grid.importing.households import import_households as run
    from geo_grid.importing.people import parse_fields

    try:
        rep = run(db, file, sheet=sheet, fields=parse_fields(field), skip_bad_rows=skip_bad_rows)
        if rep.written:
            audited(db, "import", "geo-grid import-households", [file.name])
    except GeoGridError as exc:
        fail(exc)
    _people_result(rep, report)


def _gazetteer(db: Path):
    from geo_grid.lookup import Gazetteer
    from geo_grid.store import load_district

    ensure_store(db)
    return Gazetteer.build(load_district(db))


@app.command()
def lookup(lon: float = typer.Option(None, help="longitude (easting for epsg:4549)"),
           lat: float = typer.Option(None, help="latitude (northing for epsg:4549)"),
           crs: str = typer.Option("wgs84", help="wgs84 | cgcs2000 | gcj02 | bd09 | epsg:4549"),
           address: str = typer.Option(None, help="free-text Chinese address"),
           db: Path = DbOption) -> None:
    """Print which street, community, grid and team cover a point or an address (JSON)."""
    try:
        gaz = _gazetteer(db)
        if address is not None:
            out = gaz.lookup_address(address)
        elif lon is None or lat is None:
            console.print("give --lon and --lat, or --address")
            raise typer.Exit(2)
        else:
            out = gaz.lookup(lon, lat, crs)
    except GeoGridError as exc:
        fail(exc)
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))


@app.command("lookup-batch")
def lookup_batch(input_: Path = typer.Argument(..., metavar="IN", help="roster .csv or .xlsx"),
                 output: Path = typer.Option(..., "-o", "--output", help="output file (.csv or .xlsx)"),
                 address_column: str = typer.Option(None, "--address-column", help="address column name"),
                 sheet: str = typer.Option(None, help="xlsx sheet (default: the first)"),
                 crs: str = typer.Option("wgs84", help="CRS of the roster's coordinate columns: "
                                         "wgs84 | cgcs2000 | gcj02 | bd09 | epsg:4549"),
                 db: Path = DbOption) -> None:
    """Place every row of a roster in a grid; write the rows back with grid columns added."""
    from geo_grid.batch import run_batch

    try:
        gaz = _gazetteer(db)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} rows"), TimeElapsedColumn(),
                      console=console) as bar:
            task = bar.add_task("placing rows", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = run_batch(input_, output, gaz.matcher, gaz.directory, address_column=address_column,
                               sheet=sheet, progress=progress, crs=crs,
                               locate=lambda lon, lat: gaz.locator.codes_of(gaz.locator.locate(lon, lat)))
    except GeoGridError as exc:
        fail(exc)
    typer.echo(json.dumps(report, ensure_ascii=False, default=str))


@app.command("map")
def map_(output: Path = typer.Option(..., "-o", "--output", help="HTML file to write"),
         db: Path = DbOption,
         tiles: str = typer.Option("none", help="none | osm | gaode | tianditu | URL template"),
         tiles_key: str = typer.Option(None, "--tiles-key", envvar="GEO_GRID_TIANDITU_KEY",
                                       help="tianditu key (tiles=tianditu)"),
         tiles_attr: str = typer.Option(None, "--tiles-attr",
                                        help="attribution (required for a URL template)")) -> None:
    """Write the interactive coverage map as one HTML file that works offline."""
    from geo_grid.store import load_district
    from maps.export import write_map

    try:
        ensure_store(db)
        with steps(2, "map") as advance:
            district = load_district(db)
            advance("loaded store")
            write_map(district, output, tiles=tiles, tiles_key=tiles_key, tiles_attr=tiles_attr)
            advance("written")
    except GeoGridError as exc:
        fail(exc)
    console.print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB)")


def refuse_open_bind(db: Path, host: str) -> None:
    """Refuse to serve a store with no users on anything but a loopback address: the first
    admin's one-time login must not be open to the network."""
    import ipaddress

    from geo_grid.auth.users import has_users
    from geo_grid.store import Store

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return
    store = Store(db)
    try:
        if not has_users(store):
            raise GeoGridError(
                f"the store has no users yet: serve it on 127.0.0.1 first (an admin and a "
                f"one-time login are created), or add one with `geo-grid user add`; not binding "
                f"{host}", host=host)
    finally:
        store.close()


@app.command()
def serve(db: Path = DbOption,
          host: str = typer.Option("127.0.0.1", help="bind address (loopback unless told otherwise)"),
          port: int = typer.Option(8000),
          workers: int = typer.Option(1, help="uvicorn worker processes"),
          boundaries: Path = typer.Option(None, help="layer folder used if the store is missing"),
          public_lookup: bool = typer.Option(False, "--public-lookup",
                                             help="open the masked point and address lookups "
                                                  "to callers without a token"),
          worker_timeout: int = typer.Option(
              120, "--worker-timeout", min=1,
              help="seconds a worker may take to answer uvicorn's health check (it loads the "
                   "store and builds its lookup index first: minutes for a city)")) -> None:
    """Serve the map and the API (builds the store first if it is missing).

    On a store with no users an ``admin`` is created and a login URL with a one-time token is
    printed; a store with no users is never served on a non-loopback address."""
    import uvicorn

    try:
        ensure_store(db, boundaries)
        refuse_open_bind(db, host)
    except GeoGridError as exc:
        fail(exc)
    os.environ["GEO_GRID_DB"] = str(db.resolve())
    os.environ["GEO_GRID_HOST"] = host
    os.environ["GEO_GRID_PORT"] = str(port)
    os.environ["GEO_GRID_PUBLIC_LOOKUP"] = "true" if public_lookup else "false"
    if boundaries is not None:
        os.environ["GEO_GRID_BOUNDARIES"] = str(boundaries.resolve())
    console.print(f"serving {display(db)} on http://{host}:{port}/")
    from api.logs import log_config
    from api.protocol import ProblemHttpToolsProtocol

    # access log lines keep the path only (query strings hold residents' addresses), and the
    # requests uvicorn refuses itself (a URL over 64 KiB) are answered with problem+json too
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", log_config=log_config(), http=ProblemHttpToolsProtocol,
                timeout_worker_healthcheck=worker_timeout)


@app.command()
def assign(db: Path = DbOption) -> None:
    """Recompute the ordinary-day optimal assignment and make it current (kept in the history)."""
    from geo_grid.assign import district_coverage, initial_assignment
    from geo_grid.store import Store, history

    try:
        ensure_store(db)
        store = Store(db)
        with steps(3, "assign") as advance:
            district = store.load_district()
            advance("loaded")
            rows = initial_assignment(district)
            advance("solved")
            stamp = history.replace_assignment(store, rows)
            advance("stored")
        totals = district_coverage(district, assignment=rows).totals()
        store.close()
        audited(db, "apply", "geo-grid assign", [stamp])
    except GeoGridError as exc:
        fail(exc)
    typer.echo(json.dumps({"assignment_version": stamp, "pairs": len(rows), **totals}, ensure_ascii=False))


@app.command()
def rebalance(scenario: Path = typer.Option(..., "--scenario", help="scenario JSON file"),
              output: Path = typer.Option(None, "-o", "--output", help="write the full result JSON"),
              apply: bool = typer.Option(False, "--apply", help="make the new assignment current"),
              db: Path = DbOption) -> None:
    """Rebalance under an emergency scenario; keep it in the store, print its summary."""
    from geo_grid.assign import Scenario
    from geo_grid.assign import rebalance as run
    from geo_grid.errors import InvalidInput
    from geo_grid.store import Store, history

    try:
        try:
            spec = json.loads(scenario.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read scenario {scenario}: {exc}") from exc
        ensure_store(db)
        store = Store(db)
        if isinstance(spec, dict):
            from geo_grid.store.pool import resolve_scenario_pool

            # "reinforcements": "pool": the pool entries available at the scenario's "at"
            spec = resolve_scenario_pool(store, spec)
        sc = Scenario.from_dict(spec)
        version = history.current_version(store)
        with steps(2, "rebalance") as advance:
            district = store.load_district()
            advance("loaded")
            result = run(district, sc).to_dict()
            advance("solved")
        sid = history.save_scenario(store, sc.name, sc.to_dict(), result, version)
        out = {"id": sid, "summary": result["summary"], "shortages": len(result["shortages"])}
        store.close()
        audited(db, "scenario", "geo-grid rebalance", [sid])
        if apply:
            store = Store(db)
            out["applied"] = history.apply_scenario(store, sid)
            store.close()
            audited(db, "apply", "geo-grid rebalance --apply", [sid])
    except GeoGridError as exc:
        fail(exc)
    if output is not None:
        output.write_text(json.dumps({"id": sid, **result}, ensure_ascii=False, indent=1), "utf-8")
    typer.echo(json.dumps(out, ensure_ascii=False))


@app.command()
def roster(output: Path = typer.Option(..., "-o", "--output", help="xlsx file to write"),
           unmasked: bool = typer.Option(False, "--unmasked", help="names and phones in full"),
           scenario: str = typer.Option(None, "--scenario",
                                        help="a kept scenario's id: its new assignment and figures"),
           db: Path = DbOption) -> None:
    """Write the coverage roster (per grid: who covers which building; figures per grid and
    community) as an Excel workbook: of the current assignment, or of a kept scenario's."""
    import dataclasses

    import pandas as pd

    from geo_grid.errors import InvalidInput
    from geo_grid.figures import district_figures
    from geo_grid.roster import write_roster
    from geo_grid.store import Store, history

    try:
        ensure_store(db)
        store = Store(db)
        district = store.load_district()
        if scenario is None:
            fig = district_figures(district)
        else:
            kept = history.ensure_figures(store, history.get_scenario(store, scenario), district)
            fig = history.figures_of(kept)[1]
            rows = pd.DataFrame(kept["result"]["assignment"], columns=list(history.ASSIGNMENT_COLUMNS))
            district = dataclasses.replace(district, assignment=rows)
        store.close()
        n = write_roster(district, output, unmasked=unmasked, figures=fig)
    except GeoGridError as exc:
        fail(exc)
    except OSError as exc:
        fail(InvalidInput(f"cannot write {output}: {exc}"))
        fail(exc)
    console.print(f"wrote {output}: {n} building rows" + ("" if unmasked else " (personal data masked)"))


app.command("export")(export.export)
app.command("roster-shifts")(shifts.roster_shifts)
app.command("import-reinforcements")(pool.import_reinforcements)
app.command("import-posts")(pool.import_posts)
app.command("tradeoff")(tradeoff.tradeoff)
app.add_typer(grid.app, name="grid")
app.add_typer(users.app, name="user")
app.add_typer(audit.app, name="audit")


def main() -> None:  # pragma: no cover - console entry
    """Entry point for ``python -m geo_grid.cli``."""
    app(prog_name="geo-grid")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
