"""Options of a sync group: defaults, the user mapping and the engine's SyncOptions."""

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
import voluptuous as vol

from custom_components.jellyfin_sync.const import (
    CONF_DIRECTION,
    CONF_DRY_RUN,
    CONF_EDIT_SERVERS,
    CONF_FIELD_SOURCES,
    CONF_FIELDS,
    CONF_FIRST_SYNC,
    CONF_FULL_LISTING_HOURS,
    CONF_KINDS,
    CONF_LIBRARIES,
    CONF_LIBRARY_MODE,
    CONF_MAX_CHANGE_PERCENT,
    CONF_MAX_CHANGES,
    CONF_MEDIA_ROOTS,
    CONF_PRIMARY_SERVER,
    CONF_PRIORITY,
    CONF_RANK,
    CONF_SCAN_INTERVAL,
    CONF_SERVER_DIRECTION,
    CONF_SERVER_DIRECTIONS,
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
    parse_media_roots,
    parse_user_map,
    priority_order,
    server_directions,
    validate_servers,
)
from custom_components.jellyfin_sync.sync import Direction, FirstSyncPolicy
from tests import ha_common
from tests.ha_common import make_entry, matchable_movies, setup_entry
from tests.simulator import SimulatedServer
from tests.simulator.library import LibrarySpec

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
        CONF_FULL_LISTING_HOURS: 6,
    }
    sync = build_sync_options(options, SERVERS, users)
    assert sync.full_listing_hours == 6
    assert sync.priority == ("b", "a", "c")
    assert sync.server("b").direction is Direction.SOURCE_ONLY
    assert sync.server("a").direction is Direction.RECEIVE_ONLY
    assert sync.first_sync is FirstSyncPolicy.PRIMARY_WINS
    assert sync.primary_server == "b"
    assert sync.fields == {SyncField.PLAYED, SyncField.FAVORITE}
    assert sync.guard.max_changes is None
    assert sync.guard.max_change_share == pytest.approx(0.3)
    assert sync.user_map == {"alice": {"a": "Alice", "b": "alicia"}}
    assert sync.excluded_users == {"bob"}
    assert sync.include_hidden_users is True

    two_way = build_sync_options(default_options(SERVERS), SERVERS, users)
    assert two_way.servers == {}
    assert two_way.first_sync is FirstSyncPolicy.MERGE
    assert two_way.guard.max_changes == 500
    assert two_way.excluded_users == frozenset()
    assert two_way.full_listing_hours == 24


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


# ---- per-server directions, field sources, priority, media roots ---------------------


def _writes(server: SimulatedServer) -> int:
    """Requests that change data on a simulated server (POST or DELETE)."""
    return sum(
        counter.requests
        for route, counter in server.counters.routes.items()
        if route.startswith(("POST ", "DELETE "))
    )


def test_server_directions_migrate_the_group_direction() -> None:
    ids = ["a", "b", "c"]
    old_one_way = {CONF_DIRECTION: "one_way", CONF_PRIMARY_SERVER: "b"}
    assert server_directions(old_one_way, ids) == {
        "a": "receive_only",
        "b": "source_only",
        "c": "receive_only",
    }
    assert server_directions({CONF_DIRECTION: "two_way"}, ids) == dict.fromkeys(
        ids, "two_way"
    )
    # Stored per-server choices only count in per-server mode; unknown or missing
    # servers are two-way there.
    stored = {CONF_SERVER_DIRECTIONS: {"a": "off", "b": "bogus", "gone": "off"}}
    assert server_directions({CONF_DIRECTION: "two_way", **stored}, ids)["a"] == (
        "two_way"
    )
    assert server_directions({CONF_DIRECTION: "per_server", **stored}, ids) == {
        "a": "off",
        "b": "two_way",
        "c": "two_way",
    }


