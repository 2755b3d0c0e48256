"""Options flow of Jellyfin Sync: what, whom and how often a group syncs.

The first step takes the group-wide options; when the group syncs per server (or
the user asks to edit the servers) one step per server follows, then the field
sources; the users and the libraries steps come last and save.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlowResult, OptionsFlow
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
from .flow_forms import server_picker, webhook_placeholders
from .helpers import client_for
from .jellyfin import JellyfinClient
from .jellyfin.exceptions import JellyfinError
from .options import (
    effective_options,
    field_sources,
    parse_media_roots,
    parse_user_map,
    priority_order,
    server_directions,
    validate_servers,
)
from .sync import ALL_FIELDS, Direction


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
                ): server_picker(servers),
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
            description_placeholders=webhook_placeholders(
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
