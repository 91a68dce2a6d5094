"""A small blocking HTTP/1.1 client for the phases wrk cannot drive (lists, watches, set-up).

One keep-alive connection per object, like a real client's pool of one.  Each request is timed
to its last byte, so a list that streams slowly is measured as slow.
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass
from typing import Any

import orjson

from conformance.kubeconfig import ClusterAccess


@dataclass
class Response:
    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class HTTPError(Exception):
    """An answer the benchmark cannot go on without (for example, namespace creation refused)."""

    def __init__(self, what: str, response: Response) -> None:
        super().__init__(f"{what}: HTTP {response.status}: {response.body[:300]!r}")
        self.response = response


class Connection:
    """One keep-alive connection to the API server, reconnecting when the server closes it."""

    def __init__(self, access: ClusterAccess, timeout: float = 120.0) -> None:
        self.access = access
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._headers = {"Accept": "application/json", "User-Agent": "kubefacade-bench"}
        self._headers.update(access.auth_headers())

    def _connect(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.access.is_tls:
                self._conn = http.client.HTTPSConnection(
                    self.access.host, self.access.port, timeout=self.timeout,
                    context=self.access.ssl_context(),
                )
            else:
                self._conn = http.client.HTTPConnection(self.access.host, self.access.port, timeout=self.timeout)
        return self._conn

    def request(self, method: str, path: str, body: Any = None) -> Response:
        """Send one request; ``body`` is JSON-encoded unless it is already bytes."""
        payload = body if body is None or isinstance(body, bytes) else orjson.dumps(body)
        headers = dict(self._headers)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            conn = self._connect()
            start = time.perf_counter()
            try:
                conn.request(method, path, body=payload, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt:
                    raise
                continue
            elapsed = time.perf_counter() - start
            if resp.will_close:
                self.close()
            return Response(resp.status, data, elapsed)
        raise AssertionError("unreachable")

    def open_stream(self, path: str) -> http.client.HTTPResponse:
        """Start a streaming GET (a watch) on this connection; the caller reads lines from it."""
        conn = self._connect()
        conn.request("GET", path, headers=dict(self._headers))
        resp = conn.getresponse()
        return resp

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
