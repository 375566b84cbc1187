"""One error base class for the core, with stable machine-readable codes.

The API maps each error class to an HTTP status in exactly one table
(``api/errors.py``) and renders ``code`` as the problem type; the CLI prints ``code: message``
and exits non-zero.
"""

from __future__ import annotations

from typing import Any


class GeoGridError(Exception):
    """Base class of every error the core raises on purpose.

    Parameters
    ----------
    message : str
        Human-readable, precise description of what is wrong.
    **details : Any
        Extra machine-readable fields (feature code, row number, value...).
    """

    code: str = "geo_grid_error"
    title: str = "geo-grid error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(GeoGridError):
    """A value given by the caller is malformed or out of range."""

    code = "invalid_input"
    title = "Invalid input"


class InvalidCoordinate(InvalidInput):
    """A coordinate is out of range, not finite, or looks swapped."""

    code = "invalid_coordinate"
    title = "Invalid coordinate"


class UnknownCRS(InvalidInput):
    """A CRS name the service does not accept."""

    code = "unknown_crs"
    title = "Unknown coordinate reference system"


class InvalidGeometry(InvalidInput):
    """A geometry is invalid, empty, or of the wrong type."""

    code = "invalid_geometry"
    title = "Invalid geometry"


class TopologyError(InvalidInput):
    """Layers or an edit break the tiling: gaps, overlaps, features outside their parent.

    ``details["violations"]`` lists each problem as a dict with ``kind``, ``layer``, ``code``,
    ``message``, ``lon`` and ``lat`` (and ``fix`` where a fix can be suggested).
    """

    code = "topology"
    title = "Topology violation"


class NotFound(GeoGridError):
    """A named object (grid, building, member, scenario) does not exist."""

    code = "not_found"
    title = "Not found"


class PayloadTooLarge(InvalidInput):
    """A request or uploaded file is over the configured limit."""

    code = "payload_too_large"
    title = "Payload too large"


class StoreError(GeoGridError):
    """The embedded or PostGIS store is missing, corrupt or failed to build."""

    code = "store_error"
    title = "Store error"


class Conflict(GeoGridError):
    """The request conflicts with the current state (e.g. a concurrent rebalance)."""

    code = "conflict"
    title = "Conflict"


class BadRequest(InvalidInput):
    """A request is missing a required combination of parameters."""

    code = "bad_request"
    title = "Bad request"


class Forbidden(GeoGridError):
    """The caller asked for something it may not see (e.g. unmasked personal data)."""

    code = "forbidden"
    title = "Forbidden"


class Unauthorized(GeoGridError):
    """The caller is not authenticated (no, unknown or expired credentials)."""

    code = "unauthorized"
    title = "Authentication required"
