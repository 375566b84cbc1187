"""Reading an uploaded table in a child process, with a memory and a time limit.

The checks of :mod:`geo_grid.tables.guard` refuse the known spreadsheet bombs from the file's
structure, but a reader (calamine, openpyxl) can still be led to allocate far more than the
file suggests. A service must not let one upload abort or stall the process that serves
everyone, so :func:`read_table_safely` reads the sheet in a child process whose address space
is capped (``RLIMIT_AS``) and which is killed after ``max_seconds``; the rows come back to the
caller through a pipe. A child that runs out of memory or time is a
:class:`~geo_grid.errors.PayloadTooLarge` naming the limit.

Children are forked from a ``forkserver`` (a small single-threaded process started on first
use), never from the caller's process, which may run threads.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geo_grid.errors import GeoGridError, InvalidInput, PayloadTooLarge
from geo_grid.tables.readers import RawSheet, prime, read_rows

__all__ = ["MAX_MIB", "MAX_SECONDS", "read_rows_safely", "read_table_safely"]

#: Memory a child may take beyond what the interpreter holds when it starts, in MiB.
MAX_MIB = 1024
#: Seconds a child may take to read the file.
MAX_SECONDS = 60.0

_CTX = multiprocessing.get_context("forkserver")
_CTX.set_forkserver_preload(["geo_grid.tables.readers"])


def _address_space() -> int:
    """Bytes of address space the current process maps (VmSize)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _child(conn: Any, path: str, sheet: str | int | None, max_mib: int) -> None:
    """Read in the child: cap the address space, read, send the rows or the error back."""
    try:
        import python_calamine  # noqa: F401 - loaded before the cap: the limit is for the read

        cap = _address_space() + max_mib * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
        raw = read_rows(path, sheet)
        conn.send(("ok", raw))
    except MemoryError:
        conn.send(("memory", None))
    except GeoGridError as exc:
        conn.send(("error", (type(exc), exc.message, exc.details)))
    except Exception as exc:  # noqa: BLE001 - any reader failure is the caller's file
        conn.send(("error", (InvalidInput, f"cannot read {Path(path).name}: {exc}", {})))
    finally:
        conn.close()


def read_rows_safely(path: str | Path, sheet: str | int | None = None, *,
                     max_seconds: float = MAX_SECONDS, max_mib: int = MAX_MIB) -> RawSheet:
    """:func:`geo_grid.tables.readers.read_rows` in a child process with limits.

    Parameters
    ----------
    path : str or Path
    sheet : str or int, optional
        As for :func:`read_rows`.
    max_seconds : float
        The child is killed after this long.
    max_mib : int
        Address space the child may add to what it holds when it starts, in MiB.

    Returns
    -------
    RawSheet

    Raises
    ------
    PayloadTooLarge
        The read needed more memory or time than allowed.
    InvalidInput
        What the reader raised (an unreadable file, a refused workbook...).
    """
    path = Path(path)
    parent, child = _CTX.Pipe(duplex=False)
    proc = _CTX.Process(target=_child, args=(child, str(path), sheet, max_mib), daemon=True)
    proc.start()
    child.close()  # the parent's copy: the pipe ends when the child does
    try:
        if not parent.poll(max_seconds):
            raise PayloadTooLarge(
                f"{path.name}: reading it took longer than {max_seconds:g} s; split the file",
                limit_seconds=max_seconds)
        try:
            kind, payload = parent.recv()
        except EOFError:
            proc.join(5)
            # killed by the system or aborted by the reader (a failed allocation aborts Rust)
            raise PayloadTooLarge(
                f"{path.name}: reading it needs more than {max_mib} MiB of memory "
                f"(the reader stopped with exit code {proc.exitcode}); split the file or "
                "delete the empty rows and columns past the data", limit_mib=max_mib) from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
    if kind == "ok":
        return payload
    if kind == "memory":
        raise PayloadTooLarge(f"{path.name}: reading it needs more than {max_mib} MiB of memory; "
                              "split the file or delete the empty rows and columns past the data",
                              limit_mib=max_mib)
    cls, message, details = payload
    raise cls(message, **details)


def read_table_safely(path: str | Path, accept: Callable[[list[str]], bool] | None = None, *,
                      sheet: str | int | None = None, max_seconds: float = MAX_SECONDS,
                      max_mib: int = MAX_MIB, **read_table_args: Any) -> Any:
    """Read a table file in a child process with limits; the caller's next read gets the rows.

    The sheet is read by :func:`read_rows_safely` and handed (:func:`~geo_grid.tables.readers.
    prime`) to the next :func:`~geo_grid.tables.read_table` of the same file and sheet in this
    process, so code that reads the file itself (:func:`geo_grid.batch.run_batch`) gets the
    rows read safely instead of reading the file again.

    Parameters
    ----------
    path : str or Path
    accept : callable, optional
        Given, the table is built here with :func:`~geo_grid.tables.read_table` (``accept``
        and ``read_table_args`` passed on) and returned; without it the rows are returned,
        kept for the next read of the file.
    sheet : str or int, optional
        Sheet name or index (workbooks).
    max_seconds, max_mib
        See :func:`read_rows_safely`.

    Returns
    -------
    Table or RawSheet

    Raises
    ------
    PayloadTooLarge, InvalidInput
        See :func:`read_rows_safely`.
    """
    raw = read_rows_safely(path, sheet, max_seconds=max_seconds, max_mib=max_mib)
    prime(path, sheet, raw)
    if accept is None:
        return raw
    from geo_grid.tables.table import read_table

    return read_table(path, accept, sheet=sheet, **read_table_args)
