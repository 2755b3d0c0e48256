"""The HTTP layer of the client: one API request, sent, retried and decoded.

:class:`HttpTransport` is the base of :class:`~.client.JellyfinClient`. It knows the
server's address and the authorization header, and nothing of Jellyfin's routes:

* The ``aiohttp.ClientSession`` is injected and never closed here.
* Authentication is only the ``Authorization: MediaBrowser Token="…", Client="…",
  Device="…", DeviceId="…", Version="…"`` header. The key is never put in a URL, a
  log line or an exception message.
* Every attempt runs under the request timeout and a per-client semaphore. A failed
  request is retried with exponential backoff (or the server's ``Retry-After``) when
  a retry cannot double an effect (:class:`Retry`); 4xx answers never are.
* Reads follow redirects within the server's origin; a redirect elsewhere raises
  ``JellyfinResponseError`` naming the address to use. Writes never follow redirects.
* A status becomes an exception of :mod:`.exceptions`, a 2xx body decoded JSON.
"""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum, auto
import json
import math
from typing import Any
from urllib.parse import quote
import uuid

import aiohttp
from yarl import URL

from .exceptions import (
    JellyfinAuthError,
    JellyfinConnectionError,
    JellyfinError,
    JellyfinNotFoundError,
    JellyfinRequestError,
    JellyfinResponseError,
    JellyfinServerError,
    JellyfinStartingError,
    JellyfinTimeoutError,
)
from .urls import normalize_url

#: 5xx statuses worth another try (a proxy or Jellyfin restarting).
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
#: Longest single backoff when the server gives no Retry-After.
_MAX_BACKOFF = 30.0


class Retry(Enum):
    """When a failed request may be sent again."""

    ALWAYS = auto()
    """Reads and writes of absolute values."""
    UNSENT = auto()
    """Writes that add something: only when the server certainly did not act."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestStats:
    """Traffic counters of one client (for benchmarks and diagnostics)."""

    requests: int = 0
    """HTTP requests sent, retries included."""
    retries: int = 0
    bytes_in: int = 0
    """Response body bytes."""
    bytes_out: int = 0
    """Request body bytes."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date).

    >>> parse_retry_after("5")
    5.0
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _header_value(value: str) -> str:
    # Jellyfin URL-decodes each value (WebUtility.UrlDecode); quoting keeps spaces,
    # quotes and commas from breaking the header.
    return quote(value, safe="")


