"""A simulated Jellyfin server (aiohttp) that behaves like Jellyfin 10.8 to 10.11.

Behaviour follows ``shared/jellyfin/API-NOTES.md`` (section numbers cited in the
docstrings); every request and response is checked against the official OpenAPI
document of the simulated version by :mod:`tests.simulator.conformance`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime as format_http_date
import json
import random
import secrets
import socket
import time
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote_plus
import uuid

from aiohttp import ClientSession, ClientTimeout, web
from multidict import CIMultiDict

from . import conformance, plugins, versions
from .library import (
    LibrarySpec,
    SimItem,
    build_items,
    jellyfin_item_id,
    replaced_item,
)
from .userdata import (
    RatingOutOfRangeError,
    UserDataRow,
    apply_update,
    format_date,
    mark_played,
    mark_unplayed,
    parse_date,
    playback_progress,
    playback_start,
)

JSON_TYPE = "application/json"
ERROR_TEXT = "Error processing request."
EMPTY_GUID = "0" * 32

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def parse_version(version: str) -> tuple[int, int, int]:
    """Parse ``"10.11.11"`` into ``(10, 11, 11)``."""
    parts = [int(p) for p in version.split(".")]
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


class ApiError(Exception):
    """An error answer: status plus Jellyfin's body for it."""

    def __init__(self, status: int, text: str = ERROR_TEXT, *, problem: bool = False):
        """Create the error; ``problem`` sends ASP.NET ProblemDetails JSON."""
        super().__init__(status, text)
        self.status = status
        self.text = text
        self.problem = problem

    def response(self) -> web.Response:
        """Build the HTTP response Jellyfin sends for this error."""
        if self.problem:
            titles = {400: "Bad Request", 403: "Forbidden", 404: "Not Found"}
            body = {
                "type": "https://tools.ietf.org/html/rfc9110#section-15.5."
                + {400: "1", 403: "4", 404: "5"}.get(self.status, "1"),
                "title": titles.get(self.status, "Error"),
                "status": self.status,
                "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
            }
            return web.Response(
                status=self.status,
                body=json.dumps(body).encode(),
                content_type="application/problem+json",
                charset="utf-8",
            )
        if self.status == 401 and not self.text:
            return web.Response(status=401)
        return web.Response(status=self.status, text=self.text)


def not_found() -> ApiError:
    """``NotFound()`` of an ``[ApiController]``: 404 with ProblemDetails JSON."""
    return ApiError(404, problem=True)


def bad_request() -> ApiError:
    """Model-binding failure: 400 with ProblemDetails JSON."""
    return ApiError(400, problem=True)


# --------------------------------------------------------------------------------------
# Authentication (API-NOTES §1.1)


@dataclass(slots=True)
class Caller:
    """Who made a request."""

    token_present: bool = False
    valid: bool = False
    is_api_key: bool = False
    user_id: str | None = None
    is_admin: bool = False


def _parse_auth_header(value: str, *, allow_emby: bool) -> dict[str, str] | None:
    """Parse ``MediaBrowser Token="..", Client=".."`` (keys case-sensitive)."""
    scheme, sep, rest = value.strip().partition(" ")
    if not sep:
        return None
    schemes = {"mediabrowser", "emby"} if allow_emby else {"mediabrowser"}
    if scheme.lower() not in schemes:
        return None
    params: dict[str, str] = {}
    for part in rest.split(","):
        key, eq, raw = part.strip().partition("=")
        if not eq:
            continue
        params[key.strip()] = unquote_plus(raw.strip().strip('"'))
    return params


def find_token(
    request: web.Request, *, legacy: bool, modern: bool = False
) -> str | None:
    """Return the token as ``AuthorizationContext`` finds it, or None.

    10.8-10.10: ``X-Emby-Authorization`` (else ``Authorization``; schemes
    MediaBrowser/Emby), ``X-Emby-Token``, ``X-MediaBrowser-Token``, ``?ApiKey``,
    ``?api_key``. 10.11 (``modern``) reads ``Authorization`` first and the legacy
    sources only with ``EnableLegacyAuthorization``; without it only
    ``Authorization: MediaBrowser Token=..`` and ``?ApiKey`` work.
    """
    headers = request.headers
    if not modern:
        header_value = headers.get("X-Emby-Authorization") or headers.get(
            "Authorization"
        )
    elif legacy:
        header_value = headers.get("Authorization") or headers.get(
            "X-Emby-Authorization"
        )
    else:
        header_value = headers.get("Authorization")
    token = None
    if header_value:
        params = _parse_auth_header(header_value, allow_emby=legacy)
        if params:
            token = params.get("Token") or None
    if token is None and legacy:
        token = headers.get("X-Emby-Token") or headers.get("X-MediaBrowser-Token")
    if token is None:
        for key, value in request.query.items():
            if key.lower() == "apikey" and value:
                token = value
                break
    if token is None and legacy:
        for key, value in request.query.items():
            if key.lower() == "api_key" and value:
                token = value
                break
    return token


# --------------------------------------------------------------------------------------
# Control surfaces


class Faults:
    """Fault injection for one server (all methods take effect immediately)."""

    def __init__(self, server: SimulatedServer) -> None:
        """Bind to a server."""
        self._server = server
        self.is_down = False
        self.fail_remaining = 0
        self.fail_status = 500
        self.fail_probability = 0.0
        self.fail_probability_status = 500
        self.delay = 0.0
        self.truncate_remaining = 0
        self.invalid_json_remaining = 0
        self.html_remaining = 0
        self.key_revoked = False
        self.is_starting = False
        self.route_failures: dict[tuple[str, str], list[Any]] = {}
        self._rng = random.Random(0)

    def down(self) -> None:
        """Stop listening and drop open connections: clients get connection errors."""
        self.is_down = True
        self._server._go_down()

    def up(self) -> None:
        """Listen again on the same port (accepting starts on the next loop turn)."""
        self.is_down = False
        self._server._go_up()

    def fail_next(self, n: int, status: int = 500) -> None:
        """Answer the next ``n`` requests with ``status`` (text body, like Jellyfin)."""
        self.fail_remaining = n
        self.fail_status = status

    def fail_fraction(self, p: float, status: int = 500, *, seed: int = 0) -> None:
        """Answer a fraction ``p`` of requests with ``status`` (seeded, repeatable)."""
        self.fail_probability = p
        self.fail_probability_status = status
        self._rng = random.Random(seed)

    def latency(self, seconds: float) -> None:
        """Delay every answer by ``seconds``."""
        self.delay = seconds

    def truncate_next(self, n: int) -> None:
        """Cut the next ``n`` bodies mid-way and close the connection."""
        self.truncate_remaining = n

    def invalid_json_next(self, n: int) -> None:
        """Send a 200 ``application/json`` body that is not valid JSON ``n`` times."""
        self.invalid_json_remaining = n

    def html_next(self, n: int) -> None:
        """Send an HTML 200 page instead of JSON ``n`` times (captive portal, proxy)."""
        self.html_remaining = n

    def fail_route(
        self, method: str, route: str, status: int = 500, times: int | None = 1
    ) -> None:
        """Answer ``times`` requests to one route with ``status`` (None: until cleared).

        ``route`` is the route template as served, e.g.
        ``"/Plugins/{pluginId}/Configuration"``. The handler does not run, so
        nothing is changed (an exception before the write, as Jellyfin's exception
        middleware answers it: text ``Error processing request.``).
        """
        self.route_failures[(method.upper(), route)] = [status, times]

    def route_failure(self, method: str, route: str) -> int | None:
        """Return the injected status for this request of a failed route, if any."""
        entry = self.route_failures.get((method.upper(), route))
        if entry is None:
            return None
        status, times = entry
        if times is not None:
            if times <= 1:
                del self.route_failures[(method.upper(), route)]
            else:
                entry[1] = times - 1
        return int(status)

    def revoke_key(self) -> None:
        """Delete the API key on the server: authenticated routes answer 401."""
        self.key_revoked = True

    def restore_key(self) -> None:
        """Undo :meth:`revoke_key`."""
        self.key_revoked = False

    def starting(self, on: bool = True) -> None:
        """Simulate start-up/migrations: 503 for everything but ping (and 10.11 info)."""
        self.is_starting = on

    def clear(self) -> None:
        """Remove every fault (and come back up when down)."""
        if self.is_down:
            self.up()
        self.fail_remaining = 0
        self.fail_probability = 0.0
        self.delay = 0.0
        self.truncate_remaining = 0
        self.invalid_json_remaining = 0
        self.html_remaining = 0
        self.key_revoked = False
        self.is_starting = False
        self.route_failures.clear()

    def draw_failure(self) -> int | None:
        """Return the status of an injected failure for this request, if any."""
        if self.fail_remaining > 0:
            self.fail_remaining -= 1
            return self.fail_status
        if self.fail_probability and self._rng.random() < self.fail_probability:
            return self.fail_probability_status
        return None


@dataclass(slots=True)
class RouteCounter:
    """Traffic of one route."""

    requests: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


@dataclass(slots=True)
class RequestLogEntry:
    """One served request, for tests that check what a client read or wrote."""

    method: str
    path: str
    query: dict[str, str]
    """Query parameters as sent (first value of each name)."""
    status: int
    served: set[str] = field(default_factory=set)
    """Item ids (32-hex) the response body carried (``Items[].Id`` or ``Id``)."""


def _served_ids(payload: Any) -> set[str]:
    if isinstance(payload, dict):
        items = payload.get("Items")
        if isinstance(items, list):
            return {i["Id"] for i in items if isinstance(i, dict) and "Id" in i}
        if isinstance(payload.get("Id"), str) and "Type" in payload:
            return {payload["Id"]}
    return set()


@dataclass(slots=True)
class Counters:
    """Request and byte counters per route (``"GET /Items"``) and in total."""

    routes: dict[str, RouteCounter] = field(default_factory=dict)

    def add(self, route: str, bytes_in: int, bytes_out: int) -> None:
        """Count one request."""
        counter = self.routes.setdefault(route, RouteCounter())
        counter.requests += 1
        counter.bytes_in += bytes_in
        counter.bytes_out += bytes_out

    @property
    def requests(self) -> int:
        """Total requests."""
        return sum(c.requests for c in self.routes.values())

    @property
    def bytes_in(self) -> int:
        """Total request bytes (bodies)."""
        return sum(c.bytes_in for c in self.routes.values())

    @property
    def bytes_out(self) -> int:
        """Total response bytes (bodies)."""
        return sum(c.bytes_out for c in self.routes.values())

    def __getitem__(self, route: str) -> RouteCounter:
        """Return one route's counter (zero when never called)."""
        return self.routes.get(route, RouteCounter())


#: The Handlebars template this project documents for the Webhook plugin's Generic
#: destination (every value quoted, because Handlebars.Net renders booleans as
#: ``True``/``False`` and Guids in dashed "D" format).
DEFAULT_WEBHOOK_TEMPLATE = (
    '{"NotificationType":"{{NotificationType}}","ServerId":"{{ServerId}}",'
    '"ServerName":"{{ServerName}}","UserId":"{{UserId}}",'
    '"NotificationUsername":"{{NotificationUsername}}","ItemId":"{{ItemId}}",'
    '"ItemType":"{{ItemType}}","Name":"{{Name}}","SaveReason":"{{SaveReason}}",'
    '"Played":"{{Played}}","PlayCount":"{{PlayCount}}",'
    '"PlaybackPositionTicks":"{{PlaybackPositionTicks}}",'
    '"Favorite":"{{Favorite}}","Likes":"{{Likes}}","Rating":"{{Rating}}",'
    '"LastPlayedDate":"{{LastPlayedDate}}","UtcTimestamp":"{{UtcTimestamp}}",'
    '"Provider_tmdb":"{{Provider_tmdb}}","Provider_imdb":"{{Provider_imdb}}",'
    '"Provider_tvdb":"{{Provider_tvdb}}","SeriesName":"{{SeriesName}}",'
    '"SeasonNumber":"{{SeasonNumber}}","EpisodeNumber":"{{EpisodeNumber}}"}'
)


def _render_value(value: Any) -> str:
    """Render a value like Handlebars.Net (C# ``ToString()``, JSON-escaped here)."""
    if isinstance(value, bool):
        text = "True" if value else "False"
    elif isinstance(value, datetime):
        text = value.astimezone(UTC).strftime("%m/%d/%Y %H:%M:%S")
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    return json.dumps(text)[1:-1]


def render_template(template: str, data: dict[str, Any]) -> str:
    """Render ``{{Name}}`` placeholders (missing values render empty).

    The plugin's data object is a ``Dictionary`` with ``OrdinalIgnoreCase``
    (``[plugin v21] Helpers/DataObjectHelpers.cs:31``), so names match in any case.
    """
    folded = {key.lower(): value for key, value in data.items()}
    out: list[str] = []
    pos = 0
    while True:
        start = template.find("{{", pos)
        if start < 0:
            out.append(template[pos:])
            return "".join(out)
        end = template.find("}}", start)
        if end < 0:
            out.append(template[pos:])
            return "".join(out)
        out.append(template[pos:start])
        name = template[start + 2 : end].strip().lower()
        if folded.get(name) is not None:
            out.append(_render_value(folded[name]))
        pos = end + 2


def _json_value(value: Any) -> Any:
    """A data value as ``JsonSerializer.Serialize(data, JsonDefaults.Options)`` writes it.

    Guids in "N" format (``JsonGuidConverter``), dates by ``JsonDateTimeConverter``.
    """
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return format_date(value)
    return value


def _set_ignore_case(data: dict[str, Any], key: str, value: Any) -> None:
    """``data[key] = value`` on an ``OrdinalIgnoreCase`` dictionary (keeps the key)."""
    for existing in data:
        if existing.lower() == key.lower():
            data[existing] = value
            return
    data[key] = value


@dataclass(slots=True)
class WebhookTarget:
    """One configured Generic destination (read-only view of the configuration)."""

    url: str
    template: str


@dataclass(slots=True)
class WebhookDelivery:
    """One HTTP request the plugin sent (or tried to send)."""

    url: str
    body: str
    headers: dict[str, str]
    """Headers the plugin set: the configured ones plus ``Content-Type``."""
    status: int | None = None
    """The destination's status; None when the request failed."""
    error: str | None = None


