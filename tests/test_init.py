"""Setup, unload, reload and removal of a sync group against the simulator."""

import logging

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.storage import Store
import pytest

from custom_components.jellyfin_sync.const import (
    CONF_SERVER_ID,
    CONF_SERVERS,
    DOMAIN,
    STORAGE_VERSION,
)
from custom_components.jellyfin_sync.coordinator import SyncStore
from tests import ha_common
from tests.ha_common import make_entry, matchable_movies, server_conf, setup_entry
from tests.simulator import SimulatedServer

fast_client_retries = ha_common.fast_client_retries
group = ha_common.group


async def test_setup_sync_and_unload(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    movie = matchable_movies(home)[0]
    home.act("alice").mark_played(movie.id)
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    # The first cycle ran during setup and copied alice's watch to the cabin.
    assert cabin.dump_user_data()["alice"][movie.identity]["Played"] is True
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_setup_retries_when_every_server_is_down(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    home.faults.down()
    cabin.faults.down()
    entry = make_entry(hass, [home, cabin])
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    home.faults.up()
    cabin.faults.up()


async def test_setup_with_revoked_key_starts_reauth(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    cabin.faults.revoke_key()
    entry = make_entry(hass, [home, cabin])
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]
    assert flows[0]["context"]["entry_id"] == entry.entry_id


async def test_reload_keeps_baseline(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    home.act("bob").favorite(matchable_movies(home)[0].id)
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    store = SyncStore(hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}")
    stored = await store.async_load()
    assert stored is not None
    assert stored["baseline"]["users"]["bob"]["items"]
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.group.baseline.item_count >= 1


async def test_remove_entry_deletes_store(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    entry = make_entry(hass, list(group))
    await setup_entry(hass, entry)
    key = f"{DOMAIN}.{entry.entry_id}"
    assert await Store[dict[str, object]](hass, STORAGE_VERSION, key).async_load()
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert (
        await Store[dict[str, object]](hass, STORAGE_VERSION, key).async_load() is None
    )


async def test_removed_server_device_is_pruned(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    jellyfin_server_factory: ha_common.ServerFactory,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    home, cabin = group
    attic = await jellyfin_server_factory(name="Attic", library=ha_common.SMALL_LIBRARY)
    entry = make_entry(hass, [home, cabin, attic])
    await setup_entry(hass, entry)
    assert (
        ha_common.device_of(device_registry, (DOMAIN, attic.server_id), entry.entry_id)
        is not None
    )
    hass.config_entries.async_update_entry(
        entry, data={CONF_SERVERS: [server_conf(home), server_conf(cabin)]}
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert (
        ha_common.device_of(device_registry, (DOMAIN, attic.server_id), entry.entry_id)
        is None
    )
    assert (
        ha_common.device_of(device_registry, (DOMAIN, home.server_id), entry.entry_id)
        is not None
    )
    assert [s[CONF_SERVER_ID] for s in entry.data[CONF_SERVERS]] == [
        home.server_id,
        cabin.server_id,
    ]


async def test_store_migration_fills_missing_keys(
    hass: HomeAssistant,
    hass_storage: dict[str, object],
    group: tuple[SimulatedServer, SimulatedServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An older minor layout (only a history) loads; the group still syncs."""
    entry = make_entry(hass, list(group))
    hass_storage[f"{DOMAIN}.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 0,
        "key": f"{DOMAIN}.{entry.entry_id}",
        "data": {"last_success": None},
    }
    with caplog.at_level(logging.WARNING):
        await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}"]
    assert isinstance(stored, dict)
    assert stored["minor_version"] == 1
    assert "baseline" in stored["data"]


async def test_unreadable_store_starts_afresh(
    hass: HomeAssistant,
    hass_storage: dict[str, object],
    group: tuple[SimulatedServer, SimulatedServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = make_entry(hass, list(group))
    hass_storage[f"{DOMAIN}.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.{entry.entry_id}",
        "data": {
            "baseline": {"version": 99},
            "history": [{"held": 0, "outcome": "ok"}],
            "last_success": "2026-01-01T00:00:00+00:00",
        },
    }
    with caplog.at_level(logging.WARNING):
        await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert "cannot be read" in caplog.text
    assert entry.runtime_data.group.baseline.item_count == 0
