"""Async client for the Jellyfin HTTP API, 10.8 through 12.0 (no Home Assistant imports).

Public API (all names are re-exported by the ``jellyfin`` package)::

    client = JellyfinClient(url, api_key, session, *, request_timeout=30.0,
                            max_concurrency=4, retries=3, retry_backoff=1.0,
                            max_retry_after=60.0, page_size=500, device_id=None,
                            client_name="Jellyfin Sync", device_name="Home Assistant",
                            client_version=CLIENT_VERSION)
    client.url                      # normalised base URL, no trailing slash
    client.device_id                # stable DeviceId sent with every request
    client.server_info              # ServerInfo | None, cached by the info calls
    client.capabilities             # Capabilities of the cached version
    client.request_stats            # RequestStats(requests, retries, bytes_in, bytes_out)

    await client.get_public_info() -> ServerInfo        # anonymous
    await client.get_system_info() -> ServerInfo        # authenticated
    await client.validate_admin_key() -> ServerInfo     # admin API key or JellyfinAuthError
    await client.get_users(*, include_disabled=False, include_hidden=True) -> list[User]
    async for page in client.iter_items(user_id, *, item_types=("Movie", "Episode"),
            fields=("ProviderIds", "Path"), enable_user_data=True, is_played=None,
            is_favorite=None, filters=(), ids=None, parent_id=None, page_size=None,
            check_total=True): ...                      # list[Item], unique ids
    await client.get_items(user_id, ids, *, fields=("ProviderIds", "Path")) -> list[Item]
    await client.get_user_data(user_id, item_id) -> UserData
    await client.set_user_data(user_id, item_id, desired, fields, *, current=None,
                               verify=False) -> UserData

Behaviour:

* The ``aiohttp.ClientSession`` is injected (Home Assistant's shared session) and never
  closed here; ``async with JellyfinClient(...)`` is supported and closes nothing.
* Authentication is only the ``Authorization: MediaBrowser Token="…", Client="…",
  Device="…", DeviceId="…", Version="…"`` header, the one form Jellyfin 12.0 still
  accepts. The key is never put in a URL, a log line or an exception message.
* Every request runs under ``request_timeout`` and a per-client semaphore of
  ``max_concurrency``. Failures are retried ``retries`` times with exponential backoff
  (``retry_backoff`` x 1, 2, 4, ... seconds, or the server's ``Retry-After`` when it is
  longer, up to ``max_retry_after``) when a retry cannot double an effect: reads and
  absolute writes after a timeout, connection loss or 500/502/503/504; writes that add
  a play (``MarkPlayed`` with a date) only when the request provably was not processed
  (connection refused, 503). 4xx answers are never retried.
* Errors are :mod:`.exceptions` classes (the two that carry user data in
  :mod:`.write_errors`), each with a stable ``reason``: connection/timeout, auth (401/403), not found
  (404), request (other 4xx), server (5xx; 503 is ``JellyfinStartingError`` with
  ``retry_after``), response (HTML, truncated or wrong-shaped JSON, not Jellyfin),
  unsupported (the version cannot write a field), verification (read-back differs).
* Reads follow redirects within the server's origin; a redirect elsewhere (e.g.
  http -> https, where aiohttp drops the key) raises ``JellyfinResponseError`` naming
  the address to use. Writes never follow redirects.
* Listings page with ``startIndex``/``limit`` and ``sortBy=DateCreated,SortName``,
  images off and ``enableTotalRecordCount`` only on the first page; pages are
  de-duplicated by id and, when that total shows items were skipped (Jellyfin's order
  is not unique, so offsets drift), a second pass fetches the missing ones.
* Routes follow the server version (API-NOTES §1.2, §3): ``/Users/{userId}/...`` on
  10.8, ``/User*Items/{itemId}?userId=`` and the generic ``/UserItems/{id}/UserData``
  update on 10.9+. The version comes from the first info call; user-scoped calls make
  one ``GET /System/Info`` first when nothing is cached.

The class is built in layers, one module each, every layer on the one below it:

* :mod:`.transport` - :class:`~.transport.HttpTransport`: one request, sent under the
  timeout and concurrency limit, retried, decoded; the traffic counters.
* :mod:`.server_api` - the server's identity and version (which picks the routes),
  users, libraries, plugins.
* :mod:`.items_api` - item listings, paged and de-duplicated; reads of chosen items.
* :mod:`.userdata_api` - one item's user data, read and written.
* this module - :class:`JellyfinClient`: the constructor and its checks.

:mod:`.urls` parses server addresses and :mod:`.wire` holds the request values and
answer checks the layers share.
"""

