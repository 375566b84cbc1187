"""``geo-grid user ...``: add, list and disable accounts and rotate their API tokens.

A command that makes a token prints a JSON line about the account and then the token alone on
the last line of its output (so ``| tail -1`` gives it to a script); the token is shown only
once, the store keeps its hash. Every change is recorded in the audit trail as made by
``cli:<login>``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import typer

from geo_grid.store import DEFAULT_STORE
from geo_grid.store.backend import locate

app = typer.Typer(help="Manage accounts: add, list, disable, new API token.", no_args_is_help=True)

DbOption = typer.Option(Path(DEFAULT_STORE), "--db", parser=locate, help="store: a GeoPackage file or a postgresql+psycopg:// URL", envvar="GEO_GRID_DB")


def _audit(store, route: str, name: str, outcome: str = "ok") -> None:
    from geo_grid.auth import audit
    from geo_grid.auth.audit import cli_user

    audit.record(store, user=cli_user(), role="admin", action="users", route=route,
                 targets=(name,), outcome=outcome)


def _open(db: Path):
    from geo_grid.store import Store

    return Store(db)


def _echo_user(user) -> None:
    typer.echo(json.dumps(dataclasses.asdict(user), ensure_ascii=False))


@app.command("add")
def add(name: str = typer.Argument(..., help="account name (unique)"),
        role: str = typer.Option(..., "--role",
                                 help="admin, street, community, grid, viewer or service"),
        scope: str = typer.Option(None, "--scope",
                                  help="street (9 digits), community (12) or grid (15) code"),
        db: Path = DbOption,
        password_stdin: bool = typer.Option(False, "--password-stdin",
                                            help="read a password from the first line of stdin")
        ) -> None:
    """Add an account; prints it as JSON, then its API token alone on the last line."""
    from geo_grid.auth import users
    from geo_grid.cli import fail
    from geo_grid.errors import GeoGridError

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    try:
        store = _open(db)
        try:
            token = users.add_user(store, name, role, scope, password=password)
            _audit(store, f"user add --role {role}" + (f" --scope {scope}" if scope else ""), name)
            user = users.get_user(store, name)
        finally:
            store.close()
    except GeoGridError as exc:
        fail(exc)
    _echo_user(user)
    typer.echo(token)


@app.command("list")
def list_(db: Path = DbOption) -> None:
    """List the accounts, one JSON line each (no secrets)."""
    from geo_grid.auth import users
    from geo_grid.cli import fail
    from geo_grid.errors import GeoGridError

    try:
        store = _open(db)
        try:
            found = users.list_users(store)
        finally:
            store.close()
    except GeoGridError as exc:
        fail(exc)
    for user in found:
        _echo_user(user)


@app.command("disable")
def disable(name: str = typer.Argument(..., help="account name"), db: Path = DbOption) -> None:
    """Disable an account: its token, password and sessions stop working at once."""
    from geo_grid.auth import users
    from geo_grid.cli import fail
    from geo_grid.errors import GeoGridError

    try:
        store = _open(db)
        try:
            users.disable_user(store, name)
            _audit(store, "user disable", name)
            user = users.get_user(store, name)
        finally:
            store.close()
    except GeoGridError as exc:
        fail(exc)
    _echo_user(user)


@app.command("token")
def token(name: str = typer.Argument(..., help="account name"), db: Path = DbOption) -> None:
    """Give an account a new API token (the old one stops working); the token is printed alone
    on the last line."""
    from geo_grid.auth import users
    from geo_grid.cli import fail
    from geo_grid.errors import GeoGridError

    try:
        store = _open(db)
        try:
            new = users.new_token(store, name)
            _audit(store, "user token", name)
            user = users.get_user(store, name)
        finally:
            store.close()
    except GeoGridError as exc:
        fail(exc)
    _echo_user(user)
    typer.echo(new)
