"""The ``run`` and ``undo`` actions, the button and the completion event."""

import asyncio
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.jellyfin_sync.const import DOMAIN, EVENT_COMPLETED
from custom_components.jellyfin_sync.diagnostics import (
    async_get_config_entry_diagnostics,
)
from tests import ha_common
from tests.ha_common import make_entry, matchable_movies, setup_entry
from tests.simulator import SimulatedServer

fast_client_retries = ha_common.fast_client_retries
group = ha_common.group


async def _call(
    hass: HomeAssistant, service: str, data: dict[str, Any], *, response: bool = True
) -> Any:
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=response
    )


async def test_run_returns_report(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    events = async_capture_events(hass, EVENT_COMPLETED)
    movie = matchable_movies(home)[0]
    home.act("alice").mark_played(movie.id)

    response = await _call(hass, "run", {"config_entry_id": entry.entry_id})
    result = response["groups"][entry.entry_id]
    assert result["summary"]["outcome"] == "ok"
    assert result["summary"]["applied"] == 1
    assert result["report"]["writes_done"] == 1
    assert result["report"]["users"] == ["alice", "bob"]
    assert cabin.dump_user_data()["alice"][movie.identity]["Played"] is True
    await hass.async_block_till_done()
    assert len(events) == 1
    assert events[0].data["config_entry_id"] == entry.entry_id
    assert events[0].data["applied"] == 1
    assert events[0].data["outcome"] == "ok"
    assert hass.states.get("sensor.home_cabin_changes_applied").state == "1"


async def test_run_without_response_and_all_groups(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    movie = matchable_movies(cabin)[1]
    cabin.act("bob").favorite(movie.id)
    assert await _call(hass, "run", {}, response=False) is None
    assert home.dump_user_data()["bob"][movie.identity]["IsFavorite"] is True


async def test_run_dry_run_writes_nothing(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    movie = matchable_movies(home)[0]
    home.act("alice").mark_played(movie.id)
    response = await _call(
        hass, "run", {"config_entry_id": entry.entry_id, "dry_run": True}
    )
    result = response["groups"][entry.entry_id]
    assert result["summary"]["outcome"] == "dry_run"
    assert result["report"]["writes_planned"] == 1
    assert result["report"]["writes_done"] == 0
    assert movie.identity not in cabin.dump_user_data()["alice"]
    assert hass.states.get("sensor.home_cabin_status").state == "dry_run"
    # The next real cycle still sees the change (the baseline did not move).
    response = await _call(hass, "run", {"config_entry_id": entry.entry_id})
    assert response["groups"][entry.entry_id]["report"]["writes_done"] == 1


async def test_run_full_and_for_one_user(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    movies = matchable_movies(home)
    home.act("alice").mark_played(movies[0].id)
    home.act("bob").mark_played(movies[1].id)
    response = await _call(
        hass,
        "run",
        {"config_entry_id": entry.entry_id, "full": True, "users": ["ALICE"]},
    )
    report = response["groups"][entry.entry_id]["report"]
    assert report["full"] is True
    assert report["users"] == ["alice"]
    cabin_data = cabin.dump_user_data()
    assert movies[0].identity in cabin_data["alice"]
    assert movies[1].identity not in cabin_data["bob"]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"config_entry_id": "nope"}, "entry_not_found"),
        ({"dry_run": "maybe"}, "invalid_input"),
        ({"full": [1, 2]}, "invalid_input"),
        ({"users": [{"name": "alice"}]}, "invalid_input"),
        ({"unknown_field": 1}, "invalid_input"),
        ({"users": ["nobody"]}, "unknown_user"),
    ],
)
async def test_run_bad_input(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    data: dict[str, Any],
    key: str,
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    events = async_capture_events(hass, EVENT_COMPLETED)
    home.act("alice").mark_played(matchable_movies(home)[0].id)
    before = cabin.dump_user_data()
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "run", data)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    assert cabin.dump_user_data() == before
    await hass.async_block_till_done()
    assert events == []


