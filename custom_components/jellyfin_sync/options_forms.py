"""The options flow's forms: what each step shows and how its input becomes options.

The step order, the state between steps and the saving are in ``options_flow.py``;
the option format itself (defaults, readers, parsers) is in ``options.py``.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
    CONF_PRIMARY_SERVER,
    CONF_PROGRESS_DELAY,
    CONF_RANK,
    CONF_SCAN_INTERVAL,
    CONF_SERVER_DIRECTION,
    CONF_USER_MAP,
    CONF_USER_MODE,
    CONF_USERS,
    CONF_WEBHOOK_REMOTE,
    DIRECTIONS,
    FIELD_SOURCE_ALL,
    FIRST_SYNC_POLICIES,
    KINDS,
    LIBRARY_MODES,
    MAX_FULL_LISTING_HOURS,
    MAX_PROGRESS_DELAY,
    MAX_SCAN_INTERVAL,
    MIN_FULL_LISTING_HOURS,
    MIN_PROGRESS_DELAY,
    MIN_SCAN_INTERVAL,
    SERVER_DIRECTIONS,
    USER_MODE_ALL,
    USER_MODES,
)
from .flow_common import server_choices, server_picker
from .jellyfin import JellyfinClient
from .options import (
    parse_user_map,
)
from .sync import ALL_FIELDS

#: Options the form shows as number boxes (floats) but stores as whole numbers.
_WHOLE_NUMBERS = (
    CONF_SCAN_INTERVAL,
    CONF_FULL_LISTING_HOURS,
    CONF_MAX_CHANGES,
    CONF_MAX_CHANGE_PERCENT,
    CONF_PROGRESS_DELAY,
)


async def _read_users(client: JellyfinClient) -> list[str]:
    """A server's user names."""
    return [u.name for u in await client.get_users()]


async def _read_libraries(client: JellyfinClient) -> list[str]:
    """A server's library names (libraries without a name left out)."""
    return [lib.name for lib in await client.get_libraries() if lib.name]


@dataclass(frozen=True, kw_only=True)
class NamesStep:
    """A step choosing which names take part: the users or the libraries.

    Both offer the names read from every server, a mode (all, only these, all but
    these), the chosen names and an explicit mapping of names that differ between
    servers.
    """

    step_id: str
    mode: str  # option key of the mode, also the mode selector's translation key
    modes: Sequence[str]
    chosen: str  # option key of the chosen names
    mapping: str  # option key of the explicit mapping
    what: str  # the word parse_user_map names in its errors
    # Error keys (translated under options.error in strings.json):
    invalid_mapping: str  # a mapping that does not parse
    none_chosen: str  # a mode that needs names but got none
    read: Callable[[JellyfinClient], Awaitable[list[str]]]
    fold: bool  # names differing only in case are one (the first spelling is kept)
    kinds: bool = False  # the form also asks which kinds of items take part


USERS = NamesStep(
    step_id="users",
    mode=CONF_USER_MODE,
    modes=USER_MODES,
    chosen=CONF_USERS,
    mapping=CONF_USER_MAP,
    what="user",
    invalid_mapping="invalid_user_map",
    none_chosen="no_users_selected",
    read=_read_users,
    fold=False,
)
LIBRARIES = NamesStep(
    step_id="libraries",
    mode=CONF_LIBRARY_MODE,
    modes=LIBRARY_MODES,
    chosen=CONF_LIBRARIES,
    mapping=CONF_LIBRARY_MAP,
    what="library",
    invalid_mapping="invalid_library_map",
    none_chosen="no_libraries_selected",
    read=_read_libraries,
    fold=True,
    kinds=True,
)


# ---- form schemas ------------------------------------------------------------------


def _number(minimum: float, maximum: float, unit: str | None = None) -> NumberSelector:
    """A box for a whole number."""
    config = NumberSelectorConfig(
        min=minimum, max=maximum, step=1, mode=NumberSelectorMode.BOX
    )
    if unit is not None:
        config["unit_of_measurement"] = unit
    return NumberSelector(config)


def _select(
    options: Sequence[str], translation_key: str, *, multiple: bool = False
) -> SelectSelector:
    """A choice among fixed values whose labels are translated."""
    if multiple:
        return SelectSelector(
            SelectSelectorConfig(
                options=list(options), multiple=True, translation_key=translation_key
            )
        )
    return SelectSelector(
        SelectSelectorConfig(options=list(options), translation_key=translation_key)
    )


def _multiline() -> TextSelector:
    """A text box for one entry per line."""
    return TextSelector(TextSelectorConfig(multiline=True))


