"""Base entities of Jellyfin Sync: one device per sync group and one per server."""

from typing import Any, override

from homeassistant.const import CONF_URL
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import CONF_NAME, CONF_SERVER_ID, DOMAIN
from .coordinator import JellyfinSyncCoordinator
from .group import ServerState


class JellyfinSyncEntity(CoordinatorEntity[JellyfinSyncCoordinator]):
    """An entity of the sync group (the group's own device)."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: JellyfinSyncCoordinator, description: EntityDescription
    ) -> None:
        """Attach the entity to the group device."""
        super().__init__(coordinator)
        entry = coordinator.config_entry
        self.entity_description = description
        self._attr_unique_id = f"{entry.entry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            name=entry.title,
            manufacturer="Jellyfin Sync",
            model="Sync group",
            entry_type=DeviceEntryType.SERVICE,
        )


class JellyfinServerEntity(CoordinatorEntity[JellyfinSyncCoordinator]):
    """An entity of one Jellyfin server of the group (a device per server)."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: JellyfinSyncCoordinator,
        description: EntityDescription,
        server: dict[str, Any],
    ) -> None:
        """Attach the entity to the server's device."""
        super().__init__(coordinator)
        self.entity_description = description
        self.server_id: str = server[CONF_SERVER_ID]
        self._attr_unique_id = f"{self.server_id}_{description.key}"
        state = (
            coordinator.data.servers.get(self.server_id) if coordinator.data else None
        )
        info = state.info if state else None
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, self.server_id)},
            name=server[CONF_NAME],
            manufacturer="Jellyfin",
            model=info.product_name if info else "Jellyfin Server",
            sw_version=info.version if info else None,
            configuration_url=server[CONF_URL],
            entry_type=DeviceEntryType.SERVICE,
        )

    @property
    def server_state(self) -> ServerState | None:
        """This server's state in the coordinator's data."""
        return self.coordinator.data.servers.get(self.server_id)

    @property
    @override
    def available(self) -> bool:
        """Unavailable while the server cannot be reached."""
        state = self.server_state
        return super().available and state is not None and state.online
