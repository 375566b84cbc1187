"""What the running service holds: the store, the loaded district and its indexes."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from api.views import Views
from geo_grid.district import District
from geo_grid.figures import Figures, district_figures
from geo_grid.lookup import Gazetteer
from geo_grid.stats import grid_stats
from geo_grid.store import Store, history

log = logging.getLogger("geo_grid.api")


@dataclass(frozen=True)
class Snapshot:
    """One consistent view of the district, its figures and the read routes' bodies: swapped
    as a whole, never half-updated."""

    district: District
    gazetteer: Gazetteer
    grid_stats: pd.DataFrame
    assignment_version: str | None
    figures: Figures
    views: Views

    @classmethod
    def load(cls, store: Store, previous: Snapshot | None = None) -> Snapshot:
        """Read the district and build its indexes (reusing ``previous``'s boundary indexes).

        The district and its assignment version are read in one read transaction, so the
        version stamped on scenarios computed from this snapshot is the one they were computed
        from. Every figure of the assignment (:mod:`geo_grid.figures`) and the bodies of the
        read routes (:class:`api.views.Views`) are computed here, once per version."""
        district, version = store.load_district_versioned()
        gaz = previous.gazetteer.with_district(district) if previous else Gazetteer.build(district)
        fig = district_figures(district)
        return cls(district, gaz, grid_stats(district, fig), version, fig,
                   Views.build(district, fig, gaz))


@dataclass
class ServiceState:
    """The running service: its store and the current :class:`Snapshot`.

    Another process (``geo-grid rebalance --apply``, ``geo-grid assign``) may change the store's
    assignment while the service runs: reads compare the store's version with the snapshot's at
    most once every :attr:`check_interval` seconds, and computing or applying a scenario always
    does, reloading the snapshot when it changed.
    """

    store: Store
    snapshot: Snapshot
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    check_interval: float = 1.0
    _checked: float = field(default_factory=time.monotonic)
    _scenarios: OrderedDict = field(default_factory=OrderedDict)
    _versions: OrderedDict = field(default_factory=OrderedDict)
    _versions_lock: threading.Lock = field(default_factory=threading.Lock)
    #: Bumped when accounts, tokens or sessions changed in the store (told by another
    #: process): the auth middleware then drops the credentials it cached.
    credentials_epoch: int = 0
    #: Whether a :meth:`watch` thread follows the store's changes (reads need not check).
    _watched: bool = False

    @classmethod
    def open(cls, store: Store) -> ServiceState:
        """Load the district from the store and build its indexes."""
        state = cls(store, Snapshot.load(store))
        gc.freeze()  # big long-lived index objects: keep them out of every GC pass
        return state

    @property
    def view(self) -> Snapshot:
        """The current snapshot (reloaded first if the store changed under it, unless a
        :meth:`watch` thread follows the store: then no request pays for the check)."""
        if not self._watched and time.monotonic() - self._checked >= self.check_interval:
            self.refresh()
        return self.snapshot

    def refresh(self) -> bool:
        """Reload the snapshot if the store's assignment version differs from it; True if it did."""
        self._checked = time.monotonic()
        if self.store.assignment_version() == self.snapshot.assignment_version:
            return False
        with self.write_lock:
            if self.store.assignment_version() == self.snapshot.assignment_version:
                return False
            self.reload()
        return True

    def watch(self):
        """Load every change another process makes to the store, in a background thread;
        returns the stop.

        On PostGIS the thread listens to the store's change notifications and reloads as soon
        as a change commits. A GeoPackage has no such channel: the thread compares the file's
        assignment version with the snapshot's every :attr:`check_interval` seconds (reads do
        too, so a service started without :meth:`watch` still follows the file). Either way
        the reloads run off the event loop, and requests keep reading the previous snapshot
        until the new one is swapped in."""
        if self.store.backend.kind != "postgis":
            return self._watching(self._poll())
        from geo_grid.store.changes import Listener

        listener = Listener(str(self.store.locator), self.changed).start()
        listener.listening.wait(10)
        return self._watching(listener.stop)

    def _watching(self, stop):
        """Mark the store as followed until ``stop`` (returned wrapped) is called."""
        self._watched = True

        def halt() -> None:
            self._watched = False
            stop()

        return halt

    def _poll(self):
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(self.check_interval):
                try:
                    self.refresh()
                except Exception:  # e.g. the file being replaced: try again next time
                    log.exception("checking the store for changes failed")

        thread = threading.Thread(target=run, name="geo-grid poll", daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join(1.0)  # a reload under way is not waited for (the thread is a daemon)

        return halt

    def changed(self, what: str, version: str = "") -> None:
        """Load what a store change notification announced (see :mod:`geo_grid.store.changes`):
        the same path as after this process's own change, and nothing when this process made
        it (its snapshot already has that version)."""
        if what == "users":
            self.credentials_epoch += 1
            return
        if what == "import":
            # new layers and a new history: nothing of the old snapshot is reused
            with self.write_lock:
                if self.store.assignment_version() != self.snapshot.assignment_version:
                    self.reopen(locked=True)
            return
        if what == "reconnect":  # notifications sent while nobody listened are lost
            self.credentials_epoch += 1
        self.refresh()

    @property
    def district(self) -> District:
        return self.view.district

    @property
    def gazetteer(self) -> Gazetteer:
        return self.view.gazetteer

    @property
    def grid_stats(self) -> pd.DataFrame:
        return self.view.grid_stats

    @property
    def assignment_version(self) -> str | None:
        return self.view.assignment_version

    def lookup_address(self, text: str, unmasked: bool = False) -> dict[str, Any]:
        """The lookup JSON for an address (see :meth:`Gazetteer.lookup_address`)."""
        return self.gazetteer.lookup_address(text, unmasked)

    # ------------------------------------------------------------ scenarios and coverage

    def run_scenario(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Rebalance under a scenario against the current assignment, keep and return it."""
        from geo_grid.assign import Scenario, rebalance

        scenario = Scenario.from_dict(spec)
        self.refresh()
        view = self.snapshot
        done = rebalance(view.district, scenario)
        result = done.to_dict()
        sid = history.save_scenario(self.store, scenario.name, scenario.to_dict(), result,
                                    view.assignment_version)
        self._remember(sid, result, (done.figures_before, done.figures_after))
        return self.get_scenario(sid)

    def _remember(self, sid: str, result: dict, figures: tuple) -> tuple:
        hit = self._scenarios[sid] = (result, figures)
        while len(self._scenarios) > 16:
            self._scenarios.popitem(last=False)
        return hit

    def get_scenario(self, sid: str) -> dict[str, Any]:
        """A kept scenario (404 if unknown), with its stored figures.

        Results never change once kept, only the status: the parsed result is cached per id
        (16 entries) and the status read each time. A scenario kept before the figures were
        stored with it gets them computed once (its rebalance run again on the district as it
        was computed on) and stored (see :func:`geo_grid.store.history.ensure_figures`)."""
        head = history.scenario_head(self.store, sid)
        hit = self._scenarios.get(sid)
        if hit is None:
            kept = history.get_scenario(self.store, sid)
            if not history.has_figures(kept):
                log.warning("scenario %s was kept without figures: computing them once", sid)
                kept = history.ensure_figures(self.store, kept, self.view.district)
            hit = self._remember(sid, kept["result"], history.figures_of(kept))
        return dict(head, result=hit[0], figures=hit[1])

    def list_scenarios(self) -> list[dict[str, Any]]:
        """Kept scenarios, newest first."""
        return history.list_scenarios(self.store)

    def apply_scenario(self, sid: str) -> dict[str, Any]:
        """Make a scenario's assignment current, then reload the district."""
        with self.write_lock:
            try:
                out = history.apply_scenario(self.store, sid)
            finally:
                if self.store.assignment_version() != self.snapshot.assignment_version:
                    self.reload()
        return out

    def revert(self, expected: str | None = None) -> dict[str, Any]:
        """Restore the previous assignment (if ``expected``, the caller's version, is still
        current), then reload the district."""
        with self.write_lock:
            try:
                out = history.revert(self.store, expected)
            finally:
                if self.store.assignment_version() != self.snapshot.assignment_version:
                    self.reload()
        return out

    # ------------------------------------------------------------ boundary edits and versions

    def edit(self, make, *, author: str, note: str = "") -> dict[str, Any]:
        """Compute a grid edit on the current district, write it as a new boundary version and
        reload (see :func:`geo_grid.store.edits.run_edit`)."""
        from geo_grid.store.edits import run_edit

        with self.write_lock:
            if self.store.assignment_version() != self.snapshot.assignment_version:
                self.reload()
            try:
                done = run_edit(self.store, make, author=author, note=note,
                                district=self.snapshot.district)
            finally:
                if self.store.assignment_version() != self.snapshot.assignment_version:
                    self.reload()
        return done.to_dict()

    def at_version(self, version: int) -> Snapshot:
        """The snapshot of a boundary version: the current one for the current version; an
        older version's grids and buildings (with the current people and assignment) are read,
        indexed and formatted on first use, and the last four kept."""
        view = self.view
        if version == view.district.boundary_version:
            return view
        with self._versions_lock:  # one build at a time; the cache is shared by threads
            hit = self._versions.get(version)
            if hit is None:
                from geo_grid.store.versions import district_at

                district = district_at(self.store, version, view.district)
                gaz = Gazetteer.build(district)
                fig = district_figures(district)
                hit = self._versions[version] = Snapshot(
                    district, gaz, grid_stats(district, fig), view.assignment_version, fig,
                    Views.build(district, fig, gaz))
                while len(self._versions) > 4:
                    self._versions.popitem(last=False)
            else:
                self._versions.move_to_end(version)
        return hit

    def as_of(self, when: str) -> Snapshot:
        """The snapshot of the boundary version in force at an ISO-8601 time."""
        from geo_grid.store.versions import version_at

        return self.at_version(version_at(self.store, when))

    @property
    def figures(self) -> Figures:
        """Every figure of the current assignment (computed once per assignment version)."""
        return self.view.figures

    def reload(self) -> None:
        """Re-read the district (after an assignment change) and swap the snapshot."""
        self.snapshot = Snapshot.load(self.store, self.snapshot)
        self._versions.clear()  # past versions' figures were of the previous assignment
        self._checked = time.monotonic()
        gc.freeze()

    def reopen(self, *, locked: bool = False) -> None:
        """Open the store file again and load a new snapshot from it, boundary indexes included.

        For after the file was replaced (an import writes a new store and moves it over the
        old one with ``os.replace``): connections opened before still read the old file, so the
        old engine is disposed and a new :class:`Store` opened on the same path. The new
        snapshot is built before anything is swapped, so a failure leaves the service as it was.

        Parameters
        ----------
        locked : bool
            True when the caller already holds :attr:`write_lock` (it is not re-entrant);
            otherwise it is taken here.
        """
        if not locked:
            with self.write_lock:
                self.reopen(locked=True)
            return
        old = self.store
        store = Store(old.path)
        try:
            snapshot = Snapshot.load(store)  # no previous snapshot: the boundaries changed
        except BaseException:
            store.close()
            raise
        self.store, self.snapshot = store, snapshot
        self._scenarios.clear()  # results kept by the old store's history
        self._versions.clear()  # past boundary versions of the old store
        self._checked = time.monotonic()
        old.close()
        gc.freeze()
