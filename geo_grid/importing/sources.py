"""Where a layer comes from: a file (with an optional layer name) and its fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from geo_grid.errors import InvalidInput

#: Suffixes read as tables of rows (geometry in a WKT column or lon/lat columns).
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods")
#: Suffixes read with GDAL (through pyogrio).
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".kml", ".kmz")


@dataclass(frozen=True)
class LayerSource:
    """One layer file as named on the command line.

    Attributes
    ----------
    path : Path
        The file.
    layer : str or None
        The layer (GeoPackage) or sheet (workbook) inside it; the first when None.
    """

    path: Path
    layer: str | None = None

    @property
    def suffix(self) -> str:
        """The lower-case suffix that decides how the file is read."""
        return self.path.suffix.lower()

    def sha256(self) -> str:
        """SHA-256 of the file's bytes (of the ``.shp``'s sidecars too, in name order)."""
        h = hashlib.sha256()
        for p in self.files():
            with p.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        return h.hexdigest()

    def files(self) -> list[Path]:
        """The file, and for a ``.shp`` every sidecar beside it (``.dbf``, ``.prj``, ``.cpg``...)."""
        if self.suffix != ".shp":
            return [self.path]
        return sorted(p for p in self.path.parent.glob(f"{self.path.stem}.*") if p.is_file())


def parse_source(spec: str | Path) -> LayerSource:
    """Read ``FILE`` or ``FILE:layername`` into a :class:`LayerSource`.

    Raises
    ------
    InvalidInput
        If the file does not exist or its suffix is not a format the importer reads.
    """
    text = str(spec)
    path, layer = Path(text), None
    if not path.exists() and ":" in text:
        head, _, tail = text.rpartition(":")
        if Path(head).exists():
            path, layer = Path(head), tail or None
    if not path.exists():
        raise InvalidInput(f"layer file {text} does not exist", file=text)
    if path.suffix.lower() not in TABLE_SUFFIXES + VECTOR_SUFFIXES:
        raise InvalidInput(
            f"{path.name}: unknown format {path.suffix!r}; give one of "
            f"{', '.join(VECTOR_SUFFIXES + TABLE_SUFFIXES)}", file=text)
    return LayerSource(path, layer)
