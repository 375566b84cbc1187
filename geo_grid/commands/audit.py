"""``geo-grid audit ...``: check the audit trail's hash chain and read its entries."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from geo_grid.store import DEFAULT_STORE
from geo_grid.store.backend import locate

app = typer.Typer(help="Check and read the audit trail.", no_args_is_help=True)

DbOption = typer.Option(Path(DEFAULT_STORE), "--db", parser=locate, help="store: a GeoPackage file or a postgresql+psycopg:// URL", envvar="GEO_GRID_DB")


@app.command("verify")
def verify(db: Path = DbOption) -> None:
    """Walk the hash chain: exit 0 when every entry holds, 1 naming the first that does not."""
    from geo_grid.auth import audit
    from geo_grid.cli import console, fail
    from geo_grid.errors import GeoGridError
    from geo_grid.store import Store

    try:
        store = Store(db)
        try:
            ok, bad, message = audit.verify(store)
        finally:
            store.close()
    except GeoGridError as exc:
        fail(exc)
    if ok:
        typer.echo(message)
        return
    console.print(f"[red]audit trail broken[/red] at entry {bad}: {message}", highlight=False,
                  soft_wrap=True)
    raise typer.Exit(1)


@app.command("list")
def list_(db: Path = DbOption,
          user: str = typer.Option(None, "--user", help="only this user's entries"),
          action: str = typer.Option(None, "--action", help="only this action's entries"),
          limit: int = typer.Option(100, "--limit", min=1, help="at most this many")) -> None:
    """Print entries, newest first, one JSON line each."""
    from geo_grid.auth import audit
    from geo_grid.cli import fail
    from geo_grid.errors import GeoGridError
    from geo_grid.store import Store

    try:
        store = Store(db)
        try:
            found = audit.entries(store, user=user, action=action, limit=limit)
        finally:
            store.close()
    except GeoGridError as exc:
        fail(exc)
    for entry in found:
        typer.echo(json.dumps(entry, ensure_ascii=False))