def test_old_entry_options_build_the_same_engine_options() -> None:
    """Options stored before the per-server settings existed still work."""
    old = {
        key: value
        for key, value in default_options(SERVERS).items()
        if key
        not in (
            CONF_SERVER_DIRECTIONS,
            CONF_PRIORITY,
            CONF_MEDIA_ROOTS,
            CONF_FIELD_SOURCES,
            CONF_FULL_LISTING_HOURS,
        )
    }
    old.update({CONF_DIRECTION: "one_way", CONF_PRIMARY_SERVER: "c"})
    sync = build_sync_options(effective_options(SERVERS, old), SERVERS, {})
    assert sync.full_listing_hours == 24
    assert sync.priority == ("c", "a", "b")
    assert {sid: s.direction for sid, s in sync.servers.items()} == {
        "a": Direction.RECEIVE_ONLY,
        "b": Direction.RECEIVE_ONLY,
        "c": Direction.SOURCE_ONLY,
    }
    assert all(
        not s.field_directions and not s.media_roots for s in sync.servers.values()
    )


def test_per_server_options_reach_sync_options() -> None:
    options: dict[str, Any] = {
        **default_options(SERVERS),
        CONF_DIRECTION: "per_server",
        CONF_PRIMARY_SERVER: "b",
        CONF_SERVER_DIRECTIONS: {
            "a": "two_way",
            "b": "source_only",
            "c": "receive_only",
        },
        CONF_PRIORITY: ["b", "c", "a"],
        CONF_MEDIA_ROOTS: {"a": ["/media/movies", "/media/tv"]},
        CONF_FIELD_SOURCES: {"favorite": "a", "rating": "b"},
    }
    sync = build_sync_options(options, SERVERS, {})
    assert sync.priority == ("b", "c", "a")
    assert sync.server("a").direction is Direction.TWO_WAY
    assert sync.server("a").media_roots == ("/media/movies", "/media/tv")
    assert sync.server("b").media_roots == ()
    # Favourites only from a: a keeps its own direction, b (source only) is left out,
    # c (receive only) receives.
    assert sync.direction("a", SyncField.FAVORITE) is Direction.TWO_WAY
    assert sync.direction("b", SyncField.FAVORITE) is Direction.OFF
    assert sync.direction("c", SyncField.FAVORITE) is Direction.RECEIVE_ONLY
    # Ratings only from b (source only): a only receives them now.
    assert sync.direction("b", SyncField.RATING) is Direction.SOURCE_ONLY
    assert sync.direction("a", SyncField.RATING) is Direction.RECEIVE_ONLY
    assert sync.direction("c", SyncField.RATING) is Direction.RECEIVE_ONLY
    # Other fields follow the servers' directions.
    assert sync.direction("a", SyncField.PLAYED) is Direction.TWO_WAY
    assert sync.direction("b", SyncField.PLAYED) is Direction.SOURCE_ONLY
    assert sync.direction("c", SyncField.PLAYED) is Direction.RECEIVE_ONLY

    # A stored source that can no longer send, or is gone, is ignored.
    stale = {
        **options,
        CONF_FIELD_SOURCES: {"favorite": "c", "played": "gone", "bogus": "a"},
    }
    sync = build_sync_options(stale, SERVERS, {})
    assert sync.direction("a", SyncField.FAVORITE) is Direction.TWO_WAY
    assert sync.direction("c", SyncField.FAVORITE) is Direction.RECEIVE_ONLY
    assert sync.server("b").field_directions == {}


def test_priority_order_keeps_the_primary_first() -> None:
    ids = ["a", "b", "c"]
    assert priority_order(
        {CONF_PRIMARY_SERVER: "a", CONF_PRIORITY: ["c", "b"]}, ids
    ) == [
        "a",
        "c",
        "b",
    ]
    assert priority_order({}, ids) == ids


@pytest.mark.parametrize(
    ("directions", "sources", "errors"),
    [
        ({"a": "off", "b": "off"}, {}, {"base": "too_few_servers"}),
        ({"a": "two_way", "b": "off", "c": "off"}, {}, {"base": "too_few_servers"}),
        ({"a": "receive_only", "b": "receive_only"}, {}, {"base": "no_sender"}),
        ({"a": "source_only", "b": "source_only"}, {}, {"base": "no_receiver"}),
        (
            {"a": "two_way", "b": "receive_only", "c": "off"},
            {"favorite": "b", "played": "c", "rating": "a"},
            {
                "favorite": "field_source_cannot_send",
                "played": "field_source_cannot_send",
            },
        ),
        ({"a": "source_only", "b": "receive_only"}, {"favorite": "a"}, {}),
    ],
)
def test_validate_servers(
    directions: dict[str, str], sources: dict[str, str], errors: dict[str, str]
) -> None:
    assert validate_servers(directions, sources) == errors


