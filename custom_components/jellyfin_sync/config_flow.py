"""Config, options, reauth and reconfigure flows of Jellyfin Sync.

One config entry is a sync group of two or more Jellyfin servers. The user flow
asks for one server at a time and checks each at once (address, TLS, that it is
Jellyfin, that the key is an admin API key, that it was not added already,
recognised by the server's id rather than its URL); the entry is created once there
are at least two. Reconfigure changes a server's address, adds or removes servers;
reauth takes a new API key for a server whose key was revoked.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
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
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .compat import vol
from .const import (
    CONF_DIRECTION,
    CONF_DRY_RUN,
    CONF_EDIT_SERVERS,
    CONF_FIELD_SOURCES,
    CONF_FIELDS,
    CONF_FIRST_SYNC,
    CONF_FULL_LISTING_HOURS,
    CONF_INSTANT_SYNC,
    CONF_KINDS,
    CONF_LIBRARIES,
    CONF_LIBRARY_MAP,
    CONF_LIBRARY_MODE,
    CONF_MAX_CHANGE_PERCENT,
    CONF_MAX_CHANGES,
    CONF_MEDIA_ROOTS,
    CONF_NAME,
    CONF_PRIMARY_SERVER,
    CONF_PRIORITY,
    CONF_PROGRESS_DELAY,
    CONF_RANK,
    CONF_SCAN_INTERVAL,
    CONF_SERVER_DIRECTION,
    CONF_SERVER_DIRECTIONS,
    CONF_SERVER_ID,
    CONF_SERVERS,
    CONF_USER_MAP,
    CONF_USER_MODE,
    CONF_USERS,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_REMOTE,
    DIRECTION_PER_SERVER,
    DIRECTION_TWO_WAY,
    DIRECTIONS,
    DOMAIN,
    FIELD_SOURCE_ALL,
    FIRST_SYNC_POLICIES,
    FIRST_SYNC_PRIMARY,
    KINDS,
    LIBRARY_MODES,
    MAX_FULL_LISTING_HOURS,
    MAX_PROGRESS_DELAY,
    MAX_SCAN_INTERVAL,
    MIN_FULL_LISTING_HOURS,
    MIN_PROGRESS_DELAY,
    MIN_SCAN_INTERVAL,
    SERVER_DIRECTIONS,
    SERVER_TWO_WAY,
    USER_MODE_ALL,
    USER_MODES,
)
from .helpers import (
    ServerCheckError,
    async_check_server,
    client_for,
    group_title,
    group_unique_id,
    normalize_url,
    server_entry,
)
from .jellyfin import JellyfinClient
from .jellyfin.exceptions import JellyfinAuthError, JellyfinError
from .options import (
    default_options,
    effective_options,
    field_sources,
    parse_media_roots,
    parse_user_map,
    priority_order,
    server_directions,
    validate_servers,
)
from .sync import ALL_FIELDS, Direction
from .webhook import WEBHOOK_TEMPLATE, webhook_url

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


def _server_picker(servers: Sequence[Mapping[str, Any]]) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=[
                SelectOptionDict(value=s[CONF_SERVER_ID], label=s[CONF_NAME])
                for s in servers
            ],
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


def _server_ids_in_other_entries(
    entries: Sequence[ConfigEntry], exclude_entry_id: str | None
) -> set[str]:
    return {
        server[CONF_SERVER_ID]
        for entry in entries
        if entry.entry_id != exclude_entry_id
        for server in entry.data.get(CONF_SERVERS, [])
    }


def _webhook_placeholders(
    hass: HomeAssistant, webhook_id: str | None
) -> dict[str, str]:
    """The webhook URL and template the setup instructions show."""
    return {
        "webhook_url": webhook_url(hass, webhook_id)
        if webhook_id
        else "(shown once the group has been set up)",
        "template": WEBHOOK_TEMPLATE,
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

    # ---- shared validation -------------------------------------------------------

    async def _async_validate_new_server(
        self,
        user_input: Mapping[str, Any],
        errors: dict[str, str],
        *,
        current: Sequence[Mapping[str, Any]],
        exclude_entry_id: str | None,
    ) -> dict[str, Any] | None:
        """Check a server typed into a form; fill ``errors`` and return None on failure."""
        try:
            url = normalize_url(user_input[CONF_URL])
            api_key = str(user_input.get(CONF_API_KEY, ""))
            verify_ssl = bool(user_input[CONF_VERIFY_SSL])
            info = await async_check_server(
                self.hass, url, api_key, verify_ssl=verify_ssl
            )
        except ServerCheckError as err:
            errors["base"] = err.key
            return None
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
                "servers": group_title(s[CONF_NAME] for s in servers) or "-",
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
            description_placeholders={
                "servers": group_title(s[CONF_NAME] for s in self._servers)
            },
        )

    async def async_step_finish(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose instant sync, then create the sync group."""
        await self.async_set_unique_id(
            group_unique_id(s[CONF_SERVER_ID] for s in self._servers)
        )
        self._abort_if_unique_id_configured()
        if user_input is None:
            return self.async_show_form(
                step_id="finish",
                data_schema=vol.Schema(
                    {vol.Optional(CONF_INSTANT_SYNC, default=False): BooleanSelector()}
                ),
                description_placeholders={
                    "servers": group_title(s[CONF_NAME] for s in self._servers)
                },
            )
        webhook_id = async_generate_id()
        options = default_options(self._servers)
        options[CONF_INSTANT_SYNC] = bool(user_input.get(CONF_INSTANT_SYNC, False))
        return self.async_create_entry(
            title=group_title(s[CONF_NAME] for s in self._servers),
            data={CONF_SERVERS: self._servers, CONF_WEBHOOK_ID: webhook_id},
            options=options,
            # Shown once the group exists: how to set up the Webhook plugin.
            description_placeholders=_webhook_placeholders(self.hass, webhook_id),
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
            try:
                info = await async_check_server(
                    self.hass,
                    server[CONF_URL],
                    user_input[CONF_API_KEY],
                    verify_ssl=server[CONF_VERIFY_SSL],
                )
            except ServerCheckError as err:
                errors["base"] = err.key
            else:
                if info.id != server[CONF_SERVER_ID]:
                    errors["base"] = "wrong_server"
                else:
                    server[CONF_API_KEY] = user_input[CONF_API_KEY].strip()
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
                    vol.Required(CONF_SERVER, default=default): _server_picker(servers),
                    vol.Required(CONF_API_KEY): _PASSWORD,
                }
            ),
            errors=errors,
            description_placeholders={"title": entry.title},
        )

    async def _async_first_rejected(self, servers: Sequence[Mapping[str, Any]]) -> str:
        """Id of the first server that rejects its stored key (else the first one)."""

        async def rejected(server: Mapping[str, Any]) -> bool:
            try:
                await client_for(self.hass, server, retries=0).validate_admin_key()
            except JellyfinAuthError:
                return True
            except JellyfinError:
                return False
            return False

        results = await asyncio.gather(*(rejected(s) for s in servers))
        for server, bad in zip(servers, results, strict=True):
            if bad:
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
            data_schema=vol.Schema(
                {vol.Required(CONF_SERVER): _server_picker(servers)}
            ),
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
            try:
                url = normalize_url(user_input[CONF_URL])
                info = await async_check_server(
                    self.hass,
                    url,
                    api_key,
                    verify_ssl=user_input[CONF_VERIFY_SSL],
                )
            except ServerCheckError as err:
                errors["base"] = err.key
            else:
                if info.id != server[CONF_SERVER_ID]:
                    errors["base"] = "wrong_server"
                else:
                    server.update(
                        server_entry(info, url, api_key, user_input[CONF_VERIFY_SSL])
                    )
                    return self.async_update_reload_and_abort(
                        entry,
                        title=group_title(s[CONF_NAME] for s in servers),
                        data={**entry.data, CONF_SERVERS: servers},
                    )
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
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=group_unique_id(s[CONF_SERVER_ID] for s in servers),
                    title=group_title(s[CONF_NAME] for s in servers),
                    data={**entry.data, CONF_SERVERS: servers},
                )
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
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=group_unique_id(s[CONF_SERVER_ID] for s in servers),
                    title=group_title(s[CONF_NAME] for s in servers),
                    data={**entry.data, CONF_SERVERS: servers},
                )
        return self.async_show_form(
            step_id="remove_server",
            data_schema=vol.Schema(
                {vol.Required(CONF_SERVER): _server_picker(servers)}
            ),
            errors=errors,
        )


