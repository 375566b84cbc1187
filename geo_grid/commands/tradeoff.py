"""``geo-grid tradeoff``: a kept scenario's trade-off curves (uncovered load against moves and
against reinforcements), as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from geo_grid.store import DEFAULT_STORE
from geo_grid.store.backend import locate


def tradeoff(scenario_id: str = typer.Argument(..., help="the kept scenario's id"),
             db: Path = typer.Option(Path(DEFAULT_STORE), "--db", parser=locate, help="store: a GeoPackage file or a postgresql+psycopg:// URL",
                                     envvar="GEO_GRID_DB"),
             budgets: str = typer.Option(None, "--budgets",
                                         help="move budgets, comma-separated (default: 0 and a "
                                              "ladder up to the unconstrained moves)"),
             as_json: bool = typer.Option(False, "--json", help="print the curves as JSON")
             ) -> None:
    """Re-solve a kept scenario at move budgets (and with fewer reinforcements) and print the
    curves; the curve is kept in the store, as ``GET /api/v1/scenarios/{id}/tradeoff`` keeps
    it, so a second call (of either) reads it."""
    from geo_grid.assign.tradeoff import parse_budgets, table
    from geo_grid.cli import fail
    from geo_grid.errors import GeoGridError
    from geo_grid.store import Store
    from geo_grid.store.tradeoffs import scenario_tradeoff

    try:
        wanted = parse_budgets(budgets) if budgets is not None else None
        store = Store(db)
        try:
            district, version = store.load_district_versioned()
            curve, hit = scenario_tradeoff(store, scenario_id, district, version, budgets=wanted)
        finally:
            store.close()
    except GeoGridError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(curve, ensure_ascii=False))
        return
    how = "kept" if hit else f"computed in {curve['seconds']:g} s, {curve['solves']} solves"
    typer.echo(f"scenario {scenario_id} ({how})")
    typer.echo(table(curve), nl=False)
