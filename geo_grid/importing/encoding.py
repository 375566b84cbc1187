"""The text encoding of a Shapefile's attribute table (DBF).

A Shapefile names its encoding in a ``.cpg`` sidecar. Files from Chinese GIS vendors often have
none and store GBK text; GDAL then guesses ISO-8859-1 and every name comes out garbled. When no
``.cpg`` is present the DBF's record bytes are tried as UTF-8; if they are not UTF-8 they are
read as GB18030 (a superset of GBK and GB2312).
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

GB18030 = "GB18030"


def _records(dbf: bytes) -> bytes:
    """The record section of a DBF file (after its header)."""
    if len(dbf) < 12:
        return b""
    header_len = struct.unpack("<H", dbf[8:10])[0]
    return dbf[header_len:]


def guess_dbf_encoding(dbf: bytes) -> str:
    """``UTF-8`` if the DBF's records decode as UTF-8 (plain ASCII included), else GB18030."""
    try:
        _records(dbf).decode("utf-8")
    except UnicodeDecodeError:
        return GB18030
    return "UTF-8"


def shapefile_encoding(shp: Path, member: str | None = None) -> tuple[str | None, str]:
    """The encoding to read a Shapefile's DBF with, and where it was learnt.

    Parameters
    ----------
    shp : Path
        The ``.shp`` file, or the ``.zip`` holding it.
    member : str, optional
        The ``.shp``'s name inside the zip.

    Returns
    -------
    encoding : str or None
        None when a ``.cpg`` names it (GDAL reads that itself).
    how : str
        ``cpg``, ``detected`` (bytes were not UTF-8), ``utf-8`` (bytes were UTF-8) or ``none``
        (no DBF).
    """
    if member is None:
        stem = shp.with_suffix("")
        if any(stem.with_suffix(s).exists() for s in (".cpg", ".CPG")):
            return None, "cpg"
        dbf_path = next((p for s in (".dbf", ".DBF") if (p := stem.with_suffix(s)).exists()), None)
        if dbf_path is None:
            return None, "none"
        dbf = dbf_path.read_bytes()
    else:
        with zipfile.ZipFile(shp) as zf:
            names = {n.lower(): n for n in zf.namelist()}
            stem = member[:-4].lower()
            if stem + ".cpg" in names:
                return None, "cpg"
            if stem + ".dbf" not in names:
                return None, "none"
            dbf = zf.read(names[stem + ".dbf"])
    enc = guess_dbf_encoding(dbf)
    return enc, "detected" if enc == GB18030 else "utf-8"
