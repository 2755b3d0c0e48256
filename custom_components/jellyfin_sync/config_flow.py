"""Config, reauth and reconfigure flows of Jellyfin Sync.

One config entry is a sync group of two or more Jellyfin servers. The user flow
asks for one server at a time and checks each at once (address, TLS, that it is
Jellyfin, that the key is an admin API key, that it was not added already,
recognised by the server's id rather than its URL); the entry is created once there
are at least two. Reconfigure changes a server's address, adds or removes servers;
reauth takes a new API key for a server whose key was revoked. The options flow
lives in ``options_flow.py``.
"""

from collections.abc import Mapping, Sequence
from typing import Any, override

from homeassistant.components.webhook import async_generate_id
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_API_KEY, CONF_URL, CONF_VERIFY_SSL
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.typing import UNDEFINED

from .compat import vol
from .const import (
    CONF_INSTANT_SYNC,
    CONF_NAME,
    CONF_SERVER_ID,
    CONF_SERVERS,
    CONF_WEBHOOK_ID,
    DOMAIN,
)
from .flow_common import (
    async_ask_servers,
    async_webhook_placeholders,
    server_picker,
)
from .helpers import (
    ServerCheckError,
    async_check_server,
    group_title,
    group_unique_id,
    normalize_url,
    server_entry,
)
from .jellyfin import JellyfinClient
from .jellyfin.exceptions import JellyfinAuthError
from .jellyfin.models import ServerInfo
from .options import default_options
from .options_flow import JellyfinSyncOptionsFlow

CONF_SERVER = "server"

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))


def _server_schema(
    url: str | None = None, verify_ssl: bool = True, *, key_optional: bool = False
) -> vol.Schema:
    key_marker = vol.Optional if key_optional else vol.Required
    url_key = (
        vol.Required(CONF_URL, description={"suggested_value": url})
        if url
        else vol.Required(CONF_URL)
    )
    return vol.Schema(
        {
            url_key: _URL,
            key_marker(CONF_API_KEY): _PASSWORD,
            vol.Required(CONF_VERIFY_SSL, default=verify_ssl): BooleanSelector(),
        }
    )


def _title(servers: Sequence[Mapping[str, Any]]) -> str:
    """The group's title: its servers' names."""
    return group_title(s[CONF_NAME] for s in servers)


def _unique_id(servers: Sequence[Mapping[str, Any]]) -> str:
    """The group's unique id: its servers' ids."""
    return group_unique_id(s[CONF_SERVER_ID] for s in servers)


def _pick_server_field(
    servers: Sequence[Mapping[str, Any]], default: str | None = None
) -> dict[vol.Marker, Any]:
    """The field choosing one of the group's servers."""
    key = (
        vol.Required(CONF_SERVER)
        if default is None
        else vol.Required(CONF_SERVER, default=default)
    )
    return {key: server_picker(servers)}


def _server_ids_in_other_entries(
    entries: Sequence[ConfigEntry], exclude_entry_id: str | None
) -> set[str]:
    return {
        server[CONF_SERVER_ID]
        for entry in entries
        if entry.entry_id != exclude_entry_id
        for server in entry.data.get(CONF_SERVERS, [])
    }


