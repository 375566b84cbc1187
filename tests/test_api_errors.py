"""Core errors → HTTP: one table keyed by class, every class listed, problem+json over real HTTP."""

from __future__ import annotations

import importlib
import logging
import pkgutil

import httpx
import pytest
from fastapi import FastAPI

import geo_grid
from api import errors
from geo_grid.errors import GeoGridError
from tests.test_api import PROBLEM, serve_app


def all_core_errors() -> set[type[GeoGridError]]:
    """Every subclass of the core's error base, after importing every core module."""
    for mod in pkgutil.walk_packages(geo_grid.__path__, "geo_grid."):
        importlib.import_module(mod.name)
    seen: set[type[GeoGridError]] = set()
    todo = [GeoGridError]
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.add(cls)
            todo.extend(cls.__subclasses__())
    return seen


def test_every_core_error_class_has_its_own_status():
    missing = sorted(c.__module__ + "." + c.__qualname__ for c in all_core_errors()
                     if c not in errors.STATUS_OF_ERROR and c.__module__.startswith("geo_grid"))
    assert not missing, f"error classes without an entry in api.errors.STATUS_OF_ERROR: {missing}"
    for cls, status in errors.STATUS_OF_ERROR.items():
        assert issubclass(cls, GeoGridError) and 400 <= status <= 599, cls


def test_codes_are_unique_per_class():
    # the problem type is built from the code: two classes sharing one would be indistinguishable
    by_code: dict[str, list[str]] = {}
    for cls in all_core_errors() & set(errors.STATUS_OF_ERROR):
        by_code.setdefault(cls.code, []).append(cls.__qualname__)
    assert {c: n for c, n in by_code.items() if len(n) > 1} == {}


@pytest.fixture(scope="module")
def raising_app():
    """An app whose route raises the core error class named in the path."""
    app = FastAPI()
    errors.install(app)
    classes = {c.__qualname__: c for c in errors.STATUS_OF_ERROR}

    @app.get("/raise/{name}")
    async def _raise(name: str):
        raise classes[name]("something precise went wrong", grid="320214052005001", index=3)

    @app.get("/crash")
    async def _crash():
        raise RuntimeError("secret internals")

    with serve_app(app) as url:
        yield url


@pytest.mark.parametrize("cls", sorted(errors.STATUS_OF_ERROR, key=lambda c: c.__qualname__),
                         ids=lambda c: c.__qualname__)
def test_each_class_answers_its_status_as_problem_json(raising_app, cls, caplog):
    with caplog.at_level(logging.ERROR, logger="geo_grid.api"):
        r = httpx.get(f"{raising_app}/raise/{cls.__qualname__}")
    status = errors.STATUS_OF_ERROR[cls]
    assert r.status_code == status
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["type"] == f"urn:geo-grid:error:{cls.code}"
    assert body["code"] == cls.code and body["status"] == status and body["title"] == cls.title
    assert body["detail"] == "something precise went wrong"
    assert body["instance"] == f"/raise/{cls.__qualname__}"
    assert body["grid"] == "320214052005001" and body["index"] == 3
    # a server-side failure is logged with its traceback; a caller's mistake is not an error
    logged = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert bool(logged) == (status >= 500)


def test_unexpected_exception_is_logged_and_hidden(raising_app, caplog):
    with caplog.at_level(logging.ERROR, logger="geo_grid.api"):
        r = httpx.get(f"{raising_app}/crash")
    assert r.status_code == 500 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["code"] == "internal" and "secret" not in r.text
    assert any(rec.exc_info and "secret internals" in str(rec.exc_info[1]) for rec in caplog.records)


def test_subclass_outside_the_table_takes_its_nearest_listed_ancestor():
    class Custom(errors.E.NotFound):
        code = "custom"

    assert errors.status_for(Custom("x")) == 404