async def test_run_unloaded_and_no_groups(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    entry = make_entry(hass, list(group))
    await setup_entry(hass, entry)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "run", {"config_entry_id": entry.entry_id})
    assert err.value.translation_key == "entry_not_loaded"
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "run", {})
    assert err.value.translation_key == "no_groups"


async def test_run_with_revoked_key_starts_reauth(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    home.faults.revoke_key()
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "run", {"config_entry_id": entry.entry_id})
    assert err.value.translation_key == "auth_failed"
    assert home.api_key not in str(err.value)
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]


async def test_run_with_one_server_down(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    cabin.faults.down()
    response = await _call(hass, "run", {"config_entry_id": entry.entry_id})
    result = response["groups"][entry.entry_id]
    assert result["summary"]["outcome"] == "error"
    assert result["summary"]["error"] == "too_few_servers_online"
    cabin.faults.up()


async def test_undo(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "undo", {"config_entry_id": entry.entry_id})
    assert err.value.translation_key == "nothing_to_undo"

    movie = matchable_movies(home)[0]
    home.act("alice").favorite(movie.id)
    await _call(hass, "run", {"config_entry_id": entry.entry_id})
    assert cabin.dump_user_data()["alice"][movie.identity]["IsFavorite"] is True

    preview = await _call(
        hass, "undo", {"config_entry_id": entry.entry_id, "dry_run": True}
    )
    assert preview["undo"] is True
    assert preview["dry_run"] is True
    # Cabin, written by the sync, and Home, where the favourite started.
    assert preview["writes_planned"] == 2
    assert preview["by_server"] == {
        "Cabin": {"restored": 1, "kept": 0, "waiting": 0},
        "Home": {"restored": 1, "kept": 0, "waiting": 0},
    }
    assert cabin.dump_user_data()["alice"][movie.identity]["IsFavorite"] is True

    events = async_capture_events(hass, EVENT_COMPLETED)
    result = await _call(hass, "undo", {"config_entry_id": entry.entry_id})
    assert result["writes_done"] == 2
    assert result["restored"] == 2
    assert movie.identity not in cabin.dump_user_data()["alice"]
    assert movie.identity not in home.dump_user_data()["alice"]
    assert [e.data["undo"] for e in events] == [True]
    assert events[0].data["by_server"] == result["by_server"]
    assert events[0].data["config_entry_id"] == entry.entry_id
    # The next cycle brings nothing back.
    after = await _call(hass, "run", {"config_entry_id": entry.entry_id})
    assert after["groups"][entry.entry_id]["summary"]["planned"] == 0
    # Diagnostics keep the undo: its cycle id and counts, no item data.
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    (logged,) = diagnostics["undo_history"]
    assert logged["cycle_id"] == result["cycle"]
    assert logged["restored"] == 2
    assert logged["by_server"] == result["by_server"]
    assert movie.identity not in str(logged)
    assert movie.id not in str(logged)


async def test_undo_with_a_server_down_finishes_when_it_returns(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    movie = matchable_movies(home)[0]
    home.act("alice").favorite(movie.id)
    await _call(hass, "run", {"config_entry_id": entry.entry_id})
    cabin.faults.down()
    result = await _call(hass, "undo", {"config_entry_id": entry.entry_id})
    assert result["by_server"]["Cabin"] == {"restored": 0, "kept": 0, "waiting": 1}
    assert result["by_server"]["Home"]["restored"] == 1
    assert movie.identity not in home.dump_user_data()["alice"]
    assert cabin.api_key not in str(result)
    cabin.faults.up()
    await cabin.wait_up()
    await _call(hass, "run", {"config_entry_id": entry.entry_id})
    assert movie.identity not in cabin.dump_user_data()["alice"]
    assert movie.identity not in home.dump_user_data()["alice"]


async def test_undo_bad_input(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    entry = make_entry(hass, list(group))
    await setup_entry(hass, entry)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "undo", {})
    assert err.value.translation_key == "invalid_input"
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "undo", {"config_entry_id": entry.entry_id, "dry_run": "x"})
    assert err.value.translation_key == "invalid_input"


async def test_sync_now_button(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    movie = matchable_movies(home)[0]
    home.act("bob").mark_played(movie.id)
    await hass.services.async_call(
        "button",
        "press",
        {ATTR_ENTITY_ID: "button.home_cabin_sync_now"},
        blocking=True,
    )
    assert cabin.dump_user_data()["bob"][movie.identity]["Played"] is True


async def test_cycles_never_overlap(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    """Two runs at once: the second waits for the first; status shows syncing."""
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    changes = async_capture_events(hass, "state_changed")
    home.faults.latency(0.02)
    first, second = await asyncio.gather(
        _call(hass, "run", {"config_entry_id": entry.entry_id}),
        _call(hass, "run", {"config_entry_id": entry.entry_id}),
    )
    home.faults.latency(0)
    one = first["groups"][entry.entry_id]["summary"]
    two = second["groups"][entry.entry_id]["summary"]
    ordered = sorted([one, two], key=lambda s: s["started_at"])
    assert ordered[0]["finished_at"] <= ordered[1]["started_at"]
    await hass.async_block_till_done()
    statuses = [
        e.data["new_state"].state
        for e in changes
        if e.data["entity_id"] == "sensor.home_cabin_status"
    ]
    assert statuses == ["syncing", "ok", "syncing", "ok"]


async def test_api_keys_never_logged(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Setup, an outage, a revoked key and the errors shown: no key in any log."""
    home, cabin = group
    caplog.set_level(logging.DEBUG)
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    cabin.faults.down()
    await entry.runtime_data.async_refresh()
    cabin.faults.up()
    await hass.async_block_till_done()
    home.faults.revoke_key()
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert entry.runtime_data.last_update_success is False
    assert "Jellyfin server Cabin is unavailable" in caplog.text
    for key in (home.api_key, cabin.api_key):
        assert key not in caplog.text
    home.faults.restore_key()


async def test_undo_is_idempotent_and_takes_a_cycle_id(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    first, second = matchable_movies(home)[:2]
    home.act("alice").favorite(first.id)
    run1 = await _call(hass, "run", {"config_entry_id": entry.entry_id})
    cycle1 = run1["groups"][entry.entry_id]["report"]["cycle"]
    home.act("alice").favorite(second.id)
    await _call(hass, "run", {"config_entry_id": entry.entry_id})

    undone = await _call(hass, "undo", {"config_entry_id": entry.entry_id})
    assert undone["already_undone"] is False
    assert undone["writes_done"] == 2  # Cabin and Home
    assert undone["undoable"] == [cycle1]
    assert second.identity not in cabin.dump_user_data()["alice"]

    # Again without an id: the newest sync is undone already, the older one stays.
    again = await _call(hass, "undo", {"config_entry_id": entry.entry_id})
    assert again["already_undone"] is True
    assert again["writes_done"] == 0
    assert cabin.dump_user_data()["alice"][first.identity]["IsFavorite"] is True

    # The undone cycle is stored: a reload still knows it.
    undone_cycle = entry.runtime_data.group.stored.last_undone
    assert undone_cycle is not None
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.group.stored.last_undone == undone_cycle

    # An older sync by its id, once; twice writes nothing.
    by_id = {"config_entry_id": entry.entry_id, "cycle_id": cycle1}
    assert (await _call(hass, "undo", by_id))["writes_done"] == 2
    assert first.identity not in cabin.dump_user_data()["alice"]
    assert first.identity not in home.dump_user_data()["alice"]
    assert (await _call(hass, "undo", by_id))["already_undone"] is True

    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "undo",
            {"config_entry_id": entry.entry_id, "cycle_id": "9999-01-01T00:00:00Z"},
        )
    assert err.value.translation_key == "unknown_cycle"
