"""Entities of a sync group through real cycles against the simulator."""

from datetime import datetime
from typing import Any

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from syrupy.assertion import SnapshotAssertion

from custom_components.jellyfin_sync.const import DOMAIN
from tests import ha_common
from tests.ha_common import make_entry, matchable_movies, setup_entry
from tests.simulator import SimulatedServer

fast_client_retries = ha_common.fast_client_retries
group = ha_common.group
snapshot = ha_common.snapshot

STATUS = "sensor.home_cabin_status"
LAST_SYNC = "sensor.home_cabin_last_successful_sync"
APPLIED = "sensor.home_cabin_changes_applied"
CONFLICTS = "sensor.home_cabin_conflicts_settled"
UNMATCHED = "sensor.home_cabin_unmatched_items"
HELD = "sensor.home_cabin_held_changes"
HOME_CONNECTED = "binary_sensor.home_connectivity"
CABIN_CONNECTED = "binary_sensor.cabin_connectivity"
CABIN_TRACKED = "sensor.cabin_tracked_items"


def _entities(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, entry_id: str
) -> dict[str, Any]:
    """Registry entries and states of the entry, without volatile values."""
    out: dict[str, Any] = {}
    for entity in sorted(
        er.async_entries_for_config_entry(entity_registry, entry_id),
        key=lambda e: e.entity_id,
    ):
        state = hass.states.get(entity.entity_id)
        value = state.state if state else None
        if state is not None and state.attributes.get("device_class") == "timestamp":
            datetime.fromisoformat(state.state)  # a real timestamp
            value = "<timestamp>"
        out[entity.entity_id] = {
            "unique_id": entity.unique_id,
            "translation_key": entity.translation_key,
            "entity_category": entity.entity_category,
            "disabled_by": entity.disabled_by,
            "original_device_class": entity.original_device_class,
            "state": value,
            # 2026.x keys attributes with ``EntityStateAttribute`` (a StrEnum).
            "attributes": (
                {str(key): v for key, v in state.attributes.items()} if state else None
            ),
        }
    return out


async def test_entities_after_first_sync(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    home, cabin = group
    movies = matchable_movies(home)
    home.act("alice").mark_played(movies[0].id)
    home.act("bob").favorite(movies[1].id)
    cabin.act("alice").favorite(cabin.item_by_key(movies[2].identity).id)
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)

    assert hass.states.get(STATUS).state == "ok"
    assert int(hass.states.get(APPLIED).state) == 3
    assert int(hass.states.get(HELD).state) == 0
    assert hass.states.get(HOME_CONNECTED).state == STATE_ON
    assert int(hass.states.get(CABIN_TRACKED).state) == 3
    assert _entities(hass, entity_registry, entry.entry_id) == snapshot

    # One device per server (with its version) and one for the group.
    home_device = ha_common.device_of(
        device_registry, (DOMAIN, home.server_id), entry.entry_id
    )
    assert home_device is not None
    assert home_device.sw_version == "10.11.11"
    assert home_device.model == "Jellyfin Server"
    assert home_device.configuration_url == home.url
    group_device = ha_common.device_of(
        device_registry, (DOMAIN, entry.entry_id), entry.entry_id
    )
    assert group_device is not None
    assert group_device.name == "Home & Cabin"


async def test_second_cycle_applies_nothing(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    home.act("alice").mark_played(matchable_movies(home)[0].id)
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    assert int(hass.states.get(APPLIED).state) == 1
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert int(hass.states.get(APPLIED).state) == 0
    assert hass.states.get(STATUS).state == "ok"


async def test_server_down_and_back(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    caplog: Any,
) -> None:
    """A down server's entities go unavailable, logged once, and come back."""
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    cabin.faults.down()
    caplog.clear()
    await coordinator.async_refresh()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(CABIN_CONNECTED).state == STATE_OFF
    assert hass.states.get(CABIN_TRACKED).state == STATE_UNAVAILABLE
    assert hass.states.get(HOME_CONNECTED).state == STATE_ON
    assert hass.states.get(STATUS).state == "error"
    assert caplog.text.count("Jellyfin server Cabin is unavailable") == 1

    cabin.faults.up()
    await hass.async_block_till_done()
    await coordinator.async_refresh()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(CABIN_CONNECTED).state == STATE_ON
    assert hass.states.get(CABIN_TRACKED).state != STATE_UNAVAILABLE
    assert hass.states.get(STATUS).state == "ok"
    assert caplog.text.count("Jellyfin server Cabin is available again") == 1


async def test_third_server_keeps_syncing_when_one_is_down(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    jellyfin_server_factory: ha_common.ServerFactory,
) -> None:
    home, cabin = group
    attic = await jellyfin_server_factory(
        name="Attic", media_root="/srv/attic", library=ha_common.SMALL_LIBRARY
    )
    entry = make_entry(hass, [home, cabin, attic])
    await setup_entry(hass, entry)
    attic.faults.down()
    movie = matchable_movies(home)[0]
    home.act("alice").mark_played(movie.id)
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert cabin.dump_user_data()["alice"][movie.identity]["Played"] is True
    assert hass.states.get("binary_sensor.attic_connectivity").state == STATE_OFF
    attic.faults.up()


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("fail", "server_error"),
        ("html", "not_jellyfin"),
    ],
)
async def test_server_faults_are_named(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    fault: str,
    reason: str,
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    if fault == "fail":
        cabin.faults.fail_next(1000, 500)
    else:
        cabin.faults.html_next(1000)
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    state = entry.runtime_data.data.servers[cabin.server_id]
    assert state.online is False
    assert state.error == reason
    assert hass.states.get(CABIN_CONNECTED).state == STATE_OFF
    cabin.faults.clear()
