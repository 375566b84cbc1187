"""Statistical codes of the street, its communities, grids and buildings."""

from __future__ import annotations

import re

STREET_RE = re.compile(r"^\d{9}$")
COMMUNITY_RE = re.compile(r"^\d{12}$")
GRID_RE = re.compile(r"^\d{15}$")
BUILDING_RE = re.compile(r"^\d{17}$")

PATTERNS = {
    "street": STREET_RE,
    "communities": COMMUNITY_RE,
    "grids": GRID_RE,
    "buildings": BUILDING_RE,
}


def well_formed(layer: str, code: object) -> bool:
    """Return True if ``code`` is a well-formed code for ``layer``."""
    return isinstance(code, str) and bool(PATTERNS[layer].match(code))


def community_of(code: str) -> str:
    """The community code a grid or building code extends (its first 12 digits)."""
    return code[:12]


def street_of(code: str) -> str:
    """The street code any community, grid or building code extends (its first 9 digits)."""
    return code[:9]
