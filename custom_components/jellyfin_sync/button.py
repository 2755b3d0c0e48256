"""The "Sync now" button of a sync group."""

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import JellyfinSyncConfigEntry
from .entity import JellyfinSyncEntity

PARALLEL_UPDATES = 1

SYNC_NOW = ButtonEntityDescription(key="sync_now", translation_key="sync_now")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: JellyfinSyncConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the button."""
    async_add_entities([SyncNowButton(entry.runtime_data, SYNC_NOW)])


class SyncNowButton(JellyfinSyncEntity, ButtonEntity):
    """Run a sync cycle now (waits for a running one first)."""

    async def async_press(self) -> None:
        """Run one cycle with the group's options."""
        await self.coordinator.async_run_cycle()
