"""``geo-grid roster-shifts``: a shift roster of the posts computed from a JSON spec."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from geo_grid.store import DEFAULT_STORE
from geo_grid.store.backend import locate


def roster_shifts(db: Path = typer.Option(Path(DEFAULT_STORE), "--db", parser=locate, help="store: a GeoPackage file or a postgresql+psycopg:// URL",
                                          envvar="GEO_GRID_DB"),
                  spec: Path = typer.Option(..., "--spec", help="the roster request (JSON, as "
                                            "POST /api/v1/rosters takes it)"),
                  output: Path = typer.Option(..., "-o", "--output", help="the .xlsx to write")
                  ) -> None:
    """Compute a shift roster (CP-SAT), keep it in the store, write it as xlsx and print a JSON
    summary (id, status, gap, shifts, unfilled)."""
    from geo_grid.cli import fail
    from geo_grid.errors import GeoGridError, InvalidInput
    from geo_grid.rosters.run import run_spec
    from geo_grid.rosters.store import save_roster
    from geo_grid.rosters.workbook import write_roster_xlsx
    from geo_grid.store import Store, load_district

    try:
        try:
            body = json.loads(spec.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read the spec {spec}: {exc}") from None
        if not isinstance(body, dict):
            raise InvalidInput(f"the spec {spec} is not a JSON object")
        store = Store(db)
        try:
            result = run_spec(store, load_district(db), body)
            kept = save_roster(store, body, result)
        finally:
            store.close()
        write_roster_xlsx(result, output)
    except GeoGridError as exc:
        fail(exc)
    except OSError as exc:
        fail(InvalidInput(f"cannot write {output}: {exc}"))
    typer.echo(json.dumps({"id": kept["id"], "status": result["status"], "gap": result["gap"],
                           "shifts": len(result["shifts"]), "unfilled": len(result["unfilled"]),
                           "output": str(output)}, ensure_ascii=False))
