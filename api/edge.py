"""The edge of every request and response of the app (one ASGI middleware): limits on what
comes in, security headers, compression and conditional GET on what goes out.

Requests
--------
- A query string over :data:`MAX_QUERY_BYTES` is answered ``414`` (problem+json).
- An ``Authorization`` header that is not ASCII is answered ``400`` (a token is ASCII;
  comparing other bytes would fail further in).
- The body is counted as it streams in, whatever its framing (``Content-Length`` or chunked,
  JSON or multipart): once it passes the route's limit (:func:`body_limit`: imports, uploads,
  JSON) the request is answered ``413`` there and then, and the route sees the client gone. A
  ``Content-Length`` over the limit is answered before anything is read.

- Whether the client takes gzip is read once, here, and left in the scope under
  :data:`ACCEPTS_GZIP` for the routes that encode their own answers (the point lookup).

Responses
---------
- Every response gets ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``
  and ``X-Frame-Options`` (``DENY``; ``SAMEORIGIN`` for pages whose own policy lets the site
  frame them); a response without a ``Content-Security-Policy`` that is not an HTML page gets
  ``default-src 'none'; frame-ancestors 'none'`` (the map and docs pages set their own).
- A ``405`` names the methods of the path in ``Allow``.

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
import json
import struct
import threading
import zlib
from collections import OrderedDict

import anyio.to_thread
from starlette.datastructures import MutableHeaders
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COMPRESSIBLE = frozenset({
    "text/html", "text/css", "text/plain", "text/csv", "text/javascript", "image/svg+xml",
    "application/json", "application/geo+json", "application/problem+json",
    "application/javascript", "application/xml",
    "application/vnd.mapbox-vector-tile",  # vector tiles: protobuf, about half their size gzipped
})
GZ_SUFFIX = "-gz"
#: bodies from this size on are compressed in a worker thread and their gzip kept in the cache
LARGE = 128 * 1024
#: longest query string answered (a lookup's address is a few hundred bytes)
MAX_QUERY_BYTES = 8 * 1024
#: limits used when the app has no settings (``max_upload_bytes``, ``max_import_bytes``,
#: ``max_json_bytes`` of :class:`api.settings.Settings`)
DEFAULT_LIMITS = {"max_upload_bytes": 20 * 1024 * 1024, "max_import_bytes": 200 * 1024 * 1024,
                  "max_json_bytes": 5 * 1024 * 1024}
#: room for the multipart framing and the small form fields around an uploaded file
MULTIPART_SLACK = 64 * 1024
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
PROBLEM = "application/problem+json"
#: Scope key of the request's ``Accept-Encoding`` verdict (True: gzip accepted), set by
#: :class:`EdgeMiddleware` for the routes behind it.
ACCEPTS_GZIP = "geo_grid.accepts_gzip"


def body_limit(scope: Scope, content_type: str) -> int:
    """The most body bytes a request may send: ``max_import_bytes`` for an import
    (``/api/v1/imports``), ``max_upload_bytes`` (plus the multipart framing) for another
    multipart upload, ``max_json_bytes`` for anything else."""
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)

    def setting(name: str) -> int:
        return int(getattr(settings, name, None) or DEFAULT_LIMITS[name])

    if scope["path"].startswith("/api/v1/imports"):
        return setting("max_import_bytes") + MULTIPART_SLACK
    if content_type.startswith("multipart/"):
        return setting("max_upload_bytes") + MULTIPART_SLACK
    return setting("max_json_bytes")


#: The stable codes of the refusals the middleware answers itself (as the core's errors).
EDGE_CODES = {400: "bad_request", 413: "payload_too_large", 414: "uri_too_long"}


def problem_message(status: int, title: str, detail: str, path: str,
                    extra_headers: list[tuple[bytes, bytes]] = ()) -> tuple[Message, Message]:
    """The start and body messages of a problem+json answer made by the middleware itself."""
    code = EDGE_CODES.get(status, "http_error")
    body = json.dumps({"type": f"urn:geo-grid:error:{code}", "title": title, "status": status,
                       "detail": detail, "instance": path, "code": code},
                      ensure_ascii=False).encode()
    headers = [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(body)).encode()),
               *extra_headers]
    return ({"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": body})


def secure_headers(raw: list[tuple[bytes, bytes]], scope: Scope, status: int) -> None:
    """Add the security headers (and ``Allow`` to a 405) to raw response headers."""
    names = {k.lower() for k, _ in raw}
    raw.extend(h for h in SECURITY_HEADERS if h[0] not in names)
    csp = next((v for k, v in raw if k.lower() == b"content-security-policy"), None)
    if b"x-frame-options" not in names:
        raw.append((b"x-frame-options",
                    b"SAMEORIGIN" if csp and b"frame-ancestors 'self'" in csp else b"DENY"))
    if csp is None:
        ctype = next((v for k, v in raw if k.lower() == b"content-type"), b"")
        if not ctype.lower().startswith(b"text/html"):
            raw.append((b"content-security-policy", API_CSP))
    if status == 405 and b"allow" not in names:
        allowed = allowed_methods(scope)
        if allowed:
            raw.append((b"allow", ", ".join(allowed).encode()))


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(scope: Scope) -> list[str]:
    """The methods the app's routes answer on the request's path (for a 405's ``Allow``):
    each method is tried against the routes, as the router would match it."""
    router = getattr(scope.get("app"), "router", None)
    routes = getattr(router, "routes", ())
    allowed = []
    for method in METHODS:
        probe = dict(scope, method=method)
        for route in routes:
            try:
                match, _ = route.matches(probe)
            except Exception:  # noqa: BLE001 - a route that cannot say is left out
                continue
            if match == Match.FULL:
                allowed.append(method)
                break
    return allowed


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


def gzip_small(body: bytes, level: int = 6) -> bytes:
    """``body`` as a gzip member, with a window and hash table sized to it.

    ``gzip.compress`` sets up zlib's full 32 KB window and 256 KB of hash tables for every
    call, which costs several times the compression of a 1 KB answer (a point lookup); a
    window of the body's size gives the same bytes, or within a few, at a fifth of the time.
    """
    wbits = min(15, max(9, len(body).bit_length()))
    c = zlib.compressobj(level, zlib.DEFLATED, 16 + wbits, max(1, min(8, wbits - 8)))
    return c.compress(body) + c.flush()


#: a gzip member header: deflate, no name or comment, no time, unknown OS
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_STORED_FINAL = b"\x01"  # BFINAL=1, BTYPE=00 (stored), padded to the byte
_LENGTHS = struct.Struct("<HH").pack  # LEN, NLEN of a stored block
_TRAILER = struct.Struct("<II").pack  # CRC-32, ISIZE
#: LEN and NLEN of the short stored blocks (a point lookup's end is a few dozen bytes)
_SHORT_LENGTHS = tuple(_LENGTHS(n, n ^ 0xFFFF) for n in range(256))
_crc32 = zlib.crc32


class GzipPrefix:
    """A body's fixed beginning, compressed once, to which any short end can be joined.

    For answers that are a ready prefix plus a few bytes of their own (a point lookup: its
    grid's answer, then the point). The prefix is deflated once and flushed to a byte boundary
    (``Z_SYNC_FLUSH``); an answer is that, then its end as one final *stored* (uncompressed)
    deflate block, then the gzip trailer (CRC-32 and length of the whole body). It is one valid
    gzip member; joining costs a CRC of the end, not a compression.

    Parameters
    ----------
    prefix : bytes
        The fixed beginning of the bodies.
    level : int
        gzip level of the prefix.
    """

    def __init__(self, prefix: bytes, level: int = 6) -> None:
        c = zlib.compressobj(level, zlib.DEFLATED, -15)  # raw deflate: the header is ours
        self.deflated = GZIP_HEADER + c.compress(prefix) + c.flush(zlib.Z_SYNC_FLUSH)
        # ... followed by the header of the final stored block: BFINAL=1, BTYPE=00, padded to
        # the byte (its LEN and NLEN depend on the end)
        self._head = self.deflated + _STORED_FINAL
        self.crc = zlib.crc32(prefix)
        self.size = len(prefix)

    def join(self, end: bytes) -> bytes:
        """The gzip encoding of ``prefix + end`` (``end`` shorter than 64 KiB)."""
        n = len(end)
        if n < 256:
            lengths = _SHORT_LENGTHS[n]
        elif n <= 0xFFFF:
            lengths = _LENGTHS(n, n ^ 0xFFFF)
        else:
            raise ValueError("a stored deflate block holds at most 65,535 bytes")
        # the final stored block's LEN and NLEN, its bytes, then CRC-32 and length of the whole
        return b"".join((self._head, lengths, end,
                         _TRAILER(_crc32(end, self.crc), (self.size + n) & 0xFFFFFFFF)))


class EdgeMiddleware:
    """Request limits, security headers, gzip and ETag/304 handling; see the module docstring.

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
        ctype, declared, refusal = "", None, None
        for name, value in scope["headers"]:  # raw scan: this runs on every request
            if name == b"accept-encoding":
                gz = accepts_gzip(value.decode("latin-1"))
            elif name == b"if-none-match":
                inm = value.decode("latin-1")
            elif name == b"content-type":
                ctype = value.decode("latin-1").lower()
            elif name == b"content-length":
                declared = value
            elif name == b"authorization" and not value.isascii():
                refusal = (400, "Bad request", "the Authorization header must be ASCII text")
        scope[ACCEPTS_GZIP] = gz
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            refusal = (414, "URI too long", f"the query string is {len(scope['query_string'])} "
                       f"bytes, over the limit of {MAX_QUERY_BYTES} bytes")
        limit = body_limit(scope, ctype)
        if refusal is None and declared is not None:
            size = int(declared) if declared.isdigit() else -1
            if size > limit:
                refusal = (413, "Payload too large", f"a body of {size} bytes is over this "
                           f"route's limit of {limit} bytes")
        if refusal is not None:
            start, body = problem_message(*refusal, scope["path"])
            secure_headers(start["headers"], scope, refusal[0])
            await send(start)
            await send(body)
            return
        conditional = scope["method"] in ("GET", "HEAD")
        if inm and GZ_SUFFIX in inm:
            # the app compares tags of the plain body: hand it the tags without the suffix
            suffix = (GZ_SUFFIX + '"').encode()
            scope = dict(scope, headers=[
                (k, v.replace(suffix, b'"') if k == b"if-none-match" else v)
                for k, v in scope["headers"]])
        held: list[Message] = []
        passthrough = False
        received = 0
        started = answered = False  # answered: the middleware sent the 413 itself

        cut = False  # the body went over the limit: the route is told the client is gone

        async def limited_receive() -> Message:
            # the body counted as it comes, whatever its framing
            nonlocal received, answered, cut
            if cut:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut = True
                    if not started:
                        answered = True
                        start, body = problem_message(
                            413, "Payload too large", f"the body is over this route's limit of "
                            f"{limit} bytes", scope["path"])
                        secure_headers(start["headers"], scope, 413)
                        await send(start)
                        await send(body)
                    # the route stops reading and its answer is dropped; the server discards
                    # the rest of the body (the client reads the 413 once it has sent it)
                    return {"type": "http.disconnect"}
            return message

        async def edge_send(message: Message) -> None:
            nonlocal passthrough, started
            if answered:
                return
            if message["type"] == "http.response.start":
                started = True
                secure_headers(message.setdefault("headers", []), scope, message["status"])
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

        try:
            await self.app(scope, limited_receive, edge_send)
        except Exception:
            if not answered:
                raise
            # the route failed on the body cut short: the 413 is its answer

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
            return gzip_small(body, self.level)
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
