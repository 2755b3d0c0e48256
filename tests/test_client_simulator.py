"""The Jellyfin client against the simulator, for every supported server version.

"12.0-auth" is a 10.11.11 server with legacy authorization off, which is what
Jellyfin 12.0 enforces (API-NOTES §1.1). Every request also passes the simulator's
OpenAPI conformance checks for that version.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from custom_components.jellyfin_sync.jellyfin import (
    Item,
    JellyfinAuthError,
    JellyfinClient,
    JellyfinConnectionError,
    JellyfinNotFoundError,
    JellyfinResponseError,
    JellyfinServerError,
    JellyfinStartingError,
    JellyfinTimeoutError,
    JellyfinUnsupportedError,
    SyncField,
    UserData,
)
from tests.simulator import LibrarySpec, SimItem, SimulatedServer

SPEC = LibrarySpec(
    seed=5,
    movies=9,
    series=2,
    seasons_per_series=2,
    episodes_per_season=3,
    missing_provider_ids=0.0,
    duplicate_provider_ids=0.0,
    multi_episode_files=0.3,
)
VERSIONS = {
    "10.8": ("10.8.13", None),
    "10.9": ("10.9.11", None),
    "10.10": ("10.10.7", None),
    "10.11": ("10.11.11", None),
    "12.0-auth": ("10.11.11", False),
}
MODERN = [v for v in VERSIONS if v != "10.8"]
D1 = datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)
D2 = datetime(2025, 6, 7, 8, 9, 10, 123000, tzinfo=UTC)
UNKNOWN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


class Setup:
    """A started simulator plus a client for it (backoff sleeps are recorded)."""

    def __init__(self, server: SimulatedServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session
        self.slept: list[float] = []
        self.client = self.make_client()

    def make_client(self, key: str | None = None, **kwargs: Any) -> JellyfinClient:
        kwargs.setdefault("retry_backoff", 0.5)
        client = JellyfinClient(
            self.server.url, key or self.server.api_key, self.session, **kwargs
        )

        async def record(delay: float) -> None:
            self.slept.append(delay)

        client._sleep = record  # type: ignore[method-assign]
        return client

    @property
    def alice(self) -> str:
        return self.server.users["alice"]

    @property
    def bob(self) -> str:
        return self.server.users["bob"]

    def items(self, *types: str) -> list[SimItem]:
        return [i for i in self.server.items if i.type in types]

    def movie(self, index: int = 0) -> SimItem:
        return self.items("Movie")[index]

    def stored(self, item_id: str, user: str = "alice") -> UserData:
        """The simulator's own view of a user's data (not through the client)."""
        return UserData.from_json(self.server.user_data(user, item_id))


@pytest.fixture(params=list(VERSIONS))
async def jf(
    request: pytest.FixtureRequest,
    jellyfin_server_factory: Callable[..., Awaitable[SimulatedServer]],
    session: aiohttp.ClientSession,
) -> Setup:
    version, legacy = VERSIONS[request.param]
    server = await jellyfin_server_factory(
        name=f"sim-{request.param}",
        version=version,
        legacy_auth=legacy,
        library=SPEC,
        users=["alice", "bob"],
    )
    return Setup(server, session)


@pytest.fixture(params=MODERN)
async def modern(
    request: pytest.FixtureRequest,
    jellyfin_server_factory: Callable[..., Awaitable[SimulatedServer]],
    session: aiohttp.ClientSession,
) -> Setup:
    version, legacy = VERSIONS[request.param]
    server = await jellyfin_server_factory(
        name=f"sim-{request.param}", version=version, legacy_auth=legacy, library=SPEC
    )
    return Setup(server, session)


@pytest.fixture
async def legacy(
    jellyfin_server_factory: Callable[..., Awaitable[SimulatedServer]],
    session: aiohttp.ClientSession,
) -> Setup:
    server = await jellyfin_server_factory(
        name="sim-10.8", version="10.8.13", library=SPEC
    )
    return Setup(server, session)


async def collect(pages: AsyncIterator[list[Item]]) -> list[Item]:
    return [item async for page in pages for item in page]


# ------------------------------------------------------------------------ reads


async def test_server_info_and_key(jf: Setup) -> None:
    public = await jf.client.get_public_info()
    assert public.id == jf.server.server_id
    assert public.version == jf.server.version
    assert public.name == jf.server.name
    info = await jf.client.validate_admin_key()
    assert info.id == public.id
    caps = jf.client.capabilities
    assert caps.generic_user_data == (jf.server.version_tuple[:2] >= (10, 9))
    # A user's session token authenticates but is not an API key.
    user_client = jf.make_client(jf.server.user_token("alice"))
    with pytest.raises(JellyfinAuthError, match="not an API key"):
        await user_client.validate_admin_key()
    with pytest.raises(JellyfinAuthError, match="HTTP 401"):
        await jf.make_client("f" * 32).validate_admin_key()


async def test_users(jf: Setup) -> None:
    users = await jf.client.get_users()
    assert {u.name: u.id for u in users} == jf.server.users
    admins = [u.name for u in users if u.is_administrator]
    assert admins == ["alice"]


async def test_listing_matches_the_library(jf: Setup) -> None:
    items = await collect(jf.client.iter_items(jf.alice, page_size=4))
    expected = {i.id: i for i in jf.items("Movie", "Episode")}
    assert len(items) == len(expected)
    assert {i.id for i in items} == set(expected)
    for item in items:
        sim = expected[item.id]
        assert item.type == sim.type
        assert item.name == sim.name
        assert item.path == sim.path
        assert item.provider_ids == {
            k.lower(): v.lower() for k, v in sim.provider_ids.items()
        }
        assert item.user_data == UserData()
        assert item.production_year == sim.year
        if sim.type == "Episode":
            assert item.series_id == sim.series_id
            assert item.season_number == sim.parent_index_number
            assert item.episode_number == sim.index_number
            assert item.episode_number_end == sim.index_number_end
    assert any(i.episode_number_end is not None for i in items)
    series = await collect(
        jf.client.iter_items(jf.alice, item_types=("Series",), fields=("ProviderIds",))
    )
    assert {s.id for s in series} == {s.id for s in jf.items("Series")}
    assert all(s.provider_ids for s in series)
    assert all(s.path is None for s in series)  # Path was not asked for


async def test_filters_fetch_only_items_with_user_data(jf: Setup) -> None:
    alice = jf.server.act("alice")
    m = [jf.movie(i) for i in range(5)]
    alice.mark_played(m[0].id)
    alice.favorite(m[1].id)
    assert m[2].runtime_ticks is not None
    alice.progress(m[2].id, m[2].runtime_ticks // 2)
    alice.like(m[3].id, True)
    alice.like(m[4].id, False)

    async def ids(user: str, **kwargs: Any) -> set[str]:
        return {i.id for i in await collect(jf.client.iter_items(user, **kwargs))}

    assert await ids(jf.alice, is_played=True) == {m[0].id}
    assert await ids(jf.alice, is_favorite=True) == {m[1].id}
    assert await ids(jf.alice, filters=("IsResumable",)) == {m[2].id}
    assert await ids(jf.alice, filters=("Likes",)) == {m[3].id}
    # Dislikes is not "the disliked items" on any version (test_simulator_filters.py).
    assert await ids(jf.bob, is_played=True) == set()
    newest = await collect(
        jf.client.iter_items(
            jf.alice, sort_by=("DatePlayed",), descending=True, check_total=False
        )
    )
    assert newest[0].id in {m[0].id, m[2].id}
    assert newest[0].user_data is not None
    assert newest[0].user_data.last_played_date is not None
    clock = jf.client.server_time
    assert clock is not None
    assert abs(clock - datetime.now(UTC)) < timedelta(minutes=1)
    assert await collect(jf.client.iter_items(None, saved_since=clock)) == []
    played = await collect(jf.client.iter_items(jf.alice, is_played=True))
    assert played[0].user_data is not None
    assert played[0].user_data.played


async def test_get_items_and_user_data(jf: Setup) -> None:
    series = jf.items("Series")[0]
    movie = jf.movie()
    jf.server.act("alice").mark_played(movie.id, D1)
    items = await jf.client.get_items(jf.alice, [movie.id, series.id, UNKNOWN])
    assert {i.id for i in items} == {movie.id, series.id}
    by_id = {i.id: i for i in items}
    assert by_id[movie.id].user_data == jf.stored(movie.id)
    assert by_id[series.id].type == "Series"
    data = await jf.client.get_user_data(jf.alice, movie.id)
    assert data == jf.stored(movie.id)
    assert data.played
    assert data.last_played_date == D1
    with pytest.raises(JellyfinNotFoundError):
        await jf.client.get_user_data(jf.alice, UNKNOWN)


async def test_paging_survives_a_deletion_mid_listing(jf: Setup) -> None:
    pages = jf.client.iter_items(jf.alice, page_size=4)
    first = await anext(pages)
    jf.server.delete_item(first[0].id)
    rest = await collect(pages)
    seen = [i.id for i in first + rest]
    assert len(seen) == len(set(seen))
    # Deleting an item of page 1 shifted the next page's first item onto page 1;
    # the total check notices the gap and the second pass finds it.
    assert set(seen) == {i.id for i in jf.items("Movie", "Episode")} | {first[0].id}
    # Without the total check the same shift loses an item.
    pages = jf.client.iter_items(jf.alice, page_size=4, check_total=False)
    first = await anext(pages)
    jf.server.delete_item(first[0].id)
    rest = await collect(pages)
    missed = {i.id for i in jf.items("Movie", "Episode")} - {i.id for i in rest}
    assert len(missed - {i.id for i in first}) == 1


async def test_request_stats_match_the_server(jf: Setup) -> None:
    await jf.client.get_users()
    await collect(jf.client.iter_items(jf.alice, page_size=10))
    stats = jf.client.request_stats
    assert stats.requests == jf.server.counters.requests
    assert stats.bytes_in == jf.server.counters.bytes_out
    assert stats.retries == 0


# ----------------------------------------------------------------------- writes


async def test_generic_write_sets_every_field(modern: Setup) -> None:
    movie = modern.movie()
    desired = UserData(
        played=True,
        play_count=3,
        playback_position_ticks=123_456,
        last_played_date=D2,
        is_favorite=True,
        rating=7.5,
    )
    result = await modern.client.set_user_data(
        modern.alice, movie.id, desired, list(SyncField), verify=True
    )
    assert result == desired
    assert modern.stored(movie.id) == desired
    assert modern.stored(movie.id, "bob") == UserData()
    # One generic update, one read-back, nothing else.
    writes = [e for e in modern.server.events if e.reason == "UpdateUserData"]
    assert len(writes) == 1


async def test_generic_write_clears_rating_and_last_played(modern: Setup) -> None:
    movie = modern.movie(1)
    alice = modern.server.act("alice")
    alice.set_user_data(
        movie.id,
        Played=True,
        PlayCount=4,
        PlaybackPositionTicks=99,
        LastPlayedDate=D1,
        IsFavorite=True,
        Rating=3.0,
    )
    desired = UserData(
        played=True,
        play_count=4,
        playback_position_ticks=99,
        last_played_date=None,
        is_favorite=True,
        rating=None,
    )
    result = await modern.client.set_user_data(
        modern.alice, movie.id, desired, {SyncField.LAST_PLAYED, SyncField.RATING}
    )
    assert result == desired
    assert modern.stored(movie.id) == desired


async def test_generic_write_of_some_fields_keeps_the_others(modern: Setup) -> None:
    movie = modern.movie(2)
    modern.server.act("alice").set_user_data(
        movie.id, IsFavorite=True, PlaybackPositionTicks=50, Rating=9.0
    )
    result = await modern.client.set_user_data(
        modern.alice,
        movie.id,
        UserData(played=True, play_count=1, last_played_date=D1),
        {SyncField.PLAYED, SyncField.PLAY_COUNT, SyncField.LAST_PLAYED},
    )
    expected = UserData(
        played=True,
        play_count=1,
        playback_position_ticks=50,
        last_played_date=D1,
        is_favorite=True,
        rating=9.0,
    )
    assert result == expected
    assert modern.stored(movie.id) == expected


async def test_write_to_missing_item_is_not_found(modern: Setup) -> None:
    with pytest.raises(JellyfinNotFoundError):
        await modern.client.set_user_data(
            modern.alice, UNKNOWN, UserData(is_favorite=True), {SyncField.FAVORITE}
        )
    assert modern.slept == []


async def test_legacy_writes_use_toggle_routes(legacy: Setup) -> None:
    movie = legacy.movie()
    desired = UserData(
        played=True, play_count=1, last_played_date=D2, is_favorite=True, rating=7.0
    )
    fields = {
        SyncField.PLAYED,
        SyncField.PLAY_COUNT,
        SyncField.LAST_PLAYED,
        SyncField.FAVORITE,
        SyncField.RATING,
    }
    result = await legacy.client.set_user_data(
        legacy.alice, movie.id, desired, fields, verify=True
    )
    # Likes is all 10.8 can store: a 7 becomes a 10.
    stored = legacy.stored(movie.id)
    assert stored == UserData(
        played=True, play_count=1, last_played_date=D2, is_favorite=True, rating=10.0
    )
    assert result == stored
    reasons = [e.reason for e in legacy.server.events]
    assert reasons == ["TogglePlayed", "UpdateUserRating", "UpdateUserRating"]

    # Back to untouched: MarkUnplayed, unfavourite, clear rating.
    result = await legacy.client.set_user_data(
        legacy.alice, movie.id, UserData(), fields
    )
    assert result == UserData()
    assert legacy.stored(movie.id) == UserData()


async def test_legacy_refuses_position_and_play_count(legacy: Setup) -> None:
    movie = legacy.movie(1)
    legacy.server.act("alice").mark_played(movie.id, D1)
    before = legacy.stored(movie.id)
    events = len(legacy.server.events)
    with pytest.raises(JellyfinUnsupportedError) as info:
        await legacy.client.set_user_data(
            legacy.alice,
            movie.id,
            UserData(played=False, playback_position_ticks=10),
            {SyncField.PLAYED, SyncField.POSITION},
        )
    assert info.value.fields == {SyncField.POSITION}
    with pytest.raises(JellyfinUnsupportedError) as info:
        await legacy.client.set_user_data(
            legacy.alice,
            movie.id,
            UserData(played=True, play_count=7, last_played_date=D1),
            {SyncField.PLAY_COUNT},
        )
    assert info.value.fields == {SyncField.PLAY_COUNT}
    # Nothing was written.
    assert len(legacy.server.events) == events
    assert legacy.stored(movie.id) == before
    # Values that already match are fine.
    result = await legacy.client.set_user_data(
        legacy.alice, movie.id, before, {SyncField.POSITION, SyncField.PLAY_COUNT}
    )
    assert result == before
    assert len(legacy.server.events) == events


async def test_legacy_write_to_missing_item_is_a_server_error(legacy: Setup) -> None:
    # 10.8 answers a NullReferenceException (500) for an unknown item (§6).
    client = legacy.make_client(retries=0)
    with pytest.raises(JellyfinServerError) as info:
        await client.set_user_data(
            legacy.alice, UNKNOWN, UserData(is_favorite=True), {SyncField.FAVORITE}
        )
    assert info.value.status == 500


# ----------------------------------------------------------------------- faults


async def test_revoked_key(jf: Setup) -> None:
    await jf.client.get_users()
    jf.server.faults.revoke_key()
    with pytest.raises(JellyfinAuthError):
        await jf.client.get_users()
    with pytest.raises(JellyfinAuthError):
        await jf.client.set_user_data(
            jf.alice, jf.movie().id, UserData(is_favorite=True), {SyncField.FAVORITE}
        )
    assert jf.slept == []
    jf.server.faults.restore_key()
    assert len(await jf.client.get_users()) == 2


async def test_retries_recover_and_stop(jf: Setup) -> None:
    await jf.client.get_system_info()
    jf.server.faults.fail_next(2, 500)
    assert len(await jf.client.get_users()) == 2
    assert jf.slept == [0.5, 1.0]
    jf.slept.clear()
    client = jf.make_client(retries=2)
    jf.server.faults.fail_next(10, 502)
    before = jf.server.counters.requests
    with pytest.raises(JellyfinServerError) as info:
        await client.get_users()
    assert info.value.status == 502
    assert jf.server.counters.requests - before == 3
    assert jf.slept == [0.5, 1.0]


async def test_starting_server(jf: Setup) -> None:
    jf.server.faults.starting(True)
    client = jf.make_client(retries=2)
    with pytest.raises(JellyfinStartingError) as info:
        await client.get_users()
    if jf.server.version_tuple[:2] >= (10, 11):
        # The 10.11 setup server asks for 5 s and still answers the public info.
        assert info.value.retry_after == 5.0
        assert jf.slept == [5.0, 5.0]
        public = await client.get_public_info()
        assert not public.startup_wizard_completed
    else:
        assert info.value.retry_after is None
        assert jf.slept == [0.5, 1.0]
    jf.server.faults.starting(False)
    assert len(await client.get_users()) == 2


async def test_answers_that_are_not_jellyfin_json(jf: Setup) -> None:
    await jf.client.get_system_info()
    jf.server.faults.html_next(1)
    with pytest.raises(JellyfinResponseError, match="HTML page"):
        await jf.client.get_users()
    jf.server.faults.invalid_json_next(1)
    with pytest.raises(JellyfinResponseError, match="not valid JSON"):
        await collect(jf.client.iter_items(jf.alice))
    assert jf.slept == []
    # A body cut off mid-transfer is a broken connection: reads are retried.
    jf.server.faults.truncate_next(1)
    assert len(await jf.client.get_users()) == 2
    assert jf.slept == [0.5]


async def test_server_down_and_slow(jf: Setup) -> None:
    await jf.client.get_system_info()
    jf.server.faults.down()
    client = jf.make_client(retries=1)
    with pytest.raises(JellyfinConnectionError):
        await client.get_users()
    jf.server.faults.up()
    await jf.server.wait_up()
    jf.server.faults.latency(0.5)
    slow = jf.make_client(retries=0, request_timeout=0.05)
    with pytest.raises(JellyfinTimeoutError):
        await slow.get_public_info()
    jf.server.faults.latency(0)
    assert len(await client.get_users()) == 2
