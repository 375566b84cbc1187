"""uvicorn's HTTP protocol with problem+json for the requests it refuses itself.

uvicorn answers a request it cannot parse before the app sees it, with ``400`` and a
``text/plain`` body. The commonest case is a URL longer than 64 KiB (its URL parser keeps
offsets in 16 bits), which a client sends by putting a whole file in a query string. The
service answers problem+json everywhere else, so :class:`ProblemHttpToolsProtocol` (given to
uvicorn by ``geo-grid serve``) answers those with a problem+json body too: ``414`` when the URL
is over :data:`api.edge.MAX_QUERY_BYTES`, ``400`` otherwise. Requests that reach the app are
answered by :class:`api.edge.EdgeMiddleware` (a query string over the limit is a ``414`` there).
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.edge import API_CSP, MAX_QUERY_BYTES, PROBLEM, SECURITY_HEADERS

__all__ = ["ProblemHttpToolsProtocol"]

REASONS = {400: b"Bad Request", 414: b"URI Too Long"}


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose own refusals are problem+json."""

    def send_400_response(self, msg: str) -> None:
        url = getattr(self, "url", b"") or b""
        status = 414 if len(url) > MAX_QUERY_BYTES else 400
        detail = (f"the URL is over {len(url)} bytes, over the limit of {MAX_QUERY_BYTES} bytes"
                  if status == 414 else msg)
        body = json.dumps({"type": "about:blank", "title": REASONS[status].decode(),
                           "status": status, "detail": detail}).encode()
        content = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status])]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        for name, value in [*SECURITY_HEADERS, (b"x-frame-options", b"DENY"),
                            (b"content-security-policy", API_CSP)]:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend([b"content-type: ", PROBLEM.encode(), b"\r\n",
                        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                        b"connection: close\r\n", b"\r\n", body])
        self.transport.write(b"".join(content))
        self.transport.close()
