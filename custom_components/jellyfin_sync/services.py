"""Actions of Jellyfin Sync: ``run`` a cycle and ``undo`` the last one.

Both are registered once in ``async_setup`` (quality-scale rule action-setup) and
check their input themselves, so bad input (unknown group, wrong types, unknown
users) becomes a translated ``ServiceValidationError`` and changes nothing.
"""

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv

from .compat import vol
from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_CYCLE_ID,
    ATTR_DRY_RUN,
    ATTR_FULL,
    ATTR_USERS,
    DOMAIN,
    SERVICE_RUN,
    SERVICE_UNDO,
)
from .coordinator import JellyfinSyncConfigEntry

RUN_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_DRY_RUN): cv.boolean,
        vol.Optional(ATTR_FULL, default=False): cv.boolean,
        vol.Optional(ATTR_USERS): vol.All(cv.ensure_list, [cv.string]),
    }
)
UNDO_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_DRY_RUN, default=False): cv.boolean,
        vol.Optional(ATTR_CYCLE_ID): vol.All(cv.string, vol.Length(min=1, max=64)),
    }
)


def _validate(schema: vol.Schema, data: dict[str, Any]) -> dict[str, Any]:
    try:
        result: dict[str, Any] = schema(data)
    except vol.Invalid as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_input",
            translation_placeholders={"error": str(err)},
        ) from err
    return result


def _loaded_entry(hass: HomeAssistant, entry_id: str) -> JellyfinSyncConfigEntry:
    """The loaded config entry of this integration with this id.

    Home Assistant 2026.x has ``service.async_get_config_entry`` for this; 2025.4
    does not, hence this helper.
    """
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    loaded: JellyfinSyncConfigEntry = entry
    return loaded


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""

    async def run(call: ServiceCall) -> ServiceResponse:
        data = _validate(RUN_SCHEMA, dict(call.data))
        if ATTR_CONFIG_ENTRY_ID in data:
            entries = [_loaded_entry(hass, data[ATTR_CONFIG_ENTRY_ID])]
        else:
            entries = [
                entry
                for entry in hass.config_entries.async_loaded_entries(DOMAIN)
                if entry.state is ConfigEntryState.LOADED
            ]
            if not entries:
                raise ServiceValidationError(
                    translation_domain=DOMAIN, translation_key="no_groups"
                )
        users: list[str] | None = data.get(ATTR_USERS) or None
        if users:
            for entry in entries:
                entry.runtime_data.check_users(users)
        reports: dict[str, Any] = {}
        for entry in entries:
            reports[entry.entry_id] = await entry.runtime_data.async_run_cycle(
                dry_run=data.get(ATTR_DRY_RUN),
                full=data[ATTR_FULL],
                users=users,
            )
        if not call.return_response:
            return None
        return {"groups": reports}

    async def undo(call: ServiceCall) -> ServiceResponse:
        data = _validate(UNDO_SCHEMA, dict(call.data))
        entry = _loaded_entry(hass, data[ATTR_CONFIG_ENTRY_ID])
        result = await entry.runtime_data.async_undo(
            dry_run=data[ATTR_DRY_RUN], cycle_id=data.get(ATTR_CYCLE_ID)
        )
        return result if call.return_response else None

    hass.services.async_register(
        DOMAIN, SERVICE_RUN, run, supports_response=SupportsResponse.OPTIONAL
    )
    hass.services.async_register(
        DOMAIN, SERVICE_UNDO, undo, supports_response=SupportsResponse.OPTIONAL
    )