class HttpTransport:
    """Sends API requests to one server; the base of the client.

    The arguments are :class:`~.client.JellyfinClient`'s (which checks them and
    documents them): the server's address, the key and the identity sent in the
    authorization header, the session, and the timeout and retry limits.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        session: aiohttp.ClientSession,
        *,
        request_timeout: float,
        max_concurrency: int,
        retries: int,
        retry_backoff: float,
        max_retry_after: float,
        device_id: str | None,
        client_name: str,
        device_name: str,
        client_version: str,
    ) -> None:
        """Store the transport's configuration; no request is made.

        Raises:
            JellyfinConnectionError: ``url`` is not an http(s) URL.
        """
        self._url_text = normalize_url(url)
        self._url = URL(self._url_text)
        self._base_path = self._url.path.rstrip("/")
        self._session = session
        self._request_timeout = request_timeout
        self._retries = retries
        self._retry_backoff = retry_backoff
        self._max_retry_after = max_retry_after
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._server_time: datetime | None = None
        self._device_id = (
            device_id
            or uuid.uuid5(uuid.NAMESPACE_URL, f"jellyfin-sync:{self._url_text}").hex
        )
        identity = (
            f'Client="{_header_value(client_name)}", '
            f'Device="{_header_value(device_name)}", '
            f'DeviceId="{_header_value(self._device_id)}", '
            f'Version="{_header_value(client_version)}"'
        )
        self._anonymous_auth = f"MediaBrowser {identity}"
        self._auth = (
            f'MediaBrowser Token="{_header_value(api_key.strip())}", {identity}'
        )
        self._stats = {"requests": 0, "retries": 0, "bytes_in": 0, "bytes_out": 0}

    @property
    def url(self) -> str:
        """Normalised base URL without a trailing slash."""
        return self._url_text

    @property
    def device_id(self) -> str:
        """The ``DeviceId`` sent with every request."""
        return self._device_id

    @property
    def request_stats(self) -> RequestStats:
        """Counters of the traffic so far (a snapshot)."""
        return RequestStats(**self._stats)

    @property
    def server_time(self) -> datetime | None:
        """The server's clock at its last answer (its ``Date`` header), if any.

        Jellyfin stamps ``DateLastSaved`` from the same clock, so "saved since"
        queries use it rather than this machine's clock, which may differ.
        """
        return self._server_time

    def _note_server_time(self, raw: str | None) -> None:
        if not raw:
            return
        try:
            value = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return
        if value.tzinfo is not None:
            self._server_time = value.astimezone(UTC)

    async def _sleep(self, delay: float) -> None:
        await asyncio.sleep(delay)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        auth: bool = True,
        retry: Retry = Retry.ALWAYS,
    ) -> Any:
        """Send one API request with retries; return the decoded JSON (or None)."""
        url = self._url.with_path(self._base_path + path)
        data = None if body is None else json.dumps(body).encode()
        headers = {
            "Authorization": self._auth if auth else self._anonymous_auth,
            "Accept": "application/json",
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        what = f"{method} {path}"
        attempt = 0
        while True:
            try:
                return await self._attempt(method, url, params, data, headers, what)
            except (JellyfinConnectionError, JellyfinServerError) as err:
                delay = self._retry_delay(err, attempt, retry)
                if delay is None:
                    raise
            attempt += 1
            self._stats["retries"] += 1
            await self._sleep(delay)

    def _retry_delay(
        self, err: JellyfinError, attempt: int, retry: Retry
    ) -> float | None:
        """Seconds to wait before retrying after ``err``, or None to give up."""
        if attempt >= self._retries:
            return None
        backoff = min(self._retry_backoff * 2.0**attempt, _MAX_BACKOFF)
        if isinstance(err, JellyfinStartingError):
            # Jellyfin answers 503 before it runs a request (startup, IP filter).
            if err.retry_after is None:
                return backoff
            if err.retry_after > self._max_retry_after:
                return None
            return max(backoff, err.retry_after)
        if retry is Retry.UNSENT:
            cause = err.__cause__
            unsent = isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(
                cause, aiohttp.ClientSSLError
            )
            return backoff if unsent else None
        if isinstance(err, JellyfinServerError):
            return backoff if err.status in _RETRY_STATUSES else None
        if isinstance(err.__cause__, aiohttp.ClientSSLError):
            return None  # a certificate problem does not go away by itself
        return backoff

    async def _attempt(
        self,
        method: str,
        url: URL,
        params: Mapping[str, str] | None,
        data: bytes | None,
        headers: Mapping[str, str],
        what: str,
    ) -> Any:
        async with self._semaphore:
            self._stats["requests"] += 1
            self._stats["bytes_out"] += len(data or b"")
            try:
                async with (
                    asyncio.timeout(self._request_timeout),
                    self._session.request(
                        method,
                        url,
                        params=params,
                        data=data,
                        headers=headers,
                        allow_redirects=method == "GET",
                    ) as response,
                ):
                    raw = await response.read()
                    status = response.status
                    content_type = response.content_type
                    retry_after = response.headers.get("Retry-After")
                    server_date = response.headers.get("Date")
                    landed = response.url.origin()
            except TimeoutError as err:
                raise JellyfinTimeoutError(
                    f"{what}: no answer within {self._request_timeout:g} s"
                ) from err
            except aiohttp.ClientError as err:
                raise JellyfinConnectionError(
                    f"{what}: cannot reach the server ({type(err).__name__}: {err})"
                ) from err
            self._stats["bytes_in"] += len(raw)
        self._note_server_time(server_date)
        if landed != url.origin():
            # aiohttp drops the Authorization header on a cross-origin redirect
            # (e.g. http -> https), which would read as a rejected key.
            raise JellyfinResponseError(
                f"{what}: the server redirects to {landed}; "
                "use that address as the server URL"
            )
        return _decode(status, content_type, raw, retry_after, what)


def _decode(
    status: int, content_type: str, raw: bytes, retry_after: str | None, what: str
) -> Any:
    """Map a status to an exception or decode a 2xx JSON body."""
    if status in (401, 403):
        reason = "rejected the API key" if status == 401 else "refused the request"
        raise JellyfinAuthError(f"{what}: HTTP {status}: the server {reason}")
    if status == 404:
        raise JellyfinNotFoundError(f"{what}: HTTP 404: not found")
    if status == 503:
        raise JellyfinStartingError(
            f"{what}: HTTP 503: the server is starting or unavailable",
            retry_after=parse_retry_after(retry_after),
        )
    if status >= 500:
        raise JellyfinServerError(f"{what}: HTTP {status}: server error", status)
    if status >= 400:
        raise JellyfinRequestError(f"{what}: HTTP {status}: request rejected")
    if not 200 <= status < 300:
        raise JellyfinResponseError(f"{what}: unexpected HTTP {status}")
    if status == 204 or not raw.strip():
        return None
    if content_type == "text/html":
        raise JellyfinResponseError(
            f"{what}: the answer is an HTML page, not Jellyfin's JSON "
            "(a login page or proxy in front of the server?)"
        )
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as err:
        raise JellyfinResponseError(
            f"{what}: the answer is not valid JSON (content type {content_type!r}, "
            f"{len(raw)} bytes; truncated?)"
        ) from err
