"""Compression and conditional GET for every response of the app (one ASGI middleware).

- A body of at least ``minimum_size`` bytes whose type is text-like (HTML, JSON, GeoJSON,
  problem+json, CSS, JavaScript, CSV, SVG) is gzip-compressed when the client accepts gzip.
  Large bodies (the map pages) are compressed once and kept in a small cache keyed by a hash
  of the body, so a page cached by its route is not compressed again on every request.
- A ``GET`` HTML page without an ``ETag`` gets one (a hash of its body); a request whose
  ``If-None-Match`` names the current tag gets ``304 Not Modified`` with no body.
- The gzip representation's tag is the plain tag with ``-gz`` appended (a strong tag names
  one byte sequence); ``If-None-Match`` tags are read back without the suffix, so revalidation
  works whichever encoding the client holds.

Streamed bodies (files, static assets) pass through as they are.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict

import anyio.to_thread
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COMPRESSIBLE = frozenset({
    "text/html", "text/css", "text/plain", "text/csv", "text/javascript", "image/svg+xml",
    "application/json", "application/geo+json", "application/problem+json",
    "application/javascript", "application/xml",
})
GZ_SUFFIX = "-gz"
#: bodies from this size on are compressed in a worker thread and their gzip kept in the cache
LARGE = 128 * 1024


def accepts_gzip(header: str) -> bool:
    """True if an ``Accept-Encoding`` value accepts gzip (``gzip;q=0`` refuses it)."""
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.strip().lower().replace(" ", "")
            return not (q.startswith("q=") and q[2:].rstrip("0.") == "")
    return False


def _tags(header: str) -> set[str]:
    """Opaque tags of an ``If-None-Match`` value, weak prefix and gzip suffix removed."""
    out = set()
    for tag in header.split(","):
        tag = tag.strip().removeprefix("W/")
        if tag.endswith(GZ_SUFFIX + '"'):
            tag = tag[: -len(GZ_SUFFIX) - 1] + '"'
        out.add(tag)
    return out


class EdgeMiddleware:
    """Gzip and ETag/304 handling; see the module docstring.

    Parameters
    ----------
    app : ASGI app
    minimum_size : int
        Smallest body compressed, in bytes.
    level : int
        gzip level (6: within a few per cent of 9's size at a fraction of its time).
    cache_entries : int
        Large compressed bodies kept.
    """

    def __init__(self, app: ASGIApp, minimum_size: int = 1000, level: int = 6,
                 cache_entries: int = 16) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.level = level
        self.cache_entries = cache_entries
        self._cache: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        gz, inm = False, None
        for name, value in scope["headers"]:  # raw scan: this runs on every request
            if name == b"accept-encoding":
                gz = accepts_gzip(value.decode("latin-1"))
            elif name == b"if-none-match":
                inm = value.decode("latin-1")
        conditional = scope["method"] in ("GET", "HEAD")
        if inm and GZ_SUFFIX in inm:
            # the app compares tags of the plain body: hand it the tags without the suffix
            suffix = (GZ_SUFFIX + '"').encode()
            scope = dict(scope, headers=[
                (k, v.replace(suffix, b'"') if k == b"if-none-match" else v)
                for k, v in scope["headers"]])
        held: list[Message] = []
        passthrough = False

        async def edge_send(message: Message) -> None:
            nonlocal passthrough
            if passthrough:
                await send(message)
            elif message["type"] == "http.response.start":
                held.append(message)
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                await self._finish(held.pop(), message.get("body", b""), send, gz,
                                   inm if conditional else None, conditional)
            else:  # a streamed body or an extension message: send everything as it comes
                passthrough = True
                while held:
                    await send(held.pop(0))
                await send(message)

        await self.app(scope, receive, edge_send)

    async def _finish(self, start: Message, body: bytes, send: Send, gz: bool,
                      inm: str | None, conditional: bool) -> None:
        raw = start.setdefault("headers", [])
        ctype = next((v for k, v in raw if k == b"content-type"), b"")
        media = ctype.partition(b";")[0].strip().lower().decode("latin-1")
        if media != "text/html" and not inm and (len(body) < self.minimum_size or not gz):
            # the common answer: small, or to a client that takes no gzip (a point lookup is a
            # little over 1 KB), and no tag to compare: nothing to compress, tag or compare;
            # caches are told that it depends on Accept-Encoding when it could be compressed
            if len(body) >= self.minimum_size and media in COMPRESSIBLE:
                self._vary(raw)
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        headers = MutableHeaders(raw=raw)
        status = start["status"]
        digest = None
        if conditional and status == 200 and media == "text/html" and "etag" not in headers:
            digest = hashlib.blake2b(body, digest_size=16).digest()
            headers["etag"] = f'"{digest.hex()}"'
        if status == 304 and inm and GZ_SUFFIX + '"' in inm and headers.get("etag", "")[-1:] == '"':
            # the app found the client's (gzip) version current: name that version
            headers["etag"] = headers["etag"][:-1] + GZ_SUFFIX + '"'
        etag = headers.get("etag") if status == 200 else None
        compress = (media in COMPRESSIBLE and len(body) >= self.minimum_size
                    and "content-encoding" not in headers and status not in (204, 206, 304))
        if compress:
            self._vary(raw)
        encoded = compress and gz
        if etag and encoded and not etag.startswith("W/"):
            headers["etag"] = etag[:-1] + GZ_SUFFIX + '"'
        if etag and inm and (inm.strip() == "*" or etag.removeprefix("W/") in _tags(inm)):
            # the client holds this version: headers only (the tag of its encoding included)
            for name in ("content-length", "content-type", "content-encoding"):
                del headers[name]
            await send({**start, "status": 304})
            await send({"type": "http.response.body", "body": b""})
            return
        if encoded:
            body = await self._gzip(body, digest)
            headers["content-encoding"] = "gzip"
            headers["content-length"] = str(len(body))
        await send(start)
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _vary(raw: list[tuple[bytes, bytes]]) -> None:
        """Add ``Accept-Encoding`` to the ``Vary`` header of raw response headers."""
        if any(k == b"vary" for k, _ in raw):
            MutableHeaders(raw=raw).add_vary_header("Accept-Encoding")
        else:
            raw.append((b"vary", b"Accept-Encoding"))

    async def _gzip(self, body: bytes, digest: bytes | None) -> bytes:
        if len(body) < LARGE:
            return gzip.compress(body, self.level, mtime=0)
        key = digest or hashlib.blake2b(body, digest_size=16).digest()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        out = await anyio.to_thread.run_sync(lambda: gzip.compress(body, self.level, mtime=0))
        with self._lock:
            self._cache[key] = out
            while len(self._cache) > self.cache_entries:
                self._cache.popitem(last=False)
        return out
