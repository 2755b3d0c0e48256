"""Options flow of Jellyfin Sync: what, whom and how often a group syncs.

The first step takes the group-wide options; when the group syncs per server (or
the user asks to edit the servers) one step per server follows, then the field
sources; the users and the libraries steps come last, and the last one saves. The
forms (schemas, input checks) are in ``options_forms.py``.
"""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlowResult, OptionsFlow

from .const import (
    CONF_DIRECTION,
    CONF_EDIT_SERVERS,
    CONF_FIELDS,
    CONF_FIRST_SYNC,
    CONF_MEDIA_ROOTS,
    CONF_NAME,
    CONF_RANK,
    CONF_SERVER_DIRECTION,
    CONF_SERVER_ID,
    CONF_SERVERS,
    CONF_WEBHOOK_ID,
    DIRECTION_PER_SERVER,
    FIELD_SOURCE_ALL,
    FIRST_SYNC_PRIMARY,
)
from .flow_common import async_ask_servers, async_webhook_placeholders
from .jellyfin.exceptions import JellyfinError
from .options import (
    effective_options,
    field_sources,
    parse_media_roots,
    priority_order,
    server_choice_options,
    server_directions,
    validate_servers,
)
from .options_forms import (
    LIBRARIES,
    USERS,
    NamesStep,
    field_sources_schema,
    init_options,
    init_schema,
    names_errors,
    names_options,
    names_schema,
    server_schema,
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

    @property
    def _servers(self) -> list[dict[str, Any]]:
        servers: list[dict[str, Any]] = self.config_entry.data[CONF_SERVERS]
        return servers

    @property
    def _ids(self) -> list[str]:
        return [s[CONF_SERVER_ID] for s in self._servers]

    # ---- group-wide options ----------------------------------------------------------

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Interval, fields, direction, first-sync policy, guard limits, dry run."""
        current = effective_options(self._servers, self.config_entry.options)
        errors: dict[str, str] = {}
        if user_input is not None:
            user_input = dict(user_input)
            edit_servers = bool(user_input.pop(CONF_EDIT_SERVERS, False))
            if user_input.get(CONF_FIELDS):
                self._options = init_options(current, user_input)
                if edit_servers or user_input[CONF_DIRECTION] == DIRECTION_PER_SERVER:
                    self._start_servers()
                    return await self.async_step_server()
                return await self.async_step_users()
            errors[CONF_FIELDS] = "no_fields"
            current = {**current, **user_input}
        return self.async_show_form(
            step_id="init",
            data_schema=init_schema(current, self._servers),
            errors=errors,
            description_placeholders=await async_webhook_placeholders(
                self.hass, self.config_entry.data.get(CONF_WEBHOOK_ID)
            ),
        )

    # ---- one step per server, then the field sources -----------------------------

    def _start_servers(self) -> None:
        """Begin the per-server steps with the choices the options now imply."""
        ids = self._ids
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
        errors: dict[str, str] = {}
        roots_text: str | None = None
        if user_input is not None:
            roots_text = self._take_server(user_input, errors)
            if not errors and self._server_index + 1 < len(self._servers):
                self._server_index += 1
                return await self.async_step_server()
            if not errors:
                problem = self._servers_problem()
                if problem is None:
                    return await self.async_step_field_sources()
                # Back to the first server, with the reason; nothing is saved.
                self._server_index = 0
                errors["base"] = problem
                roots_text = None
        return self._show_server_form(errors, roots_text)

    def _take_server(
        self, user_input: Mapping[str, Any], errors: dict[str, str]
    ) -> str:
        """Keep the current server's choices; return its folders as typed."""
        sid = self._ids[self._server_index]
        self._directions[sid] = user_input[CONF_SERVER_DIRECTION]
        self._ranks[sid] = int(user_input[CONF_RANK])
        roots_text: str = user_input.get(CONF_MEDIA_ROOTS, "")
        try:
            self._roots[sid] = parse_media_roots(roots_text)
        except ValueError:
            errors[CONF_MEDIA_ROOTS] = "invalid_media_root"
        return roots_text

    def _show_server_form(
        self, errors: dict[str, str], roots_text: str | None
    ) -> ConfigFlowResult:
        """The current server's form; its stored folders unless text was typed."""
        servers = self._servers
        server = servers[self._server_index]
        sid = server[CONF_SERVER_ID]
        if roots_text is None:
            roots_text = "\n".join(self._roots[sid])
        return self.async_show_form(
            step_id="server",
            data_schema=server_schema(
                self._directions[sid], self._ranks[sid], len(servers), roots_text
            ),
            errors=errors,
            description_placeholders={
                "server": server[CONF_NAME],
                "position": str(self._server_index + 1),
                "count": str(len(servers)),
            },
        )

    def _priority(self) -> list[str]:
        """Server ids by the chosen ranks; equal ranks keep the group's order."""
        ids = self._ids
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
        synced = [f.value for f in ALL_FIELDS if f in self._options[CONF_FIELDS]]
        current = {
            **dict.fromkeys(synced, FIELD_SOURCE_ALL),
            **field_sources(self._options, self._ids),
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
                self._options.update(
                    server_choice_options(
                        self._directions, self._priority(), self._roots, chosen
                    )
                )
                return await self.async_step_users()
            current = {**current, **user_input}
        return self.async_show_form(
            step_id="field_sources",
            data_schema=field_sources_schema(
                {field: current[field] for field in synced}, self._servers
            ),
            errors=errors,
        )

    # ---- users and libraries ---------------------------------------------------------

    async def async_step_users(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Which users to sync, offered from the servers' real user lists."""
        return await self._async_names_step(
            USERS, user_input, self.async_step_libraries
        )

    async def async_step_libraries(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Which kinds of items and which libraries take part (the last step)."""
        return await self._async_names_step(LIBRARIES, user_input, self._async_save)

    async def _async_names_step(
        self,
        step: NamesStep,
        user_input: dict[str, Any] | None,
        then: Callable[[], Awaitable[ConfigFlowResult]],
    ) -> ConfigFlowResult:
        """The users or the libraries step; ``then`` follows a valid form."""
        names, unreachable = await self._async_names(step)
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = names_errors(step, user_input, names)
            if not errors:
                self._options.update(names_options(step, user_input))
                return await then()
        return self.async_show_form(
            step_id=step.step_id,
            data_schema=names_schema(
                step, {**self._options, **(user_input or {})}, names
            ),
            errors=errors,
            description_placeholders={
                "unreachable": ", ".join(unreachable) if unreachable else "-",
            },
        )

    async def _async_save(self) -> ConfigFlowResult:
        """Store the edited options; the group reloads only when they changed."""
        new = dict(self._options)
        if new != dict(self.config_entry.options):
            self.hass.config_entries.async_update_entry(self.config_entry, options=new)
            self.hass.config_entries.async_schedule_reload(self.config_entry.entry_id)
        return self.async_create_entry(data=new)

    async def _async_names(self, step: NamesStep) -> tuple[list[str], list[str]]:
        """Names ``step.read`` from every server at once, sorted.

        Also the names of the servers that could not be reached.
        """
        servers = self._servers
        answers = await async_ask_servers(self.hass, servers, step.read)
        names: dict[str, str] = {}
        unreachable: list[str] = []
        for server, answer in zip(servers, answers, strict=True):
            if isinstance(answer, JellyfinError):
                unreachable.append(server[CONF_NAME])
                continue
            for name in answer:
                names.setdefault(name.casefold() if step.fold else name, name)
        return sorted(names.values(), key=str.lower), unreachable