import asyncio
from types import TracebackType
from typing import Self

import aiohttp

from .const import CLIENT_NAME, CLIENT_VERSION, DEVICE_NAME
from .items_api import PARSE_CHUNK
from .transport import RequestStats, parse_retry_after
from .urls import InvalidUrlError, normalize_url, parse_server_url
from .userdata_api import UserDataApi

__all__ = [
    "PARSE_CHUNK",
    "InvalidUrlError",
    "JellyfinClient",
    "RequestStats",
    "normalize_url",
    "parse_retry_after",
    "parse_server_url",
]


class JellyfinClient(UserDataApi):
    """Client for one Jellyfin server, authenticated with an API key.

    Args:
        url: Base URL of the server (``http://host:8096`` or with a base path).
        api_key: An API key from Dashboard > API Keys.
        session: The aiohttp session to use; the client never closes it.
        request_timeout: Seconds per request attempt, body included.
        max_concurrency: Requests in flight at once against this server.
        retries: Extra attempts after a retryable failure.
        retry_backoff: First backoff in seconds, doubled per attempt.
        max_retry_after: Longest wait honoured from ``Retry-After``; a longer hint
            raises :class:`JellyfinStartingError` at once, carrying the hint.
        page_size: Default ``limit`` of item pages.
        device_id: Stable ``DeviceId``; default derived from the URL, so Jellyfin
            keeps one session for this client instead of one per request.
        client_name: ``Client`` in the authorization header.
        device_name: ``Device`` in the authorization header.
        client_version: ``Version`` in the authorization header.

    Raises:
        JellyfinConnectionError: ``url`` is not an http(s) URL.
        ValueError: an empty key or a non-positive limit.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        session: aiohttp.ClientSession,
        *,
        request_timeout: float = 30.0,
        max_concurrency: int = 4,
        retries: int = 3,
        retry_backoff: float = 1.0,
        max_retry_after: float = 60.0,
        page_size: int = 500,
        device_id: str | None = None,
        client_name: str = CLIENT_NAME,
        device_name: str = DEVICE_NAME,
        client_version: str = CLIENT_VERSION,
    ) -> None:
        """Check and store the configuration; no request is made."""
        if not api_key or not api_key.strip():
            raise ValueError("an API key is required")
        if request_timeout <= 0 or max_concurrency < 1 or page_size < 1:
            raise ValueError("timeout, concurrency and page size must be positive")
        if retries < 0 or retry_backoff < 0 or max_retry_after < 0:
            raise ValueError("retries and backoff must not be negative")
        super().__init__(
            url,
            api_key,
            session,
            request_timeout=request_timeout,
            max_concurrency=max_concurrency,
            retries=retries,
            retry_backoff=retry_backoff,
            max_retry_after=max_retry_after,
            device_id=device_id,
            client_name=client_name,
            device_name=device_name,
            client_version=client_version,
        )
        self._page_size = page_size
        self._info_lock = asyncio.Lock()
        self._server_info = None

    def __repr__(self) -> str:
        """Show the server, never the key."""
        return f"JellyfinClient({self._url_text!r})"

    async def __aenter__(self) -> Self:
        """Use the client as an async context manager."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Nothing to release: the session belongs to the caller."""
