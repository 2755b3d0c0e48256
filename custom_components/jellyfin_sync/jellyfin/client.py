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
* Errors are :mod:`.exceptions` classes: connection/timeout, auth (401/403), not found
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
"""

import asyncio
from collections.abc import (
    AsyncGenerator,
    Callable,
    Collection,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum, auto
import json
import math
import re
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote
import uuid

import aiohttp
from yarl import URL

from .const import (
    CLIENT_NAME,
    CLIENT_VERSION,
    DEFAULT_FIELDS,
    DEFAULT_ITEM_TYPES,
    DEVICE_NAME,
    IDS_PER_REQUEST,
    SORT_BY,
)
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
from .models import (
    MIN_SUPPORTED_VERSION,
    Capabilities,
    Item,
    Library,
    ServerInfo,
    SyncField,
    User,
    UserData,
    format_datetime,
)
from .plugins import Plugin
from .write_errors import JellyfinUnsupportedError, JellyfinVerificationError
from .writes import OpKind, WriteOp, needs_current, plan_write, values_match

#: 5xx statuses worth another try (a proxy or Jellyfin restarting).
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
#: Items of a listing page turned into models (and handed on) per turn of the loop.
PARSE_CHUNK = 100
#: Longest single backoff when the server gives no Retry-After.
_MAX_BACKOFF = 30.0
_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")


class _Retry(Enum):
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


class InvalidUrlError(ValueError):
    """A server address that cannot be used.

    ``reason`` is ``invalid_url``, ``invalid_scheme`` or ``url_has_credentials``
    (the integration's translation keys).
    """

    def __init__(self, reason: str) -> None:
        """Keep the reason."""
        super().__init__(reason)
        self.reason = reason


def parse_server_url(raw: str, *, strict: bool = True) -> str:
    """The canonical form of a server address: ``scheme://host[:port][/path]``.

    A missing scheme means ``http``; scheme and host are lower-cased and a trailing
    slash is dropped. ``strict`` (what a user types in) also refuses a user name or
    password (keys belong in the API key field), a query and a fragment; otherwise
    those are dropped.

    >>> parse_server_url(" HTTP://Media.LAN:8096/jellyfin/ ")
    'http://media.lan:8096/jellyfin'

    Raises:
        InvalidUrlError: not an http(s) address with a host (and a valid port).
    """
    text = raw.strip()
    if not text:
        raise InvalidUrlError("invalid_url")
    if "://" not in text:
        text = f"http://{text}"
    try:
        url = URL(text)
        host = url.host
        port = url.port  # raises ValueError on a bad port
    except (ValueError, TypeError) as err:
        raise InvalidUrlError("invalid_url") from err
    if url.scheme.lower() not in ("http", "https"):
        raise InvalidUrlError("invalid_scheme")
    if not host or port is None:
        raise InvalidUrlError("invalid_url")
    if strict and (url.user is not None or url.password is not None):
        raise InvalidUrlError("url_has_credentials")
    if strict and (url.query_string or url.fragment):
        raise InvalidUrlError("invalid_url")
    try:
        return str(
            URL.build(
                scheme=url.scheme.lower(),
                host=host.lower(),
                port=url.explicit_port,
                path=url.path.rstrip("/"),
            )
        )
    except ValueError as err:
        raise InvalidUrlError("invalid_url") from err


def normalize_url(url: str) -> str:
    """:func:`parse_server_url`, lenient (query and fragment dropped).

    >>> normalize_url(" jellyfin.local:8096/jf/ ")
    'http://jellyfin.local:8096/jf'

    Raises:
        JellyfinConnectionError: not an http(s) URL with a host.
    """
    try:
        return parse_server_url(url, strict=False)
    except InvalidUrlError as err:
        raise JellyfinConnectionError(
            "invalid server URL (expected http(s)://host[:port][/path])"
        ) from err


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


def _check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"invalid {what} {value!r}")
    return value


def _bool(value: bool) -> str:
    return "true" if value else "false"


class JellyfinClient:
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
        """Store the configuration; no request is made."""
        if not api_key or not api_key.strip():
            raise ValueError("an API key is required")
        if request_timeout <= 0 or max_concurrency < 1 or page_size < 1:
            raise ValueError("timeout, concurrency and page size must be positive")
        if retries < 0 or retry_backoff < 0 or max_retry_after < 0:
            raise ValueError("retries and backoff must not be negative")
        self._url_text = normalize_url(url)
        self._url = URL(self._url_text)
        self._base_path = self._url.path.rstrip("/")
        self._session = session
        self._request_timeout = request_timeout
        self._retries = retries
        self._retry_backoff = retry_backoff
        self._max_retry_after = max_retry_after
        self._page_size = page_size
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._info_lock = asyncio.Lock()
        self._server_info: ServerInfo | None = None
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

    @property
    def url(self) -> str:
        """Normalised base URL without a trailing slash."""
        return self._url_text

    @property
    def device_id(self) -> str:
        """The ``DeviceId`` sent with every request."""
        return self._device_id

    @property
    def server_info(self) -> ServerInfo | None:
        """Server identity from the last info call, if any."""
        return self._server_info

    @property
    def capabilities(self) -> Capabilities:
        """What the API key can write on this server's version.

        Raises:
            JellyfinError: no info call was made yet (version unknown).
            JellyfinUnsupportedError: the version is older than 10.8.
        """
        info = self._server_info
        if info is None:
            raise JellyfinError(
                "server version unknown: call get_public_info() or get_system_info()"
            )
        if info.version_tuple[:2] < MIN_SUPPORTED_VERSION:
            raise JellyfinUnsupportedError(
                f"Jellyfin {info.version} is not supported (10.8 or newer is needed)"
            )
        return Capabilities.for_version(info.version_tuple)

    @property
    def request_stats(self) -> RequestStats:
        """Counters of the traffic so far (a snapshot)."""
        return RequestStats(**self._stats)

    # ------------------------------------------------------------------ server

    async def get_public_info(self) -> ServerInfo:
        """Read ``/System/Info/Public`` without authentication.

        Raises:
            JellyfinResponseError: the answer is not a Jellyfin server's.
        """
        data = await self._request("GET", "/System/Info/Public", auth=False)
        info = self._parse(ServerInfo.from_json, data, "GET /System/Info/Public")
        if info.product_name != "Jellyfin Server":
            raise JellyfinResponseError(
                "GET /System/Info/Public: not a Jellyfin server "
                f"(product {info.product_name!r})"
            )
        self._server_info = info
        return info

    async def get_system_info(self) -> ServerInfo:
        """Read ``/System/Info`` with the key.

        Raises:
            JellyfinAuthError: the key is invalid or revoked.
        """
        data = await self._request("GET", "/System/Info")
        info = self._parse(ServerInfo.from_json, data, "GET /System/Info")
        self._server_info = info
        return info

    async def validate_admin_key(self) -> ServerInfo:
        """Check that the key works and is an (always administrative) API key.

        ``/Users/Me`` answers 400 for an API key, which has no user behind it, and
        200 for a user's session token (API-NOTES §1.3).

        Raises:
            JellyfinAuthError: the key is invalid, or is a user token.
        """
        info = await self.get_system_info()
        try:
            await self._request("GET", "/Users/Me")
        except JellyfinRequestError:
            return info
        raise JellyfinAuthError(
            "the token belongs to a user session, not an API key "
            "(create one in Dashboard > API Keys)"
        )

    async def get_users(
        self, *, include_disabled: bool = False, include_hidden: bool = True
    ) -> list[User]:
        """List the server's users (``GET /Users``), ordered by name."""
        data = await self._request("GET", "/Users")
        if not isinstance(data, list):
            raise JellyfinResponseError("GET /Users: the answer is not a JSON list")
        users = [self._parse(User.from_json, entry, "GET /Users") for entry in data]
        return [
            user
            for user in users
            if (include_disabled or not user.is_disabled)
            and (include_hidden or not user.is_hidden)
        ]

    # ------------------------------------------------------------------- items

    async def iter_items(
        self,
        user_id: str | None,
        *,
        item_types: Sequence[str] | None = DEFAULT_ITEM_TYPES,
        fields: Sequence[str] = DEFAULT_FIELDS,
        enable_user_data: bool = True,
        is_played: bool | None = None,
        is_favorite: bool | None = None,
        filters: Sequence[str] = (),
        ids: Sequence[str] | None = None,
        parent_id: str | None = None,
        page_size: int | None = None,
        check_total: bool = True,
        sort_by: Sequence[str] = (),
        descending: bool = False,
        saved_since: datetime | None = None,
    ) -> AsyncGenerator[list[Item]]:
        """Yield a user's items page by page, each id once.

        Jellyfin pages with OFFSET/LIMIT over an order that is not unique, so an item
        can show up on two pages or on none. Pages are de-duplicated by id; with
        ``check_total`` the first page asks for the total count and, when the pass
        saw fewer unique items, one more pass yields the missed ones.

        Args:
            user_id: Whose user data to include; ``None`` lists without user data.
            item_types: ``includeItemTypes`` (Jellyfin ``BaseItemKind`` names);
                empty or ``None`` for every type.
            fields: Optional ``BaseItemDto`` fields to include.
            enable_user_data: Include ``UserData``.
            is_played: Only played (``True``) or unplayed (``False``) items.
            is_favorite: Only favourites or non-favourites.
            filters: ``ItemFilter`` names, e.g. ``IsResumable``, ``Likes``.
            ids: Only these item ids.
            parent_id: Only items below this library or folder.
            page_size: ``limit`` per request; default the client's page size.
            check_total: Re-check the unique count against ``TotalRecordCount``.
            sort_by: ``ItemSortBy`` names (default ``DateCreated,SortName``); a
                caller that stops early (e.g. at the first item never played, with
                ``DatePlayed`` descending) closes the iterator.
            descending: Sort descending (one order for every key, as Jellyfin does).
            saved_since: ``minDateLastSavedForUser``: only items whose row was saved
                (created by a scan and refreshed, or metadata changed) at or after
                this server time. It never reflects user data (API-NOTES §2.4).

        Yields:
            Non-empty lists of items not yielded before (at most ``PARSE_CHUNK``
            each; a page of the listing may come as several lists).
        """
        if user_id is None and (
            is_played is not None or is_favorite is not None or filters
        ):
            raise ValueError("played/favourite filters need a user")
        limit = page_size or self._page_size
        if limit < 1:
            raise ValueError("page size must be positive")
        query = {
            "recursive": "true",
            "fields": ",".join(fields),
            "enableUserData": _bool(enable_user_data),
            "enableImages": "false",
            "collapseBoxSetItems": "false",
            "sortBy": ",".join(sort_by) if sort_by else SORT_BY,
            "sortOrder": "Descending" if descending else "Ascending",
        }
        if saved_since is not None:
            # minDateLastSaved alone is broken before 10.11 (API-NOTES §2.4).
            query["minDateLastSavedForUser"] = format_datetime(saved_since)
        if item_types:
            query["includeItemTypes"] = ",".join(item_types)
        if ids is None:
            query["excludeLocationTypes"] = "Virtual"
        elif not ids:
            return  # an empty ids= would list the whole library
        else:
            query["ids"] = ",".join(_check_id(i, "item id") for i in ids)
        if is_played is not None:
            query["isPlayed"] = _bool(is_played)
        if is_favorite is not None:
            query["isFavorite"] = _bool(is_favorite)
        if filters:
            query["filters"] = ",".join(filters)
        if parent_id is not None:
            query["parentId"] = _check_id(parent_id, "parent id")
        path, route_query = await self._items_route(user_id)
        query |= route_query
        # A dict, not a set: a dict of strings is untracked by the garbage
        # collector, a set of 100k ids would be scanned by each of its full passes.
        seen: dict[str, None] = {}
        total: int | None = None
        what = f"GET {path}"
        for first_pass in (True, False):
            start = 0
            previous: list[str] = []
            while True:
                count = check_total and first_pass and start == 0
                page_query = query | {
                    "startIndex": str(start),
                    "limit": str(limit),
                    "enableTotalRecordCount": _bool(count),
                }
                data = await self._request("GET", path, params=page_query)
                entries, reported = self._page_entries(data, what)
                if count:
                    total = reported
                raw_ids: list[str] = []
                # A page is turned into models and handed on PARSE_CHUNK items at
                # a time: the event loop runs in between, and only a chunk's
                # models are alive at once (a 2,000-item page of models would
                # outlive young garbage collections and push for full ones).
                for first in range(0, len(entries), PARSE_CHUNK):
                    if first:
                        await asyncio.sleep(0)
                    chunk: list[Item] = []
                    for entry in entries[first : first + PARSE_CHUNK]:
                        item = self._parse(Item.from_json, entry, what)
                        raw_ids.append(item.id)
                        if item.id not in seen:
                            seen[item.id] = None
                            chunk.append(item)
                    if chunk:
                        yield chunk
                if len(entries) < limit or raw_ids == previous:
                    # A short page ends the listing; the same page twice means
                    # the server ignores startIndex, so stop instead of looping.
                    break
                if not first_pass and total is not None and len(seen) >= total:
                    break
                previous = raw_ids
                start += len(entries)
            if total is None or len(seen) >= total:
                return

    async def get_items(
        self,
        user_id: str | None,
        ids: Sequence[str],
        *,
        fields: Sequence[str] = DEFAULT_FIELDS,
    ) -> list[Item]:
        """Fetch specific items (any type) with their user data.

        Long id lists are split into requests of 100 ids, sent concurrently within
        the client's concurrency limit. Unknown ids are left out of the result.
        """
        wanted = list(dict.fromkeys(ids))
        chunks = [
            wanted[start : start + IDS_PER_REQUEST]
            for start in range(0, len(wanted), IDS_PER_REQUEST)
        ]

        async def fetch(chunk: list[str]) -> list[Item]:
            found: list[Item] = []
            async for page in self.iter_items(
                user_id,
                item_types=None,
                fields=fields,
                ids=chunk,
                # One more than asked for: a complete answer is a short page.
                page_size=len(chunk) + 1,
                check_total=False,
            ):
                found.extend(page)
            return found

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(fetch(chunk)) for chunk in chunks]
        except ExceptionGroup as errors:
            # Callers catch JellyfinError, not groups: raise the first failure
            # (the task group has cancelled the other chunks).
            raise errors.exceptions[0] from None
        result: dict[str, Item] = {}
        for task in tasks:
            for item in task.result():
                result.setdefault(item.id, item)
        return list(result.values())

    async def get_libraries(self) -> list[Library]:
        """Every library of the server (``GET /Library/VirtualFolders``, admin)."""
        what = "GET /Library/VirtualFolders"
        data = await self._request("GET", "/Library/VirtualFolders")
        if not isinstance(data, list):
            raise JellyfinResponseError(f"{what}: the answer is not a list")
        return [self._parse(Library.from_json, entry, what) for entry in data]

    async def get_views(self, user_id: str) -> list[Library]:
        """The libraries a user can open (``GET /UserViews``, 10.8 ``/Users/{id}/Views``).

        A listing below a library the user cannot open is refused as
        unauthorised, so listings per library keep to these.
        """
        _check_id(user_id, "user id")
        # Libraries the user hid from "My Media" are still theirs to open.
        query = {"includeHidden": "true"}
        if (await self._capabilities()).generic_user_data:
            path = "/UserViews"
            query["userId"] = user_id
        else:
            path = f"/Users/{user_id}/Views"
        data = await self._request("GET", path, params=query)
        entries, _ = self._page_entries(data, f"GET {path}")
        return [self._parse(Library.from_json, e, f"GET {path}") for e in entries]

    # --------------------------------------------------------------- plugins

    async def get_plugins(self) -> list[Plugin]:
        """The installed plugins (``GET /Plugins``, administrators)."""
        what = "GET /Plugins"
        data = await self._request("GET", "/Plugins")
        if not isinstance(data, list):
            raise JellyfinResponseError(f"{what}: the answer is not a list")
        return [self._parse(Plugin.from_json, entry, what) for entry in data]

    async def get_plugin_configuration(self, plugin_id: str) -> dict[str, Any]:
        """A plugin's configuration document, as the plugin stores it.

        Raises:
            JellyfinNotFoundError: the plugin is not installed.
        """
        path = f"/Plugins/{_check_id(plugin_id, 'plugin id')}/Configuration"
        data = await self._request("GET", path)
        if not isinstance(data, dict):
            raise JellyfinResponseError(f"GET {path}: the answer is not an object")
        return data

    async def set_plugin_configuration(
        self, plugin_id: str, configuration: Mapping[str, Any]
    ) -> None:
        """Replace a plugin's configuration (one request: all of it or nothing).

        Raises:
            JellyfinNotFoundError: the plugin is not installed.
        """
        path = f"/Plugins/{_check_id(plugin_id, 'plugin id')}/Configuration"
        await self._request("POST", path, body=configuration, retry=_Retry.UNSENT)

    # --------------------------------------------------------------- user data

    async def get_resume(
        self,
        user_id: str,
        *,
        item_types: Sequence[str] | None = DEFAULT_ITEM_TYPES,
        parent_id: str | None = None,
    ) -> list[Item]:
        """A user's items in progress, as ``GET /UserItems/Resume`` lists them (10.9+).

        On 12.0 an alternate version in progress is listed as itself, with its own
        position, one version per title (API-NOTES §9.2); ``/Items`` never lists it.
        """
        _check_id(user_id, "user id")
        query = {
            "userId": user_id,
            "enableUserData": "true",
            "enableImages": "false",
            "enableTotalRecordCount": "false",
        }
        if item_types:
            query["includeItemTypes"] = ",".join(item_types)
        if parent_id is not None:
            query["parentId"] = _check_id(parent_id, "parent id")
        what = "GET /UserItems/Resume"
        data = await self._request("GET", "/UserItems/Resume", params=query)
        entries, _ = self._page_entries(data, what)
        return [self._parse(Item.from_json, entry, what) for entry in entries]

    async def get_item(self, user_id: str, item_id: str) -> Item:
        """One item with every field (``MediaSources`` included) and the user's data.

        Finds the title of an alternate version, which no listing shows on 12.0.

        Raises:
            JellyfinNotFoundError: no such item for this user.
        """
        _check_id(user_id, "user id")
        _check_id(item_id, "item id")
        if (await self._capabilities()).generic_user_data:
            path, query = f"/Items/{item_id}", {"userId": user_id}
        else:
            path, query = f"/Users/{user_id}/Items/{item_id}", {}
        data = await self._request("GET", path, params=query)
        return self._parse(Item.from_json, data, f"GET {path}")

    async def get_user_data(self, user_id: str, item_id: str) -> UserData:
        """Read one user's data for one item.

        10.9+: ``GET /UserItems/{itemId}/UserData``; 10.8 has no such route and
        answers 500 for an unknown item on the single-item route, so it lists the
        item by id instead.

        Raises:
            JellyfinNotFoundError: no such item (or user) for this user.
        """
        _check_id(user_id, "user id")
        _check_id(item_id, "item id")
        capabilities = await self._capabilities()
        if capabilities.generic_user_data:
            path = f"/UserItems/{item_id}/UserData"
            data = await self._request("GET", path, params={"userId": user_id})
            return self._parse(UserData.from_json, data, f"GET {path}")
        items = await self.get_items(user_id, [item_id], fields=())
        if not items:
            raise JellyfinNotFoundError(f"item {item_id} not found for user {user_id}")
        if items[0].user_data is None:
            raise JellyfinResponseError(f"item {item_id} came without UserData")
        return items[0].user_data

    async def set_user_data(
        self,
        user_id: str,
        item_id: str,
        desired: UserData,
        fields: Collection[SyncField],
        *,
        current: UserData | None = None,
        verify: bool = False,
    ) -> UserData:
        """Make the server's values of ``fields`` equal those of ``desired``.

        10.9+ sends one generic update with every wanted non-null value (the full
        wanted state, as 10.11 needs), clears a rating with ``DELETE .../Rating`` and
        a last-played date with ``MarkUnplayed`` followed by re-writing played, play
        count and position. 10.8 uses the played/unplayed, favourite and likes
        routes; a rating maps to likes (>= 6.5 -> 10, lower -> 1, ``None`` -> clear).

        Args:
            user_id: The user whose data to write.
            item_id: The item.
            desired: Wanted values; only ``fields`` are read.
            fields: Fields to write.
            current: The server's state as last read: skips no-op writes and
                predicts 10.8 side effects. Read from the server when needed.
            verify: Read the item back and compare (always done on 10.11.0-10.11.9).

        Returns:
            The server's user data afterwards (from the last answer or a read-back).

        Raises:
            JellyfinUnsupportedError: the version cannot give a field the wanted
                value (e.g. a position on 10.8); nothing was written.
            JellyfinVerificationError: the read-back differs from what was written.
        """
        _check_id(user_id, "user id")
        _check_id(item_id, "item id")
        if desired.rating is not None and not 0 <= desired.rating <= 10:
            raise ValueError("rating must be between 0 and 10")
        wanted = frozenset(SyncField(f) for f in fields)
        capabilities = await self._capabilities()
        if current is None and needs_current(capabilities, desired, wanted):
            current = await self.get_user_data(user_id, item_id)
        plan = plan_write(capabilities, desired, wanted, current)
        result: UserData | None = None
        for op in plan.ops:
            result = await self._send_op(capabilities, user_id, item_id, op)
        if plan.ops and capabilities.verify_writes:
            verify = True
        if result is None and current is not None and not verify:
            return current
        if result is None or verify:
            result = await self.get_user_data(user_id, item_id)
        if verify:
            likes_only = not capabilities.set_numeric_rating
            wrong = [
                f
                for f in sorted(plan.fields)
                if not values_match(f, result, plan.expected, likes_only=likes_only)
            ]
            if wrong:
                names = ", ".join(f.value for f in wrong)
                raise JellyfinVerificationError(
                    f"item {item_id}: the server holds other values for {names} "
                    "than were written",
                    fields=wrong,
                    expected=plan.expected,
                    actual=result,
                )
        return result

    async def _send_op(
        self, capabilities: Capabilities, user_id: str, item_id: str, op: WriteOp
    ) -> UserData | None:
        generic = capabilities.generic_user_data
        query: dict[str, str] = {"userId": user_id} if generic else {}
        prefix = "" if generic else f"/Users/{user_id}"
        body: Mapping[str, Any] | None = None
        match op.kind:
            case OpKind.UPDATE:
                method, path, body = "POST", f"/UserItems/{item_id}/UserData", op.body
            case OpKind.MARK_PLAYED | OpKind.MARK_UNPLAYED:
                method = "POST" if op.kind is OpKind.MARK_PLAYED else "DELETE"
                path = (
                    f"/UserPlayedItems/{item_id}"
                    if generic
                    else f"{prefix}/PlayedItems/{item_id}"
                )
                if op.date_played is not None:
                    query["datePlayed"] = format_datetime(op.date_played)
            case OpKind.FAVORITE | OpKind.UNFAVORITE:
                method = "POST" if op.kind is OpKind.FAVORITE else "DELETE"
                path = (
                    f"/UserFavoriteItems/{item_id}"
                    if generic
                    else f"{prefix}/FavoriteItems/{item_id}"
                )
            case OpKind.SET_LIKES | OpKind.CLEAR_RATING:
                method = "POST" if op.kind is OpKind.SET_LIKES else "DELETE"
                path = (
                    f"/UserItems/{item_id}/Rating"
                    if generic
                    else f"{prefix}/Items/{item_id}/Rating"
                )
                if op.likes is not None:
                    query["likes"] = _bool(op.likes)
        data = await self._request(
            method,
            path,
            params=query,
            body=body,
            retry=_Retry.ALWAYS if op.repeatable else _Retry.UNSENT,
        )
        if data is None:
            return None
        return self._parse(UserData.from_json, data, f"{method} {path}")

    # ---------------------------------------------------------------- plumbing

    async def _capabilities(self) -> Capabilities:
        if self._server_info is None:
            async with self._info_lock:
                if self._server_info is None:
                    await self.get_system_info()
        return self.capabilities

    async def _items_route(self, user_id: str | None) -> tuple[str, dict[str, str]]:
        if user_id is None:
            return "/Items", {}
        _check_id(user_id, "user id")
        if (await self._capabilities()).generic_user_data:
            return "/Items", {"userId": user_id}
        return f"/Users/{user_id}/Items", {}

    @staticmethod
    def _parse[T](parser: Callable[[object], T], data: object, what: str) -> T:
        try:
            return parser(data)
        except JellyfinResponseError as err:
            raise JellyfinResponseError(f"{what}: {err}") from err

    @staticmethod
    def _page_entries(data: object, what: str) -> tuple[list[Any], int | None]:
        """The raw items of a listing page and its total count, if reported."""
        if not isinstance(data, Mapping) or not isinstance(data.get("Items"), list):
            raise JellyfinResponseError(f"{what}: the answer has no Items list")
        total = data.get("TotalRecordCount")
        if not isinstance(total, int) or isinstance(total, bool):
            total = None
        return data["Items"], total

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
        retry: _Retry = _Retry.ALWAYS,
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
        self, err: JellyfinError, attempt: int, retry: _Retry
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
        if retry is _Retry.UNSENT:
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