class JellyfinSyncConfigFlow(ConfigFlow, domain=DOMAIN):
    """Register a group of Jellyfin servers to keep in sync."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with no servers."""
        self._servers: list[dict[str, Any]] = []
        self._edit_server_id: str | None = None

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Options of a sync group."""
        return JellyfinSyncOptionsFlow()

    # ---- shared validation and saving ----------------------------------------------

    async def _async_check(
        self,
        errors: dict[str, str],
        url: str,
        api_key: str,
        *,
        verify_ssl: bool,
        typed: bool = True,
        same_as: str | None = None,
    ) -> tuple[str, ServerInfo] | None:
        """Check a server; fill ``errors`` and return None on failure.

        A ``typed`` URL is normalised first; ``same_as`` is the id the server must
        have (a new key or address of a server of the group). Returns the URL to
        store and what the server said about itself.
        """
        try:
            if typed:
                url = normalize_url(url)
            info = await async_check_server(
                self.hass, url, api_key, verify_ssl=verify_ssl
            )
        except ServerCheckError as err:
            errors["base"] = err.key
            return None
        if same_as is not None and info.id != same_as:
            errors["base"] = "wrong_server"
            return None
        return url, info

    def _async_save_servers(
        self,
        entry: ConfigEntry,
        servers: list[dict[str, Any]],
        *,
        members_changed: bool,
    ) -> ConfigFlowResult:
        """Store the group's servers, retitle the group and reload it.

        When servers came or went, the group's unique id (its server ids) changes.
        """
        return self.async_update_reload_and_abort(
            entry,
            unique_id=_unique_id(servers) if members_changed else UNDEFINED,
            title=_title(servers),
            data={**entry.data, CONF_SERVERS: servers},
        )

    async def _async_validate_new_server(
        self,
        user_input: Mapping[str, Any],
        errors: dict[str, str],
        *,
        current: Sequence[Mapping[str, Any]],
        exclude_entry_id: str | None,
    ) -> dict[str, Any] | None:
        """Check a server typed into a form; fill ``errors`` and return None on failure."""
        api_key = str(user_input.get(CONF_API_KEY, ""))
        verify_ssl = bool(user_input[CONF_VERIFY_SSL])
        checked = await self._async_check(
            errors, user_input[CONF_URL], api_key, verify_ssl=verify_ssl
        )
        if checked is None:
            return None
        url, info = checked
        if any(s[CONF_SERVER_ID] == info.id for s in current):
            errors["base"] = "already_added"
            return None
        others = _server_ids_in_other_entries(
            self._async_current_entries(include_ignore=False), exclude_entry_id
        )
        if info.id in others:
            errors["base"] = "already_in_group"
            return None
        return server_entry(info, url, api_key, verify_ssl)

    def _show_server_form(
        self,
        step_id: str,
        user_input: Mapping[str, Any] | None,
        errors: dict[str, str],
        servers: Sequence[Mapping[str, Any]],
    ) -> ConfigFlowResult:
        url = user_input.get(CONF_URL) if user_input else None
        verify = bool(user_input.get(CONF_VERIFY_SSL, True)) if user_input else True
        return self.async_show_form(
            step_id=step_id,
            data_schema=_server_schema(url, verify),
            errors=errors,
            description_placeholders={
                "servers": _title(servers) or "-",
                "count": str(len(servers)),
            },
        )

    # ---- user flow -----------------------------------------------------------------

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the first server."""
        return await self._async_server_step("user", user_input)

    async def async_step_add_server(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for one more server (user flow and reconfigure)."""
        if self.source == SOURCE_RECONFIGURE:
            return await self._async_reconfigure_add(user_input)
        return await self._async_server_step("add_server", user_input)

    async def _async_server_step(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            server = await self._async_validate_new_server(
                user_input, errors, current=self._servers, exclude_entry_id=None
            )
            if server is not None:
                self._servers.append(server)
                if len(self._servers) < 2:
                    return self._show_server_form("add_server", None, {}, self._servers)
                return await self.async_step_server_added()
        return self._show_server_form(step_id, user_input, errors, self._servers)

    async def async_step_server_added(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer to add one more server or to create the group."""
        return self.async_show_menu(
            step_id="server_added",
            menu_options=["add_server", "finish"],
            description_placeholders={"servers": _title(self._servers)},
        )

    async def async_step_finish(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose instant sync, then create the sync group."""
        await self.async_set_unique_id(_unique_id(self._servers))
        self._abort_if_unique_id_configured()
        if user_input is None:
            return self.async_show_form(
                step_id="finish",
                data_schema=vol.Schema(
                    {vol.Optional(CONF_INSTANT_SYNC, default=False): BooleanSelector()}
                ),
                description_placeholders={"servers": _title(self._servers)},
            )
        webhook_id = async_generate_id()
        options = default_options(self._servers)
        options[CONF_INSTANT_SYNC] = bool(user_input.get(CONF_INSTANT_SYNC, False))
        return self.async_create_entry(
            title=_title(self._servers),
            data={CONF_SERVERS: self._servers, CONF_WEBHOOK_ID: webhook_id},
            options=options,
            # Shown once the group exists: how to set up the Webhook plugin.
            description_placeholders=await async_webhook_placeholders(
                self.hass, webhook_id
            ),
        )

    # ---- reauth ----------------------------------------------------------------------

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """A server rejected its API key."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new API key for the server that rejected its key."""
        entry = self._get_reauth_entry()
        servers: list[dict[str, Any]] = [dict(s) for s in entry.data[CONF_SERVERS]]
        errors: dict[str, str] = {}
        if user_input is not None:
            server = next(
                s for s in servers if s[CONF_SERVER_ID] == user_input[CONF_SERVER]
            )
            checked = await self._async_check(
                errors,
                server[CONF_URL],
                user_input[CONF_API_KEY],
                verify_ssl=server[CONF_VERIFY_SSL],
                typed=False,
                same_as=server[CONF_SERVER_ID],
            )
            if checked is not None:
                server[CONF_API_KEY] = user_input[CONF_API_KEY].strip()
                # Only the key changed: the title (perhaps renamed) stays.
                return self.async_update_reload_and_abort(
                    entry, data={**entry.data, CONF_SERVERS: servers}
                )
            default = user_input[CONF_SERVER]
        else:
            default = await self._async_first_rejected(servers)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema(
                {
                    **_pick_server_field(servers, default),
                    vol.Required(CONF_API_KEY): _PASSWORD,
                }
            ),
            errors=errors,
            description_placeholders={"title": entry.title},
        )

    async def _async_first_rejected(self, servers: Sequence[Mapping[str, Any]]) -> str:
        """Id of the first server that rejects its stored key (else the first one)."""

        answers = await async_ask_servers(
            self.hass, servers, JellyfinClient.validate_admin_key
        )
        for server, answer in zip(servers, answers, strict=True):
            if isinstance(answer, JellyfinAuthError):
                return str(server[CONF_SERVER_ID])
        return str(servers[0][CONF_SERVER_ID])

    # ---- reconfigure -----------------------------------------------------------------

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change a server's address, add or remove a server."""
        return self.async_show_menu(
            step_id="reconfigure",
            menu_options=["edit_server", "add_server", "remove_server"],
            description_placeholders={"title": self._get_reconfigure_entry().title},
        )

    async def async_step_edit_server(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the server whose address or key changed."""
        servers = self._get_reconfigure_entry().data[CONF_SERVERS]
        if user_input is not None:
            self._edit_server_id = user_input[CONF_SERVER]
            return await self.async_step_edit_server_details()
        return self.async_show_form(
            step_id="edit_server",
            data_schema=vol.Schema(_pick_server_field(servers)),
        )

    async def async_step_edit_server_details(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """New address, TLS check and (optionally) key of one server."""
        entry = self._get_reconfigure_entry()
        servers: list[dict[str, Any]] = [dict(s) for s in entry.data[CONF_SERVERS]]
        server = next(s for s in servers if s[CONF_SERVER_ID] == self._edit_server_id)
        errors: dict[str, str] = {}
        if user_input is not None:
            api_key = user_input.get(CONF_API_KEY) or server[CONF_API_KEY]
            verify_ssl = user_input[CONF_VERIFY_SSL]
            checked = await self._async_check(
                errors,
                user_input[CONF_URL],
                api_key,
                verify_ssl=verify_ssl,
                same_as=server[CONF_SERVER_ID],
            )
            if checked is not None:
                url, info = checked
                server.update(server_entry(info, url, api_key, verify_ssl))
                return self._async_save_servers(entry, servers, members_changed=False)
        return self.async_show_form(
            step_id="edit_server_details",
            data_schema=_server_schema(
                user_input[CONF_URL] if user_input else server[CONF_URL],
                server[CONF_VERIFY_SSL],
                key_optional=True,
            ),
            errors=errors,
            description_placeholders={"server": server[CONF_NAME]},
        )

    async def _async_reconfigure_add(
        self, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        entry = self._get_reconfigure_entry()
        servers: list[dict[str, Any]] = list(entry.data[CONF_SERVERS])
        errors: dict[str, str] = {}
        if user_input is not None:
            server = await self._async_validate_new_server(
                user_input, errors, current=servers, exclude_entry_id=entry.entry_id
            )
            if server is not None:
                servers.append(server)
                return self._async_save_servers(entry, servers, members_changed=True)
        return self._show_server_form("add_server", user_input, errors, servers)

    async def async_step_remove_server(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Remove a server from the group (at least two stay)."""
        entry = self._get_reconfigure_entry()
        servers: list[dict[str, Any]] = list(entry.data[CONF_SERVERS])
        errors: dict[str, str] = {}
        if user_input is not None:
            if len(servers) <= 2:
                errors["base"] = "too_few_servers"
            else:
                servers = [
                    s for s in servers if s[CONF_SERVER_ID] != user_input[CONF_SERVER]
                ]
                return self._async_save_servers(entry, servers, members_changed=True)
        return self.async_show_form(
            step_id="remove_server",
            data_schema=vol.Schema(_pick_server_field(servers)),
            errors=errors,
        )