@dataclass(slots=True)
class SaveEvent:
    """One ``IUserDataManager.UserDataSaved`` event."""

    user: str
    item_id: str
    reason: str
    data: dict[str, Any]


class Webhooks:
    """The Webhook plugin's sender, driven by :attr:`SimulatedServer.webhook_config`.

    One task per event sends to the matching Generic destinations one after the
    other (``[plugin v21] WebhookSender.cs:79-134``: ``await`` per destination);
    a failing destination is logged and the next one still gets its request
    (``WebhookSender.cs:185-196``, ``Destinations/Generic/GenericClient.cs:90-93``):
    no retry. Only ``GenericOptions`` are modelled.
    """

    def __init__(self, server: SimulatedServer) -> None:
        """Bind to a server."""
        self._server = server
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: ClientSession | None = None
        self.sent = 0
        """Requests that got an HTTP answer (any status: the plugin only logs)."""
        self.failed = 0
        """Destinations that raised (connection error, bad URL, bad template)."""
        self.deliveries: list[WebhookDelivery] = []
        """Every request sent, in order (including failed ones, ``status=None``)."""

    @property
    def targets(self) -> list[WebhookTarget]:
        """Configured Generic destinations (url, decoded template)."""
        config = self._server.webhook_config
        if config is None:
            return []
        out = []
        for option in config.get("GenericOptions") or []:
            if option is None:
                continue
            try:
                template = plugins.decode_template(option.get("Template"))
            except ValueError:
                template = ""
            out.append(WebhookTarget(option.get("WebhookUri") or "", template))
        return out

    def add(
        self,
        url: str,
        template: str | None = None,
        *,
        name: str | None = None,
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Add an enabled Generic destination for ``UserDataSaved`` to the config.

        Every item-type flag of the installed release on, no user filter, the
        template stored base64 (default :data:`DEFAULT_WEBHOOK_TEMPLATE`), a
        ``Content-Type: application/json`` header (the plugin sends ``text/plain``
        without one, ``GenericClient.cs:63-83``). ``fields`` override any option
        property (``SendAllProperties=True``, ``UserFilter=[...]``...). Returns the
        stored option.
        """
        server = self._server
        config = server.webhook_config
        if config is None:
            raise RuntimeError("the Webhook plugin is not installed")
        release = server.webhook_release
        option = plugins.default_generic_option(release)
        option["WebhookName"] = name or f"Webhook {len(self.targets) + 1}"
        option["WebhookUri"] = url
        option["NotificationTypes"] = ["UserDataSaved"]
        for flag in release.item_flags:
            option[flag] = True
        option["Template"] = plugins.encode_template(
            template or DEFAULT_WEBHOOK_TEMPLATE
        )
        wanted = {"Content-Type": JSON_TYPE} if headers is None else headers
        option["Headers"] = [{"Key": k, "Value": v} for k, v in wanted.items()]
        for key, value in fields.items():
            if key not in option:
                raise KeyError(
                    f"{key} is not a GenericOption property of {release.tag}"
                )
            option[key] = value
        if config.get("GenericOptions") is None:
            config["GenericOptions"] = []
        config["GenericOptions"].append(option)
        return option

    def clear(self) -> None:
        """Remove every Generic destination."""
        config = self._server.webhook_config
        if config is not None:
            config["GenericOptions"] = []

    def notify(self, data: dict[str, Any], item_type: str | None) -> None:
        """Handle one ``UserDataSaved`` event (``UserDataSavedNotifierEntryPoint``).

        The destination list is read when the event fires; sending happens in
        the background (an ``async void`` handler in the plugin).
        """
        config = self._server.webhook_config
        if config is None:
            return
        # Configuration.DiscordOptions.Where(...) runs first: a null array throws
        # and nothing is sent ([plugin v21] WebhookSender.cs:81-91).
        if config.get("DiscordOptions", []) is None:
            return
        options = config.get("GenericOptions")
        if not options:
            return
        snapshot = copy.deepcopy(options)
        task = asyncio.get_running_loop().create_task(
            self._send_event(snapshot, dict(data), item_type)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_event(
        self,
        options: list[dict[str, Any] | None],
        data: dict[str, Any],
        item_type: str | None,
    ) -> None:
        for option in options:
            # Where(o => o.NotificationTypes.Contains(..)): a null option or list
            # throws out of the loop (caught by the entry point, :82-85).
            if option is None or option.get("NotificationTypes") is None:
                return
            if not plugins.destination_matches(option, "UserDataSaved"):
                continue
            # [plugin v21] WebhookSender.cs:185: EnableWebhook (v16+) and the flags.
            # Properties a release lacks are ignored even if edited in by a test.
            release = self._server.webhook_release
            if release.has_enable_webhook and option.get("EnableWebhook") is False:
                continue
            if not plugins.notify_on_item(option, item_type, release):
                continue
            try:
                await self._send_generic(option, data)
            except Exception:  # noqa: BLE001
                # "Unable to send notification" (WebhookSender.cs:192-195).
                self.failed += 1

    async def _send_generic(self, option: dict[str, Any], data: dict[str, Any]) -> None:
        """``GenericClient.SendAsync`` (``[plugin v21] .../GenericClient.cs:36-94``)."""
        user_id = data.get("UserId")
        if isinstance(user_id, uuid.UUID) and not plugins.user_allowed(
            option, user_id.hex
        ):
            return
        # Fields are written into the shared data object, so later destinations of
        # the same event see them too (GenericClient.cs:45-53).
        for pair in option["Fields"]:
            if pair["Key"] and pair["Value"]:
                _set_ignore_case(data, pair["Key"], pair["Value"])
        if option.get("SendAllProperties"):
            body = json.dumps(
                {k: _json_value(v) for k, v in data.items() if v is not None},
                separators=(",", ":"),
                ensure_ascii=False,
            )
        else:
            body = render_template(plugins.decode_template(option["Template"]), data)
        has_trim_skip = self._server.webhook_release.has_trim_skip
        if has_trim_skip and option.get("TrimWhitespace") is True:
            body = body.strip()
        if has_trim_skip and option.get("SkipEmptyMessageBody") is True:
            if not body.strip():
                return
        content_type = "text/plain"
        headers: CIMultiDict[str] = CIMultiDict()
        for pair in option["Headers"]:
            if not pair["Key"] or not pair["Value"]:
                continue
            if pair["Key"].lower() == "content-type":
                content_type = pair["Value"]
            else:
                headers.add(pair["Key"], pair["Value"])
        # new StringContent(body, Encoding.UTF8, contentType)
        headers["Content-Type"] = f"{content_type}; charset=utf-8"
        url = option.get("WebhookUri")
        if not url or not url.lower().startswith(("http://", "https://")):
            # null -> InvalidOperationException, relative -> UriFormatException,
            # other schemes -> NotSupportedException: nothing is sent.
            raise ValueError(f"invalid WebhookUri {url!r}")
        record = WebhookDelivery(
            url, body, {k: ", ".join(headers.getall(k)) for k in headers}
        )
        self.deliveries.append(record)
        if self._session is None:
            self._session = ClientSession(timeout=ClientTimeout(total=10))
        try:
            async with self._session.post(
                url, data=body.encode(), headers=headers
            ) as resp:
                await resp.read()
                record.status = resp.status
        except Exception as err:
            record.error = repr(err)
            raise
        # A non-2xx answer is only logged (Extensions/HttpResponseMessageExtensions.cs).
        self.sent += 1

    async def drain(self) -> None:
        """Wait until every queued notification was sent (or failed)."""
        while self._tasks:
            # Finished tasks leave the set only when their done-callback runs, so give
            # the loop a turn each round instead of spinning on completed tasks.
            await asyncio.wait(list(self._tasks))
            await asyncio.sleep(0)

    async def close(self) -> None:
        """Finish pending notifications and close the HTTP session."""
        await self.drain()
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass(slots=True)
class SimUser:
    """A Jellyfin user on one server."""

    name: str
    id: str
    is_admin: bool
    token: str
    enable_user_preference_access: bool = True
    blocked_libraries: set[str] = field(default_factory=set)
    """Library (CollectionFolder) ids this user may not see (EnabledFolders)."""


class Actor:
    """Acts as one user on a server, through the same rules as the HTTP writes."""

    def __init__(self, server: SimulatedServer, user: SimUser) -> None:
        """Bind to a server and a user."""
        self._server = server
        self._user = user

    def watch(
        self,
        item_id: str,
        date: datetime | None = None,
        *,
        media_source_id: str | None = None,
    ) -> dict[str, Any]:
        """Play an item to the end: PlaybackStart then PlaybackFinished saves.

        ``media_source_id`` picks a version; 12.0 records that version, older
        versions the item (:meth:`SimulatedServer._playback_target`). A finished
        version is played, which 12.0 passes on to the title's other versions
        ([v12.0-rc5] Emby.Server.Implementations/Session/SessionManager.cs:986-992).
        """
        server = self._server
        item = server._playback_target(server.require_item(item_id), media_source_id)
        now = date or server.now()
        row = server.row(self._user.id, item)
        playback_start(row, now=now, resumable=False)
        server.save(self._user, item, row, "PlaybackStart")
        row = server.row(self._user.id, item)
        row.played = True
        row.playback_position_ticks = 0
        row.last_played_date = now
        server.save(self._user, item, row, "PlaybackFinished")
        server._propagate(self._user, item, played=True)
        return server.user_data(self._user.name, item_id)

    def start(self, item_id: str) -> dict[str, Any]:
        """Start playback: play count up, last played now (PlaybackStart save)."""
        server = self._server
        item = server.require_item(item_id)
        row = server.row(self._user.id, item)
        playback_start(row, now=server.now(), resumable=True)
        server.save(self._user, item, row, "PlaybackStart")
        return server.user_data(self._user.name, item_id)

    def progress(
        self,
        item_id: str,
        position_ticks: int,
        *,
        media_source_id: str | None = None,
        when: datetime | None = None,
    ) -> dict[str, Any]:
        """Report a playback position (PlaybackProgress save, resume thresholds).

        ``media_source_id`` picks a version as for :meth:`watch`; ``when`` also sets
        the last played date (a playback that started then).
        """
        server = self._server
        item = server._playback_target(server.require_item(item_id), media_source_id)
        row = server.partial_row(self._user.id, item)
        playback_progress(
            row,
            position_ticks=position_ticks,
            runtime_ticks=item.runtime_ticks,
            kind=item.type,
        )
        if when is not None:
            row.last_played_date = when
        server.save(self._user, item, row, "PlaybackProgress")
        return server.user_data(self._user.name, item_id)

    def mark_played(
        self, item_id: str, date_played: datetime | None = None
    ) -> dict[str, Any]:
        """Toggle played on (TogglePlayed, the version's LastPlayedDate rule)."""
        self._server.do_mark_played(self._user, item_id, date_played)
        return self._server.user_data(self._user.name, item_id)

    def mark_unplayed(self, item_id: str) -> dict[str, Any]:
        """Toggle played off (TogglePlayed)."""
        self._server.do_mark_unplayed(self._user, item_id)
        return self._server.user_data(self._user.name, item_id)

    def favorite(self, item_id: str, on: bool = True) -> dict[str, Any]:
        """Set or clear the favourite flag (UpdateUserRating)."""
        self._server.do_favorite(self._user, item_id, on)
        return self._server.user_data(self._user.name, item_id)

    def rate(self, item_id: str, rating: float | None) -> dict[str, Any]:
        """Set a numeric rating 0-10 or clear it (UpdateUserData / rating delete)."""
        server = self._server
        item = server.require_item(item_id)
        row = server.row(self._user.id, item)
        row.set_rating(rating)
        server.save(self._user, item, row, "UpdateUserRating")
        return server.user_data(self._user.name, item_id)

    def like(self, item_id: str, likes: bool | None) -> dict[str, Any]:
        """Set likes (rating 10), dislikes (rating 1) or clear (UpdateUserRating)."""
        self._server.do_likes(self._user, item_id, likes)
        return self._server.user_data(self._user.name, item_id)

    def set_user_data(self, item_id: str, **fields: Any) -> dict[str, Any]:
        """Apply a generic update (``UpdateUserItemDataDto`` fields, any case).

        Values: ``PlaybackPositionTicks``, ``PlayCount``, ``IsFavorite``, ``Likes``,
        ``Played``, ``LastPlayedDate`` (datetime), ``Rating``. No side effects.
        """
        server = self._server
        item = server.require_item(item_id)
        row = server.partial_row(self._user.id, item)
        apply_update(row, {k.lower(): v for k, v in fields.items()})
        server.save(self._user, item, row, "UpdateUserData")
        return server.user_data(self._user.name, item_id)


# --------------------------------------------------------------------------------------
# The server


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """Where a served route is documented."""

    doc: str
    doc_path: str
    user_in_path: bool = False
    """The route has ``{userId}`` in the path but the document has ``?userId=``."""
    runtime_schema: Callable[[web.Request], dict[str, Any] | None] | None = None
    """Schema of the runtime type where the document names a base class."""


class SimulatedServer:
    """One simulated Jellyfin server on 127.0.0.1.

    Args:
        name: the server name (``ServerName``).
        version: the Jellyfin version, ``10.8.x`` to ``10.11.x`` or ``12.0.x``
            (legacy authorization off by default, alternate versions as one title:
            :mod:`.versions`).
        media_root: the media folder; part of every item path and hence item id.
        library: what media the server holds (shared seed -> shared media).
        users: user names; the first one is an administrator.
        legacy_auth: None for the version's default (on up to 10.11, off on 12.0);
            False for 12.0's rule (only ``Authorization: MediaBrowser Token=..`` and
            ``?ApiKey=``). The switch exists from 10.11 on.
        drop_items: fraction of movies/episodes this server lacks.
        extra_items: number of movies only this server has.
        api_key: the API key (None: random 32-hex).
        server_id: the SystemId (None: derived from the name, so give servers
            distinct names; user ids derive from name and user name too).
        webhook_plugin: whether the Webhook plugin is installed at start (with a
            fresh configuration: no destinations; see :meth:`install_webhook_plugin`).
    """

    def __init__(
        self,
        name: str = "Jellyfin",
        version: str = "10.11.11",
        media_root: str = "/media",
        library: LibrarySpec | None = None,
        users: Iterable[str] = ("alice", "bob"),
        legacy_auth: bool | None = None,
        drop_items: float = 0.0,
        extra_items: int = 0,
        api_key: str | None = None,
        server_id: str | None = None,
        webhook_plugin: bool = True,
    ) -> None:
        """Build the server's library and users (nothing listens until start)."""
        self.name = name
        self.version = version
        self.version_tuple = parse_version(version)
        self.doc = conformance.doc_version_for(self.version_tuple)
        if legacy_auth is False and self.version_tuple[:2] < (10, 11):
            raise ValueError("EnableLegacyAuthorization only exists from 10.11 on")
        default_legacy = self.version_tuple[0] < 12
        self.legacy_auth = default_legacy if legacy_auth is None else legacy_auth
        self.media_root = media_root
        self.library_spec = library or LibrarySpec()
        self.api_key = api_key or secrets.token_hex(16)
        self.server_id = server_id or uuid.uuid5(uuid.NAMESPACE_URL, name).hex
        self._users: dict[str, SimUser] = {}
        for index, user_name in enumerate(users):
            user_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{name}/user/{user_name}").hex
            self._users[user_name] = SimUser(
                user_name, user_id, index == 0, secrets.token_hex(16)
            )
        self._users_by_id = {u.id: u for u in self._users.values()}
        self._items: list[SimItem] = build_items(
            self.library_spec,
            server_name=name,
            media_root=media_root,
            drop_items=drop_items,
            extra_items=extra_items,
            version=self.version_tuple,
        )
        self._by_id: dict[str, SimItem] = {i.id: i for i in self._items}
        self._by_identity: dict[str, SimItem] = {i.identity: i for i in self._items}
        self._deleted: dict[str, SimItem] = {}
        self._generation = 0
        self._instance_rows: dict[tuple[str, str], UserDataRow] = {}
        self._query_cache: dict[tuple[Any, ...], tuple[int, list[SimItem]]] = {}
        self._children: dict[str, list[SimItem]] = {}
        self._members: dict[str, list[SimItem]] = {}
        self._alternates: dict[str, list[SimItem]] = {}
        self._reindex_children()
        self._data: dict[str, dict[str, UserDataRow]] = {
            u.id: {} for u in self._users.values()
        }
        self._detached: dict[str, dict[str, UserDataRow]] = {
            u.id: {} for u in self._users.values()
        }
        self._vanished: dict[str, float] = {}
        self.faults = Faults(self)
        self.webhook_release = plugins.webhook_release(self.version_tuple)
        """The Webhook plugin release this version installs (:mod:`.plugins`)."""
        self._webhook_config: dict[str, Any] | None = None
        self._webhook_saved_config: dict[str, Any] | None = None
        if webhook_plugin:
            self.install_webhook_plugin()
        self.webhooks = Webhooks(self)
        self.counters = Counters()
        self.request_log: deque[RequestLogEntry] = deque(maxlen=20_000)
        """The last 20 000 requests (method, path, query, status, served ids)."""
        self.events: list[SaveEvent] = []
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self._up_task: asyncio.Task[None] | None = None
        self._routes: dict[tuple[str, str], RouteInfo] = {}

    # ---------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start listening (port 0: any free port)."""
        app = web.Application(
            middlewares=[self._count_mw, self._conformance_mw, self._fault_mw],
            client_max_size=16 * 1024 * 1024,
        )
        self._add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self._host = host
        sock = self._listen_socket(host, port)
        self._port = sock.getsockname()[1]
        self._site = web.SockSite(self._runner, sock)
        await self._site.start()

    async def stop(self) -> None:
        """Stop listening, finish webhooks and release every resource."""
        if self._up_task is not None:
            await self._up_task
            self._up_task = None
        await self.webhooks.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None

    async def __aenter__(self) -> Self:
        """Start on a free port."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop."""
        await self.stop()

    @staticmethod
    def _listen_socket(host: str, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
        return sock

    def _go_down(self) -> None:
        site = self._site
        if site is None:
            return
        server = site._server
        if server is not None:
            server.close()
        if self._runner is not None and self._runner.server is not None:
            for handler in list(self._runner.server.connections):
                transport = handler.transport
                if transport is not None:
                    transport.close()

    def _go_up(self) -> None:
        if self._runner is None:
            return
        old = self._site
        sock = self._listen_socket(self._host, self._port)
        site = web.SockSite(self._runner, sock)
        self._site = site

        async def restart() -> None:
            if old is not None:
                await old.stop()
            await site.start()

        self._up_task = asyncio.get_running_loop().create_task(restart())

    async def wait_up(self) -> None:
        """Wait until a previous :meth:`Faults.up` is fully listening."""
        if self._up_task is not None:
            await self._up_task
            self._up_task = None

    @property
    def port(self) -> int:
        """The listening port."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{self._host}:{self._port}"

    # ---------------------------------------------------------------- data access

    def now(self) -> datetime:
        """The server clock (tests may replace :attr:`clock`)."""
        return self.clock()

    @property
    def users(self) -> dict[str, str]:
        """User name -> user id (32-hex)."""
        return {name: user.id for name, user in self._users.items()}

    def restrict_library(
        self, user_name: str, library: str, *, blocked: bool = True
    ) -> None:
        """Hide a library from a user (policy EnabledFolders).

        ``library`` is a library name: "Movies", "Shows", "Collections", "Music",
        "Books", "Home videos" or "Music videos".
        """
        folder = self.find_item(type="CollectionFolder", name=library)
        user = self._users[user_name]
        if blocked:
            user.blocked_libraries.add(folder.id)
        else:
            user.blocked_libraries.discard(folder.id)
        self._generation += 1

    def _can_see(self, user: SimUser | None, item: SimItem) -> bool:
        return user is None or item.library_id not in user.blocked_libraries

    def reset_counters(self) -> None:
        """Zero the request and byte counters."""
        self.counters = Counters()

    def user_token(self, name: str) -> str:
        """Return a device token of a user (the user's own session)."""
        return self._users[name].token

    def set_user_preference_access(self, name: str, allowed: bool) -> None:
        """Set ``EnableUserPreferenceAccess`` of a user's policy."""
        self._users[name].enable_user_preference_access = allowed

    @property
    def items(self) -> list[SimItem]:
        """The current items (including library folders)."""
        return list(self._items)

    def find_item(
        self,
        *,
        type: str | None = None,
        name: str | None = None,
        predicate: Callable[[SimItem], bool] | None = None,
    ) -> SimItem:
        """Return the first item matching all given criteria.

        Raises:
            LookupError: no item matches.
        """
        for item in self._items:
            if type is not None and item.type != type:
                continue
            if name is not None and item.name != name:
                continue
            if predicate is not None and not predicate(item):
                continue
            return item
        raise LookupError(f"no item with type={type} name={name}")

    def item_by_key(self, identity: str) -> SimItem:
        """Return the item with a cross-server identity key."""
        return self._by_identity[identity]

    def get_item(self, item_id: str) -> SimItem | None:
        """Return an item by id (any Guid format), or None."""
        return self._by_id.get(item_id.replace("-", "").lower())

    def require_item(self, item_id: str) -> SimItem:
        """Return an item by id or raise LookupError."""
        item = self.get_item(item_id)
        if item is None:
            raise LookupError(f"no item {item_id}")
        return item

    def act(self, user_name: str) -> Actor:
        """Act as a user (watch, pause, favourite, rate, ...)."""
        return Actor(self, self._users[user_name])

    def _data_key(self, item: SimItem) -> str:
        """Where a user's row lives: keys[0] (10.8-10.10) or the item (10.11)."""
        if self.version_tuple[:2] >= (10, 11):
            return item.id
        return item.user_data_keys()[0]

    def row(self, user_id: str, item: SimItem) -> UserDataRow:
        """Return a copy of the stored row (default when none)."""
        stored = self._data[user_id].get(self._data_key(item))
        return stored.copy() if stored is not None else UserDataRow()

    @property
    def has_stale_user_data_bug(self) -> bool:
        """10.11.0-10.11.9 read user data from a possibly stale item instance (#14981)."""
        return (10, 11, 0) <= self.version_tuple < (10, 11, 10)

    def partial_row(self, user_id: str, item: SimItem) -> UserDataRow:
        """Return the row a partial save (progress, generic update) starts from.

        On 10.11.0-10.11.9 that is the copy cached on the item instance by the last
        such save, not the stored row, so fields changed meanwhile through other
        routes (favourite, played, rating) are written back stale (API-NOTES §3.4,
        #14981; an approximation of the instance cache). Later versions read the
        stored row.
        """
        if self.has_stale_user_data_bug:
            cached = self._instance_rows.get((user_id, item.id))
            if cached is not None:
                return cached.copy()
        return self.row(user_id, item)

    def save(
        self,
        user: SimUser,
        item: SimItem,
        row: UserDataRow,
        reason: str,
    ) -> None:
        """Store a row and raise ``UserDataSaved`` (webhooks, :attr:`events`)."""
        self._data[user.id][self._data_key(item)] = row.copy()
        if reason in {"PlaybackProgress", "UpdateUserData"}:
            self._instance_rows[(user.id, item.id)] = row.copy()
        self._generation += 1
        dto = self.user_data_dto(user.id, item)
        self.events.append(SaveEvent(user.name, item.id, reason, dto))
        if self._webhook_config is not None:
            self.webhooks.notify(self._webhook_data(user, item, row, reason), item.type)

    def _webhook_data(
        self, user: SimUser, item: SimItem, row: UserDataRow, reason: str
    ) -> dict[str, Any]:
        now = self.now()
        data: dict[str, Any] = {
            "NotificationType": "UserDataSaved",
            "ServerId": self.server_id,
            "ServerName": self.name,
            "ServerVersion": ".".join(str(p) for p in self.version_tuple),
            # The plugin's own setting, not the server's address
            # ([plugin v21] Helpers/DataObjectHelpers.cs:35).
            "ServerUrl": (self._webhook_config or {}).get("ServerUrl") or "",
            "Timestamp": now,
            "UtcTimestamp": now,
            "Name": item.name,
            # Guids: "D" in templates, "N" with SendAllProperties.
            "ItemId": uuid.UUID(hex=item.id),
            "ItemType": item.type,
            "Year": item.year,
            "SeriesName": item.series_name,
            # ParentIndexNumber is a disc number on Audio: only episodes have one.
            "SeasonNumber": (
                item.parent_index_number if item.type == "Episode" else None
            ),
            "EpisodeNumber": item.index_number if item.type == "Episode" else None,
            "Likes": bool(row.likes),
            "Rating": row.rating or 0,
            "PlaybackPositionTicks": row.playback_position_ticks,
            "PlayCount": row.play_count,
            "Favorite": row.is_favorite,
            "Played": row.played,
            "LastPlayedDate": row.last_played_date,
            "SaveReason": reason,
            "NotificationUsername": user.name,
            "UserId": uuid.UUID(hex=user.id),
        }
        for key, value in item.provider_ids.items():
            data[f"Provider_{key.lower()}"] = value
        return data

    # ---------------------------------------------------------------- plugins

    @property
    def webhook_config(self) -> dict[str, Any] | None:
        """The Webhook plugin's configuration as stored, None when not installed.

        The wire shape of ``GET /Plugins/{id}/Configuration`` (PascalCase,
        ``Template`` base64), except that null properties are kept as None here
        (the server omits them). Mutable: tests may edit it in place.
        """
        return self._webhook_config

    @property
    def webhook_plugin_installed(self) -> bool:
        """Whether the Webhook plugin is installed (and active)."""
        return self._webhook_config is not None

    def install_webhook_plugin(self) -> None:
        """Install the Webhook plugin (immediately; Jellyfin needs a restart).

        A configuration left by an earlier install is loaded again: uninstalling
        deletes the plugin's folder only, not ``plugins/configurations/
        Jellyfin.Plugin.Webhook.xml`` (``[v10.10.7] Emby.Server.Implementations/
        Plugins/PluginManager.cs:649-654``, ``BasePluginOfT.cs:124-130``).
        """
        if self._webhook_config is not None:
            return
        saved = self._webhook_saved_config
        self._webhook_config = (
            saved
            if saved is not None
            else plugins.default_configuration(self.webhook_release)
        )

    def uninstall_webhook_plugin(self) -> None:
        """Uninstall the Webhook plugin (immediately; Jellyfin: after a restart).

        From then on ``GET /Plugins`` lacks it, its configuration routes answer 404
        and no notification is sent.
        """
        if self._webhook_config is None:
            return
        self._webhook_saved_config = self._webhook_config
        self._webhook_config = None

    def user_data(self, user_name: str, item_id: str) -> dict[str, Any]:
        """Return a user's data of an item in ``UserItemDataDto`` wire shape."""
        return self.user_data_dto(self._users[user_name].id, self.require_item(item_id))

    def dump_user_data(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Return all non-default user data keyed by user name and identity key.

        Folders (Series, Season, BoxSet, MusicAlbum, MusicArtist; by-name artists
        too) report only what is stored on their own row, ``IsFavorite`` and
        ``Rating``, and only when one is set: their played state is derived from
        their children or not supported. Libraries are skipped.
        """
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for user in self._users.values():
            per_user: dict[str, dict[str, Any]] = {}
            for item in self._items:
                stored = self._data[user.id].get(self._data_key(item))
                if item.type == "CollectionFolder":
                    continue
                if item.is_folder or item.by_name:
                    if stored is not None and (
                        stored.is_favorite or stored.rating is not None
                    ):
                        per_user[item.identity] = {
                            "IsFavorite": stored.is_favorite,
                            "Rating": stored.rating,
                        }
                    continue
                if stored is None or stored.is_default():
                    continue
                per_user[item.identity] = {
                    "Played": stored.played,
                    "PlayCount": stored.play_count,
                    "PlaybackPositionTicks": stored.playback_position_ticks,
                    "LastPlayedDate": (
                        format_date(stored.last_played_date)
                        if stored.last_played_date
                        else None
                    ),
                    "IsFavorite": stored.is_favorite,
                    "Rating": stored.rating,
                }
            out[user.name] = per_user
        return out

    # ---------------------------------------------------------------- library events

    def _reindex_children(self) -> None:
        self._generation += 1
        children: dict[str, list[SimItem]] = {}
        alternates: dict[str, list[SimItem]] = {}
        for item in self._items:
            if item.primary_id is not None:
                alternates.setdefault(item.primary_id, []).append(item)
            if item.parent_id is not None and item.parent_id != item.id:
                children.setdefault(item.parent_id, []).append(item)
        by_id = {i.id: i for i in self._items}
        members: dict[str, list[SimItem]] = {}
        for item in self._items:
            if item.type == "BoxSet":
                # A BoxSet's children are its linked children, members of other
                # libraries ([v10.10.7] MediaBrowser.Controller/Entities/Movies/
                # BoxSet.cs:84-103, 130-145).
                members[item.id] = [by_id[m] for m in item.member_ids if m in by_id]
        self._members = members
        self._children = children
        self._alternates = alternates

    @property
    def has_versions(self) -> bool:
        """Whether this version merges and propagates across versions (12.0)."""
        return self.version_tuple[0] >= 12

    def versions_of(self, item: SimItem) -> list[SimItem]:
        """A title's files: the primary first, then its alternates (12.0 and 10.x)."""
        primary = item
        if item.primary_id is not None:
            primary = self._by_id.get(item.primary_id, item)
        return [primary, *self._alternates.get(primary.id, ())]

    def _playback_target(self, item: SimItem, media_source_id: str | None) -> SimItem:
        """The version a playback report lands on.

        12.0 records the version named by ``MediaSourceId``; 10.11 always records
        ``ItemId`` ([v12.0-rc5] Emby.Server.Implementations/Session/
        SessionManager.cs:739-755).
        """
        if not self.has_versions or not media_source_id:
            return item
        wanted = media_source_id.replace("-", "").lower()
        for version in self.versions_of(item):
            if version.id == wanted:
                return version
        return item

    def _propagate(self, user: SimUser, item: SimItem, *, played: bool) -> None:
        """12.0: a played toggle on one version reaches every other version."""
        if not self.has_versions:
            return
        follow = versions.follow_played if played else versions.follow_unplayed
        for other in self.versions_of(item):
            if other is not item:
                self.save(user, other, follow(self.row(user.id, other)), "TogglePlayed")

    def _kids(self, item: SimItem) -> list[SimItem]:
        """Children of a folder: a BoxSet's linked members, else physical children."""
        if item.type == "BoxSet":
            return self._members.get(item.id, [])
        return self._children.get(item.id, [])

    def _descendant_leaves(
        self, item: SimItem, user: SimUser | None = None
    ) -> list[SimItem]:
        """The leaves under a folder, as ``Folder.MarkPlayed`` and roll-ups see them.

        A by-name ``MusicArtist`` has none: it is nobody's ancestor, so the
        recursive query of ``Folder.MarkPlayed`` finds nothing ([v10.10.7]
        MediaBrowser.Controller/Entities/Audio/MusicArtist.cs:56-67, Emby.Server.
        Implementations/Library/LibraryManager.cs:1494-1520). A BoxSet's are its
        members the user can see ([v10.10.7] MediaBrowser.Controller/Entities/
        Movies/BoxSet.cs:130-145).
        """
        if item.by_name:
            return []
        if not item.is_folder:
            return [item]
        out: list[SimItem] = []
        stack = list(self._kids(item))
        while stack:
            child = stack.pop()
            if user is not None and not self._can_see(user, child):
                continue
            if child.is_folder:
                stack.extend(self._children.get(child.id, ()))
            elif child.primary_id is None:
                # Folder counts and folder writes skip alternates
                # ([v12.0-rc5] .../Item/BaseItemRepository.QueryBuilding.cs:447-464).
                out.append(child)
        return out

    def rescan(
        self, vanish_seconds: float = 1.0, *, fraction: float = 1.0, seed: int = 0
    ) -> list[str]:
        """Start a library scan during which items briefly vanish from listings.

        Returns the ids of the vanished items (a ``fraction`` of leaves and their
        empty folders); they come back after ``vanish_seconds`` of wall time.
        """
        rng = random.Random(seed)
        until = time.monotonic() + vanish_seconds
        gone = [i for i in self._items if not i.is_folder and rng.random() < fraction]
        for item in gone:
            self._vanished[item.id] = until
        self._generation += 1
        return [i.id for i in gone]

    def end_rescan(self) -> None:
        """Finish a running scan now: every vanished item is back."""
        self._vanished.clear()
        self._generation += 1

    def _visible(self, item: SimItem, now_mono: float) -> bool:
        until = self._vanished.get(item.id)
        if until is None:
            return True
        if now_mono >= until:
            del self._vanished[item.id]
            return True
        return False

    def delete_item(self, item_id: str) -> None:
        """Delete an item (and, for a folder, its children) from the library.

        On 10.11 the user-data rows are detached and kept by user-data key, ready to
        be re-attached when an item with the same key appears (API-NOTES §3).
        """
        item = self.require_item(item_id)
        doomed = [item, *self._all_descendants(item, members=False)]
        doomed_ids = {d.id for d in doomed}
        for gone in doomed:
            if self.version_tuple[:2] >= (10, 11):
                for user_id, rows in self._data.items():
                    row = rows.pop(gone.id, None)
                    if row is not None:
                        self._detached[user_id][gone.user_data_keys()[0]] = row
            self._deleted[gone.identity] = gone
            self._by_id.pop(gone.id, None)
        self._items = [i for i in self._items if i.id not in doomed_ids]
        self._by_identity = {i.identity: i for i in self._items}
        self._reindex_children()

    def upgrade_to_12(self, version: str = "12.0.0") -> None:
        """Upgrade a stopped 10.11 server to 12.0, as its migrations do.

        * A movie's second file was an owned ``Video``: the migration deletes it and
          the scan creates it again as an alternate ``Movie`` with a new id; its user
          data is set aside, not reattached ([v12.0-rc5] Jellyfin.Server/Migrations/
          Routines/20260113120000_MigrateLinkedChildren.cs:281-321,
          Emby.Server.Implementations/Library/LibraryManager.cs:868-915).
        * An episode's two files were two ``Episode`` items; they become one title.
          The 2160p file is the primary; the plain one keeps its id and data as its
          alternate ([v12.0-rc5] Emby.Naming/Video/VideoListResolver.cs:268-312).
        * ``EnableLegacyAuthorization`` is forced off ([v12.0-rc5] Jellyfin.Server/
          Migrations/Routines/20260531160000_DisableLegacyAuthorization.cs).
        """
        if self._runner is not None:
            raise RuntimeError("stop the server before upgrading it")
        if self.version_tuple[:2] != (10, 11):
            raise ValueError("only 10.11 upgrades to 12.0")
        self.version = version
        self.version_tuple = parse_version(version)
        self.doc = conformance.doc_version_for(self.version_tuple)
        self.legacy_auth = False
        by_identity = {i.identity: i for i in self._items}
        upgraded: list[SimItem] = []
        for item in self._items:
            if item.type == "Video" and item.primary_id is not None:
                for user_id, rows in self._data.items():
                    row = rows.pop(item.id, None)
                    if row is not None:
                        self._detached[user_id][f"upgrade:{item.id}"] = row
                item.type = "Movie"
                item.id = jellyfin_item_id("Movie", item.path)
            elif item.type == "Episode" and item.identity.endswith("#2160p"):
                plain = by_identity.get(item.identity.removesuffix("#2160p"))
                if plain is not None:
                    item.identity = plain.identity
                    plain.identity = f"{item.identity}#plain"
                    plain.primary_id = item.id
            upgraded.append(item)
        self._items = upgraded
        self._by_id = {i.id: i for i in self._items}
        self._by_identity = {i.identity: i for i in self._items}
        self._query_cache.clear()
        self._reindex_children()

    def _all_descendants(self, item: SimItem, *, members: bool = True) -> list[SimItem]:
        out: list[SimItem] = []
        stack = list(self._kids(item) if members else self._children.get(item.id, ()))
        while stack:
            child = stack.pop()
            out.append(child)
            stack.extend(self._children.get(child.id, ()))
        return out

    def readd_item(self, identity: str) -> SimItem:
        """Re-add a deleted leaf item under a new file name: it gets a new id."""
        old = self._deleted.pop(identity)
        new = replaced_item(old)
        # The scan creates the item and its first metadata refresh saves it.
        new.date_last_saved = self.now()
        self._items.append(new)
        self._by_id[new.id] = new
        self._by_identity[new.identity] = new
        if self.version_tuple[:2] >= (10, 11):
            key = new.user_data_keys()[0]
            for user_id, detached in self._detached.items():
                row = detached.pop(key, None)
                if row is not None:
                    self._data[user_id][new.id] = row
        self._reindex_children()
        return new

    # ---------------------------------------------------------------- DTOs

    def shown_row(self, user_id: str, item: SimItem) -> UserDataRow:
        """The row every read shows: on 12.0 a primary's is merged with its versions."""
        row = self._data[user_id].get(self._data_key(item)) or UserDataRow()
        if self.has_versions and item.primary_id is None:
            others = self._alternates.get(item.id)
            if others:
                titles = [item, *others]
                rows = [row] + [self.row(user_id, o) for o in others]
                return versions.merged(item, titles, rows)
        return row

    def rollup_counts(self, user_id: str, item: SimItem) -> tuple[int, int] | None:
        """``(played, total)`` leaves of a folder with user data from children.

        None for libraries, by-name artists and leaves.

        ``SupportsUserDataFromChildren`` is false for libraries (ICollectionFolder)
        and for items by name accessed by name ([v10.10.7] MediaBrowser.Controller/
        Entities/Folder.cs:127-165). The counted leaves are those the user can see;
        12.0 counts every member of a box set (API-NOTES §9.4, [v12.0-rc5]
        MediaBrowser.Controller/Entities/Folder.cs:1964-1973).
        """
        if not item.is_folder or item.type == "CollectionFolder":
            return None
        user = self._users_by_id.get(user_id)
        if self.has_versions and item.type == "BoxSet":
            user = None
        leaves = self._descendant_leaves(item, user)
        data = self._data[user_id]
        played = 0
        for leaf in leaves:
            leaf_row = data.get(self._data_key(leaf))
            if leaf_row is not None and leaf_row.played:
                played += 1
        return played, len(leaves)

    @staticmethod
    def supports_played_status(item: SimItem) -> bool:
        """``SupportsPlayedStatus``: false for MusicAlbum, MusicArtist, libraries.

        [v10.10.7] MediaBrowser.Controller/Entities/Audio/MusicAlbum.cs:48,
        Audio/MusicArtist.cs:45, CollectionFolder.cs:66, Folder.cs:71 (true for
        other folders); same in [v10.8.13], [v10.11.11], [v12.0-rc5].
        """
        return item.type not in {"MusicAlbum", "MusicArtist", "CollectionFolder"}

    def user_data_dto(
        self, user_id: str, item: SimItem, *, recursive_count: bool = False
    ) -> dict[str, Any]:
        """Return ``UserItemDataDto`` as this version serialises it over HTTP.

        Folders add ``Folder.FillUserDataDtoValues`` (only where
        ``SupportsPlayedStatus``; ``recursive_count`` = the item DTO asked for
        ``RecursiveItemCount``, as ``fields=`` or a single-item GET does):

        * 10.8-10.11: ``UnplayedItemCount``; ``PlayedPercentage`` = 100 -
          unplayed/total*100 and ``Played`` = that >= 100 only when the item DTO has
          ``RecursiveItemCount`` > 0, else ``Played`` = no unplayed leaf (an empty
          folder is played); write routes pass no item DTO ([v10.8.13]
          MediaBrowser.Controller/Entities/Folder.cs:1727-1771, [v10.10.7]
          :1733-1777, [v10.11.11] :1798-1839).
        * 12.0: ``PlayedPercentage`` = played/total*100 whenever total > 0,
          ``Played`` = played >= total, true without leaves ([v12.0-rc5]
          MediaBrowser.Controller/Entities/Folder.cs:1938-1997).

        MusicAlbum and MusicArtist keep their own row's ``Played``.
        """
        row = self.shown_row(user_id, item)
        dto: dict[str, Any] = {}
        if row.rating is not None:
            dto["Rating"] = _dotnet_double(row.rating)
        counts = self.rollup_counts(user_id, item)
        rollup = counts is not None and self.supports_played_status(item)
        played_flag = row.played
        if rollup and counts is not None:
            played, total = counts
            unplayed = total - played
            if self.version_tuple[0] >= 12:
                if total > 0:
                    dto["PlayedPercentage"] = _dotnet_double(played / total * 100)
                played_flag = played >= total
            elif recursive_count and total > 0:
                percentage = 100 - (unplayed / total) * 100
                dto["PlayedPercentage"] = _dotnet_double(percentage)
                played_flag = percentage >= 100
            else:
                played_flag = unplayed == 0
            dto["UnplayedItemCount"] = unplayed
        dto["PlaybackPositionTicks"] = row.playback_position_ticks
        dto["PlayCount"] = row.play_count
        dto["IsFavorite"] = row.is_favorite
        if row.likes is not None:
            dto["Likes"] = row.likes
        if row.last_played_date is not None:
            dto["LastPlayedDate"] = format_date(row.last_played_date)
        dto["Played"] = played_flag
        dto["Key"] = item.user_data_keys()[0]
        minor = self.version_tuple[:2]
        if minor == (10, 10):
            dto["ItemId"] = EMPTY_GUID
        elif minor >= (10, 11):
            dto["ItemId"] = item.id
        return dto

    def item_dto(
        self,
        item: SimItem,
        *,
        user_id: str | None,
        fields: set[str] | None,
        enable_user_data: bool = True,
        enable_images: bool = True,
    ) -> dict[str, Any]:
        """Return ``BaseItemDto``; ``fields=None`` means all fields (single item)."""
        modern = self.version_tuple[:2] >= (10, 9)
        dto: dict[str, Any] = {"Name": item.name, "ServerId": self.server_id}
        dto["Id"] = item.id
        want_all = fields is None
        if want_all or "DateCreated" in (fields or ()):
            dto["DateCreated"] = format_date(item.date_created)
        if want_all or "SortName" in (fields or ()):
            dto["SortName"] = item.sort_name
        if want_all or "Path" in (fields or ()):
            dto["Path"] = item.path
        if want_all or "ProviderIds" in (fields or ()):
            dto["ProviderIds"] = dict(item.provider_ids)
        if want_all or "ParentId" in (fields or ()):
            if item.parent_id is not None and item.parent_id != item.id:
                dto["ParentId"] = item.parent_id
        if item.type in _VIDEO_KINDS:
            self._version_fields(dto, item, want_all, fields or set())
        elif item.type in {"Audio", "AudioBook"} and (
            want_all or "MediaSources" in (fields or ())
        ):
            dto["MediaSources"] = [_media_source(item)]
        if item.runtime_ticks is not None:
            dto["RunTimeTicks"] = item.runtime_ticks
        if item.year is not None:
            dto["ProductionYear"] = item.year
        if item.index_number is not None:
            dto["IndexNumber"] = item.index_number
        if item.index_number_end is not None:
            dto["IndexNumberEnd"] = item.index_number_end
        if item.parent_index_number is not None:
            dto["ParentIndexNumber"] = item.parent_index_number
        if item.is_folder:
            dto["IsFolder"] = True
        elif item.type in _MEDIA_SOURCE_KINDS:
            # Only IHasMediaSources items say false; a Book or a by-name artist
            # has no IsFolder at all ([v10.10.7] Emby.Server.Implementations/Dto/
            # DtoService.cs:793-800, [v12.0-rc5] :1072-1079).
            dto["IsFolder"] = False
        dto["Type"] = item.type
        if item.type == "CollectionFolder":
            dto["CollectionType"] = item.collection_type
        self._music_fields(dto, item)
        if item.series_name is not None:
            dto["SeriesName"] = item.series_name
        if item.series_id is not None:
            dto["SeriesId"] = item.series_id
        if item.season_id is not None:
            dto["SeasonId"] = item.season_id
        if item.season_name is not None:
            dto["SeasonName"] = item.season_name
        if user_id is not None and enable_user_data:
            recursive_count = want_all or "RecursiveItemCount" in (fields or ())
            dto["UserData"] = self.user_data_dto(
                user_id, item, recursive_count=recursive_count
            )
            counts = self.rollup_counts(user_id, item)
            if recursive_count and counts is not None:
                # Set by FillUserDataDtoValues for every folder with user data
                # from children, MusicAlbum included ([v10.11.11] MediaBrowser.
                # Controller/Entities/Folder.cs:1805-1808, [v12.0-rc5] :1976-1979).
                dto["RecursiveItemCount"] = counts[1]
        if item.type in _VIDEO_KINDS:
            dto["VideoType"] = "VideoFile"
        dto["LocationType"] = "FileSystem"
        media_type = item.media_type
        if modern:
            dto["MediaType"] = media_type
        elif media_type != "Unknown":
            # 10.8: MediaType is a string, null for folders (omitted).
            dto["MediaType"] = media_type
        if enable_images:
            dto["ImageTags"] = {}
            dto["BackdropImageTags"] = []
        return dto

    @staticmethod
    def _music_fields(dto: dict[str, Any], item: SimItem) -> None:
        """Album and artist fields, sent without ``fields=`` on every version.

        ``Audio`` (and ``AudioBook``, an Audio): ``Album``, ``AlbumId`` (its album
        folder); ``IHasArtist`` (Audio, MusicAlbum, MusicVideo): ``Artists`` and
        ``ArtistItems`` (name + id of the artist item of each name);
        ``IHasAlbumArtist`` (Audio, MusicAlbum): ``AlbumArtist`` (first one, omitted
        when none) and ``AlbumArtists``; MusicVideo: ``Album`` when tagged
        ([v10.10.7] Emby.Server.Implementations/Dto/DtoService.cs:463-481,
        916-1033; [v10.8.13] :900-1020; [v10.11.11] :1011-1110; [v12.0-rc5]
        :1197-1305).
        """
        kind = item.type
        if kind in {"Audio", "AudioBook"}:
            if item.album:
                dto["Album"] = item.album
            if item.album_id is not None:
                dto["AlbumId"] = item.album_id
        if kind in {"Audio", "AudioBook", "MusicAlbum", "MusicVideo"}:
            dto["Artists"] = [name for name, _ in item.artists]
            dto["ArtistItems"] = [{"Name": n, "Id": i} for n, i in item.artists]
        if kind in {"Audio", "AudioBook", "MusicAlbum"}:
            if item.album_artists:
                dto["AlbumArtist"] = item.album_artists[0][0]
            dto["AlbumArtists"] = [{"Name": n, "Id": i} for n, i in item.album_artists]

    def _version_fields(
        self, dto: dict[str, Any], item: SimItem, want_all: bool, fields: set[str]
    ) -> None:
        """``MediaSourceCount`` (only when not 1) and ``MediaSources`` (own first).

        [v12.0-rc5] Emby.Server.Implementations/Dto/DtoService.cs:403-409,
        1314-1337; a source's ``Id`` is its version's item id in "N" format
        (MediaBrowser.Controller/Entities/BaseItem.cs:1156-1165).
        """
        titles = self.versions_of(item)
        if (want_all or "MediaSourceCount" in fields) and len(titles) != 1:
            dto["MediaSourceCount"] = len(titles)
        if want_all or "MediaSources" in fields:
            ordered = [item, *(t for t in titles if t is not item)]
            dto["MediaSources"] = [_media_source(version) for version in ordered]

    # ---------------------------------------------------------------- writes

    def do_mark_played(
        self, user: SimUser, item_id: str, date_played: datetime | None
    ) -> SimItem:
        """MarkPlayed on an item, recursing into a folder's leaves (§3.1)."""
        item = self.require_item(item_id)
        now = self.now()
        for leaf in self._descendant_leaves(item):
            row = self.row(user.id, leaf)
            mark_played(
                row, version=self.version_tuple, date_played=date_played, now=now
            )
            self.save(user, leaf, row, "TogglePlayed")
            self._propagate(user, leaf, played=True)
        return item

    def do_mark_unplayed(self, user: SimUser, item_id: str) -> SimItem:
        """MarkUnplayed on an item, recursing into a folder's leaves (§3.1)."""
        item = self.require_item(item_id)
        for leaf in self._descendant_leaves(item):
            row = self.row(user.id, leaf)
            mark_unplayed(row)
            self.save(user, leaf, row, "TogglePlayed")
            self._propagate(user, leaf, played=False)
        return item

    def do_favorite(self, user: SimUser, item_id: str, on: bool) -> SimItem:
        """Set or clear IsFavorite only (§3.2)."""
        item = self.require_item(item_id)
        row = self.row(user.id, item)
        row.is_favorite = on
        self.save(user, item, row, "UpdateUserRating")
        return item

    def do_likes(self, user: SimUser, item_id: str, likes: bool | None) -> SimItem:
        """Set ``Likes`` (rating 10/1/None) (§3.3)."""
        item = self.require_item(item_id)
        row = self.row(user.id, item)
        row.set_likes(likes)
        self.save(user, item, row, "UpdateUserRating")
        return item

    # ---------------------------------------------------------------- HTTP plumbing

    def _add_routes(self, app: web.Application) -> None:
        modern = self.version_tuple[:2] >= (10, 9)
        own = self.doc
        legacy = conformance.LEGACY_DOC if modern else own

        def add(
            method: str,
            path: str,
            handler: Handler,
            doc_path: str | None = None,
            *,
            doc: str | None = None,
            user_in_path: bool = False,
        ) -> None:
            app.router.add_route(method, path, handler)
            self._routes[(method, path)] = RouteInfo(
                doc or own, doc_path or path, user_in_path
            )

        add("GET", "/System/Info/Public", self._h_public_info)
        add("GET", "/System/Info", self._h_info)
        add("GET", "/System/Ping", self._h_ping)
        add("POST", "/System/Ping", self._h_ping)
        add("GET", "/Users", self._h_users)
        add("GET", "/Users/Me", self._h_users_me)
        add("GET", "/Items", self._h_items)
        add("GET", "/Users/{userId}/Items", self._h_items, doc=legacy)
        add("GET", "/Users/{userId}/Views", self._h_views, doc=legacy)
        add("GET", "/Users/{userId}/Items/{itemId}", self._h_item, doc=legacy)
        for method in ("POST", "DELETE"):
            add(
                method,
                "/Users/{userId}/PlayedItems/{itemId}",
                self._h_played,
                doc=legacy,
            )
            add(
                method,
                "/Users/{userId}/FavoriteItems/{itemId}",
                self._h_favorite,
                doc=legacy,
            )
            add(
                method,
                "/Users/{userId}/Items/{itemId}/Rating",
                self._h_rating,
                doc=legacy,
            )
        if modern:
            add("GET", "/UserViews", self._h_views)
            add("GET", "/Items/{itemId}", self._h_item)
            add("GET", "/UserItems/Resume", self._h_resume)
            for method in ("POST", "DELETE"):
                add(method, "/UserPlayedItems/{itemId}", self._h_played)
                add(method, "/UserFavoriteItems/{itemId}", self._h_favorite)
                add(method, "/UserItems/{itemId}/Rating", self._h_rating)
            for method in ("GET", "POST"):
                add(method, "/UserItems/{itemId}/UserData", self._h_user_data)
                add(
                    method,
                    "/Users/{userId}/Items/{itemId}/UserData",
                    self._h_user_data,
                    "/UserItems/{itemId}/UserData",
                    user_in_path=True,
                )
        add("POST", "/Sessions/Playing", self._h_playing)
        add("POST", "/Sessions/Playing/Progress", self._h_playing)
        add("POST", "/Sessions/Playing/Stopped", self._h_playing)
        add("GET", "/Users/{userId}", self._h_user)
        add("GET", "/Library/VirtualFolders", self._h_virtual_folders)
        add("GET", "/Plugins", self._h_plugins)
        for method in ("GET", "POST"):
            app.router.add_route(
                method, "/Plugins/{pluginId}/Configuration", self._h_plugin_config
            )
            self._routes[(method, "/Plugins/{pluginId}/Configuration")] = RouteInfo(
                own,
                "/Plugins/{pluginId}/Configuration",
                runtime_schema=self._plugin_config_schema,
            )

    def _route_info(self, request: web.Request) -> RouteInfo | None:
        resource = request.match_info.route.resource
        if resource is None:
            return None
        return self._routes.get((request.method, resource.canonical))

    @web.middleware
    async def _count_mw(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "<unmatched>"
        body = await request.read()
        response = await handler(request)
        if not response.prepared:
            # Kestrel dates every response from the same clock that stamps
            # DateLastSaved; clients use it as the server's "now".
            response.headers["Date"] = format_http_date(
                self.now().astimezone(UTC), usegmt=True
            )
        out = response.content_length or 0
        if isinstance(response, web.Response) and response.body is not None:
            raw = response.body
            out = len(raw) if isinstance(raw, bytes | bytearray) else out
        self.counters.add(f"{request.method} {route}", len(body), out)
        payload = response.get(conformance.PAYLOAD_KEY)
        self.request_log.append(
            RequestLogEntry(
                method=request.method,
                path=request.path,
                query={k: request.query[k] for k in request.query},
                status=response.status,
                served=_served_ids(payload),
            )
        )
        return response

    @web.middleware
    async def _conformance_mw(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        info = self._route_info(request)
        if info is None:
            return await handler(request)
        query = list(request.query.items())
        path_params = dict(request.match_info)
        if info.user_in_path:
            user = path_params.pop("userId", "")
            query.append(("userId", user))
        body = await request.read()
        runtime = info.runtime_schema(request) if info.runtime_schema else None
        request_violations = conformance.check_request(
            server=self.name,
            doc=info.doc,
            doc_path=info.doc_path,
            method=request.method,
            query=query,
            path_params=path_params,
            body=body,
            content_type=request.content_type,
            runtime_schema=runtime,
        )
        conformance.record(request_violations)
        response = await handler(request)
        payload = response.get(conformance.PAYLOAD_KEY, _MISSING)
        conformance.record(
            conformance.check_response(
                server=self.name,
                doc=info.doc,
                doc_path=info.doc_path,
                method=request.method,
                status=response.status,
                content_type=response.content_type,
                payload=None if payload is _MISSING else payload,
                has_payload=payload is not _MISSING,
                mangled=bool(response.get(conformance.MANGLED_KEY)),
                injected=bool(response.get(conformance.INJECTED_KEY)),
                runtime_schema=runtime,
            )
        )
        return response

    @web.middleware
    async def _fault_mw(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        faults = self.faults
        if faults.is_down:
            if request.transport is not None:
                request.transport.close()
            raise ConnectionResetError("server is down")
        if faults.delay:
            await asyncio.sleep(faults.delay)
        if faults.is_starting:
            starting = self._starting_response(request)
            if starting is not None:
                return starting
        status = faults.draw_failure()
        resource = request.match_info.route.resource
        if status is None and faults.route_failures and resource is not None:
            status = faults.route_failure(request.method, resource.canonical)
        if status is not None:
            failure = web.Response(status=status, text=ERROR_TEXT)
            failure[conformance.INJECTED_KEY] = True
            return failure
        try:
            response = await handler(request)
        except ApiError as err:
            response = err.response()
        if faults.html_remaining > 0 and response.status == 200:
            faults.html_remaining -= 1
            html = web.Response(
                status=200,
                text="<!DOCTYPE html><html><head><title>Jellyfin</title></head>"
                "<body><h1>Welcome</h1></body></html>",
                content_type="text/html",
            )
            html[conformance.MANGLED_KEY] = True
            return html
        if faults.invalid_json_remaining > 0 and isinstance(response, web.Response):
            faults.invalid_json_remaining -= 1
            raw = response.body if isinstance(response.body, bytes) else b"{}"
            broken = web.Response(
                status=response.status,
                body=raw[: max(1, len(raw) // 2)],
                content_type=JSON_TYPE,
                charset="utf-8",
            )
            broken[conformance.MANGLED_KEY] = True
            return broken
        if faults.truncate_remaining > 0 and isinstance(response, web.Response):
            faults.truncate_remaining -= 1
            raw = response.body if isinstance(response.body, bytes) else b"{}"
            stream = web.StreamResponse(status=response.status)
            stream.content_type = response.content_type
            stream.content_length = len(raw)
            stream[conformance.MANGLED_KEY] = True
            await stream.prepare(request)
            await stream.write(raw[: len(raw) // 2])
            if request.transport is not None:
                request.transport.close()
            return stream
        return response

    def _starting_response(self, request: web.Request) -> web.Response | None:
        """Start-up answers (§1.4 and §6): ping always works; 503 otherwise."""
        path = request.path.lower()
        if path == "/system/ping":
            return None
        if self.version_tuple[:2] >= (10, 11):
            if path == "/system/info/public":
                payload = self._public_info_payload()
                payload["StartupWizardCompleted"] = False
                return _json(payload)
            resp = web.Response(
                status=503,
                text="<html><body>Jellyfin is starting</body></html>",
                content_type="text/html",
            )
            resp.headers["Retry-After"] = "5"
            return resp
        return web.Response(
            status=503,
            text="<html><body>Jellyfin Server is loading. Please try again shortly."
            "</body></html>",
            content_type="text/html",
        )

    # ---------------------------------------------------------------- auth helpers

    def _caller(self, request: web.Request) -> Caller:
        token = find_token(
            request,
            legacy=self.legacy_auth,
            modern=self.version_tuple[:2] >= (10, 11),
        )
        caller = Caller(token_present=token is not None)
        if token is None:
            return caller
        if token == self.api_key and not self.faults.key_revoked:
            caller.valid = True
            caller.is_api_key = True
            caller.is_admin = True
            return caller
        for user in self._users.values():
            if token == user.token:
                caller.valid = True
                caller.user_id = user.id
                caller.is_admin = user.is_admin
                return caller
        return caller

    def _authorized(self, request: web.Request) -> Caller:
        """Return the caller of an ``[Authorize]`` endpoint or raise 401."""
        caller = self._caller(request)
        if not caller.valid:
            raise ApiError(401, "")
        return caller

    def _query(self, request: web.Request) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, value in request.query.items():
            out.setdefault(key.lower(), []).append(value)
        return out

    @staticmethod
    def _guid(raw: str) -> str:
        try:
            return uuid.UUID(raw).hex
        except ValueError:
            raise bad_request() from None

    def _target_user(self, request: web.Request, caller: Caller) -> SimUser:
        """Resolve the user a user-scoped endpoint acts for (§1.2).

        10.8 (route parameter): no ownership check; unknown user -> 500 (null user).
        10.9+: ``GetUserId``: missing -> the caller (API key: empty Guid -> 400),
        another user by a non-admin -> 403, unknown -> 404.
        """
        raw = request.match_info.get("userId")
        if raw is None:
            values = self._query(request).get("userid")
            raw = values[-1] if values else None
        modern = self.version_tuple[:2] >= (10, 9)
        if raw is None or raw == "":
            if caller.user_id is None:
                raise ApiError(400)
            return self._users_by_id[caller.user_id]
        user_id = self._guid(raw)
        if modern and not caller.is_admin and user_id != caller.user_id:
            raise ApiError(403, "Forbidden")
        user = self._users_by_id.get(user_id)
        if user is None:
            if modern:
                raise not_found()
            raise ApiError(500)
        return user

    def _item_for(self, raw: str, user: SimUser | None = None) -> SimItem:
        """Look up a route item (§3.1, §6).

        10.9+: ``GetItemById(itemId, user)``: missing or invisible to the user -> 404.
        10.8: no visibility check; a missing item is a NullReferenceException (500).
        """
        item = self.get_item(self._guid(raw))
        modern = self.version_tuple[:2] >= (10, 9)
        if item is None or not self._visible(item, time.monotonic()):
            if modern:
                raise not_found()
            raise ApiError(500)
        if modern and not self._can_see(user, item):
            raise not_found()
        return item

    # ---------------------------------------------------------------- handlers

    def _public_info_payload(self) -> dict[str, Any]:
        modern = self.version_tuple[:2] >= (10, 11)
        return {
            "LocalAddress": self.url,
            "ServerName": self.name,
            "Version": self.version,
            "ProductName": "Jellyfin Server",
            "OperatingSystem": "" if modern else "Linux",
            "Id": self.server_id,
            "StartupWizardCompleted": True,
        }

    async def _h_public_info(self, request: web.Request) -> web.Response:
        return _json(self._public_info_payload())

    async def _h_info(self, request: web.Request) -> web.Response:
        self._authorized(request)
        payload = self._public_info_payload()
        payload.update(
            {
                "OperatingSystemDisplayName": "Linux",
                "HasPendingRestart": False,
                "IsShuttingDown": False,
                "SupportsLibraryMonitor": True,
                "WebSocketPortNumber": self.port,
                "CompletedInstallations": [],
                "CanSelfRestart": True,
                "CanLaunchWebBrowser": False,
                "ProgramDataPath": "/config",
                "WebPath": "/jellyfin/jellyfin-web",
                "ItemsByNamePath": "/config/metadata",
                "CachePath": "/cache",
                "LogPath": "/config/log",
                "InternalMetadataPath": "/config/metadata",
                "TranscodingTempPath": "/cache/transcodes",
                "HasUpdateAvailable": False,
            }
        )
        if self.version_tuple[:2] < (10, 11):
            payload["EncoderLocation"] = "System"
            payload["SystemArchitecture"] = "X64"
            payload["PackageName"] = "jellyfin"
        return _json(payload)

    async def _h_ping(self, request: web.Request) -> web.Response:
        return _json("Jellyfin Server")

    def _user_dto(self, user: SimUser) -> dict[str, Any]:
        policy: dict[str, Any] = {
            "IsAdministrator": user.is_admin,
            "IsHidden": True,
            "IsDisabled": False,
            "EnableUserPreferenceAccess": user.enable_user_preference_access,
            "EnableAllFolders": True,
            "EnabledFolders": [],
            "AuthenticationProviderId": (
                "Jellyfin.Server.Implementations.Users.DefaultAuthenticationProvider"
            ),
            "PasswordResetProviderId": (
                "Jellyfin.Server.Implementations.Users.DefaultPasswordResetProvider"
            ),
        }
        return {
            "Name": user.name,
            "ServerId": self.server_id,
            "Id": user.id,
            "HasPassword": True,
            "HasConfiguredPassword": True,
            "HasConfiguredEasyPassword": False,
            "EnableAutoLogin": False,
            "LastLoginDate": "2024-01-01T00:00:00.0000000Z",
            "LastActivityDate": "2024-01-01T00:00:00.0000000Z",
            "Policy": policy,
        }

    async def _h_users(self, request: web.Request) -> web.Response:
        self._authorized(request)
        users = sorted(self._users.values(), key=lambda u: u.name.lower())
        return _json([self._user_dto(u) for u in users])

    async def _h_users_me(self, request: web.Request) -> web.Response:
        caller = self._authorized(request)
        if caller.user_id is None:
            raise ApiError(400)
        return _json(self._user_dto(self._users_by_id[caller.user_id]))

    async def _h_user(self, request: web.Request) -> web.Response:
        self._authorized(request)
        user_id = self._guid(request.match_info["userId"])
        user = self._users_by_id.get(user_id)
        if user is None:
            raise ApiError(404, "User not found")
        return _json(self._user_dto(user))

    async def _h_views(self, request: web.Request) -> web.Response:
        caller = self._authorized(request)
        user = self._target_user(request, caller)
        views = [
            i
            for i in self._items
            if i.type == "CollectionFolder" and self._can_see(user, i)
        ]
        dtos = [self.item_dto(v, user_id=user.id, fields=set()) for v in views]
        return _json({"Items": dtos, "TotalRecordCount": len(dtos), "StartIndex": 0})

    async def _h_virtual_folders(self, request: web.Request) -> web.Response:
        """``GET /Library/VirtualFolders``: every library, administrators only.

        ``FirstTimeSetupOrElevated``: an API key or an administrator; another user
        gets 403 ([v10.8.13] Jellyfin.Api/Controllers/LibraryStructureController.cs:
        28-29, [v12.0-rc5] :29-30). ``Name``, ``Locations`` (sorted), the
        ``CollectionType`` (``CollectionTypeOptions``: PascalCase on 10.8,
        lower-case from 10.9), ``ItemId`` = the library folder id in "N" format
        ([v10.10.7] Emby.Server.Implementations/Library/LibraryManager.cs:
        1162-1200; [v10.8.13] MediaBrowser.Model/Entities/CollectionTypeOptions.cs:
        7-14). ``LibraryOptions`` is not modelled (omitted).
        """
        caller = self._authorized(request)
        if not caller.is_admin:
            raise ApiError(403, "Forbidden")
        pascal = {
            "movies": "Movies",
            "tvshows": "TvShows",
            "music": "Music",
            "musicvideos": "MusicVideos",
            "homevideos": "HomeVideos",
            "boxsets": "BoxSets",
            "books": "Books",
        }
        old = self.version_tuple[:2] < (10, 9)
        folders = sorted(
            (i for i in self._items if i.type == "CollectionFolder"),
            key=lambda i: i.name,
        )
        payload = [
            {
                "Name": folder.name,
                "Locations": sorted(folder.locations),
                "CollectionType": (
                    pascal.get(folder.collection_type or "")
                    if old
                    else folder.collection_type
                ),
                "ItemId": folder.id,
                "RefreshStatus": "Idle",
            }
            for folder in folders
        ]
        return _json(payload)

    def _plugins_caller(self, request: web.Request) -> Caller:
        """Authorization of ``PluginsController``.

        10.8: ``DefaultAuthorization`` on the controller, so any user may list
        plugins and read or **replace** a configuration (only enable, disable and
        uninstall need elevation): ``[v10.8.13] PC:24, 50-52, 167-194``. 10.9+:
        ``RequiresElevation`` on the controller (administrators and API keys, 403
        otherwise): ``[v10.9.11] PC:25``, ``[v10.10.7] PC:25``, ``[v12.0-rc5] PC:25``.
        """
        caller = self._authorized(request)
        if self.version_tuple[:2] >= (10, 9) and not caller.is_admin:
            raise ApiError(403, "Forbidden")
        return caller

    def _plugin_config_schema(self, request: web.Request) -> dict[str, Any] | None:
        """Runtime schema of ``/Plugins/{pluginId}/Configuration`` (webhook only)."""
        raw = request.match_info.get("pluginId", "")
        try:
            plugin_id = uuid.UUID(raw).hex
        except ValueError:
            return None
        if plugin_id == plugins.WEBHOOK_PLUGIN_ID and self.webhook_plugin_installed:
            return plugins.configuration_schema(self.webhook_release)
        return None

    async def _h_plugins(self, request: web.Request) -> web.Response:
        """``GET /Plugins``: bundled providers plus the Webhook plugin when installed.

        ``[v10.10.7] PC:51-58``; entries: :func:`.plugins.plugin_list`.
        """
        self._plugins_caller(request)
        release = self.webhook_release if self.webhook_plugin_installed else None
        return _json(plugins.plugin_list(self.version_tuple, webhook=release))

    async def _h_plugin_config(self, request: web.Request) -> web.Response:
        """``GET``/``POST /Plugins/{pluginId}/Configuration``.

        ``[v10.10.7] PC:164-208`` (same in every modelled version):
        * the ``Guid`` route value binds first: not a Guid -> 400 ProblemDetails;
        * ``_pluginManager.GetPlugin(id)?.Instance is not IHasPluginConfiguration``
          (unknown, not installed) -> ``NotFound()``: 404 ProblemDetails;
        * GET -> 200, the runtime configuration object (PascalCase, nulls
          omitted: ``JsonDefaults.cs``);
        * POST -> ``JsonSerializer.DeserializeAsync(Request.Body, ConfigurationType,
          JsonDefaults.Options)`` replaces the whole configuration (missing
          properties reset to defaults, unknown or camelCase ones dropped), 204;
          a ``null`` body changes nothing, still 204; a body that does not
          deserialise throws ``JsonException`` -> 500 text "Error processing
          request." (``ExceptionMiddleware.cs:123-136``), nothing changed.
        Bundled providers have a configuration too; only an empty stand-in of it is
        modelled (GET ``{}``, POST accepted and dropped).
        """
        self._plugins_caller(request)
        plugin_id = self._guid(request.match_info["pluginId"])
        webhook = (
            plugin_id == plugins.WEBHOOK_PLUGIN_ID and self.webhook_plugin_installed
        )
        if not webhook and plugin_id not in plugins.bundled_plugin_ids(
            self.version_tuple
        ):
            raise not_found()
        if request.method == "GET":
            if not webhook:
                return _json({})
            assert self._webhook_config is not None
            return _json(plugins.wire(self._webhook_config))
        body = await request.read()
        if not webhook:
            return web.Response(status=204)
        try:
            config = plugins.parse_configuration(body, self.webhook_release)
        except plugins.ConfigurationBodyError:
            raise ApiError(500) from None
        if config is not None:
            self._webhook_config = config
        return web.Response(status=204)

    async def _h_item(self, request: web.Request) -> web.Response:
        caller = self._authorized(request)
        user = self._target_user(request, caller)
        item = self._item_for(request.match_info["itemId"], user)
        return _json(self.item_dto(item, user_id=user.id, fields=None))

    async def _h_resume(self, request: web.Request) -> web.Response:
        """``GET /UserItems/Resume``: the user's items in progress, newest first.

        ``IsResumable`` with ``IncludeOwnedItems``: on 12.0 an alternate in progress
        is listed as itself, one version per title (the latest; equal dates keep the
        smaller id) ([v12.0-rc5] Jellyfin.Api/Controllers/ItemsController.cs:978-997,
        Jellyfin.Server.Implementations/Item/BaseItemRepository.TranslateQuery.cs:
        520-545). Before 12.0 an owned ``Video`` is not a Movie or Episode.
        """
        caller = self._authorized(request)
        user = self._target_user(request, caller)
        query = self._query(request)

        def listed(name: str) -> list[str]:
            return [p for v in query.get(name, ()) for p in v.split(",") if p]

        lookup = {k.lower(): k for k in _ITEM_KINDS}
        include = {
            lookup[p.lower()] for p in listed("includeitemtypes") if p.lower() in lookup
        }
        fields = {
            f
            for f in _ITEM_FIELDS
            if f.lower() in {p.lower() for p in listed("fields")}
        }
        try:
            start = int((query.get("startindex") or ["0"])[-1] or 0)
            limit_raw = (query.get("limit") or [""])[-1]
            limit = int(limit_raw) if limit_raw else None
        except ValueError:
            raise bad_request() from None
        now_mono = time.monotonic()
        picked: list[tuple[SimItem, UserDataRow]] = []
        for item in self._items:
            if item.is_folder or (include and item.type not in include):
                continue
            if not self._visible(item, now_mono) or not self._can_see(user, item):
                continue
            row = self.row(user.id, item)
            if row.playback_position_ticks <= 0:
                continue
            if item.primary_id is not None and not self.has_versions:
                continue
            if self.has_versions:
                titles = self.versions_of(item)
                rows = [self.row(user.id, t) for t in titles]
                if versions.resume_pick(titles, rows) is not item:
                    continue
            picked.append((item, row))
        picked.sort(key=lambda p: p[1].last_played_date or _MIN_DATE, reverse=True)
        total = len(picked)
        page = picked[start:] if limit is None else picked[start : start + limit]
        dtos = [
            self.item_dto(item, user_id=user.id, fields=fields, enable_images=False)
            for item, _ in page
        ]
        return _json({"Items": dtos, "TotalRecordCount": total, "StartIndex": start})

    async def _h_played(self, request: web.Request) -> web.Response:
        caller = self._authorized(request)
        user = self._target_user(request, caller)
        item = self._item_for(request.match_info["itemId"], user)
        if request.method == "POST":
            values = self._query(request).get("dateplayed")
            date = None
            if values and values[-1]:
                try:
                    date = parse_date(values[-1])
                except ValueError:
                    raise bad_request() from None
            self.do_mark_played(user, item.id, date)
        else:
            self.do_mark_unplayed(user, item.id)
        return _json(self.user_data_dto(user.id, item))

    async def _h_favorite(self, request: web.Request) -> web.Response:
        caller = self._authorized(request)
        user = self._target_user(request, caller)
        item = self._item_for(request.match_info["itemId"], user)
        self.do_favorite(user, item.id, request.method == "POST")
        return _json(self.user_data_dto(user.id, item))

    async def _h_rating(self, request: web.Request) -> web.Response:
        caller = self._authorized(request)
        user = self._target_user(request, caller)
        item = self._item_for(request.match_info["itemId"], user)
        likes: bool | None = None
        if request.method == "POST":
            values = self._query(request).get("likes")
            if values and values[-1] != "":
                likes = _parse_bool(values[-1])
        self.do_likes(user, item.id, likes)
        return _json(self.user_data_dto(user.id, item))

    async def _h_user_data(self, request: web.Request) -> web.Response:
        caller = self._authorized(request)
        user = self._target_user(request, caller)
        if (
            request.method == "POST"
            and not caller.is_admin
            and (caller.user_id != user.id or not user.enable_user_preference_access)
        ):
            raise ApiError(403, "User is not allowed to update this item user data.")
        item = self._item_for(request.match_info["itemId"], user)
        if request.method == "POST":
            update = await self._read_update(request)
            row = self.partial_row(user.id, item)
            try:
                apply_update(row, update)
            except RatingOutOfRangeError:
                raise ApiError(400) from None
            self.save(user, item, row, "UpdateUserData")
        return _json(self.user_data_dto(user.id, item))

    async def _h_playing(self, request: web.Request) -> web.Response:
        """Playback reporting (§3.5): only the calling session's users change.

        An API-key session has no user, so nothing changes (#9614, #7215). With a
        user token: start -> PlayCount+1, LastPlayedDate now, Played false;
        progress -> resume thresholds; stopped -> thresholds, or PlayCount+1 and
        Played when PositionTicks is missing.
        """
        caller = self._authorized(request)
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            raise bad_request() from None
        if not isinstance(body, dict):
            raise bad_request()
        if caller.user_id is None:
            return web.Response(status=204)
        user = self._users_by_id[caller.user_id]
        lowered = {k.lower(): v for k, v in body.items()}
        item = self.get_item(str(lowered.get("itemid") or ""))
        if item is None or item.is_folder:
            return web.Response(status=204)
        position = lowered.get("positionticks")
        kind = request.path.rsplit("/", 1)[-1].lower()
        if kind == "playing":
            row = self.row(user.id, item)
            playback_start(row, now=self.now(), resumable=True)
            self.save(user, item, row, "PlaybackStart")
        elif kind == "progress":
            if position is not None:
                row = self.partial_row(user.id, item)
                playback_progress(
                    row,
                    position_ticks=int(position),
                    runtime_ticks=item.runtime_ticks,
                    kind=item.type,
                )
                self.save(user, item, row, "PlaybackProgress")
        else:
            row = self.row(user.id, item)
            if position is None:
                row.play_count += 1
                row.played = True
            else:
                playback_progress(
                    row,
                    position_ticks=int(position),
                    runtime_ticks=item.runtime_ticks,
                    kind=item.type,
                )
            self.save(user, item, row, "PlaybackFinished")
        return web.Response(status=204)

    async def _read_update(self, request: web.Request) -> dict[str, Any]:
        """Bind ``UpdateUserItemDataDto``: names case-insensitive, numbers as strings."""
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            raise bad_request() from None
        if not isinstance(body, dict):
            raise bad_request()
        update: dict[str, Any] = {}
        try:
            for key, value in body.items():
                name = key.lower()
                if value is None:
                    continue
                if name in {"playbackpositionticks", "playcount"}:
                    update[name] = int(value)
                elif name == "rating":
                    update[name] = float(value)
                elif name in {"isfavorite", "likes", "played"}:
                    if not isinstance(value, bool):
                        raise bad_request()
                    update[name] = value
                elif name == "lastplayeddate":
                    update[name] = parse_date(str(value))
        except (TypeError, ValueError):
            raise bad_request() from None
        return update

    async def _h_items(self, request: web.Request) -> web.Response:
        """``GET /Items`` and ``/Users/{userId}/Items`` (§2)."""
        caller = self._authorized(request)
        q = self._query(request)
        modern = self.version_tuple[:2] >= (10, 9)
        user: SimUser | None = None
        if "userId" in request.match_info or q.get("userid"):
            raw = request.match_info.get("userId") or q["userid"][-1]
            user_id = self._guid(raw)
            if modern and not caller.is_admin and user_id != caller.user_id:
                raise ApiError(403, "Forbidden")
            user = self._users_by_id.get(user_id)
            if user is None and modern:
                raise not_found()
        elif modern and caller.user_id is not None:
            # 10.9+ GetUserId falls back to the caller; 10.8's userId defaults to
            # Guid.Empty, i.e. no user and no user data.
            user = self._users_by_id[caller.user_id]

        def last(name: str) -> str | None:
            values = q.get(name)
            return values[-1] if values else None

        def flag(name: str, default: bool | None) -> bool | None:
            raw = last(name)
            if raw is None or raw == "":
                return default
            return _parse_bool(raw)

        def as_list(name: str) -> list[str]:
            return [p for v in q.get(name, ()) for p in v.split(",") if p]

        def enum_list(name: str, allowed: Iterable[str]) -> list[str]:
            lookup = {a.lower(): a for a in allowed}
            return [lookup[p.lower()] for p in as_list(name) if p.lower() in lookup]

        def as_int(name: str) -> int | None:
            raw = last(name)
            if raw is None or raw == "":
                return None
            try:
                return int(raw)
            except ValueError:
                raise bad_request() from None

        recursive = bool(flag("recursive", False))
        parent_raw = last("parentid")
        parent_id = self._guid(parent_raw) if parent_raw else None
        if parent_id is not None and user is not None:
            parent = self._by_id.get(parent_id)
            if parent is not None and not self._can_see(user, parent):
                library = self._by_id[parent.library_id or parent.id]
                raise ApiError(
                    401,
                    f"{user.name} is not permitted to access Library {library.name}.",
                )
        ids = [self._guid(i) for i in as_list("ids")]
        include = set(enum_list("includeitemtypes", _ITEM_KINDS))
        exclude = set(enum_list("excludeitemtypes", _ITEM_KINDS))
        fields = set(enum_list("fields", _ITEM_FIELDS))
        linked_under: str | None = None
        parent_item = self._by_id.get(parent_id) if parent_id else None
        if include == {"BoxSet"} and parent_id is not None:
            # 10.8-10.11: includeItemTypes=BoxSet alone drops parentId ([v10.10.7]
            # Jellyfin.Api/Controllers/ItemsController.cs:272-276). 12.0 drops it
            # too but keeps the box sets with a member under a parent that is not
            # a BoxSet or a boxsets library ([v12.0-rc5] ItemsController.cs:
            # 289-308).
            if (
                self.version_tuple[0] >= 12
                and parent_item is not None
                and parent_item.type != "BoxSet"
                and parent_item.collection_type != "boxsets"
            ):
                linked_under = parent_id
            if parent_item is None or parent_item.type != "BoxSet":
                parent_id = None
        if (
            self.version_tuple[0] >= 12
            and last("recursive") in (None, "")
            and parent_item is not None
            and parent_item.type == "CollectionFolder"
            and include
        ):
            # 12.0: includeItemTypes on a library defaults to recursive
            # ([v12.0-rc5] Jellyfin.Api/Controllers/ItemsController.cs:335-340).
            recursive = True
        filters = self._apply_filters(enum_list("filters", _ITEM_FILTERS))
        sort_by = enum_list("sortby", _SORT_FIELDS)
        sort_order = enum_list("sortorder", ("Ascending", "Descending"))
        enable_user_data = bool(flag("enableuserdata", True))
        enable_images = bool(flag("enableimages", True))
        enable_total = bool(flag("enabletotalrecordcount", True))
        is_played = flag("isplayed", None)
        is_favorite = flag("isfavorite", None)
        saved_since = self._date_param(last("mindatelastsaved"))
        saved_since_for_user = self._date_param(last("mindatelastsavedforuser"))
        if saved_since is not None and self.version_tuple[:2] in {(10, 9), (10, 10)}:
            # The clause names @MinDateLastSavedForUser but binds @MinDateLastSaved;
            # Microsoft.Data.Sqlite refuses an unbound parameter ([v10.10.7]
            # Emby.Server.Implementations/Data/SqliteItemRepository.cs:3256-3260).
            raise ApiError(500, "Must add values for the following parameters")
        start = as_int("startindex") or 0
        limit = as_int("limit")
        search = (last("searchterm") or "").lower()

        user_filters = bool(
            is_played is not None
            or is_favorite is not None
            or filters - {"IsFolder", "IsNotFolder"}
        )
        cache_key = (
            user.id if user is not None else None,
            recursive,
            parent_id,
            tuple(ids),
            tuple(sorted(include)),
            tuple(sorted(exclude)),
            tuple(sorted(filters)),
            tuple(sort_by),
            tuple(sort_order),
            is_played,
            is_favorite,
            search,
            saved_since,
            saved_since_for_user,
            linked_under,
        )
        cached = self._query_cache.get(cache_key)
        if cached is not None and cached[0] == self._generation and not self._vanished:
            selected = cached[1]
        else:
            selected = self._select(
                user=user,
                recursive=recursive,
                parent_id=parent_id,
                ids=ids,
                include=include,
                exclude=exclude,
                filters=filters,
                sort_by=sort_by,
                sort_order=sort_order,
                is_played=is_played,
                is_favorite=is_favorite,
                search=search,
                user_filters=user_filters,
                saved_since=saved_since,
                saved_since_for_user=saved_since_for_user,
                linked_under=linked_under,
            )
            if len(self._query_cache) > 16:
                self._query_cache.clear()
            if not self._vanished:
                self._query_cache[cache_key] = (self._generation, selected)
        uid = user.id if user is not None else None
        total = len(selected)
        page = selected[start:] if limit is None else selected[start : start + limit]
        dtos = [
            self.item_dto(
                item,
                user_id=uid,
                fields=fields,
                enable_user_data=enable_user_data,
                enable_images=enable_images,
            )
            for item in page
        ]
        if not enable_total:
            # QueryResult(startIndex, null, items): totalRecordCount ?? items.Count
            # ([v10.11.11] Emby.Server.Implementations/Library/LibraryManager.cs:1662-1670).
            total = len(dtos)
        return _json({"Items": dtos, "TotalRecordCount": total, "StartIndex": start})

    def _select(
        self,
        *,
        user: SimUser | None,
        recursive: bool,
        parent_id: str | None,
        ids: list[str],
        include: set[str],
        exclude: set[str],
        filters: set[str],
        sort_by: list[str],
        sort_order: list[str],
        is_played: bool | None,
        is_favorite: bool | None,
        search: str,
        user_filters: bool,
        saved_since: datetime | None = None,
        saved_since_for_user: datetime | None = None,
        linked_under: str | None = None,
    ) -> list[SimItem]:
        """Filter and order items for ``/Items`` (the SQL part of GetItems)."""
        if saved_since is not None and self.version_tuple[:2] == (10, 8):
            # Unbound parameter reads as NULL in SQLitePCL: nothing matches
            # ([v10.8.13] Emby.Server.Implementations/Data/SqliteItemRepository.cs:3557-3561).
            return []
        # Both compare the item row's DateLastSaved, never user data
        # ([v10.11.11] Jellyfin.Server.Implementations/Item/BaseItemRepository.cs:1874-1882).
        floors = [d for d in (saved_since, saved_since_for_user) if d is not None]
        now_mono = time.monotonic()
        candidates: Iterable[SimItem]
        if ids:
            candidates = [self._by_id[i] for i in ids if i in self._by_id]
        elif parent_id is not None:
            parent = self._by_id.get(parent_id)
            if parent is None:
                candidates = []
            elif recursive and parent.type == "CollectionFolder":
                # TopParentIds = the library: by-name artists (no library) never
                # match ([v10.10.7] Emby.Server.Implementations/Library/
                # LibraryManager.cs:1467-1520), except on 12.0 (below).
                candidates = [
                    i
                    for i in self._items
                    if (i.library_id == parent_id and i.id != parent_id)
                    or (i.by_name and self._by_name_exempt(include, user))
                ]
            elif recursive:
                # AncestorIds = the folder: its descendants; a BoxSet's linked
                # members through post-filtering ([v10.10.7] MediaBrowser.
                # Controller/Entities/Folder.cs:712-746, 805-815).
                below = {i.id for i in self._all_descendants(parent)}
                candidates = [i for i in self._items if i.id in below]
            else:
                candidates = self._kids(parent)
        elif recursive:
            # With a user, AddUserToQuery restricts to the user's views
            # (TopParentIds), so items outside every library (by-name artists)
            # are not listed; without a user nothing restricts them ([v10.10.7]
            # Emby.Server.Implementations/Library/LibraryManager.cs:1522-1547,
            # [v10.8.13] :1513, [v10.11.11] :1701, [v12.0-rc5] :2012).
            candidates = [
                i
                for i in self._items
                if i.type != "CollectionFolder"
                and (
                    user is None or not i.by_name or self._by_name_exempt(include, user)
                )
            ]
        else:
            candidates = [i for i in self._items if i.type == "CollectionFolder"]
        if linked_under is not None:
            under_ids = {linked_under}
            under = self._by_id.get(linked_under)
            if under is not None:
                if under.type == "CollectionFolder":
                    under_ids |= {i.id for i in self._items if i.library_id == under.id}
                else:
                    under_ids |= {i.id for i in self._all_descendants(under)}
            candidates = [
                i
                for i in candidates
                if i.type == "BoxSet" and any(m in under_ids for m in i.member_ids)
            ]

        uid = user.id if user is not None else None
        data = self._data[uid] if uid is not None else {}
        key_of = self._data_key

        def row_of(item: SimItem) -> UserDataRow:
            return data.get(key_of(item)) or _DEFAULT_ROW

        series_only = include == {"Series"}

        def played_of(item: SimItem) -> bool:
            """``isPlayed`` per version for folders; leaves use their own row.

            * 10.8-10.10: ``includeItemTypes=Series`` alone: no unplayed leaf;
              other folders their own row ([v10.10.7] Emby.Server.Implementations/
              Data/SqliteItemRepository.cs:3518-3548).
            * 10.11: ``Series`` alone: any played leaf; other folders their own
              row ([v10.11.11] Jellyfin.Server.Implementations/Item/
              BaseItemRepository.cs:2072-2093).
            * 12.0: every folder: no unplayed leaf, an empty one is played
              ([v12.0-rc5] .../Item/BaseItemRepository.TranslateQuery.cs:473-493).
            """
            if not item.is_folder or item.type == "CollectionFolder":
                return row_of(item).played
            if self.has_versions or (series_only and item.type == "Series"):
                leaves = [
                    row_of(leaf).played for leaf in self._descendant_leaves(item, user)
                ]
                if self.version_tuple[:2] == (10, 11):
                    return any(leaves)
                return all(leaves)
            return row_of(item).played

        blocked = user.blocked_libraries if user is not None else set()
        selected: list[SimItem] = []
        for item in candidates:
            if not self._visible(item, now_mono):
                continue
            if item.primary_id is not None and (self.has_versions or uid is not None):
                # 12.0 never lists an alternate, ids= included ([v12.0-rc5]
                # .../Item/BaseItemRepository.TranslateQuery.cs:739-748); 10.x
                # lists an owned Video to no user ([v10.11.11] Emby.Server.
                # Implementations/Library/LibraryManager.cs:1701-1726).
                continue
            if blocked and (item.library_id or item.id) in blocked:
                continue
            if item.by_name and blocked and not self._by_name_visible(item, user):
                continue
            if include and item.type not in include:
                continue
            if item.type in exclude:
                continue
            if search and search not in item.name.lower():
                continue
            if floors and (
                item.date_last_saved is None
                or any(item.date_last_saved < floor for floor in floors)
            ):
                continue
            if "IsFolder" in filters and not item.is_folder:
                continue
            if "IsNotFolder" in filters and item.is_folder:
                continue
            if uid is not None and user_filters:
                row = row_of(item)
                if is_played is not None and played_of(item) != is_played:
                    continue
                if "IsPlayed" in filters and not played_of(item):
                    continue
                if "IsUnplayed" in filters and played_of(item):
                    continue
                if is_favorite is not None and row.is_favorite != is_favorite:
                    continue
                if (
                    is_favorite is False
                    and self.version_tuple[:2] == (10, 11)
                    and key_of(item) not in data
                ):
                    # ``FirstOrDefault(...)!.IsFavorite == false`` is NULL without a
                    # row ([v10.11.11] Jellyfin.Server.Implementations/Item/
                    # BaseItemRepository.cs:2066-2070); 10.8-10.10 and 12.0 keep it.
                    continue
                if "IsFavorite" in filters and not row.is_favorite:
                    continue
                if "IsResumable" in filters and row.playback_position_ticks <= 0:
                    continue
                if (
                    "IsResumable" in filters
                    and self.has_versions
                    and self._alternates.get(item.id)
                ):
                    titles = self.versions_of(item)
                    rows = [row_of(t) for t in titles]
                    if versions.resume_pick(titles, rows) is not item:
                        continue
                if "Likes" in filters and row.likes is not True:
                    continue
                if "Dislikes" in filters and not self._dislikes_match(row):
                    continue
                if "IsFavoriteOrLikes" in filters and not row.is_favorite:
                    # Favourites only: likes are not checked on any version
                    # (see _dislikes_match for the sources).
                    continue
            selected.append(item)

        if self.has_versions:
            # DatePlayed: the newest date of the item's and its versions' rows
            # ([v12.0-rc5] Jellyfin.Server.Implementations/Item/OrderMapper.cs:32-49).
            def dated(item: SimItem) -> UserDataRow:
                rows = [row_of(v) for v in self.versions_of(item)]
                return max(rows, key=lambda r: r.last_played_date or _MIN_DATE)

        else:
            dated = row_of
        if sort_by:
            for index in range(len(sort_by) - 1, -1, -1):
                key_name = sort_by[index]
                descending = (
                    sort_order[index] == "Descending"
                    if index < len(sort_order)
                    else bool(sort_order) and sort_order[-1] == "Descending"
                )
                selected.sort(
                    key=_sort_key(
                        key_name, dated if key_name == "DatePlayed" else row_of
                    ),
                    reverse=descending,
                )  # stable
        elif self.version_tuple[:2] >= (10, 11):
            selected.sort(key=lambda i: i.sort_name)

        return selected

    def _by_name_exempt(self, include: set[str], user: SimUser | None) -> bool:
        """Whether by-name artists pass a library (TopParentIds) restriction.

        * 10.8-10.11: only with ``IncludeItemsByName``, which ``/Items`` never
          sets (only search does): never ([v10.10.7] Emby.Server.Implementations/
          Data/SqliteItemRepository.cs:4095-4140, Library/SearchEngine.cs:150;
          [v10.11.11] Jellyfin.Server.Implementations/Item/BaseItemRepository.cs:
          2485-2499).
        * 12.0: by-name kinds named in ``includeItemTypes`` are exempt, whatever
          the library; a user with restrictions keeps an artist only when an item
          they can see names it ([v12.0-rc5] Jellyfin.Server.Implementations/Item/
          BaseItemRepository.QueryBuilding.cs:473-559, BaseItemRepository.cs:
          49-64). Modelled with blocked libraries as the restriction (inferred).
        """
        return self.version_tuple[0] >= 12 and "MusicArtist" in include

    def _by_name_visible(self, item: SimItem, user: SimUser | None) -> bool:
        """12.0 access filtering of a by-name artist for a restricted user."""
        if user is None or not user.blocked_libraries:
            return True
        return any(
            item.id in {a for _, a in track.artists} and self._can_see(user, track)
            for track in self._items
            if track.artists
        )

    def _apply_filters(self, listed: list[str]) -> set[str]:
        """``InternalItemsQuery.ApplyFilters``: pairs that contradict each other.

        Before 12.0 each pair sets one property, so the one listed last wins
        ([v10.11.11] Jellyfin.Api/Controllers/ItemsController.cs:390-422). 12.0
        throws ``ArgumentException("Conflicting filters")``, a 400
        ([v12.0-rc5] MediaBrowser.Controller/Entities/InternalItemsQuery.cs:531-598).
        """
        pairs: tuple[tuple[str, str], ...] = (
            ("IsFolder", "IsNotFolder"),
            ("IsPlayed", "IsUnplayed"),
        )
        pairs += (("Likes", "Dislikes"),)
        kept = set(listed)
        for first, second in pairs:
            if first in kept and second in kept:
                if self.version_tuple[0] >= 12:
                    raise ApiError(400)
                last = max(
                    (i for i, name in enumerate(listed) if name in {first, second})
                )
                kept.discard(second if listed[last] == first else first)
        return kept

    def _dislikes_match(self, row: UserDataRow) -> bool:
        """``filters=Dislikes`` as each version implements it (not as it is named).

        * 10.8-10.10: ``(rating is null or rating < 6.5)``, every item that is not
          liked, items without a row included
          ([v10.10.7] Emby.Server.Implementations/Data/SqliteItemRepository.cs:3476-3502).
        * 10.11: the value is ignored and the liked items come back
          ([v10.11.11] Jellyfin.Server.Implementations/Item/BaseItemRepository.cs:2054-2064).
        * 12.0: every item that is not liked
          ([v12.0-rc5] Jellyfin.Server.Implementations/Item/BaseItemRepository.TranslateQuery.cs:441-450).
        """
        if self.version_tuple[:2] == (10, 11):
            return row.likes is True
        return row.likes is not True

    def _date_param(self, raw: str | None) -> datetime | None:
        """A ``DateTime?`` query value (ISO 8601); 400 when it does not parse."""
        if raw is None or raw == "":
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise bad_request() from None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_MISSING = object()
_DEFAULT_ROW = UserDataRow()
_ITEM_KINDS = [
    "AggregateFolder",
    "Audio",
    "AudioBook",
    "BasePluginFolder",
    "Book",
    "BoxSet",
    "Channel",
    "ChannelFolderItem",
    "CollectionFolder",
    "Episode",
    "Folder",
    "Genre",
    "ManualPlaylistsFolder",
    "Movie",
    "LiveTvChannel",
    "LiveTvProgram",
    "MusicAlbum",
    "MusicArtist",
    "MusicGenre",
    "MusicVideo",
    "Person",
    "Photo",
    "PhotoAlbum",
    "Playlist",
    "PlaylistsFolder",
    "Program",
    "Recording",
    "Season",
    "Series",
    "Studio",
    "Trailer",
    "TvChannel",
    "TvProgram",
    "UserRootFolder",
    "UserView",
    "Video",
    "Year",
]
_ITEM_FIELDS = (
    "DateCreated",
    "Path",
    "ProviderIds",
    "SortName",
    "ParentId",
    "MediaSourceCount",
    "MediaSources",
    "RecursiveItemCount",
)
#: Kinds that are ``Video`` items (VideoType, versions, media sources).
_VIDEO_KINDS = frozenset({"Movie", "Episode", "Video", "MusicVideo"})
#: ``IHasMediaSources`` kinds: Video and Audio subclasses (not Book).
_MEDIA_SOURCE_KINDS = _VIDEO_KINDS | {"Audio", "AudioBook"}


def _media_source(item: SimItem) -> dict[str, Any]:
    """The one ``MediaSourceInfo`` of an audio file."""
    file_name = item.path.rsplit("/", 1)[-1]
    stem, _, ext = file_name.rpartition(".")
    return {
        "Protocol": "File",
        "Id": item.id,
        "Path": item.path,
        "Type": "Default",
        "Container": ext,
        "Name": stem,
        "IsRemote": False,
        "RunTimeTicks": item.runtime_ticks,
    }


_ITEM_FILTERS = [
    "IsFolder",
    "IsNotFolder",
    "IsUnplayed",
    "IsPlayed",
    "IsFavorite",
    "IsResumable",
    "Likes",
    "Dislikes",
    "IsFavoriteOrLikes",
]
_SORT_FIELDS = (
    "SortName",
    "Name",
    "DateCreated",
    "DatePlayed",
    "PlayCount",
    "ProductionYear",
    "PremiereDate",
    "Runtime",
)
_MIN_DATE = datetime.min.replace(tzinfo=UTC)


def _sort_key(
    name: str, row_of: Callable[[SimItem], UserDataRow]
) -> Callable[[SimItem], Any]:
    if name == "SortName":
        return lambda i: i.sort_name
    if name == "Name":
        return lambda i: i.name
    if name == "DateCreated":
        return lambda i: i.date_created
    if name == "DatePlayed":
        return lambda i: row_of(i).last_played_date or _MIN_DATE
    if name == "PlayCount":
        return lambda i: row_of(i).play_count
    if name == "Runtime":
        return lambda i: i.runtime_ticks or 0
    return lambda i: i.year or 0


def _dotnet_double(value: float) -> float | int:
    """Return a double as System.Text.Json writes it (``10``, not ``10.0``)."""
    return int(value) if value.is_integer() else value


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered not in {"true", "false"}:
        raise bad_request()
    return lowered == "true"


def _json(payload: Any, status: int = 200) -> web.Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    response = web.Response(
        status=status, body=body, content_type=JSON_TYPE, charset="utf-8"
    )
    response[conformance.PAYLOAD_KEY] = payload
    return response


class SimulatorCluster:
    """Several simulated servers started and stopped together."""

    def __init__(self, servers: Iterable[SimulatedServer]) -> None:
        """Group servers."""
        self.servers = list(servers)

    async def start(self) -> None:
        """Start every server."""
        for server in self.servers:
            await server.start()

    async def stop(self) -> None:
        """Stop every server."""
        for server in self.servers:
            await server.stop()

    async def __aenter__(self) -> Self:
        """Start every server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop every server."""
        await self.stop()

    def __getitem__(self, index: int) -> SimulatedServer:
        """Return one server."""
        return self.servers[index]

    def __iter__(self) -> Any:
        """Iterate over the servers."""
        return iter(self.servers)

    def __len__(self) -> int:
        """Number of servers."""
        return len(self.servers)


__all__ = [
    "DEFAULT_WEBHOOK_TEMPLATE",
    "Actor",
    "ApiError",
    "Counters",
    "Faults",
    "RequestLogEntry",
    "SimUser",
    "SimulatedServer",
    "SimulatorCluster",
    "Webhooks",
]
