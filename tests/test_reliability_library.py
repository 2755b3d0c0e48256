"""Library events and restarts: rescans, re-added items, future dates, a stopped apply.

All through the coordinator against the simulator, with the standard scenario of
``tests.reliability_common``.
"""

import asyncio
from datetime import UTC, datetime
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest

from custom_components.jellyfin_sync.jellyfin.models import (
    Capabilities,
    Item,
    SyncField,
    UserData,
)
from custom_components.jellyfin_sync.sync import (
    Baseline,
    BaselineEntry,
    MatchedUser,
    SyncOptions,
    UserSnapshot,
    build_plan,
    match_items,
    run,
)
from custom_components.jellyfin_sync.sync.baseline import Applying
from tests import ha_common
from tests.ha_common import make_entry, setup_entry
from tests.reliability_common import (
    Trap,
    assert_clean_logs,
    assert_nothing_invented,
    refresh,
    scenario,
    view,
)
from tests.simulator import SimulatedServer

fast_client_retries = ha_common.fast_client_retries
group = ha_common.group

FAR_FUTURE = datetime(2099, 1, 1, 12, 0, tzinfo=UTC)


async def test_rescan_with_vanishing_items_resets_nothing(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every item vanishes from Cabin's listings during a scan: no mass un-watch."""
    home, cabin = group
    world = scenario(home, cabin)
    world.seed()
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    world.change()
    before = (view(home, world.identities), view(cabin, world.identities))

    gone = cabin.rescan(vanish_seconds=3600, fraction=1.0)
    assert gone
    await refresh(hass, coordinator)
    after = (view(home, world.identities), view(cabin, world.identities))
    assert_nothing_invented(before, after)
    # Home keeps everything it had: nothing of Cabin's "missing" items is a reset.
    assert after[0] == before[0]
    assert coordinator.data.held == 0

    cabin.end_rescan()
    await refresh(hass, coordinator)
    await refresh(hass, coordinator)
    world.assert_changes_everywhere()
    world.assert_converged()
    assert coordinator.data.last_cycle is not None
    assert coordinator.data.last_cycle.outcome == "ok"
    assert_clean_logs(caplog, home.api_key, cabin.api_key)


async def test_item_deleted_and_readded_with_new_id(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    """A deleted item is not an un-watch; re-added under a new id it syncs again."""
    home, cabin = group
    world = scenario(home, cabin)
    world.seed()
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    watched = world.movies[0]
    old_id = world.cabin_id(0)
    assert cabin.user_data("alice", old_id)["Played"] is True

    cabin.delete_item(old_id)
    await refresh(hass, coordinator)
    # Deleted on Cabin: Home keeps the watch; nothing was written to Home.
    assert home.user_data("alice", watched.id)["Played"] is True
    assert coordinator.data.held == 0
    # Meanwhile alice rates the movie on Home.
    home.act("alice").rate(watched.id, 9.0)

    new = cabin.readd_item(watched.identity)
    assert new.id != old_id
    await refresh(hass, coordinator)
    await entry.runtime_data.async_run_cycle(full=True)
    await hass.async_block_till_done()
    for server in (home, cabin):
        data = view(server, [watched.identity])["alice"][watched.identity]
        assert data["Played"] is True, server.name
        assert data["Rating"] == 9.0, server.name
    world.assert_converged()


async def test_dates_far_in_the_future(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    """A server clock in 2099: its dates spread, but never block later changes.

    What the engine does (documented rule "newest last played date wins the played
    group"): a 2099 date is copied like any other. A later change on another
    server still goes everywhere, because without a conflict the changed server
    wins whatever its date; only a real conflict compares dates, and there 2099
    wins the played group while the other fields (favourite, play counts) merge.
    """
    home, cabin = group
    world = scenario(home, cabin)
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    m = world.movies
    ids = world.identities

    # Cabin's clock is far ahead: a watch there carries a 2099 date.
    cabin.clock = lambda: FAR_FUTURE
    cabin.act("alice").watch(world.cabin_id(4))
    await refresh(hass, coordinator)
    home_view = view(home, ids)["alice"][ids[4]]
    assert home_view["Played"] is True
    assert home_view["LastPlayedDate"].startswith("2099-01-01")

    # A later, real change on Home (un-watch) still wins: no conflict, Home changed.
    home.act("alice").mark_unplayed(m[4].id)
    await refresh(hass, coordinator)
    assert view(cabin, ids)["alice"][ids[4]]["Played"] is False
    world.assert_converged()

    # A conflict: both watch m5 since the last cycle; Home's date is now, Cabin's
    # 2099. The played group follows 2099; Home's favourite and both plays stay.
    home.act("alice").watch(m[5].id)
    home.act("alice").favorite(m[5].id)
    cabin.act("alice").watch(world.cabin_id(5))
    await refresh(hass, coordinator)
    for server in (home, cabin):
        data = view(server, ids)["alice"][ids[5]]
        assert data["Played"] is True, server.name
        assert data["IsFavorite"] is True, server.name
        assert data["PlayCount"] == 2, server.name
        assert data["LastPlayedDate"].startswith("2099-01-01"), server.name
    world.assert_converged()
    assert coordinator.data.last_cycle is not None
    assert coordinator.data.last_cycle.outcome == "ok"


async def _stop_during_apply(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Any, Any]:
    """Cancel a cycle after two writes reached Cabin, unload, set up again.

    Returns the scenario and the entry after the restart (its first cycle ran).
    """
    home, cabin = group
    world = scenario(home, cabin)
    world.seed()
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    world.change()
    # A play on Home only: after the restart Cabin must show one play, not two.
    home.act("bob").watch(world.movies[3].id)
    before = (view(home, world.identities), view(cabin, world.identities))

    cycle = hass.async_create_task(coordinator.async_run_cycle())
    home.faults.latency(0.05)
    cabin.faults.latency(0.05)
    trap = Trap(monkeypatch, cabin, "writes", cycle.cancel, after=2)
    with pytest.raises(asyncio.CancelledError):
        await cycle
    assert trap.fired
    home.faults.clear()
    cabin.faults.clear()
    assert coordinator.group.syncing is False
    # Let writes the servers already accepted finish, then "stop" Home Assistant.
    await asyncio.sleep(0.1)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    partial = (view(home, world.identities), view(cabin, world.identities))
    assert partial != before, "no write reached a server before the stop"
    assert_nothing_invented(before, partial)

    # Start again from the stored data.
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    return world, entry


async def test_home_assistant_stopped_during_apply(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The cycle is cancelled while writes are in flight, then HA starts again.

    Some writes reached Cabin, the stored baseline is the one before the cycle.
    After the restart nothing is lost or reset and the group converges in one
    cycle; the cycle after that has nothing to do.
    """
    home, cabin = group
    caplog.set_level(logging.DEBUG)
    world, entry = await _stop_during_apply(hass, group, monkeypatch)
    coordinator = entry.runtime_data
    assert coordinator.data.last_cycle is not None
    assert coordinator.data.last_cycle.outcome == "ok"
    world.assert_changes_everywhere()
    world.assert_converged()
    assert view(cabin, world.identities)["bob"][world.identities[3]]["Played"] is True
    await refresh(hass, coordinator)
    assert coordinator.data.last_cycle.planned == 0
    assert_clean_logs(caplog, home.api_key, cabin.api_key)


async def test_stop_during_apply_does_not_count_plays_twice(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Writes that reached a server before the stop are not counted as new plays.

    The baseline stored before the writes lists them (``Baseline.applying``): a
    server that holds such a write's values confirmed it.
    """
    _home, cabin = group
    world, _entry = await _stop_during_apply(hass, group, monkeypatch)
    ids = world.identities
    assert view(cabin, ids)["bob"][ids[3]]["PlayCount"] == 1
    assert view(cabin, ids)["alice"][ids[4]]["PlayCount"] == 1


async def test_old_server_version_restart(
    hass: HomeAssistant, jellyfin_server_factory: ha_common.ServerFactory
) -> None:
    """10.10 stores user data by key: a re-added item keeps it; nothing resets."""
    first = await jellyfin_server_factory(
        name="Home",
        version="10.10.7",
        media_root="/media/home",
        library=ha_common.SMALL_LIBRARY,
    )
    second = await jellyfin_server_factory(
        name="Cabin",
        version="10.10.7",
        media_root="/mnt/cabin",
        library=ha_common.SMALL_LIBRARY,
    )
    world = scenario(first, second)
    world.seed()
    entry = make_entry(hass, [first, second])
    await setup_entry(hass, entry)
    movie = world.movies[6]
    second.delete_item(world.cabin_id(6))
    await refresh(hass, entry.runtime_data)
    second.readd_item(movie.identity)
    await entry.runtime_data.async_run_cycle(full=True)
    await hass.async_block_till_done()
    for server in (first, second):
        data = view(server, [movie.identity])["alice"][movie.identity]
        assert data["IsFavorite"] is True, server.name
    world.assert_converged()
    assert entry.runtime_data.data.last_cycle is not None
    assert entry.runtime_data.data.last_cycle.outcome == "ok"


def _replan(current_b: UserData) -> tuple[int, list[tuple[str, int]]]:
    """Plan one item after a stopped cycle wrote play count 2 to server b.

    Server a has a real new play (1 -> 2); the stopped cycle's write copied it to
    b. Returns the agreed play count and the planned (server, play count) writes.
    """
    index = {
        server: {
            f"{server}1": Item(
                id=f"{server}1", type="Movie", name="M", provider_ids={"tmdb": "1"}
            )
        }
        for server in ("a", "b")
    }
    match = run(match_items(index, {}, SyncOptions()))
    identity = match.items[0].identity
    once = UserData(played=True, play_count=1, last_played_date=FAR_FUTURE)
    twice = UserData(played=True, play_count=2, last_played_date=FAR_FUTURE)
    baseline = Baseline()
    baseline.user("alice").items[identity] = BaselineEntry(once, {"a": once, "b": once})
    baseline.user("alice").servers.update({"a", "b"})
    baseline.applying[("b", "alice", identity)] = Applying(
        (SyncField.PLAY_COUNT,), twice
    )
    restored = Baseline.from_dict(baseline.to_dict())
    assert restored == baseline
    user = MatchedUser(key="alice", name="alice", ids={"a": "ua", "b": "ub"})
    snapshot = UserSnapshot(
        user=user,
        readable=frozenset({"a", "b"}),
        data={"a": {"a1": twice}, "b": {"b1": current_b}},
    )
    caps = Capabilities.for_version((10, 10, 7))
    plan = build_plan(
        [snapshot],
        match,
        restored,
        SyncOptions(),
        {"a": caps, "b": caps},
        now=FAR_FUTURE,
    )
    agreed = plan.outcomes[0].target.play_count
    return agreed, [(w.server_id, w.desired.play_count) for w in plan.writes]


def test_a_landed_write_of_a_stopped_cycle_is_not_a_new_play() -> None:
    twice = UserData(played=True, play_count=2, last_played_date=FAR_FUTURE)
    assert _replan(twice) == (2, [])


def test_a_write_that_did_not_land_is_planned_again() -> None:
    once = UserData(played=True, play_count=1, last_played_date=FAR_FUTURE)
    assert _replan(once) == (2, [("b", 2)])
