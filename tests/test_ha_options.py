"""Options of a sync group: defaults, the user mapping and the engine's SyncOptions."""

from typing import Any

from homeassistant.core import HomeAssistant
import pytest

from custom_components.jellyfin_sync.const import (
    CONF_DIRECTION,
    CONF_FIELDS,
    CONF_FIRST_SYNC,
    CONF_MAX_CHANGE_PERCENT,
    CONF_MAX_CHANGES,
    CONF_PRIMARY_SERVER,
    CONF_SERVER_ID,
    CONF_USER_MAP,
    CONF_USER_MODE,
    CONF_USERS,
)
from custom_components.jellyfin_sync.jellyfin.models import SyncField, User
from custom_components.jellyfin_sync.options import (
    build_sync_options,
    default_options,
    effective_options,
    parse_user_map,
)
from custom_components.jellyfin_sync.sync import Direction, FirstSyncPolicy
from tests import ha_common
from tests.ha_common import make_entry, matchable_movies, setup_entry
from tests.simulator import SimulatedServer

fast_client_retries = ha_common.fast_client_retries
group = ha_common.group

SERVERS = [{CONF_SERVER_ID: "a"}, {CONF_SERVER_ID: "b"}, {CONF_SERVER_ID: "c"}]


def test_effective_options_fall_back_to_an_existing_primary() -> None:
    options = effective_options(SERVERS[1:], {CONF_PRIMARY_SERVER: "a"})
    assert options[CONF_PRIMARY_SERVER] == "b"
    assert (
        effective_options(SERVERS, {CONF_PRIMARY_SERVER: "c"})[CONF_PRIMARY_SERVER]
        == "c"
    )
    assert default_options([])[CONF_PRIMARY_SERVER] == ""


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("alice", "at least two names"),
        ("alice = ", "at least two names"),
        ("alice = alicia\nAlicia = al", "appears twice"),
        ("alice = nobody", "unknown user"),
    ],
)
def test_parse_user_map_rejects(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_user_map(text, ["alice", "alicia", "al"])


def test_parse_user_map_accepts_any_names_without_known_list() -> None:
    assert parse_user_map(" a = b = c \n\n d=e ") == [["a", "b", "c"], ["d", "e"]]


def test_build_sync_options() -> None:
    users = {
        "a": [User(id="1", name="Alice")],
        "b": [User(id="2", name="alicia")],
        "c": [User(id="3", name="bob")],
    }
    options: dict[str, Any] = {
        **default_options(SERVERS),
        CONF_PRIMARY_SERVER: "b",
        CONF_DIRECTION: "one_way",
        CONF_FIRST_SYNC: "primary_wins",
        CONF_FIELDS: ["played", "favorite"],
        CONF_MAX_CHANGES: 0,
        CONF_MAX_CHANGE_PERCENT: 30,
        CONF_USER_MODE: "exclude",
        CONF_USERS: ["bob"],
        CONF_USER_MAP: "alice = alicia",
    }
    sync = build_sync_options(options, SERVERS, users)
    assert sync.priority == ("b", "a", "c")
    assert sync.server("b").direction is Direction.READ_ONLY
    assert sync.server("a").direction is Direction.WRITE_ONLY
    assert sync.first_sync is FirstSyncPolicy.SOURCE
    assert sync.source_server == "b"
    assert sync.fields == {SyncField.PLAYED, SyncField.FAVORITE}
    assert sync.guard.max_resets is None
    assert sync.guard.max_share == pytest.approx(0.3)
    assert sync.user_map == {"alice": {"a": "Alice", "b": "alicia"}}
    assert sync.excluded_users == {"bob"}
    assert sync.include_hidden_users is True

    two_way = build_sync_options(default_options(SERVERS), SERVERS, users)
    assert two_way.servers == {}
    assert two_way.first_sync is FirstSyncPolicy.MERGE
    assert two_way.guard.max_resets == 500
    assert two_way.excluded_users == frozenset()


async def test_one_way_overwrites_the_other_servers(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin], {CONF_DIRECTION: "one_way"})
    await setup_entry(hass, entry)
    movies = matchable_movies(home)
    cabin.act("alice").favorite(cabin.item_by_key(movies[0].identity).id)
    home.act("alice").favorite(movies[1].id)
    await entry.runtime_data.async_refresh()
    assert home.dump_user_data()["alice"].get(movies[0].identity) is None
    assert cabin.dump_user_data()["alice"][movies[1].identity]["IsFavorite"] is True


async def test_include_mode_syncs_only_chosen_users(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    movies = matchable_movies(home)
    home.act("alice").mark_played(movies[0].id)
    home.act("bob").mark_played(movies[1].id)
    entry = make_entry(
        hass, [home, cabin], {CONF_USER_MODE: "include", CONF_USERS: ["bob"]}
    )
    await setup_entry(hass, entry)
    data = cabin.dump_user_data()
    assert data["alice"] == {}
    assert data["bob"][movies[1].identity]["Played"] is True

    # The action's user list stays within the include list.
    response = await hass.services.async_call(
        "jellyfin_sync",
        "run",
        {"config_entry_id": entry.entry_id, "users": ["alice", "bob"]},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    groups: Any = response["groups"]
    assert groups[entry.entry_id]["report"]["users"] == ["bob"]


async def test_mapped_user_names(
    hass: HomeAssistant, jellyfin_server_factory: ha_common.ServerFactory
) -> None:
    """User alice on Home is alicia on Cabin; either name selects her."""
    home = await jellyfin_server_factory(
        name="Home",
        media_root="/h",
        library=ha_common.SMALL_LIBRARY,
        users=["alice", "bob"],
    )
    cabin = await jellyfin_server_factory(
        name="Cabin",
        media_root="/c",
        library=ha_common.SMALL_LIBRARY,
        users=["alicia", "bob"],
    )
    entry = make_entry(hass, [home, cabin], {CONF_USER_MAP: "alice = alicia"})
    await setup_entry(hass, entry)
    movie = matchable_movies(home)[0]
    home.act("alice").mark_played(movie.id)
    home.act("bob").mark_played(movie.id)
    response = await hass.services.async_call(
        "jellyfin_sync",
        "run",
        {"config_entry_id": entry.entry_id, "users": ["Alicia"]},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    groups: Any = response["groups"]
    assert groups[entry.entry_id]["report"]["users"] == ["alice"]
    data = cabin.dump_user_data()
    assert data["alicia"][movie.identity]["Played"] is True
    assert data["bob"] == {}
