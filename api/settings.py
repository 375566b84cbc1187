"""Service settings (pydantic-settings): read when ``Settings()`` is created, never at import."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo_grid.store.backend import locate


class Settings(BaseSettings):
    """Settings of the service; environment variables ``GEO_GRID_*`` override the defaults."""

    model_config = SettingsConfigDict(env_prefix="GEO_GRID_", extra="ignore")

    db: Annotated[Any, BeforeValidator(locate)] = Field(
        Path("data/jiangxi.gpkg"),
        description="store: a GeoPackage file or a postgresql+psycopg://user@host:port/db URL")
    boundaries: Path | None = Field(None, description="layer folder used to build a missing store")
    build_if_missing: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    tiles: str = Field("none", description="none | osm | gaode | tianditu | a URL template")
    tiles_attribution: str | None = None
    tianditu_key: str | None = None
    public_lookup: bool = Field(
        False, description="open the masked point and address lookups to anonymous callers")
    login_attempts_per_minute: int = Field(10, description="login attempts per client address")
    max_batch_items: int = 10_000
    max_upload_bytes: int = 20 * 1024 * 1024
    max_import_bytes: int = Field(
        200 * 1024 * 1024, description="largest request of an import (/api/v1/imports/...): "
        "every file of it together, in bytes")
    max_json_bytes: int = Field(
        5 * 1024 * 1024, description="largest request body of any other route (JSON), in bytes; "
        "counted as it streams in, chunked or not")
    max_json_depth: int = Field(64, description="deepest nesting of arrays and objects in a "
                                "JSON body")
    max_sealed_vertices: int = Field(10_000, description="most vertices of a scenario's "
                                     "sealed_area")
    max_read_seconds: float = Field(60.0, description="an uploaded roster is read in a child "
                                    "process killed after this long")
    max_read_mib: int = Field(1024, description="memory the child process reading an uploaded "
                              "roster may take, in MiB")
