"""Running a grid edit against a store: compute it on the current layers, write it as a version.

The CLI (``geo-grid grid ...``) and the API (``/api/v1/grids/{code}/split`` ...) both call
:func:`run_edit` with one of the pure functions of :mod:`geo_grid.editing`; the edit is computed
on the district as read (or as the running service holds it) and written only if no other edit
came in between (:func:`geo_grid.store.versions.apply_edit` compares the base version).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from geo_grid.district import District
from geo_grid.editing.edit import CodeSource, Edit
from geo_grid.errors import InvalidInput
from geo_grid.store.store import Store
from geo_grid.store.versions import BoundaryVersion, apply_edit, code_source

#: An edit to compute: given the district and a source of fresh grid codes, the :class:`Edit`.
MakeEdit = Callable[[District, CodeSource], Edit]


@dataclass(frozen=True)
class EditDone:
    """A written edit: what changed and the boundary version it made."""

    edit: Edit
    version: BoundaryVersion

    def to_dict(self) -> dict[str, Any]:
        """The version (its summary is the edit's) and the edit's summary, as JSON-able data."""
        version = self.version.to_dict()
        version.pop("detail")
        return {"version": version, "edit": self.edit.summary()}


def run_edit(store: Store, make: MakeEdit, *, author: str, note: str = "",
             district: District | None = None) -> EditDone:
    """Compute an edit on the current layers and write it as the next boundary version.

    Parameters
    ----------
    store : Store
    make : callable
        ``make(district, codes) -> Edit``, e.g. ``lambda d, c: split_into_parts(d, code, 2, c)``.
    author, note : str
        Recorded with the version.
    district : District, optional
        The current district if already loaded (the running service's); read otherwise.

    Returns
    -------
    EditDone

    Raises
    ------
    GeoGridError
        Whatever the edit refuses (unknown grid, a line that does not cut it, grids that would
        no longer tile their community, an edit that changes nothing...), or
        :class:`~geo_grid.errors.Conflict` if another edit was written since ``district`` was
        read. Nothing is written then.
    """
    district = district if district is not None else store.load_district()
    edit = make(district, code_source(store))
    if not (edit.retired or len(edit.added) or len(edit.reshaped) or edit.moved):
        # e.g. densify with no grid over the limit: nothing to write, and no empty version
        raise InvalidInput(f"the {edit.kind} edit changes nothing; no version was written",
                           kind=edit.kind)
    version = apply_edit(store, edit, base=district.boundary_version, author=author, note=note)
    return EditDone(edit, version)


__all__ = ["EditDone", "MakeEdit", "run_edit"]
