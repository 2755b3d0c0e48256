"""Instant sync in one click: Home Assistant configures the Jellyfin Webhook plugin.

With the group's *Set up instant sync on the servers* option, every server that has
the Webhook plugin gets one Generic destination of ours (recognised by the group's
webhook URL, which holds its secret id), sending user-data saves of every item type
to the group's webhook. Nothing else in the plugin's configuration is touched, and a configuration
that holds our destination already is not written again.

* A server without the plugin gets a repair issue saying how to install it; each
  cycle looks again, and finishes the set-up once the plugin runs.
* An address Jellyfin cannot reach (no Home Assistant URL, or a loopback one while
  the server is elsewhere) is a repair issue too: nothing is guessed.
* Turning the option off removes our destination from every server, a server that
  is down at that time at its next contact. Deleting the group removes it from
  every server that answers; a repair issue names each one that did not.

"Active" means a call from the server arrived in the last
:data:`~.const.INSTANT_ACTIVE_WINDOW`; a saved configuration alone is "waiting".
"""

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
import ipaddress
from typing import Any, Protocol
from urllib.parse import urlsplit

from homeassistant.components import webhook
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.util import dt as dt_util

from .const import (
    CONF_INSTANT_SYNC,
    CONF_NAME,
    CONF_SERVER_ID,
    CONF_SERVERS,
    CONF_WEBHOOK_REMOTE,
    DOMAIN,
    INSTANT_ACTIVE_WINDOW,
    ISSUE_INSTANT_LEFT,
    ISSUE_INSTANT_URL,
    ISSUE_PLUGIN_MISSING,
    LOGGER,
)
from .jellyfin import JellyfinClient
from .jellyfin.exceptions import JellyfinError, JellyfinNotFoundError
from .jellyfin.plugins import (
    WEBHOOK_PLUGIN_ID,
    Plugin,
    destination,
    with_destination,
    without_destination,
)
from .webhook import WEBHOOK_TEMPLATE


class InstantHost(Protocol):
    """What the set-up needs from its sync group (the coordinator)."""

    @property
    def config_entry(self) -> ConfigEntry[Any]:
        """The group's entry (title, servers, webhook id)."""

    @property
    def options(self) -> Mapping[str, Any]:
        """The group's options."""

    @property
    def clients(self) -> Mapping[str, JellyfinClient]:
        """Server id -> client."""


class InstantStatus(StrEnum):
    """Where instant sync stands on one server."""

    OFF = "off"
    """The option is off."""
    ACTIVE = "active"
    """A call from the server arrived recently."""
    WAITING = "waiting"
    """Our destination is configured; no call has arrived yet."""
    PLUGIN_MISSING = "plugin_missing"
    NO_URL = "no_url"
    """Home Assistant has no address this server can reach."""
    ERROR = "error"
    """The server could not be configured (down, or an error); retried each cycle."""


