"""Near-real-time sync: the Jellyfin Webhook plugin posts user-data saves here.

Each sync group registers one Home Assistant webhook (random id, local network only
unless the group's options allow remote calls). The Jellyfin Webhook plugin's Generic
destination posts a small JSON document (:data:`WEBHOOK_TEMPLATE`) for every
"User Data Saved" notification. A call only names a server, a user and an item:
the values in it are never used. Calls are collected per (server, user, item):

* a playback-progress save waits until the item has been quiet for the group's
  progress delay (and at most ten times that while it keeps playing), so a film
  being watched causes a few writes, and the last position is always synced;
* any other save waits :data:`~.const.WEBHOOK_COALESCE` seconds, so a burst (a
  season marked watched) becomes one targeted cycle.

A targeted cycle reads the items' current user data from every server and merges it
against the baseline with the normal rules and guard (``SyncEngine.run_cycle`` with
``targets``), under the group's cycle lock. A save that is the echo of the sync's
own write (the written server now holds what was written) is dropped by the group
before any cycle (:mod:`.group.echoes`). Polling keeps running at its interval and catches whatever a lost call
missed.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from http import HTTPStatus
import json
import re
from typing import Any, Protocol

from aiohttp import web
from homeassistant.components import webhook
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.network import NoURLAvailableError

from .const import (
    CONF_PROGRESS_DELAY,
    CONF_WEBHOOK_REMOTE,
    DOMAIN,
    LOGGER,
    PROGRESS_MAX_WAIT_FACTOR,
    SAVE_REASON_PROGRESS,
    WEBHOOK_COALESCE,
    WEBHOOK_MAX_BODY,
    WEBHOOK_NAME,
)
from .group import ItemKey, ItemsRun
from .jellyfin.models import normalize_id

#: What users paste into the Webhook plugin's Generic destination ("Template").
#: Every value is quoted: Handlebars.Net renders booleans as ``True``/``False`` and
#: Guids in dashed form. Only ``ServerId``, ``UserId`` and ``ItemId`` (and
#: ``NotificationType``, ``SaveReason``) are read; the rest helps when debugging.
WEBHOOK_TEMPLATE = (
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
NOTIFICATION_TYPE = "UserDataSaved"
_GUID = re.compile(r"[0-9a-f]{32}")


class WebhookRejectedError(ValueError):
    """A webhook call that cannot be used; the message is the logged reason."""

    def __init__(self, reason: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST):
        """Keep the reason and the HTTP status to answer with."""
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One usable "User Data Saved" call: which item of which user on which server."""

    server_id: str
    user_id: str
    item_id: str
    reason: str
    """Jellyfin's ``SaveReason`` (``PlaybackProgress``, ``TogglePlayed``, ...)."""

    @property
    def key(self) -> ItemKey:
        """(server id, user id, item id)."""
        return self.server_id, self.user_id, self.item_id

    @property
    def progress(self) -> bool:
        """Whether this is a playback-progress save (debounced longer)."""
        return self.reason == SAVE_REASON_PROGRESS


