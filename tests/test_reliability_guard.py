"""Mass-change guard and undo, through the coordinator with default guard limits.

A vanished library, a wiped library, a wrong user mapping and a newly added empty
server must never un-watch or un-favourite items in bulk: either the engine sees
that nothing was reset (vanished items, new servers) or the resets are held, a
repair issue appears and nothing is written until the user approves. Undo restores
exactly what the last cycle overwrote, never clobbers a newer change, and a second
undo does nothing.
"""

from datetime import UTC, datetime
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from custom_components.jellyfin_sync.const import (
    CONF_SERVERS,
    CONF_USER_MAP,
    DOMAIN,
)
from tests import ha_common
from tests.ha_common import (
    ENTRY_ID,
    SMALL_LIBRARY,
    make_entry,
    matchable_movies,
    server_conf,
    setup_entry,
)
from tests.reliability_common import refresh, scenario, view
from tests.simulator import SimulatedServer

fast_client_retries = ha_common.fast_client_retries
group = ha_common.group

HELD_ISSUE = f"held_changes_{ENTRY_ID}"


def _watch_all(server: SimulatedServer, user: str = "alice") -> list[str]:
    """The user watches and favourites every matchable movie; their identities."""
    movies = matchable_movies(server)
    for movie in movies:
        server.act(user).mark_played(movie.id)
        server.act(user).favorite(movie.id)
    return [m.identity for m in movies]


def _played_everywhere(servers: list[SimulatedServer], identities: list[str]) -> None:
    for server in servers:
        data = server.dump_user_data()["alice"]
        for identity in identities:
            assert data[identity]["Played"] is True, (server.name, identity)
            assert data[identity]["IsFavorite"] is True, (server.name, identity)


async def test_vanished_library_unwatches_nothing(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    issue_registry: ir.IssueRegistry,
) -> None:
    """Home's movie library is deleted: Cabin keeps every watch and favourite."""
    home, cabin = group
    identities = _watch_all(home)
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    _played_everywhere([home, cabin], identities)
    cabin_before = cabin.dump_user_data()

    home.delete_item(home.find_item(type="CollectionFolder", name="Movies").id)
    for _ in range(2):
        await refresh(hass, entry.runtime_data)
        assert cabin.dump_user_data() == cabin_before
    assert entry.runtime_data.data.held == 0
    assert issue_registry.async_get_issue(DOMAIN, HELD_ISSUE) is None
    # A full index read (the library is really gone) still resets nothing.
    await entry.runtime_data.async_run_cycle(full=True)
    assert cabin.dump_user_data() == cabin_before


