"""An advisory lock beside a store file: services share it, rebuilds take it alone.

A service opens its store once and keeps its connections; a rebuild (``init --force``,
``import --force``) moves a new file over the old one, so a running service goes on writing
into the old file (applies it answered 200 for are lost when it restarts). To prevent that:

- a service holds the lock file ``<store>.lock`` *shared* for its lifetime
  (:func:`hold_shared`, from the app's lifespan); several workers can hold it together;
- a rebuild takes it *exclusively, without waiting* (:func:`exclusive`, in
  :func:`geo_grid.store.build._write_atomically`) and, when a service holds it, fails at once
  with a :class:`~geo_grid.errors.StoreError` naming the service's pid.

The locks are ``flock(2)`` locks: the kernel drops them when the holding process ends, however
it ends, so a killed service never leaves the store locked. Within one process (a service
importing new layers over its own store), the service's shared lock is converted to exclusive
for the rebuild and back afterwards, so only *other* processes holding it refuse the rebuild.
The lock file itself is never deleted (deleting it would let two processes lock two files).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from geo_grid.errors import StoreError

__all__ = ["exclusive", "hold_shared", "lock_path"]

# lock files this process holds shared: resolved store path -> [open file, holders]
_HELD: dict[str, list] = {}
_GUARD = threading.Lock()


def lock_path(db: str | Path) -> Path:
    """The lock file of a store: ``<store>.lock`` beside it."""
    db = Path(db)
    return db.with_name(db.name + ".lock")


def _key(db: str | Path) -> str:
    return str(Path(db).resolve())


def _holder(fh) -> str:
    """The pid written in a lock file by the service holding it ('unknown' if none)."""
    try:
        fh.seek(0)
        return fh.read().strip() or "unknown"
    except OSError:
        return "unknown"


def hold_shared(db: str | Path) -> Callable[[], None]:
    """Hold the store's lock shared (a service, for its lifetime); returns the release.

    Raises
    ------
    StoreError
        A rebuild holds the lock right now.
    """
    key = _key(db)
    with _GUARD:
        if key in _HELD:
            _HELD[key][1] += 1
        else:
            path = lock_path(db)
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(path, "a+")  # noqa: SIM115 - held open until released
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                raise StoreError(f"the store {db} is being rebuilt right now; start the "
                                 "service when the build has finished") from None
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            _HELD[key] = [fh, 1]

    def release() -> None:
        with _GUARD:
            entry = _HELD.get(key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] == 0:
                del _HELD[key]
                entry[0].close()  # closing the file drops the lock

    return release


@contextmanager
def exclusive(db: str | Path) -> Iterator[None]:
    """Hold the store's lock alone while the block runs (a rebuild); never waits.

    Raises
    ------
    StoreError
        Another process (a running service) holds the lock.
    """
    key = _key(db)
    with _GUARD:
        own = _HELD.get(key)
    if own is not None:
        fh, converted = own[0], True
    else:
        path = lock_path(db)
        path.parent.mkdir(parents=True, exist_ok=True)
        fh, converted = open(path, "a+"), False  # noqa: SIM115 - closed below
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(fh)
            raise StoreError(f"the store {db} is in use by a running service (pid {pid}); stop "
                             "the service first", pid=pid) from None
        yield
    finally:
        if converted:
            fcntl.flock(fh, fcntl.LOCK_SH)  # back to what this process's service holds
        else:
            fh.close()