def _guid(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise WebhookRejectedError(f"{name} is missing")
    normalized = normalize_id(value.strip())
    if not _GUID.fullmatch(normalized):
        raise WebhookRejectedError(f"{name} is not a Jellyfin id")
    return normalized


def parse_event(raw: bytes, server_ids: Collection[str]) -> WebhookEvent | None:
    """Read a webhook body; ``None`` for a notification other than a user-data save.

    Args:
        raw: The request body (the rendered :data:`WEBHOOK_TEMPLATE`).
        server_ids: The group's server ids (32 lower-case hex digits).

    Raises:
        WebhookRejectedError: malformed body, or a server that is not in the group.
    """
    try:
        body = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as err:
        raise WebhookRejectedError("the body is not JSON") from err
    if not isinstance(body, dict):
        raise WebhookRejectedError("the body is not a JSON object")
    kind = body.get("NotificationType", NOTIFICATION_TYPE)
    if not isinstance(kind, str):
        raise WebhookRejectedError("NotificationType is not text")
    if kind != NOTIFICATION_TYPE:
        return None
    server_id = _guid(body, "ServerId")
    if server_id not in server_ids:
        raise WebhookRejectedError(
            "the server is not in this sync group", HTTPStatus.NOT_FOUND
        )
    reason = body.get("SaveReason", "")
    if not isinstance(reason, str):
        raise WebhookRejectedError("SaveReason is not text")
    return WebhookEvent(
        server_id=server_id,
        user_id=_guid(body, "UserId"),
        item_id=_guid(body, "ItemId"),
        reason=reason.strip(),
    )


async def read_body(request: web.Request, limit: int = WEBHOOK_MAX_BODY) -> bytes:
    """The request body, refusing more than ``limit`` bytes without reading them.

    Raises:
        WebhookRejectedError: the body is larger than ``limit``.
    """
    too_large = WebhookRejectedError(
        "the body is too large", HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(16 * 1024):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_url(hass: HomeAssistant, webhook_id: str) -> str:
    """The URL to give the Jellyfin Webhook plugin (the local one preferred).

    Without a configured or detectable Home Assistant URL, the path is shown after
    a placeholder for the address.
    """
    try:
        return webhook.async_generate_url(
            hass, webhook_id, allow_ip=True, prefer_external=False
        )
    except NoURLAvailableError:
        return f"http://<home-assistant>:8123{webhook.async_generate_path(webhook_id)}"


@dataclass(slots=True)
class _Pending:
    due: float
    """Loop time at which the item is synced."""
    progress_since: float | None
    """Loop time of the first progress save still waiting (``None``: not progress)."""


class CallListener(Protocol):
    """Told of every accepted call (the instant-sync status)."""

    def note_call(self, server_id: str) -> None:
        """A call from a server was accepted."""


class WebhookHost(Protocol):
    """What the webhook needs from its sync group (the coordinator).

    A narrow interface: the webhook parses, validates and debounces, then asks
    the group for a targeted run; it never imports the coordinator.
    """

    @property
    def config_entry(self) -> ConfigEntry[Any]:
        """The group's entry (title, background tasks)."""

    @property
    def options(self) -> Mapping[str, Any]:
        """The group's options."""

    @property
    def names(self) -> Mapping[str, str]:
        """Server id -> name: the servers calls may come from."""

    @property
    def instant(self) -> CallListener | None:
        """Instant-sync status, told of accepted calls."""

    def knows_user(self, server_id: str, user_id: str) -> bool:
        """Whether the server listed the user at the last check."""

    async def async_run_items(self, keys: Collection[ItemKey]) -> ItemsRun:
        """Run a targeted cycle over saved items (the group drops echoes)."""


class WebhookSync:
    """The webhook of one sync group: receives calls, debounces, runs cycles."""

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: WebhookHost,
        webhook_id: str,
    ) -> None:
        """Bind to a group; call :meth:`async_register` to start receiving."""
        self.hass = hass
        self.coordinator = coordinator
        self._webhook_id = webhook_id
        options = coordinator.options
        self.progress_delay = float(options[CONF_PROGRESS_DELAY])
        self.local_only = not options[CONF_WEBHOOK_REMOTE]
        self.coalesce = WEBHOOK_COALESCE
        self._pending: dict[ItemKey, _Pending] = {}
        self._timer: Any = None
        self._flushing = False
        self._registered = False
        self._warned: set[str] = set()
        self.stats: dict[str, int] = {
            "received": 0,
            "accepted": 0,
            "ignored": 0,
            "rejected": 0,
            "echoes": 0,
            "cycles": 0,
        }
        """Counters for diagnostics (no ids, no payloads)."""

    @property
    def pending(self) -> int:
        """Items waiting for a targeted cycle."""
        return len(self._pending)

    @property
    def flushing(self) -> bool:
        """Whether targeted cycles are being run."""
        return self._flushing

    @callback
    def async_register(self) -> None:
        """Register the Home Assistant webhook."""
        webhook.async_register(
            self.hass,
            DOMAIN,
            f"{WEBHOOK_NAME} {self.coordinator.config_entry.title}",
            self._webhook_id,
            self._async_handle,
            local_only=self.local_only,
            allowed_methods=("POST",),
        )
        self._registered = True

    @callback
    def async_unregister(self) -> None:
        """Unregister the webhook and drop waiting items (the group unloads)."""
        if self._registered:
            webhook.async_unregister(self.hass, self._webhook_id)
            self._registered = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending.clear()

    async def _async_handle(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        """Answer one call from the Webhook plugin (never raises)."""
        self.stats["received"] += 1
        try:
            raw = await read_body(request)
            event = parse_event(raw, self.coordinator.names)
            if event is not None:
                self._check_user(event)
        except WebhookRejectedError as err:
            self.stats["rejected"] += 1
            self._log_rejected(str(err))
            return web.Response(status=err.status, text=str(err))
        if event is None:
            self.stats["ignored"] += 1
            return web.Response(text="ignored: not a UserDataSaved notification")
        self.stats["accepted"] += 1
        if self.coordinator.instant is not None:
            self.coordinator.instant.note_call(event.server_id)
        self.add(event)
        return web.Response(text="accepted")

    def _check_user(self, event: WebhookEvent) -> None:
        """Refuse a user the server did not list at the last check.

        Raises:
            WebhookRejectedError: the user is unknown on that server.
        """
        if not self.coordinator.knows_user(event.server_id, event.user_id):
            raise WebhookRejectedError(
                "the user is not on that server", HTTPStatus.NOT_FOUND
            )

    def _log_rejected(self, reason: str) -> None:
        """Log a rejection: a warning the first time per reason, then debug."""
        title = self.coordinator.config_entry.title
        if reason in self._warned:
            LOGGER.debug("Webhook call for %s rejected: %s", title, reason)
            return
        self._warned.add(reason)
        LOGGER.warning(
            "Webhook call for %s rejected: %s (further calls rejected for this "
            "reason are logged at debug level)",
            title,
            reason,
        )

    @callback
    def add(self, event: WebhookEvent) -> None:
        """Queue an item for a targeted cycle (debounced)."""
        now = self.hass.loop.time()
        pending = self._pending.get(event.key)
        if event.progress:
            if pending is not None and pending.progress_since is None:
                return  # A quicker, non-progress sync of the item is already due.
            since = now
            if pending is not None and pending.progress_since is not None:
                since = pending.progress_since
            due = min(
                now + self.progress_delay,
                since + self.progress_delay * PROGRESS_MAX_WAIT_FACTOR,
            )
            self._pending[event.key] = _Pending(due, since)
        else:
            due = now + self.coalesce
            if pending is not None and pending.progress_since is None:
                due = min(due, pending.due)
            self._pending[event.key] = _Pending(due, None)
        self._schedule()

    @callback
    def _schedule(self) -> None:
        """Arm the timer for the earliest due item (unless a flush is running)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing or not self._pending or not self._registered:
            return
        due = min(p.due for p in self._pending.values())
        self._timer = self.hass.loop.call_at(due, self._on_timer)

    @callback
    def _on_timer(self) -> None:
        self._timer = None
        self._flushing = True
        self.coordinator.config_entry.async_create_background_task(
            self.hass, self._async_flush(), f"{DOMAIN} webhook sync"
        )

    async def _async_flush(self) -> None:
        """Run targeted cycles for every due item, until none is due."""
        try:
            while True:
                now = self.hass.loop.time()
                # Items due within the coalescing window join this cycle.
                due = [
                    key
                    for key, p in self._pending.items()
                    if p.due <= now + self.coalesce
                ]
                if not due:
                    return
                for key in due:
                    del self._pending[key]
                await self.async_sync(due)
        finally:
            self._flushing = False
            self._schedule()

    async def async_sync(self, keys: Collection[ItemKey]) -> None:
        """Run one targeted cycle over some items (echoes of own writes dropped)."""
        run = await self.coordinator.async_run_items(keys)
        self.stats["echoes"] += run.echoes
        self.stats["cycles"] += run.cycles
