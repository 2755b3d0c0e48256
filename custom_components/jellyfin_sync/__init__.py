"""Jellyfin Sync: keep the per-user watch data of two or more Jellyfin servers identical."""

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

type JellyfinSyncConfigEntry = ConfigEntry[None]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the integration (actions are registered here)."""
    return True


async def async_setup_entry(
    hass: HomeAssistant, entry: JellyfinSyncConfigEntry
) -> bool:
    """Set up a sync group from a config entry."""
    entry.runtime_data = None
    return True


async def async_unload_entry(
    hass: HomeAssistant, entry: JellyfinSyncConfigEntry
) -> bool:
    """Unload a sync group."""
    return True
