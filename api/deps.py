"""Request dependencies: the service state and the caller's right to see personal data."""

from __future__ import annotations

import hmac

from fastapi import Header, Query, Request

from api.state import ServiceState
from geo_grid.errors import Forbidden


def service(request: Request) -> ServiceState:
    """The running service's state."""
    return request.app.state.service


def unmasked(
    request: Request,
    unmasked: bool = Query(False, description="show names and phones in full (needs X-API-Key)"),
    x_api_key: str | None = Header(None),
) -> bool:
    """True only when the caller asks for unmasked data and sends the admin key."""
    if not unmasked:
        return False
    token = request.app.state.settings.admin_token
    if not token or not x_api_key or not hmac.compare_digest(token, x_api_key):
        raise Forbidden("unmasked personal data needs a valid X-API-Key")
    return True
