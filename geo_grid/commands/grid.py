"""``geo-grid grid ...``: split, merge, redraw and densify grids, move buildings, read versions.

Every edit is computed on the store's current layers and written as a new boundary version
with its author and note (:func:`geo_grid.store.edits.run_edit`); each command prints the new
version and the edit's summary as JSON.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import typer

from geo_grid.store import DEFAULT_STORE
from geo_grid.store.backend import locate

app = typer.Typer(help="Edit grids (each edit is a new boundary version) and read versions.",
                  no_args_is_help=True)

DbOption = typer.Option(Path(DEFAULT_STORE), "--db", parser=locate, help="store: a GeoPackage file or a postgresql+psycopg:// URL", envvar="GEO_GRID_DB")
AuthorOption = typer.Option(None, "--author", help="who makes the change (default: the login name)")
NoteOption = typer.Option("", "--note", help="why (kept with the version)")
CrsOption = typer.Option("wgs84", "--crs",
                         help="CRS of the GeoJSON coordinates: wgs84, cgcs2000, gcj02, bd09, EPSG")


def _author(author: str | None) -> str:
    if author:
        return author
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container): say so instead
        return "unknown"


def _read_json(value: str, what: str) -> dict:
    """GeoJSON given inline or as a file path."""
    from geo_grid.errors import InvalidInput

    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        if not path.exists():
            raise InvalidInput(f"{what}: {value} is neither a file nor GeoJSON text")
        text = path.read_text(encoding="utf-8-sig")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from None


def _run(db: Path, make, author: str | None, note: str) -> None:
    from geo_grid.auth.audit import record_command
    from geo_grid.cli import fail
    from geo_grid.errors import GeoGridError
    from geo_grid.store import Store
    from geo_grid.store.edits import run_edit

    try:
        store = Store(db)
        try:
            done = run_edit(store, make, author=_author(author), note=note)
        finally:
            store.close()
        summary = done.edit.summary()
        record_command(db, action="edit", command=f"geo-grid grid ({summary['kind']})",
                       targets=[*summary["retired"], *summary["added"], *summary["reshaped"]])
    except GeoGridError as exc:
        _print_violations(exc)
        fail(exc)
    typer.echo(json.dumps(done.to_dict(), ensure_ascii=False))


def _print_violations(exc) -> None:
    from geo_grid.cli import console

    for v in exc.details.get("violations", [])[:20]:
        console.print(f"  [{v.get('kind')}] {v.get('code')}: {v.get('message')} "
                      f"at ({v.get('lon')}, {v.get('lat')})", highlight=False, markup=False)


@app.command()
def split(code: str = typer.Argument(..., help="the grid to split"),
          parts: int = typer.Option(None, "--parts", min=2,
                                    help="k contiguous parts balanced by households"),
          line: str = typer.Option(None, "--line",
                                   help="a GeoJSON LineString (file or text) to cut along"),
          crs: str = CrsOption, db: Path = DbOption, author: str = AuthorOption,
          note: str = NoteOption) -> None:
    """Split a grid along a line or into k parts; its code is retired, the parts get new ones."""
    from geo_grid.cli import fail
    from geo_grid.editing import split_by_line, split_into_parts
    from geo_grid.editing.geojson import read_line
    from geo_grid.errors import BadRequest, GeoGridError

    if (parts is None) == (line is None):
        fail(BadRequest("give exactly one of --parts and --line"))
    if parts is not None:
        _run(db, lambda d, c: split_into_parts(d, code, parts, c), author, note)
        return
    try:
        geom = read_line(_read_json(line, "--line"), crs, "--line")
    except GeoGridError as exc:
        fail(exc)
    _run(db, lambda d, c: split_by_line(d, code, geom, c), author, note)


@app.command()
def merge(codes: list[str] = typer.Argument(..., help="two or more adjacent grids of a community"),
          name: str = typer.Option(None, "--name", help="name of the merged grid"),
          db: Path = DbOption, author: str = AuthorOption, note: str = NoteOption) -> None:
    """Merge adjacent grids of one community into a new grid (their codes are retired)."""
    from geo_grid.editing import merge_grids

    _run(db, lambda d, c: merge_grids(d, codes, c, name=name), author, note)


@app.command()
def geometry(code: str = typer.Argument(..., help="the grid to redraw"),
             file: str = typer.Option(..., "--file",
                                      help="GeoJSON: a (Multi)Polygon or Feature, or a "
                                           "FeatureCollection whose features carry `code` "
                                           "(the grid and the neighbours redrawn with it)"),
             crs: str = CrsOption, db: Path = DbOption, author: str = AuthorOption,
             note: str = NoteOption) -> None:
    """Redraw a grid's outline (and its neighbours' in the same edit); the grids must still
    tile the community, or the gaps and overlaps are listed and nothing is written."""
    from geo_grid.cli import fail
    from geo_grid.editing import reshape_grid
    from geo_grid.editing.geojson import read_outline
    from geo_grid.errors import GeoGridError, InvalidInput

    try:
        obj = _read_json(file, "--file")
        neighbours = {}
        if isinstance(obj, dict) and obj.get("type") == "FeatureCollection":
            outlines = {}
            for i, f in enumerate(obj.get("features") or []):
                props = (f or {}).get("properties") or {}
                if "code" not in props:
                    raise InvalidInput(f"--file feature {i} has no `code` property")
                outlines[str(props["code"])] = read_outline(f, crs, f"--file feature {i}")
            if code not in outlines:
                raise InvalidInput(f"--file has no feature with code {code}")
            outline = outlines.pop(code)
            neighbours = outlines
        else:
            outline = read_outline(obj, crs, "--file")
    except GeoGridError as exc:
        fail(exc)
    _run(db, lambda d, c: reshape_grid(d, code, outline, neighbours or None), author, note)


@app.command("move-building")
def move_building(building: str = typer.Argument(..., help="building code"),
                  to: str = typer.Option(..., "--to", help="the grid it now belongs to"),
                  db: Path = DbOption, author: str = AuthorOption, note: str = NoteOption) -> None:
    """Put a building in another grid of its community."""
    from geo_grid.editing import move_building as move

    _run(db, lambda d, c: move(d, building, to), author, note)


@app.command()
def densify(max_households: int = typer.Option(..., "--max-households", min=1,
                                               help="split every grid above this"),
            db: Path = DbOption, author: str = AuthorOption, note: str = NoteOption) -> None:
    """Split every grid with more households than the limit, in one version (a finer grid)."""
    from geo_grid.editing import densify as run

    _run(db, lambda d, c: run(d, max_households, c), author, note)


@app.command()
def versions(db: Path = DbOption) -> None:
    """List the boundary versions (one JSON object a line, oldest first)."""
    from geo_grid.cli import fail
    from geo_grid.errors import GeoGridError
    from geo_grid.store import Store
    from geo_grid.store.versions import list_versions

    try:
        store = Store(db)
        try:
            rows = list_versions(store)
        finally:
            store.close()
    except GeoGridError as exc:
        fail(exc)
    for v in rows:
        typer.echo(json.dumps(v.to_dict(), ensure_ascii=False))


@app.command()
def diff(a: int = typer.Argument(..., help="the earlier version"),
         b: int = typer.Argument(..., help="the later version"),
         db: Path = DbOption) -> None:
    """What changed between two boundary versions (grids added, removed, reshaped, buildings
    moved, household deltas), as JSON."""
    from geo_grid.cli import fail
    from geo_grid.errors import GeoGridError
    from geo_grid.store import Store
    from geo_grid.store.versions import diff as run

    try:
        store = Store(db)
        try:
            out = run(store, a, b)
        finally:
            store.close()
    except GeoGridError as exc:
        fail(exc)
    typer.echo(json.dumps(out, ensure_ascii=False))