def destination_name(title: str) -> str:
    """The name of our Generic destination for a group."""
    return f"Jellyfin Sync: {title} (Home Assistant)"


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class InstantSync:
    """Sets up (or removes) our Webhook plugin destination on a group's servers."""

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: InstantHost,
        webhook_id: str,
    ) -> None:
        """Bind to a group."""
        self.hass = hass
        self.coordinator = coordinator
        self._webhook_id = webhook_id
        self._path = webhook.async_generate_path(webhook_id)
        self.enabled = bool(coordinator.options.get(CONF_INSTANT_SYNC, False))
        self._done: set[str] = set()
        self.status: dict[str, InstantStatus] = {}
        self.last_call: dict[str, datetime] = {}
        self.error: dict[str, str] = {}
        """Server id -> what went wrong (no secrets: client messages carry none)."""

    @property
    def _entry(self) -> ConfigEntry[Any]:
        return self.coordinator.config_entry

    def note_call(self, server_id: str) -> None:
        """A webhook call from a server was accepted."""
        self.last_call[server_id] = dt_util.utcnow()
        if self.status.get(server_id) is InstantStatus.WAITING:
            self.status[server_id] = InstantStatus.ACTIVE

    def status_of(self, server_id: str) -> InstantStatus:
        """The server's status now (active decays to waiting without calls)."""
        status = self.status.get(
            server_id, InstantStatus.WAITING if self.enabled else InstantStatus.OFF
        )
        if status in (InstantStatus.ACTIVE, InstantStatus.WAITING):
            last = self.last_call.get(server_id)
            recent = (
                last is not None and dt_util.utcnow() - last <= INSTANT_ACTIVE_WINDOW
            )
            return InstantStatus.ACTIVE if recent else InstantStatus.WAITING
        return status

    def url_for(self, server_url: str) -> str | None:
        """The webhook URL this server is given.

        ``None`` when there is none it can reach (a repair issue says why).
        """
        remote = bool(self.coordinator.options.get(CONF_WEBHOOK_REMOTE, False))
        try:
            url = webhook.async_generate_url(
                self.hass, self._webhook_id, allow_ip=True, prefer_external=remote
            )
        except NoURLAvailableError:
            return None
        if _loopback(urlsplit(url).hostname) and not _loopback(
            urlsplit(server_url).hostname
        ):
            # Home Assistant's own loopback address: only a Jellyfin on the same
            # machine could reach it.
            return None
        return url

    async def async_apply(self) -> None:
        """Set up (or remove) our destination on every server not done yet.

        Called when the group loads and after each cycle; a server that is done
        costs nothing.
        """
        servers = self._entry.data[CONF_SERVERS]
        no_url: list[str] = []
        for server in servers:
            server_id = server[CONF_SERVER_ID]
            if server_id in self._done:
                continue
            client = self.coordinator.clients.get(server_id)
            if client is None:
                continue
            if self.enabled:
                url = self.url_for(server[CONF_URL])
                if url is None:
                    self.status[server_id] = InstantStatus.NO_URL
                    no_url.append(server[CONF_NAME])
                    continue
                await self._set_up(server, client, url)
            else:
                await self._remove(server, client)
        self._update_url_issue(no_url)

    async def _set_up(
        self, server: dict[str, Any], client: JellyfinClient, url: str
    ) -> None:
        server_id = server[CONF_SERVER_ID]
        try:
            plugin = await self._running_plugin(client)
            if plugin is None:
                self.status[server_id] = InstantStatus.PLUGIN_MISSING
                self._raise_plugin_missing(server)
                return
            config = await client.get_plugin_configuration(WEBHOOK_PLUGIN_ID)
            wanted = destination(
                destination_name(self._entry.title),
                url,
                WEBHOOK_TEMPLATE,
                plugin.release,
            )
            updated = with_destination(config, wanted, self._path)
            if updated is not None:
                await client.set_plugin_configuration(WEBHOOK_PLUGIN_ID, updated)
                LOGGER.info(
                    "Instant sync set up on Jellyfin server %s", server[CONF_NAME]
                )
        except JellyfinError as err:
            self._failed(server, err)
            return
        ir.async_delete_issue(
            self.hass, DOMAIN, self._issue(ISSUE_PLUGIN_MISSING, server_id)
        )
        self.error.pop(server_id, None)
        self.status[server_id] = InstantStatus.WAITING
        self._done.add(server_id)

    async def _remove(self, server: dict[str, Any], client: JellyfinClient) -> None:
        server_id = server[CONF_SERVER_ID]
        ir.async_delete_issue(
            self.hass, DOMAIN, self._issue(ISSUE_PLUGIN_MISSING, server_id)
        )
        try:
            await remove_destination(client, self._path)
        except JellyfinError as err:
            self._failed(server, err)
            return
        self.error.pop(server_id, None)
        self.status[server_id] = InstantStatus.OFF
        self._done.add(server_id)

    def _failed(self, server: dict[str, Any], err: JellyfinError) -> None:
        server_id = server[CONF_SERVER_ID]
        if server_id not in self.error:
            LOGGER.warning(
                "Could not %s instant sync on Jellyfin server %s (will retry): %s",
                "set up" if self.enabled else "remove",
                server[CONF_NAME],
                err,
            )
        # A key (the sensor's attribute translations word it), never a message.
        self.error[server_id] = err.reason.value
        # With the option off only a clean-up failed: the feature stays "off".
        self.status[server_id] = (
            InstantStatus.ERROR if self.enabled else InstantStatus.OFF
        )

    @staticmethod
    async def _running_plugin(client: JellyfinClient) -> Plugin | None:
        plugins = await client.get_plugins()
        return next(
            (p for p in plugins if p.id == WEBHOOK_PLUGIN_ID and p.active), None
        )

    def _issue(self, kind: str, server_id: str) -> str:
        return f"{kind}_{self._entry.entry_id}_{server_id}"

    def _raise_plugin_missing(self, server: dict[str, Any]) -> None:
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._issue(ISSUE_PLUGIN_MISSING, server[CONF_SERVER_ID]),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_PLUGIN_MISSING,
            translation_placeholders={"server": server[CONF_NAME]},
        )

    def _update_url_issue(self, servers: list[str]) -> None:
        issue_id = f"{ISSUE_INSTANT_URL}_{self._entry.entry_id}"
        if not servers:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            return
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_INSTANT_URL,
            translation_placeholders={
                "title": self._entry.title,
                "servers": ", ".join(servers),
            },
        )

    def clear_issues(self) -> None:
        """Remove the group's instant-sync issues (the group unloads)."""
        ir.async_delete_issue(
            self.hass, DOMAIN, f"{ISSUE_INSTANT_URL}_{self._entry.entry_id}"
        )
        for server in self._entry.data[CONF_SERVERS]:
            ir.async_delete_issue(
                self.hass,
                DOMAIN,
                self._issue(ISSUE_PLUGIN_MISSING, server[CONF_SERVER_ID]),
            )


async def remove_destination(client: JellyfinClient, path: str) -> bool:
    """Remove our destination from a server's plugin; whether one was removed."""
    try:
        config = await client.get_plugin_configuration(WEBHOOK_PLUGIN_ID)
    except JellyfinNotFoundError:
        return False  # no plugin, nothing of ours
    updated = without_destination(config, path)
    if updated is None:
        return False
    await client.set_plugin_configuration(WEBHOOK_PLUGIN_ID, updated)
    return True


async def async_remove_from_servers(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    clients: dict[str, JellyfinClient],
    *,
    report: bool = True,
) -> None:
    """A group is deleted: remove our destination from every server that answers.

    With ``report``, a server that does not answer gets a repair issue naming
    what was left behind.
    """
    path = webhook.async_generate_path(entry.data.get("webhook_id", ""))
    for server in entry.data[CONF_SERVERS]:
        client = clients.get(server[CONF_SERVER_ID])
        if client is None:
            continue
        try:
            await remove_destination(client, path)
        except JellyfinError as err:
            if not report:
                continue
            LOGGER.warning(
                "Could not remove instant sync from Jellyfin server %s: %s",
                server[CONF_NAME],
                err,
            )
            ir.async_create_issue(
                hass,
                DOMAIN,
                f"{ISSUE_INSTANT_LEFT}_{entry.entry_id}_{server[CONF_SERVER_ID]}",
                is_fixable=False,
                is_persistent=True,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_INSTANT_LEFT,
                translation_placeholders={
                    "server": server[CONF_NAME],
                    "destination": destination_name(entry.title),
                },
            )
