"""JSON request bodies parsed strictly, in one place.

Python's ``json`` module accepts what JSON does not (``NaN``, ``Infinity``), recurses once per
level of nesting (100,000 levels end in ``RecursionError``) and turns a 5,000-digit number
into an int that later code cannot convert. :func:`parse_json` refuses all three with a precise
message (:class:`~geo_grid.errors.InvalidInput`, a 422):

- ``NaN``, ``Infinity``, ``-Infinity`` and numbers too large for a float (``1e400``);
- integers of more than :data:`MAX_INT_DIGITS` digits;
- nesting deeper than ``max_depth`` (64 by default; the bodies of this API need 6).

Routes that read their body themselves call :func:`parse_json`; routes whose body FastAPI
parses into a model use :class:`StrictJSONRoute` as their router's ``route_class``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from api.errors import status_for
from geo_grid.errors import GeoGridError, InvalidInput

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "StrictJSONRequest", "StrictJSONRoute", "parse_json"]

MAX_DEPTH = 64
#: an int64 has 19 digits; a coordinate or a count never needs more
MAX_INT_DIGITS = 30


def _constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not a JSON number: send finite numbers only")


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise InvalidInput(f"a number of {digits} digits is not accepted "
                           f"(at most {MAX_INT_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    if len(text) > 4 * MAX_INT_DIGITS:
        raise InvalidInput(f"a number of {len(text)} characters is not accepted")
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInput(f"the number {text[:40]} is too large for a float")
    return value


def depth(value: Any) -> int:
    """Nesting depth of parsed JSON (a scalar is 0, ``[]`` is 1); iterative, no recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = v.values()
        elif not isinstance(v, list):
            deepest = max(deepest, d)
            continue
        deepest = max(deepest, d + 1)
        stack.extend((x, d + 1) for x in v)
    return deepest


def parse_json(body: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a request body as strict JSON.

    Parameters
    ----------
    body : bytes or str
        UTF-8 (or UTF-16/32 with a BOM, as :func:`json.loads` detects).
    max_depth : int
        Deepest nesting of arrays and objects accepted.

    Returns
    -------
    Any

    Raises
    ------
    InvalidInput
        Not JSON, ``NaN``/``Infinity``, a number out of range or too long, too deep.
    """
    try:
        value = json.loads(body, parse_constant=_constant, parse_int=_int, parse_float=_float)
    except RecursionError:
        raise InvalidInput(f"the JSON body is nested too deeply (at most {max_depth} levels)",
                           max_depth=max_depth) from None
    except InvalidInput:
        raise
    except ValueError as exc:  # JSONDecodeError, bad UTF-8
        raise InvalidInput(f"body is not JSON: {exc}") from None
    if depth(value) > max_depth:
        raise InvalidInput(f"the JSON body is nested too deeply (at most {max_depth} levels)",
                           max_depth=max_depth)
    return value


class StrictJSONRequest(Request):
    """A request whose ``json()`` is :func:`parse_json` (with the app's ``max_json_depth``).

    FastAPI turns any error of ``json()`` but an ``HTTPException`` into a generic 400, so the
    refusal is raised as one, with the status and message of the core error.
    """

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            settings = getattr(self.app.state, "settings", None)
            try:
                self._json = parse_json(await self.body(),
                                        getattr(settings, "max_json_depth", MAX_DEPTH))
            except GeoGridError as exc:
                raise HTTPException(status_for(exc), exc.message) from None
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose JSON body is parsed by :class:`StrictJSONRequest`."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict
