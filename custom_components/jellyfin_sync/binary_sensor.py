"""Connectivity of each Jellyfin server of a sync group."""

from typing import override

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .compat import BinarySensorDeviceClass
from .const import CONF_SERVERS
from .coordinator import JellyfinSyncConfigEntry
from .entity import JellyfinServerEntity

PARALLEL_UPDATES = 0

CONNECTIVITY = BinarySensorEntityDescription(
    key="connectivity",
    translation_key="connectivity",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: JellyfinSyncConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one connectivity sensor per server."""
    coordinator = entry.runtime_data
    async_add_entities(
        ServerConnectivity(coordinator, CONNECTIVITY, server)
        for server in entry.data[CONF_SERVERS]
    )


class ServerConnectivity(JellyfinServerEntity, BinarySensorEntity):
    """On while the server answers with a valid key."""

    @property
    @override
    def available(self) -> bool:
        """Stays available while the server is down: that is what it reports."""
        return self.coordinator.last_update_success and self.server_state is not None

    @property
    @override
    def is_on(self) -> bool:
        """Whether the last cycle could use this server."""
        state = self.server_state
        return state is not None and state.online
