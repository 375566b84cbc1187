"""``geo-grid import-reinforcements`` and ``geo-grid import-posts``: the reinforcement pool and
the posts layer from a street office's own files (see :mod:`geo_grid.importing.pool`)."""

from __future__ import annotations

from pathlib import Path

import typer

from geo_grid.store import DEFAULT_STORE
from geo_grid.store.backend import locate

_DB = typer.Option(Path(DEFAULT_STORE), "--db", parser=locate, help="store: a GeoPackage file or a postgresql+psycopg:// URL", envvar="GEO_GRID_DB")
_FIELD = typer.Option([], "--field", metavar="FIELD=COLUMN",
                      help="the column holding a field, e.g. capacity=可承担户数")


def _run(run, db: Path, file: Path, sheet: str | None, field: list[str], replace: bool,
         command: str, report: Path | None) -> None:
    from geo_grid.cli import audited, console, fail, row_report
    from geo_grid.errors import GeoGridError
    from geo_grid.importing.people import parse_fields

    try:
        rep = run(db, file, sheet=sheet, fields=parse_fields(field), replace=replace)
        if rep.written:
            audited(db, "import", command + (" --replace" if replace else ""), [file.name])
    except GeoGridError as exc:
        fail(exc)
    row_report(rep, report, shown=10)
    if not rep.written:
        console.print("nothing written: " + ("fix the rows above (a file is written whole or "
                                             "not at all)" if rep.bad else "no data rows"))
        raise typer.Exit(1)


def import_reinforcements(
        file: Path = typer.Argument(..., help="pool file (.xlsx or .csv, UTF-8 or GBK)"),
        db: Path = _DB,
        sheet: str = typer.Option(None, help="xlsx sheet (default: the first)"),
        field: list[str] = _FIELD,
        replace: bool = typer.Option(False, "--replace",
                                     help="replace the street's whole pool (otherwise entries "
                                          "are added, or updated by 编号 or phone)"),
        report: Path = typer.Option(None, help="write the per-row report (JSON) here")) -> None:
    """Import the reinforcement pool (姓名, 电话, 类别, 经度, 纬度, 容量, 开始, 结束): people a
    scenario or a roster with "reinforcements": "pool" may call on. A file with a bad row
    writes nothing; each problem names its row and column."""
    from geo_grid.importing.pool import import_reinforcements as run

    _run(run, db, file, sheet, field, replace, "geo-grid import-reinforcements", report)


def import_posts(
        file: Path = typer.Argument(..., help="posts: GeoJSON points, or .xlsx/.csv with lon/lat"),
        db: Path = _DB,
        sheet: str = typer.Option(None, help="xlsx sheet (default: the first)"),
        field: list[str] = _FIELD,
        replace: bool = typer.Option(False, "--replace",
                                     help="replace the street's posts (otherwise posts are "
                                          "added, or updated by 编号)"),
        report: Path = typer.Option(None, help="write the per-row report (JSON) here")) -> None:
    """Import the posts layer (编号, 类型 卡口/信息/隔离/后勤, 经度, 纬度, 每班人数, 安保人数,
    名称, 社区): a roster with "posts": "layer" staffs them. A file with a bad row writes
    nothing."""
    from geo_grid.importing.pool import import_posts as run

    _run(run, db, file, sheet, field, replace, "geo-grid import-posts", report)
