"""The reference district's layers, shipped as package data.

The folder holds one GeoJSON file per layer (street, communities, grids, buildings, in
EPSG:4490), ``manifest.json`` (CRS, sources, licence, what is real and what is synthetic),
the real sources under ``source/`` and ``generate.py``, the deterministic script that drew the
synthetic parts. Installed from a wheel, the same files sit next to this module, so
:data:`FOLDER` finds them inside or outside a checkout.
"""

from __future__ import annotations

from pathlib import Path

#: The folder holding the reference district's layer files.
FOLDER = Path(__file__).resolve().parent