def test_parse_media_roots() -> None:
    assert parse_media_roots("/a\n/a, \\\\nas\\share\n C:/x ") == [
        "/a",
        "\\\\nas\\share",
        "C:/x",
    ]
    with pytest.raises(ValueError, match="absolute"):
        parse_media_roots("/a\nmedia/movies")


async def _configure(hass: HomeAssistant, flow_id: str, data: dict[str, Any]) -> Any:
    return dict(await hass.config_entries.options.async_configure(flow_id, data))


def _general(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        CONF_SCAN_INTERVAL: 30,
        CONF_FULL_LISTING_HOURS: 6,
        CONF_FIELDS: ["played", "favorite", "rating"],
        CONF_DIRECTION: "two_way",
        CONF_FIRST_SYNC: "merge",
        CONF_MAX_CHANGES: 500,
        CONF_MAX_CHANGE_PERCENT: 20,
        CONF_DRY_RUN: False,
        CONF_EDIT_SERVERS: True,
    }
    data.update(overrides)
    return data


def _server(direction: str, rank: int, roots: str = "") -> dict[str, Any]:
    return {CONF_SERVER_DIRECTION: direction, CONF_RANK: rank, CONF_MEDIA_ROOTS: roots}


async def test_options_flow_server_steps(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    """The server pages store directions, priority, media folders and field sources."""
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    result = dict(await hass.config_entries.options.async_init(entry.entry_id))
    result = await _configure(hass, result["flow_id"], _general())
    assert result["step_id"] == "server"
    assert result["description_placeholders"] == {
        "server": "Home",
        "position": "1",
        "count": "2",
    }
    flow_id = result["flow_id"]
    result = await _configure(hass, flow_id, _server("off", 1, "media/home"))
    assert result["errors"] == {CONF_MEDIA_ROOTS: "invalid_media_root"}
    assert result["description_placeholders"]["server"] == "Home"
    result = await _configure(hass, flow_id, _server("off", 1))
    assert result["description_placeholders"]["server"] == "Cabin"
    result = await _configure(hass, flow_id, _server("receive_only", 2))
    # Only one server takes part: back to the first server, nothing saved.
    assert result["step_id"] == "server"
    assert result["errors"] == {"base": "too_few_servers"}
    assert result["description_placeholders"]["server"] == "Home"
    result = await _configure(hass, flow_id, _server("source_only", 2, "/media/home"))
    result = await _configure(hass, flow_id, _server("receive_only", 1, "/mnt/cabin"))
    assert result["step_id"] == "field_sources"
    fields_offered = [str(key) for key in result["data_schema"].schema]
    assert fields_offered == ["played", "favorite", "rating"]
    result = await _configure(
        hass, flow_id, {"played": "all", "favorite": cabin.server_id, "rating": "all"}
    )
    assert result["errors"] == {"favorite": "field_source_cannot_send"}
    assert entry.options[CONF_DIRECTION] == "two_way"
    result = await _configure(
        hass, flow_id, {"played": "all", "favorite": home.server_id, "rating": "all"}
    )
    assert result["step_id"] == "users"
    result = await _configure(
        hass, flow_id, {CONF_USER_MODE: "all", CONF_USERS: [], CONF_USER_MAP: ""}
    )
    assert result["step_id"] == "libraries"
    result = await _configure(
        hass,
        flow_id,
        {CONF_KINDS: ["films"], CONF_LIBRARY_MODE: "all", CONF_LIBRARIES: []},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_KINDS] == ["films"]
    assert CONF_EDIT_SERVERS not in entry.options
    assert entry.options[CONF_DIRECTION] == "per_server"
    assert entry.options[CONF_FULL_LISTING_HOURS] == 6
    assert entry.options[CONF_SERVER_DIRECTIONS] == {
        home.server_id: "source_only",
        cabin.server_id: "receive_only",
    }
    assert entry.options[CONF_PRIORITY] == [cabin.server_id, home.server_id]
    assert entry.options[CONF_PRIMARY_SERVER] == cabin.server_id
    assert entry.options[CONF_FIELD_SOURCES] == {"favorite": home.server_id}
    assert entry.options[CONF_MEDIA_ROOTS] == {
        home.server_id: ["/media/home"],
        cabin.server_id: ["/mnt/cabin"],
    }

    # The reloaded entry's engine runs with these options.
    await hass.async_block_till_done(wait_background_tasks=True)
    engine = entry.runtime_data.group.engine
    assert engine is not None
    sync = engine.options
    assert sync.priority == (cabin.server_id, home.server_id)
    assert sync.server(home.server_id).direction is Direction.SOURCE_ONLY
    assert sync.server(cabin.server_id).direction is Direction.RECEIVE_ONLY
    assert sync.server(home.server_id).media_roots == ("/media/home",)
    assert sync.server(cabin.server_id).media_roots == ("/mnt/cabin",)

    # The pages open with the stored choices.
    result = dict(await hass.config_entries.options.async_init(entry.entry_id))
    result = await _configure(
        hass, result["flow_id"], _general(**{CONF_DIRECTION: "per_server"})
    )
    defaults = {
        str(key): key.default()
        for key in result["data_schema"].schema
        if key.default is not vol.UNDEFINED
    }
    assert defaults[CONF_SERVER_DIRECTION] == "source_only"
    assert defaults[CONF_RANK] == 2
    hass.config_entries.options.async_abort(result["flow_id"])


async def test_options_flow_primary_must_send_for_primary_wins(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    before = dict(entry.options)
    result = dict(await hass.config_entries.options.async_init(entry.entry_id))
    flow_id = result["flow_id"]
    await _configure(hass, flow_id, _general(**{CONF_FIRST_SYNC: "primary_wins"}))
    await _configure(hass, flow_id, _server("receive_only", 1))
    result = await _configure(hass, flow_id, _server("two_way", 2))
    assert result["errors"] == {"base": "primary_cannot_send"}
    # Giving the two-way server priority 1 resolves it.
    await _configure(hass, flow_id, _server("receive_only", 2))
    result = await _configure(hass, flow_id, _server("two_way", 1))
    assert result["step_id"] == "field_sources"
    hass.config_entries.options.async_abort(flow_id)
    assert dict(entry.options) == before


async def test_read_only_server_is_never_written(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    """A source-only server's change reaches the other; it gets no write itself."""
    home, cabin = group
    movies = matchable_movies(home)
    entry = make_entry(
        hass,
        [home, cabin],
        {
            CONF_DIRECTION: "per_server",
            CONF_SERVER_DIRECTIONS: {cabin.server_id: "source_only"},
        },
    )
    await setup_entry(hass, entry)
    cabin.act("alice").mark_played(cabin.item_by_key(movies[0].identity).id)
    home.act("alice").favorite(movies[1].id)
    home.reset_counters()
    await entry.runtime_data.async_refresh()
    assert home.dump_user_data()["alice"][movies[0].identity]["Played"] is True
    assert cabin.dump_user_data()["alice"].get(movies[1].identity) is None
    assert _writes(cabin) == 0
    assert _writes(home) > 0


async def test_receive_only_server_change_is_overwritten(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    movie = matchable_movies(home)[0]
    home.act("alice").favorite(movie.id)
    entry = make_entry(
        hass,
        [home, cabin],
        {
            CONF_DIRECTION: "per_server",
            CONF_SERVER_DIRECTIONS: {cabin.server_id: "receive_only"},
        },
    )
    await setup_entry(hass, entry)
    cabin_id = cabin.item_by_key(movie.identity).id
    assert cabin.user_data("alice", cabin_id)["IsFavorite"] is True
    cabin.act("alice").favorite(cabin_id, on=False)
    await entry.runtime_data.async_refresh()
    assert cabin.user_data("alice", cabin_id)["IsFavorite"] is True
    assert home.user_data("alice", movie.id)["IsFavorite"] is True


async def test_favourites_only_from_one_server(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    """Favourites only from Home: Cabin's favourites are replaced, plays still flow."""
    home, cabin = group
    movies = matchable_movies(home)
    entry = make_entry(
        hass, [home, cabin], {CONF_FIELD_SOURCES: {"favorite": home.server_id}}
    )
    await setup_entry(hass, entry)
    on_cabin = [cabin.item_by_key(m.identity).id for m in movies[:2]]
    cabin.act("alice").favorite(on_cabin[0])
    cabin.act("alice").mark_played(on_cabin[1])
    home.act("alice").favorite(movies[2].id)
    await entry.runtime_data.async_refresh()
    assert home.user_data("alice", movies[0].id)["IsFavorite"] is False
    assert cabin.user_data("alice", on_cabin[0])["IsFavorite"] is False
    assert home.user_data("alice", movies[1].id)["Played"] is True
    cabin_third = cabin.item_by_key(movies[2].identity).id
    assert cabin.user_data("alice", cabin_third)["IsFavorite"] is True


@pytest.mark.parametrize("first", [0, 1])
async def test_priority_settles_a_rating_conflict(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer], first: int
) -> None:
    """Both servers rate the same movie differently: the higher priority wins."""
    home, cabin = group
    servers = [home, cabin]
    order = [servers[first].server_id, servers[1 - first].server_id]
    entry = make_entry(
        hass,
        servers,
        {CONF_PRIMARY_SERVER: order[0], CONF_PRIORITY: order},
    )
    await setup_entry(hass, entry)
    movie = matchable_movies(home)[0]
    cabin_id = cabin.item_by_key(movie.identity).id
    home.act("alice").rate(movie.id, 3.0)
    cabin.act("alice").rate(cabin_id, 9.0)
    await entry.runtime_data.async_refresh()
    expected = 3.0 if first == 0 else 9.0
    assert home.user_data("alice", movie.id)["Rating"] == expected
    assert cabin.user_data("alice", cabin_id)["Rating"] == expected


async def test_media_roots_match_items_without_provider_ids(
    hass: HomeAssistant, jellyfin_server_factory: ha_common.ServerFactory
) -> None:
    """Movies without provider ids under different roots match by their path."""
    library = LibrarySpec(seed=3, movies=3, series=0, missing_provider_ids=1.0)
    home = await jellyfin_server_factory(
        name="Home", media_root="/media/home", library=library, users=["alice"]
    )
    cabin = await jellyfin_server_factory(
        name="Cabin", media_root="/mnt/cabin", library=library, users=["alice"]
    )
    movie = next(i for i in home.items if i.type == "Movie")
    assert not movie.provider_ids
    home.act("alice").mark_played(movie.id)
    cabin_id = cabin.item_by_key(movie.identity).id

    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    assert cabin.user_data("alice", cabin_id)["Played"] is False
    await hass.config_entries.async_unload(entry.entry_id)

    hass.config_entries.async_update_entry(
        entry,
        options={
            **entry.options,
            CONF_MEDIA_ROOTS: {
                home.server_id: ["/media/home"],
                cabin.server_id: ["/mnt/cabin"],
            },
        },
    )
    await setup_entry(hass, entry)
    assert cabin.user_data("alice", cabin_id)["Played"] is True


async def test_old_one_way_entry_opens_the_server_pages_with_its_meaning(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    """An entry stored before the server pages: one-way from Cabin."""
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    old = {
        key: value
        for key, value in entry.options.items()
        if key
        not in (
            CONF_SERVER_DIRECTIONS,
            CONF_PRIORITY,
            CONF_MEDIA_ROOTS,
            CONF_FIELD_SOURCES,
        )
    }
    old.update({CONF_DIRECTION: "one_way", CONF_PRIMARY_SERVER: cabin.server_id})
    hass.config_entries.async_update_entry(entry, options=old)
    result = dict(await hass.config_entries.options.async_init(entry.entry_id))
    flow_id = result["flow_id"]
    result = await _configure(
        hass,
        flow_id,
        _general(**{CONF_DIRECTION: "one_way", CONF_PRIMARY_SERVER: cabin.server_id}),
    )

    def defaults(result: Any) -> dict[str, Any]:
        return {
            str(key): key.default()
            for key in result["data_schema"].schema
            if key.default is not vol.UNDEFINED
        }

    assert result["description_placeholders"]["server"] == "Home"
    assert defaults(result) == {CONF_SERVER_DIRECTION: "receive_only", CONF_RANK: 2}
    result = await _configure(hass, flow_id, _server("receive_only", 2))
    assert defaults(result) == {CONF_SERVER_DIRECTION: "source_only", CONF_RANK: 1}
    hass.config_entries.options.async_abort(flow_id)
    assert dict(entry.options) == old
