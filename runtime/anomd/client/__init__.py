"""``anomd.Client`` and ``anomd.AsyncClient``: a running anomd server, from Python.

::

    with anomd.Client("http://127.0.0.1:8000", api_key=None) as client:
        client.fit(frame, model="fraud", backend="isolation_forest")
        result = client.score(new_frame, model="fraud")       # backend found by name
        result.is_anomaly, result.score, result.to_polars()

    async with anomd.AsyncClient() as client:
        result = await client.detect(frame, contamination=0.05)

Tables (pandas, Polars, Arrow) and arrays travel as Arrow IPC streams, replies come back in
Arrow too; ``transport="json"`` uses JSON throughout. A request that cannot connect is retried
(``retries`` times, with backoff); any other failure is not, since the server may have acted
on it. Refusals raise :class:`ApiError` with the server's status and ``detail``; a server that
stays unreachable raises :class:`Unreachable`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Self

import httpx

from anomd.client._api import Operations, settings
from anomd.client._wire import ApiError, Call
from anomd.client.results import DetectResult, ScoreResult, StreamPoint, StreamResult

__all__ = ["ApiError", "AsyncClient", "Client", "DetectResult", "ScoreResult", "StreamPoint",
           "StreamResult", "Unreachable"]

#: What counts as "could not connect": nothing reached the server, so retrying is safe.
RETRIED = (httpx.ConnectError, httpx.ConnectTimeout)


class Unreachable(ConnectionError):
    """The server could not be reached (after the retries)."""


class _Base(Operations):
    def __init__(self, url: str | None, api_key: str | None, timeout: float, retries: int,
                 backoff: float, transport: str) -> None:
        self.url, self._headers = settings(url, api_key, transport)
        self._arrow = transport == "arrow"
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout

    def _unreachable(self, exc: Exception) -> Unreachable:
        return Unreachable(f"cannot reach anomd at {self.url} ({exc}); start it with `anomd serve`")

    def _request(self, call: Call) -> dict[str, Any]:
        return {"method": call.method, "url": call.path, "params": call.params, "content": call.content,
                    "headers": call.headers}


class Client(_Base):
    """A synchronous client (one connection pool; use it as a context manager or ``close()``).

    Args:
        url: The server, e.g. ``http://127.0.0.1:8000`` (default ``$ANOMD_URL`` or that).
        api_key: Sent as ``Authorization: Bearer`` (default ``$ANOMD_API_KEY``, if set).
        timeout: Seconds per request (fits can take long).
        retries: Extra attempts for a request that could not connect.
        backoff: Seconds before the first retry, doubled for each next one.
        transport: ``"arrow"`` (default) or ``"json"``.
    """

    def __init__(self, url: str | None = None, *, api_key: str | None = None,
                 timeout: float = 300.0, retries: int = 3, backoff: float = 0.2,
                 transport: str = "arrow") -> None:
        super().__init__(url, api_key, timeout, retries, backoff, transport)
        self._http = httpx.Client(base_url=self.url, headers=self._headers, timeout=timeout)

    def _run(self, call: Call) -> Any:
        for attempt in range(self.retries + 1):
            try:
                response = self._http.request(**self._request(call))
                break
            except RETRIED as exc:
                if attempt == self.retries:
                    raise self._unreachable(exc) from exc
                time.sleep(self.backoff * 2**attempt)
        return call.read(response.status_code, response.headers, response.content)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(_Base):
    """The same operations as :class:`Client`, as coroutines (``await client.score(...)``).

    Encoding the data into Arrow or JSON runs before the request, in the calling task.
    """

    def __init__(self, url: str | None = None, *, api_key: str | None = None,
                 timeout: float = 300.0, retries: int = 3, backoff: float = 0.2,
                 transport: str = "arrow") -> None:
        super().__init__(url, api_key, timeout, retries, backoff, transport)
        self._http = httpx.AsyncClient(base_url=self.url, headers=self._headers, timeout=timeout)

    async def _run(self, call: Call) -> Any:  # type: ignore[override]
        for attempt in range(self.retries + 1):
            try:
                response = await self._http.request(**self._request(call))
                break
            except RETRIED as exc:
                if attempt == self.retries:
                    raise self._unreachable(exc) from exc
                await asyncio.sleep(self.backoff * 2**attempt)
        return call.read(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
