"""Access logs without query strings.

A lookup's query string holds a resident's address (``/api/v1/lookup?address=...``); uvicorn's
access log writes the request line as it came, so every address looked up would be kept in the
service's logs. :class:`DropQueryString` is a logging filter that cuts the query string off the
path of each access-log record (the path, method and status stay); :func:`log_config` is
uvicorn's default logging configuration with the filter on the access handler, for
``uvicorn.run(..., log_config=log_config())`` (``geo-grid serve`` passes it).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

__all__ = ["DropQueryString", "log_config"]


class DropQueryString(logging.Filter):
    """Remove the query string from uvicorn access-log records (``args[2]`` is the path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) \
                and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration, its access handler filtered by
    :class:`DropQueryString`."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["drop_query_string"] = {"()": DropQueryString}
    config["handlers"]["access"].setdefault("filters", []).append("drop_query_string")
    return config
