"""geo-grid core: layers, codes, CRS, locator, address matcher, assignment, store and CLI.

The core never imports fastapi, pydantic or folium; the web service lives in ``api`` and the maps
in ``maps``.
"""

__version__ = "0.1.0"
