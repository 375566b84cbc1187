"""What the running service holds: the store, the loaded district and its indexes."""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from geo_grid.district import District
from geo_grid.lookup import Gazetteer
from geo_grid.stats import grid_stats
from geo_grid.store import Store


@dataclass
class ServiceState:
    """Mutable holder, swapped as a whole when the assignment changes (never half-updated)."""

    store: Store
    district: District
    gazetteer: Gazetteer
    grid_stats: pd.DataFrame
    scenarios: dict[str, Any] = field(default_factory=dict)
    write_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, store: Store) -> ServiceState:
        """Load the district from the store and build its indexes."""
        district = store.load_district()
        gaz = Gazetteer.build(district)
        state = cls(store, district, gaz, grid_stats(district))
        gc.freeze()  # big long-lived index objects: keep them out of every GC pass
        return state

    def lookup_address(self, text: str, unmasked: bool = False) -> dict[str, Any]:
        """The lookup JSON for an address (see :meth:`Gazetteer.lookup_address`)."""
        return self.gazetteer.lookup_address(text, unmasked)

    def reload(self) -> None:
        """Re-read the district (after an assignment change) and swap the derived views."""
        district = self.store.load_district()
        gaz = Gazetteer.build(district)
        stats = grid_stats(district)
        self.district, self.gazetteer, self.grid_stats = district, gaz, stats