async def test_hidden_library_unwatches_nothing(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    """Alice loses access to Home's movie library: nothing is reset on Cabin."""
    home, cabin = group
    identities = _watch_all(home)
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    cabin_before = cabin.dump_user_data()
    home.restrict_library("alice", "Movies")
    await refresh(hass, entry.runtime_data)
    await entry.runtime_data.async_run_cycle(full=True)
    assert cabin.dump_user_data() == cabin_before
    _played_everywhere([cabin], identities)


async def test_wiped_library_is_held_until_approved(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    issue_registry: ir.IssueRegistry,
) -> None:
    """Home loses every watch (a reset database): the resets wait for approval."""
    home, cabin = group
    identities = _watch_all(home)
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    _played_everywhere([home, cabin], identities)
    cabin_before = cabin.dump_user_data()

    for movie in matchable_movies(home):
        home.act("alice").set_user_data(
            movie.id, Played=False, PlayCount=0, IsFavorite=False
        )
    for _ in range(2):
        await refresh(hass, entry.runtime_data)
        assert cabin.dump_user_data() == cabin_before
    coordinator = entry.runtime_data
    # Played and favourite resets of every movie on Cabin are held.
    assert coordinator.data.held == len(identities)
    assert hass.states.get("sensor.home_cabin_status").state == "held"
    issue = issue_registry.async_get_issue(DOMAIN, HELD_ISSUE)
    assert issue is not None
    assert issue.is_fixable

    # Approval (what the repair's fix flow runs) applies them.
    await coordinator.async_run_cycle(approve_held=True)
    await hass.async_block_till_done()
    wiped = view(cabin, identities)["alice"]
    for identity in identities:
        assert wiped[identity]["Played"] is False
        assert wiped[identity]["IsFavorite"] is False
    assert issue_registry.async_get_issue(DOMAIN, HELD_ISSUE) is None


async def test_wrong_user_mapping_resets_nothing(
    hass: HomeAssistant,
    jellyfin_server_factory: ha_common.ServerFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Alice is mapped to an empty user by mistake: her watches are not undone."""
    home = await jellyfin_server_factory(
        name="Home", media_root="/media/home", library=SMALL_LIBRARY, users=["alice"]
    )
    cabin = await jellyfin_server_factory(
        name="Cabin",
        media_root="/mnt/cabin",
        library=SMALL_LIBRARY,
        users=["alicia", "carol"],
    )
    identities = _watch_all(home)
    entry = make_entry(hass, [home, cabin], {CONF_USER_MAP: "alice = alicia"})
    await setup_entry(hass, entry)
    alicia = cabin.dump_user_data()["alicia"]
    assert all(alicia[i]["Played"] for i in identities)
    home_before = home.dump_user_data()

    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_USER_MAP: "alice = carol"}
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await refresh(hass, entry.runtime_data)
    # Nothing of alice's is reset on Home, nothing of alicia's on Cabin.
    assert home.dump_user_data() == home_before
    assert cabin.dump_user_data()["alicia"] == alicia
    held = entry.runtime_data.data.held
    if held:
        assert issue_registry.async_get_issue(DOMAIN, HELD_ISSUE) is not None


async def test_new_empty_server_unwatches_nothing(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    jellyfin_server_factory: ha_common.ServerFactory,
) -> None:
    """An empty server joins the group: it receives everything, removes nothing."""
    home, cabin = group
    identities = _watch_all(home)
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    before = (home.dump_user_data(), cabin.dump_user_data())
    attic = await jellyfin_server_factory(
        name="Attic", media_root="/srv/attic", library=SMALL_LIBRARY
    )
    hass.config_entries.async_update_entry(
        entry,
        data={
            CONF_SERVERS: [server_conf(home), server_conf(cabin), server_conf(attic)]
        },
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await refresh(hass, entry.runtime_data)
    assert (home.dump_user_data(), cabin.dump_user_data()) == before
    _played_everywhere([home, cabin, attic], identities)
    assert entry.runtime_data.data.held == 0


async def _call(hass: HomeAssistant, service: str, data: dict[str, Any]) -> Any:
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True
    )


async def test_undo_restores_every_server_and_is_idempotent(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    world = scenario(home, cabin)
    world.seed()
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    ids = world.identities
    synced = (view(home, ids), view(cabin, ids))

    world.change()
    await _call(hass, "run", {"config_entry_id": entry.entry_id})
    world.assert_changes_everywhere()
    assert entry.runtime_data.group.engine is not None
    cycle_id = entry.runtime_data.group.engine.undoable[-1]
    # A newer change after the cycle, on an item the cycle wrote to Home.
    home.act("alice").set_user_data(world.movies[4].id, PlayCount=5)
    newer = view(home, ids)["alice"][ids[4]]

    # The dry run reports what it would do; nothing changes.
    cycled = (view(home, ids), view(cabin, ids))
    preview = await _call(
        hass, "undo", {"config_entry_id": entry.entry_id, "dry_run": True}
    )
    assert preview["by_server"]["Home"]["kept"] == 1
    assert preview["writes_planned"] > 0
    assert (view(home, ids), view(cabin, ids)) == cycled

    undone = await _call(hass, "undo", {"config_entry_id": entry.entry_id})
    assert undone["kept"] == 1
    assert undone["waiting"] == 0
    after_home, after_cabin = view(home, ids), view(cabin, ids)
    # Both servers are back at the values from before the sync ...
    for after in (after_home, after_cabin):
        for user, items in after.items():
            for identity, fields in items.items():
                if user == "alice" and identity == ids[4] and after is after_home:
                    continue
                assert fields == synced[0][user][identity], (user, identity)
    # ... except the newer change, which undo left alone.
    assert after_home["alice"][ids[4]] == newer

    # The next cycle takes the newer change to Cabin and brings back nothing
    # that was undone; the one after writes nothing.
    await _call(hass, "run", {"config_entry_id": entry.entry_id})
    final = view(home, ids)
    assert final == view(cabin, ids)
    assert final["alice"][ids[4]] == newer
    for user, items in final.items():
        for identity, fields in items.items():
            if (user, identity) != ("alice", ids[4]):
                assert fields == synced[0][user][identity], (user, identity)
    result = await _call(hass, "run", {"config_entry_id": entry.entry_id})
    assert result["groups"][entry.entry_id]["summary"]["planned"] == 0

    # Idempotent: undoing the same cycle again writes nothing.
    engine = entry.runtime_data.group.engine
    assert engine is not None
    assert cycle_id not in engine.undoable
    again = await engine.undo(now=datetime.now(UTC), cycle_id=cycle_id)
    assert again.writes_planned == 0


async def _mass_unwatch_approved(
    hass: HomeAssistant, home: SimulatedServer, cabin: SimulatedServer
) -> tuple[Any, list[str], dict[str, Any]]:
    """Alice un-watches every film on Home; held; approved; Cabin un-watched."""
    identities = _watch_all(home)
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    _played_everywhere([home, cabin], identities)
    before = view(home, identities)
    assert before == view(cabin, identities)
    for movie in matchable_movies(home):
        home.act("alice").mark_unplayed(movie.id)
    await refresh(hass, entry.runtime_data)
    coordinator = entry.runtime_data
    assert coordinator.data.held == len(identities)
    await coordinator.async_run_cycle(approve_held=True)
    await hass.async_block_till_done()
    for identity in identities:
        assert view(cabin, identities)["alice"][identity]["Played"] is False
    return entry, identities, before


async def test_undo_of_an_approved_mass_unwatch_converges(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    issue_registry: ir.IssueRegistry,
) -> None:
    """Held, approved, undone: both servers watched again, nothing held again."""
    home, cabin = group
    entry, identities, before = await _mass_unwatch_approved(hass, home, cabin)

    undone = await _call(hass, "undo", {"config_entry_id": entry.entry_id})
    assert undone["by_server"]["Cabin"]["restored"] == len(identities)
    assert undone["by_server"]["Home"]["restored"] == len(identities)

    await refresh(hass, entry.runtime_data)
    assert entry.runtime_data.data.held == 0
    assert issue_registry.async_get_issue(DOMAIN, HELD_ISSUE) is None
    # Watched on both, with the original play counts and dates.
    assert view(home, identities) == view(cabin, identities) == before
    result = await _call(hass, "run", {"config_entry_id": entry.entry_id})
    assert result["groups"][entry.entry_id]["summary"]["planned"] == 0


async def test_undo_keeps_a_newer_change_and_takes_it_everywhere(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    """A film re-watched on Cabin after the approval stays so and reaches Home."""
    home, cabin = group
    entry, identities, before = await _mass_unwatch_approved(hass, home, cabin)
    rewatched = matchable_movies(cabin)[0]
    cabin.act("alice").set_user_data(
        rewatched.id,
        Played=True,
        PlayCount=2,
        LastPlayedDate=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    mine = view(cabin, identities)["alice"][rewatched.identity]

    undone = await _call(hass, "undo", {"config_entry_id": entry.entry_id})
    assert undone["by_server"]["Cabin"]["kept"] == 1

    await refresh(hass, entry.runtime_data)
    home_now, cabin_now = view(home, identities), view(cabin, identities)
    assert home_now == cabin_now
    assert cabin_now["alice"][rewatched.identity] == mine
    for identity in identities:
        if identity != rewatched.identity:
            assert cabin_now["alice"][identity] == before["alice"][identity]
    assert entry.runtime_data.data.held == 0


async def test_undo_with_the_written_server_down_restores_it_on_return(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry, identities, before = await _mass_unwatch_approved(hass, home, cabin)
    cabin.faults.down()

    undone = await _call(hass, "undo", {"config_entry_id": entry.entry_id})
    assert undone["by_server"]["Cabin"]["waiting"] == len(identities)
    assert view(home, identities) == before

    cabin.faults.up()
    await cabin.wait_up()
    await refresh(hass, entry.runtime_data)
    assert entry.runtime_data.data.held == 0
    assert view(home, identities) == view(cabin, identities) == before
    result = await _call(hass, "run", {"config_entry_id": entry.entry_id})
    assert result["groups"][entry.entry_id]["summary"]["planned"] == 0