def init_schema(
    current: Mapping[str, Any], servers: Sequence[Mapping[str, Any]]
) -> vol.Schema:
    """The first step: interval, fields, direction, first sync, guard, webhook."""

    def required(key: str) -> vol.Required:
        return vol.Required(key, default=current[key])

    return vol.Schema(
        {
            required(CONF_SCAN_INTERVAL): _number(
                MIN_SCAN_INTERVAL, MAX_SCAN_INTERVAL, "min"
            ),
            required(CONF_FULL_LISTING_HOURS): _number(
                MIN_FULL_LISTING_HOURS, MAX_FULL_LISTING_HOURS, "h"
            ),
            required(CONF_FIELDS): _select(
                [f.value for f in ALL_FIELDS], CONF_FIELDS, multiple=True
            ),
            required(CONF_PRIMARY_SERVER): server_picker(servers),
            required(CONF_DIRECTION): _select(DIRECTIONS, CONF_DIRECTION),
            required(CONF_FIRST_SYNC): _select(FIRST_SYNC_POLICIES, CONF_FIRST_SYNC),
            required(CONF_MAX_CHANGES): _number(0, 1_000_000),
            required(CONF_MAX_CHANGE_PERCENT): _number(0, 100, "%"),
            required(CONF_DRY_RUN): BooleanSelector(),
            required(CONF_PROGRESS_DELAY): _number(
                MIN_PROGRESS_DELAY, MAX_PROGRESS_DELAY, "s"
            ),
            required(CONF_WEBHOOK_REMOTE): BooleanSelector(),
            required(CONF_INSTANT_SYNC): BooleanSelector(),
            vol.Required(CONF_EDIT_SERVERS, default=False): BooleanSelector(),
        }
    )


def server_schema(direction: str, rank: int, count: int, roots: str) -> vol.Schema:
    """One server's step: its direction, its priority rank and its media folders."""
    return vol.Schema(
        {
            vol.Required(CONF_SERVER_DIRECTION, default=direction): _select(
                SERVER_DIRECTIONS, CONF_SERVER_DIRECTION
            ),
            vol.Required(CONF_RANK, default=rank): _number(1, count),
            vol.Optional(
                CONF_MEDIA_ROOTS, description={"suggested_value": roots}
            ): _multiline(),
        }
    )


def field_sources_schema(
    current: Mapping[str, str], servers: Sequence[Mapping[str, Any]]
) -> vol.Schema:
    """Per synced field (the keys of ``current``): every server, or one server."""
    choices = [
        SelectOptionDict(value=FIELD_SOURCE_ALL, label=FIELD_SOURCE_ALL),
        *server_choices(servers),
    ]
    return vol.Schema(
        {
            vol.Required(field, default=default): SelectSelector(
                SelectSelectorConfig(
                    options=choices,
                    mode=SelectSelectorMode.DROPDOWN,
                    translation_key=CONF_FIELD_SOURCES,
                )
            )
            for field, default in current.items()
        }
    )


def names_schema(
    step: NamesStep, current: Mapping[str, Any], names: Sequence[str]
) -> vol.Schema:
    """The users or libraries form: (the kinds,) the mode, the names, the mapping.

    The names offered are those read from the servers and those already chosen.
    """
    fields: dict[vol.Marker, Any] = {}
    if step.kinds:
        fields[
            vol.Required(CONF_KINDS, default=list(current.get(CONF_KINDS, KINDS)))
        ] = _select(KINDS, CONF_KINDS, multiple=True)
    chosen = list(current.get(step.chosen, []))
    offered = sorted(set(names) | set(chosen), key=str.lower)
    fields[vol.Required(step.mode, default=current.get(step.mode, USER_MODE_ALL))] = (
        _select(step.modes, step.mode)
    )
    fields[vol.Optional(step.chosen, default=chosen)] = SelectSelector(
        SelectSelectorConfig(options=offered, multiple=True, sort=True)
    )
    fields[
        vol.Optional(
            step.mapping, description={"suggested_value": current.get(step.mapping, "")}
        )
    ] = _multiline()
    return vol.Schema(fields)


# ---- form input -> options ------------------------------------------------------------


def init_options(
    current: Mapping[str, Any], user_input: Mapping[str, Any]
) -> dict[str, Any]:
    """The options after the first step: its input over ``current``, numbers whole."""
    return {
        **current,
        **user_input,
        **{key: int(user_input[key]) for key in _WHOLE_NUMBERS},
    }


def names_errors(
    step: NamesStep, user_input: Mapping[str, Any], names: Sequence[str]
) -> dict[str, str]:
    """Errors of a users or libraries form: a bad mapping, a mode without names."""
    errors: dict[str, str] = {}
    try:
        parse_user_map(user_input.get(step.mapping, ""), names, what=step.what)
    except ValueError:
        errors[step.mapping] = step.invalid_mapping
    if user_input[step.mode] != USER_MODE_ALL and not user_input.get(step.chosen):
        errors[step.chosen] = step.none_chosen
    if step.kinds and not user_input.get(CONF_KINDS):
        errors[CONF_KINDS] = "no_kinds"
    return errors


def names_options(step: NamesStep, user_input: Mapping[str, Any]) -> dict[str, Any]:
    """The options a valid users or libraries form stores."""
    options: dict[str, Any] = {}
    if step.kinds:
        options[CONF_KINDS] = [k for k in KINDS if k in user_input[CONF_KINDS]]
    options[step.mode] = user_input[step.mode]
    options[step.chosen] = list(user_input.get(step.chosen, []))
    options[step.mapping] = user_input.get(step.mapping, "").strip()
    return options