class JellyfinSyncOptionsFlow(OptionsFlow):
    """What, whom and how often to sync."""

    def __init__(self) -> None:
        """Start with the entry's current options."""
        self._options: dict[str, Any] = {}
        self._server_index = 0
        self._directions: dict[str, str] = {}
        self._ranks: dict[str, int] = {}
        self._roots: dict[str, list[str]] = {}

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Interval, fields, direction, first-sync policy, guard limits, dry run."""
        servers = self.config_entry.data[CONF_SERVERS]
        current = effective_options(servers, self.config_entry.options)
        errors: dict[str, str] = {}
        if user_input is not None:
            user_input = dict(user_input)
            edit_servers = bool(user_input.pop(CONF_EDIT_SERVERS, False))
            if not user_input.get(CONF_FIELDS):
                errors[CONF_FIELDS] = "no_fields"
            else:
                self._options = {**current, **user_input}
                self._options[CONF_SCAN_INTERVAL] = int(user_input[CONF_SCAN_INTERVAL])
                self._options[CONF_FULL_LISTING_HOURS] = int(
                    user_input[CONF_FULL_LISTING_HOURS]
                )
                self._options[CONF_MAX_CHANGES] = int(user_input[CONF_MAX_CHANGES])
                self._options[CONF_MAX_CHANGE_PERCENT] = int(
                    user_input[CONF_MAX_CHANGE_PERCENT]
                )
                self._options[CONF_PROGRESS_DELAY] = int(
                    user_input[CONF_PROGRESS_DELAY]
                )
                if edit_servers or user_input[CONF_DIRECTION] == DIRECTION_PER_SERVER:
                    self._start_servers()
                    return await self.async_step_server()
                return await self.async_step_users()
            current = {**current, **user_input}
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SCAN_INTERVAL, default=current[CONF_SCAN_INTERVAL]
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_SCAN_INTERVAL,
                        max=MAX_SCAN_INTERVAL,
                        step=1,
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement="min",
                    )
                ),
                vol.Required(
                    CONF_FULL_LISTING_HOURS, default=current[CONF_FULL_LISTING_HOURS]
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_FULL_LISTING_HOURS,
                        max=MAX_FULL_LISTING_HOURS,
                        step=1,
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement="h",
                    )
                ),
                vol.Required(CONF_FIELDS, default=current[CONF_FIELDS]): SelectSelector(
                    SelectSelectorConfig(
                        options=[f.value for f in ALL_FIELDS],
                        multiple=True,
                        translation_key=CONF_FIELDS,
                    )
                ),
                vol.Required(
                    CONF_PRIMARY_SERVER, default=current[CONF_PRIMARY_SERVER]
                ): _server_picker(servers),
                vol.Required(
                    CONF_DIRECTION, default=current[CONF_DIRECTION]
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=list(DIRECTIONS), translation_key=CONF_DIRECTION
                    )
                ),
                vol.Required(
                    CONF_FIRST_SYNC, default=current[CONF_FIRST_SYNC]
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=list(FIRST_SYNC_POLICIES),
                        translation_key=CONF_FIRST_SYNC,
                    )
                ),
                vol.Required(
                    CONF_MAX_CHANGES, default=current[CONF_MAX_CHANGES]
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=0, max=1_000_000, step=1, mode=NumberSelectorMode.BOX
                    )
                ),
                vol.Required(
                    CONF_MAX_CHANGE_PERCENT, default=current[CONF_MAX_CHANGE_PERCENT]
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=0,
                        max=100,
                        step=1,
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement="%",
                    )
                ),
                vol.Required(CONF_DRY_RUN, default=current[CONF_DRY_RUN]): (
                    BooleanSelector()
                ),
                vol.Required(
                    CONF_PROGRESS_DELAY, default=current[CONF_PROGRESS_DELAY]
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_PROGRESS_DELAY,
                        max=MAX_PROGRESS_DELAY,
                        step=1,
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement="s",
                    )
                ),
                vol.Required(
                    CONF_WEBHOOK_REMOTE, default=current[CONF_WEBHOOK_REMOTE]
                ): BooleanSelector(),
                vol.Required(
                    CONF_INSTANT_SYNC, default=current[CONF_INSTANT_SYNC]
                ): BooleanSelector(),
                vol.Required(CONF_EDIT_SERVERS, default=False): BooleanSelector(),
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=schema,
            errors=errors,
            description_placeholders=_webhook_placeholders(
                self.hass, self.config_entry.data.get(CONF_WEBHOOK_ID)
            ),
        )

    def _start_servers(self) -> None:
        """Begin the per-server steps with the choices the options now imply."""
        ids = [s[CONF_SERVER_ID] for s in self.config_entry.data[CONF_SERVERS]]
        self._server_index = 0
        self._directions = server_directions(self._options, ids)
        order = priority_order(self._options, ids)
        self._ranks = {sid: order.index(sid) + 1 for sid in ids}
        stored = self._options.get(CONF_MEDIA_ROOTS) or {}
        self._roots = {sid: list(stored.get(sid) or ()) for sid in ids}

    async def async_step_server(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """One server: its direction, its priority and its media folders."""
        servers = self.config_entry.data[CONF_SERVERS]
        server = servers[self._server_index]
        sid = server[CONF_SERVER_ID]
        errors: dict[str, str] = {}
        roots_text = "\n".join(self._roots[sid])
        if user_input is not None:
            self._directions[sid] = user_input[CONF_SERVER_DIRECTION]
            self._ranks[sid] = int(user_input[CONF_RANK])
            roots_text = user_input.get(CONF_MEDIA_ROOTS, "")
            try:
                self._roots[sid] = parse_media_roots(roots_text)
            except ValueError:
                errors[CONF_MEDIA_ROOTS] = "invalid_media_root"
            if not errors and self._server_index + 1 < len(servers):
                self._server_index += 1
                return await self.async_step_server()
            if not errors:
                problem = self._servers_problem()
                if problem is None:
                    return await self.async_step_field_sources()
                # Back to the first server, with the reason; nothing is saved.
                self._server_index = 0
                errors["base"] = problem
                server = servers[0]
                sid = server[CONF_SERVER_ID]
                roots_text = "\n".join(self._roots[sid])
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SERVER_DIRECTION, default=self._directions[sid]
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=list(SERVER_DIRECTIONS),
                        translation_key=CONF_SERVER_DIRECTION,
                    )
                ),
                vol.Required(CONF_RANK, default=self._ranks[sid]): NumberSelector(
                    NumberSelectorConfig(
                        min=1, max=len(servers), step=1, mode=NumberSelectorMode.BOX
                    )
                ),
                vol.Optional(
                    CONF_MEDIA_ROOTS, description={"suggested_value": roots_text}
                ): TextSelector(TextSelectorConfig(multiline=True)),
            }
        )
        return self.async_show_form(
            step_id="server",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "server": server[CONF_NAME],
                "position": str(self._server_index + 1),
                "count": str(len(servers)),
            },
        )

    def _priority(self) -> list[str]:
        """Server ids by the chosen ranks; equal ranks keep the group's order."""
        ids = [s[CONF_SERVER_ID] for s in self.config_entry.data[CONF_SERVERS]]
        return sorted(ids, key=lambda sid: (self._ranks[sid], ids.index(sid)))

    def _servers_problem(self) -> str | None:
        """Why the chosen directions cannot work together, or ``None``."""
        problem = validate_servers(self._directions, {}).get("base")
        if problem is not None:
            return problem
        primary = self._priority()[0]
        if (
            self._options[CONF_FIRST_SYNC] == FIRST_SYNC_PRIMARY
            and not Direction(self._directions[primary]).reads
        ):
            return "primary_cannot_send"
        return None

    async def async_step_field_sources(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Per synced field: changes from every server, or from one server only."""
        servers = self.config_entry.data[CONF_SERVERS]
        ids = [s[CONF_SERVER_ID] for s in servers]
        synced = [f.value for f in ALL_FIELDS if f in self._options[CONF_FIELDS]]
        current = {
            **dict.fromkeys(synced, FIELD_SOURCE_ALL),
            **field_sources(self._options, ids),
        }
        errors: dict[str, str] = {}
        if user_input is not None:
            chosen = {
                f: user_input[f]
                for f in synced
                if user_input.get(f, FIELD_SOURCE_ALL) != FIELD_SOURCE_ALL
            }
            errors = validate_servers(self._directions, chosen)
            if not errors:
                self._finish_servers(chosen)
                return await self.async_step_users()
            current = {**current, **user_input}
        choices = [
            SelectOptionDict(value=FIELD_SOURCE_ALL, label=FIELD_SOURCE_ALL),
            *(
                SelectOptionDict(value=s[CONF_SERVER_ID], label=s[CONF_NAME])
                for s in servers
            ),
        ]
        schema = vol.Schema(
            {
                vol.Required(field, default=current[field]): SelectSelector(
                    SelectSelectorConfig(
                        options=choices,
                        mode=SelectSelectorMode.DROPDOWN,
                        translation_key=CONF_FIELD_SOURCES,
                    )
                )
                for field in synced
            }
        )
        return self.async_show_form(
            step_id="field_sources", data_schema=schema, errors=errors
        )

    def _finish_servers(self, sources: Mapping[str, str]) -> None:
        """Store the server steps' choices in the options being edited."""
        priority = self._priority()
        directions = dict(self._directions)
        self._options[CONF_DIRECTION] = (
            DIRECTION_TWO_WAY
            if all(d == SERVER_TWO_WAY for d in directions.values())
            else DIRECTION_PER_SERVER
        )
        self._options[CONF_SERVER_DIRECTIONS] = directions
        self._options[CONF_PRIORITY] = priority
        self._options[CONF_PRIMARY_SERVER] = priority[0]
        self._options[CONF_MEDIA_ROOTS] = {
            sid: roots for sid, roots in self._roots.items() if roots
        }
        self._options[CONF_FIELD_SOURCES] = dict(sources)

    async def async_step_users(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Which users to sync, offered from the servers' real user lists."""
        names, unreachable = await self._async_user_names()
        errors: dict[str, str] = {}
        current = {**self._options, **(user_input or {})}
        if user_input is not None:
            mode = user_input[CONF_USER_MODE]
            chosen = user_input.get(CONF_USERS, [])
            mapping_text = user_input.get(CONF_USER_MAP, "")
            try:
                parse_user_map(mapping_text, names)
            except ValueError:
                errors[CONF_USER_MAP] = "invalid_user_map"
            if mode != USER_MODE_ALL and not chosen:
                errors[CONF_USERS] = "no_users_selected"
            if not errors:
                self._options = {
                    **self._options,
                    CONF_USER_MODE: mode,
                    CONF_USERS: list(chosen),
                    CONF_USER_MAP: mapping_text.strip(),
                }
                return await self.async_step_libraries()
        offered = sorted(set(names) | set(current.get(CONF_USERS, [])), key=str.lower)
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_USER_MODE, default=current.get(CONF_USER_MODE, USER_MODE_ALL)
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=list(USER_MODES), translation_key=CONF_USER_MODE
                    )
                ),
                vol.Optional(
                    CONF_USERS, default=list(current.get(CONF_USERS, []))
                ): SelectSelector(
                    SelectSelectorConfig(options=offered, multiple=True, sort=True)
                ),
                vol.Optional(
                    CONF_USER_MAP,
                    description={"suggested_value": current.get(CONF_USER_MAP, "")},
                ): TextSelector(TextSelectorConfig(multiline=True)),
            }
        )
        return self.async_show_form(
            step_id="users",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "unreachable": ", ".join(unreachable) if unreachable else "-",
            },
        )

    async def async_step_libraries(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Which kinds of items and which libraries take part (the last step)."""
        names, unreachable = await self._async_library_names()
        errors: dict[str, str] = {}
        current = {**self._options, **(user_input or {})}
        if user_input is not None:
            mode = user_input[CONF_LIBRARY_MODE]
            chosen = user_input.get(CONF_LIBRARIES, [])
            mapping_text = user_input.get(CONF_LIBRARY_MAP, "")
            try:
                parse_user_map(mapping_text, names, what="library")
            except ValueError:
                errors[CONF_LIBRARY_MAP] = "invalid_library_map"
            if mode != USER_MODE_ALL and not chosen:
                errors[CONF_LIBRARIES] = "no_libraries_selected"
            if not user_input.get(CONF_KINDS):
                errors[CONF_KINDS] = "no_kinds"
            if not errors:
                new = {
                    **self._options,
                    CONF_KINDS: [k for k in KINDS if k in user_input[CONF_KINDS]],
                    CONF_LIBRARY_MODE: mode,
                    CONF_LIBRARIES: list(chosen),
                    CONF_LIBRARY_MAP: mapping_text.strip(),
                }
                if new != dict(self.config_entry.options):
                    self.hass.config_entries.async_update_entry(
                        self.config_entry, options=new
                    )
                    self.hass.config_entries.async_schedule_reload(
                        self.config_entry.entry_id
                    )
                return self.async_create_entry(data=new)
        offered = sorted(
            set(names) | set(current.get(CONF_LIBRARIES, [])), key=str.lower
        )
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_KINDS, default=list(current.get(CONF_KINDS, KINDS))
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=list(KINDS),
                        multiple=True,
                        translation_key=CONF_KINDS,
                    )
                ),
                vol.Required(
                    CONF_LIBRARY_MODE,
                    default=current.get(CONF_LIBRARY_MODE, USER_MODE_ALL),
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=list(LIBRARY_MODES), translation_key=CONF_LIBRARY_MODE
                    )
                ),
                vol.Optional(
                    CONF_LIBRARIES, default=list(current.get(CONF_LIBRARIES, []))
                ): SelectSelector(
                    SelectSelectorConfig(options=offered, multiple=True, sort=True)
                ),
                vol.Optional(
                    CONF_LIBRARY_MAP,
                    description={"suggested_value": current.get(CONF_LIBRARY_MAP, "")},
                ): TextSelector(TextSelectorConfig(multiline=True)),
            }
        )
        return self.async_show_form(
            step_id="libraries",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "unreachable": ", ".join(unreachable) if unreachable else "-",
            },
        )

    async def _async_library_names(self) -> tuple[list[str], list[str]]:
        """Library names of every reachable server, and the unreachable servers.

        Names differing only in case are one library (the first spelling is kept).
        """

        async def read(client: JellyfinClient) -> list[str]:
            return [lib.name for lib in await client.get_libraries() if lib.name]

        return await self._async_names(read, fold=True)

    async def _async_user_names(self) -> tuple[list[str], list[str]]:
        """User names of every reachable server, and the names of unreachable ones."""

        async def read(client: JellyfinClient) -> list[str]:
            return [u.name for u in await client.get_users()]

        return await self._async_names(read, fold=False)

    async def _async_names(
        self,
        read: Callable[[JellyfinClient], Awaitable[list[str]]],
        *,
        fold: bool,
    ) -> tuple[list[str], list[str]]:
        """Names ``read`` from every server at once, sorted.

        Also the names of the servers that could not be reached.
        """
        servers = self.config_entry.data[CONF_SERVERS]

        async def fetch(server: Mapping[str, Any]) -> list[str] | None:
            try:
                return await read(client_for(self.hass, server, retries=0))
            except JellyfinError:
                return None

        results = await asyncio.gather(*(fetch(s) for s in servers))
        names: dict[str, str] = {}
        unreachable: list[str] = []
        for server, result in zip(servers, results, strict=True):
            if result is None:
                unreachable.append(server[CONF_NAME])
                continue
            for name in result:
                names.setdefault(name.casefold() if fold else name, name)
        return sorted(names.values(), key=str.lower), unreachable
