"""Jellyfin Sync: keep the per-user watch data of two or more Jellyfin servers identical.

Thin Home Assistant glue: the coordinator runs the sync engine over the Jellyfin
client; this module sets entries up and tears them down (with each group's webhook
for near-real-time sync), and registers the actions.
"""

from homeassistant.components.webhook import async_generate_id
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .const import (
    CONF_INSTANT_SYNC,
    CONF_SERVER_ID,
    CONF_SERVERS,
    CONF_WEBHOOK_ID,
    DOMAIN,
)
from .coordinator import JellyfinSyncConfigEntry, JellyfinSyncCoordinator
from .helpers import client_for
from .instant import InstantSync, async_remove_from_servers
from .services import async_setup_services
from .webhook import WebhookSync

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
PLATFORMS = [Platform.BINARY_SENSOR, Platform.BUTTON, Platform.SENSOR]

__all__ = ["JellyfinSyncConfigEntry"]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the integration (actions are registered here, once)."""
    async_setup_services(hass)
    return True


async def async_setup_entry(
    hass: HomeAssistant, entry: JellyfinSyncConfigEntry
) -> bool:
    """Set up a sync group from a config entry."""
    coordinator = JellyfinSyncCoordinator(hass, entry)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    _remove_stale_devices(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    if not entry.data.get(CONF_WEBHOOK_ID):
        # Groups created before webhooks existed get their id now.
        hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_WEBHOOK_ID: async_generate_id()}
        )
    coordinator.webhook = WebhookSync(hass, coordinator, entry.data[CONF_WEBHOOK_ID])
    coordinator.webhook.async_register()
    entry.async_on_unload(coordinator.webhook.async_unregister)
    coordinator.instant = InstantSync(hass, coordinator, entry.data[CONF_WEBHOOK_ID])

    async def first_cycle() -> None:
        # Instant sync first, so a change made during a long first sync is
        # already announced; then the first sync.
        await coordinator.instant_apply()
        await coordinator.async_refresh()

    # Setup only checked the servers; the first sync may take long on big
    # libraries, so it runs in the background (cancelled if the entry unloads).
    entry.async_create_background_task(
        hass, first_cycle(), f"{DOMAIN} first cycle {entry.entry_id}"
    )
    return True


async def async_unload_entry(
    hass: HomeAssistant, entry: JellyfinSyncConfigEntry
) -> bool:
    """Unload a sync group (the coordinator shuts down with the entry)."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        entry.runtime_data.async_clear_issues()
    return unloaded


async def async_remove_entry(
    hass: HomeAssistant, entry: JellyfinSyncConfigEntry
) -> None:
    """A group is deleted: its stored state, and its destination on the servers."""
    await JellyfinSyncCoordinator.async_remove_store(hass, entry)
    clients = {
        server[CONF_SERVER_ID]: client_for(hass, server, retries=0)
        for server in entry.data[CONF_SERVERS]
    }
    # Also with the option off: a server that was down when it was turned off
    # may still hold the destination. Only with it on is a server that does not
    # answer reported (with it off there is most likely nothing to remove).
    await async_remove_from_servers(
        hass, entry, clients, report=bool(entry.options.get(CONF_INSTANT_SYNC))
    )


def _remove_stale_devices(hass: HomeAssistant, entry: JellyfinSyncConfigEntry) -> None:
    """Remove the devices of servers that were removed from the group."""
    registry = dr.async_get(hass)
    wanted = {entry.entry_id} | {s[CONF_SERVER_ID] for s in entry.data[CONF_SERVERS]}
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if not any(
            domain == DOMAIN and ident in wanted for domain, ident in device.identifiers
        ):
            registry.async_remove_device(device.id)
