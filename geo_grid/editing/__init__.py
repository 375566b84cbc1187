"""Grid editing: split, merge, reshape and densify grids, move buildings between grids.

Every function here is pure: it reads a :class:`~geo_grid.district.District` and returns an
:class:`~geo_grid.editing.edit.Edit` for the store to write as a new boundary version
(:func:`geo_grid.store.versions.apply_edit`). New grid codes come only from the ``codes``
argument (:data:`~geo_grid.editing.edit.CodeSource`), so retired codes are never reused.

The rules all edits share: a building of a changed grid goes to the new or reshaped grid holding
most of its footprint (:mod:`geo_grid.editing.place`); a member of a retired grid goes to the
new grid holding most of the buildings the member is assigned to, else to the one with most
households, and keeps the buildings.
"""

from geo_grid.editing.densify import densify
from geo_grid.editing.edit import CodeSource, Edit
from geo_grid.editing.merge import merge_grids
from geo_grid.editing.place import move_building
from geo_grid.editing.reshape import reshape_grid, tiling_violations
from geo_grid.editing.split import split_by_line, split_into_parts

__all__ = [
    "CodeSource", "Edit", "densify", "merge_grids", "move_building", "reshape_grid",
    "split_by_line", "split_into_parts", "tiling_violations",
]
