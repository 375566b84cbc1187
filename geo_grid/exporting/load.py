"""The district of a boundary version, the one place an export reads the store."""

from __future__ import annotations

from geo_grid.district import District
from geo_grid.store import Store


def district_of(store: Store, version: int | None = None,
                district: District | None = None) -> District:
    """The layers to export: the current ones, or those of a past boundary version.

    Parameters
    ----------
    store : Store
        The open store.
    version : int, optional
        The boundary version (the current one when None).
    district : District, optional
        The current district when already loaded (a running service's), else read.

    Raises
    ------
    NotFound
        If the store has no such version.
    """
    from geo_grid.store.versions import district_at

    return district_at(store, version, district)


__all__ = ["district_of"]
