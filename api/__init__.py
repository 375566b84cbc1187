"""The FastAPI service of geo-grid: ``create_app(settings)`` builds it."""

from api.app import create_app
from api.settings import Settings

__all__ = ["Settings", "create_app"]
