"""Sensors of Jellyfin Sync: the group's last cycle and each server's tracked items."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_SERVERS, STATUSES
from .coordinator import JellyfinSyncConfigEntry, JellyfinSyncCoordinator
from .entity import JellyfinServerEntity, JellyfinSyncEntity
from .group import ServerState
from .instant import InstantStatus

PARALLEL_UPDATES = 0

type StateValue = str | int | datetime | None


@dataclass(frozen=True, kw_only=True)
class GroupSensorDescription(SensorEntityDescription):
    """A sensor of the sync group."""

    value_fn: Callable[[JellyfinSyncCoordinator], StateValue]


@dataclass(frozen=True, kw_only=True)
class ServerSensorDescription(SensorEntityDescription):
    """A sensor of one server."""

    value_fn: Callable[[ServerState], StateValue]


def _count(attr: str) -> Callable[[JellyfinSyncCoordinator], int | None]:
    def value(coordinator: JellyfinSyncCoordinator) -> int | None:
        cycle = coordinator.data.last_cycle
        return None if cycle is None else int(getattr(cycle, attr))

    return value


GROUP_SENSORS: tuple[GroupSensorDescription, ...] = (
    GroupSensorDescription(
        key="last_sync",
        translation_key="last_sync",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda c: c.data.last_success,
    ),
    GroupSensorDescription(
        key="status",
        translation_key="status",
        device_class=SensorDeviceClass.ENUM,
        options=list(STATUSES),
        value_fn=lambda c: c.status,
    ),
    GroupSensorDescription(
        key="changes_applied",
        translation_key="changes_applied",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_count("applied"),
    ),
    GroupSensorDescription(
        key="conflicts",
        translation_key="conflicts",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_count("conflicts"),
    ),
    GroupSensorDescription(
        key="unmatched_items",
        translation_key="unmatched_items",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_count("unmatched"),
    ),
    GroupSensorDescription(
        key="held_changes",
        translation_key="held_changes",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda c: c.data.held,
    ),
)

SERVER_SENSORS: tuple[ServerSensorDescription, ...] = (
    ServerSensorDescription(
        key="tracked_items",
        translation_key="tracked_items",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda s: s.tracked_items,
    ),
)


INSTANT_SENSOR = SensorEntityDescription(
    key="instant_sync",
    translation_key="instant_sync",
    device_class=SensorDeviceClass.ENUM,
    options=[status.value for status in InstantStatus],
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: JellyfinSyncConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the group's and the servers' sensors."""
    coordinator = entry.runtime_data
    entities: list[SensorEntity] = [
        GroupSensor(coordinator, description) for description in GROUP_SENSORS
    ]
    entities.extend(
        ServerSensor(coordinator, description, server)
        for server in entry.data[CONF_SERVERS]
        for description in SERVER_SENSORS
    )
    entities.extend(
        InstantSyncSensor(coordinator, INSTANT_SENSOR, server)
        for server in entry.data[CONF_SERVERS]
    )
    async_add_entities(entities)


class GroupSensor(JellyfinSyncEntity, SensorEntity):
    """A sensor of the sync group."""

    entity_description: GroupSensorDescription

    @property
    def native_value(self) -> StateValue:
        """The value from the coordinator's data."""
        return self.entity_description.value_fn(self.coordinator)


class ServerSensor(JellyfinServerEntity, SensorEntity):
    """A sensor of one server."""

    entity_description: ServerSensorDescription

    @property
    def native_value(self) -> StateValue:
        """The value from this server's state."""
        state = self.server_state
        return None if state is None else self.entity_description.value_fn(state)


class InstantSyncSensor(JellyfinServerEntity, SensorEntity):
    """Whether instant sync works for one server.

    ``active`` only once a call from it arrived recently; a saved configuration
    alone is ``waiting``.
    """

    @property
    def available(self) -> bool:
        """Always: the status says what is wrong (a server that is down included)."""
        return self.coordinator.last_update_success or self.coordinator.data is not None

    @property
    def native_value(self) -> str:
        """The server's instant-sync status."""
        instant = self.coordinator.instant
        if instant is None:
            return InstantStatus.OFF.value
        return instant.status_of(self.server_id).value

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """When the last call arrived, and the last error (no secrets)."""
        instant = self.coordinator.instant
        if instant is None:
            return {}
        last = instant.last_call.get(self.server_id)
        return {
            "last_call": last.isoformat() if last else None,
            "error": instant.error.get(self.server_id),
        }
