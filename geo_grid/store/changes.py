"""Telling every process serving a store that it changed.

Several services may serve one PostGIS database (replicas behind a proxy). Each keeps the
district it serves in memory, so when one of them (or a command) changes the store, the others
must learn of it and load the change. PostgreSQL carries the news: every write that changes
what a service serves calls :func:`notify` inside its own transaction, which sends
``NOTIFY geo_grid_changes, '<what>:<version>'``. The server delivers a notification only when
the transaction commits (never for a rolled-back one), to every session listening on the
channel, the writer's own sessions included. Each service runs a :class:`Listener`: a
background thread with one autocommit connection that ``LISTEN``\\ s and hands every
notification to a callback.

``what`` names the kind of change:

- ``assignment``: a new assignment version (an apply, a revert, a fresh assignment, and the
  carried-over versions written by boundary edits and imports of people);
- ``import``: the whole store was rebuilt (new layers);
- ``users``: accounts, tokens or sessions changed (a disabled user, a new token, a logout).

A GeoPackage file has no such channel: :func:`notify` does nothing there, and services on one
file compare the store's assignment version with theirs at most once a second instead (see
:class:`api.state.ServiceState`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

log = logging.getLogger("geo_grid.store")

#: The PostgreSQL notification channel of store changes.
CHANNEL = "geo_grid_changes"


def notify(conn: Connection, what: str, version: Any = "") -> None:
    """Announce a change, delivered to listeners when ``conn``'s transaction commits.

    Parameters
    ----------
    conn : Connection
        The connection of the write transaction that makes the change.
    what : str
        The kind of change (``assignment``, ``import``, ``users``).
    version : Any
        The version the change made, if any (sent as text after a colon).

    Nothing is sent on a GeoPackage store.
    """
    if conn.dialect.name != "postgresql":
        return
    conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                 {"channel": CHANNEL, "payload": f"{what}:{version}"})


def parse(payload: str) -> tuple[str, str]:
    """``(what, version)`` of a notification's payload."""
    what, _, version = payload.partition(":")
    return what, version


class Listener:
    """A background thread listening to the store's change channel.

    Parameters
    ----------
    url : str
        The store's ``postgresql+psycopg://`` locator.
    on_change : callable
        ``on_change(what, version)``, called in the listener's thread for every notification,
        and with ``("reconnect", "")`` after each (re)connection, since notifications sent
        while no connection listened are lost: the callback should then compare versions.
    timeout : float
        How long one wait for notifications lasts; :meth:`stop` takes effect within it.
    """

    def __init__(self, url: str, on_change: Callable[[str, str], None],
                 timeout: float = 0.5) -> None:
        # psycopg takes a libpq connection string: the URL without SQLAlchemy's driver name
        self.conninfo = make_url(str(url)).set(drivername="postgresql").render_as_string(
            hide_password=False)
        self.on_change = on_change
        self.timeout = timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()

    def start(self) -> Listener:
        """Start listening (returns at once; :attr:`listening` is set once connected)."""
        self._thread = threading.Thread(target=self._run, name="geo-grid changes", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and wait for the thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True,
                                     application_name="geo-grid listener") as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self._call("reconnect", "")
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=self.timeout):
                            self._call(*parse(note.payload))
            except Exception as exc:  # the server restarted, the network dropped...
                self.listening.clear()
                if self._stop.is_set():
                    break
                log.warning("change listener lost its connection (%s); reconnecting", exc)
                self._stop.wait(1.0)

    def _call(self, what: str, version: str) -> None:
        try:
            self.on_change(what, version)
        except Exception:  # a failed reload must not end the listener
            log.exception("reloading after a store change (%s:%s) failed", what, version)


__all__ = ["CHANNEL", "Listener", "notify", "parse"]
