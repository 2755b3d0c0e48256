"""Finding every item that carries user data, on every version, with the real client.

Runs the engine against simulated servers whose filters behave as each Jellyfin
version's source does (tests/test_simulator_filters.py): a like, a dislike, a numeric
rating above or below 6.5, a play count without played and a last-played date alone
all reach the other server; so do items a scan adds after the first sync.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from custom_components.jellyfin_sync.sync import SyncEngine
from tests.simulator import LibrarySpec, SimulatedServer
from tests.test_engine_sim import engine_for, unique

#: (home, cabin) versions: each version with itself, and the mixed pair of the report.
PAIRS = [
    ("10.8.13", "10.8.13"),
    ("10.9.11", "10.9.11"),
    ("10.10.7", "10.10.7"),
    ("10.11.11", "10.11.11"),
    ("12.0.0", "12.0.0"),
    ("10.10.7", "10.11.11"),
]
SPEC = LibrarySpec(
    seed=5,
    movies=30,
    series=1,
    seasons_per_series=1,
    episodes_per_season=2,
    missing_provider_ids=0.0,
    duplicate_provider_ids=0.0,
    multi_episode_files=0.0,
)


class Pair:
    """Two servers with different media roots, and an engine over both."""

    def __init__(
        self, home: SimulatedServer, cabin: SimulatedServer, engine: SyncEngine
    ) -> None:
        self.home, self.cabin, self.engine = home, cabin, engine
        self.movies = [m.identity for m in unique(home, "Movie")]
        self.now = datetime.now(UTC)

    def id(self, server: SimulatedServer, n: int) -> str:
        return server.item_by_key(self.movies[n]).id

    def data(self, server: SimulatedServer, n: int) -> dict[str, Any]:
        return server.user_data("alice", self.id(server, n))

    async def cycle(self, **kwargs: Any) -> Any:
        self.now += timedelta(minutes=5)
        report = await self.engine.run_cycle(now=kwargs.pop("now", self.now), **kwargs)
        assert report.ok, report.errors
        return report

    @property
    def generic(self) -> bool:
        """Both servers have the generic user-data route (10.9+)."""
        return min(self.home.version_tuple, self.cabin.version_tuple) >= (10, 9)


@pytest.fixture(params=PAIRS, ids=["-".join(p) for p in PAIRS])
async def pair(
    request: pytest.FixtureRequest, jellyfin_server_factory: Any
) -> AsyncIterator[Pair]:
    home_version, cabin_version = request.param
    home = await jellyfin_server_factory(
        name="Home", version=home_version, media_root="/media/home", library=SPEC
    )
    cabin = await jellyfin_server_factory(
        name="Cabin", version=cabin_version, media_root="/srv/cabin", library=SPEC
    )
    async with aiohttp.ClientSession() as session:
        yield Pair(home, cabin, engine_for(session, home, cabin, roots=True))


def _rating(data: dict[str, Any]) -> float | None:
    return data.get("Rating")


async def test_ratings_alone_are_found_on_the_first_sync(pair: Pair) -> None:
    """A like, a dislike and numeric ratings on either server reach the other one.

    Only the ``Likes`` filter isolates ratings of 6.5 and more; ratings below come
    from the first cycle's full listing of each user's library.
    """
    home, cabin = pair.home, pair.cabin
    home.act("alice").like(pair.id(home, 0), True)
    home.act("alice").like(pair.id(home, 1), False)
    cabin.act("alice").like(pair.id(cabin, 2), True)
    cabin.act("alice").like(pair.id(cabin, 3), False)
    if pair.generic:
        home.act("alice").rate(pair.id(home, 4), 7.0)
        cabin.act("alice").rate(pair.id(cabin, 5), 3.0)
    report = await pair.cycle()
    assert report.servers[home.server_id].full_listings == 2  # alice and bob
    assert _rating(pair.data(cabin, 0)) == 10
    assert _rating(pair.data(cabin, 1)) == 1
    assert _rating(pair.data(home, 2)) == 10
    assert _rating(pair.data(home, 3)) == 1
    if pair.generic:
        assert _rating(pair.data(cabin, 4)) == 7
        assert _rating(pair.data(home, 5)) == 3
    again = await pair.cycle()
    assert again.writes_planned == 0
    assert again.servers[home.server_id].full_listings == 0


async def test_later_changes_are_found_in_the_next_cycle(pair: Pair) -> None:
    """After the first sync: changes found by the filters or the baseline, at once."""
    home, cabin = pair.home, pair.cabin
    home.act("alice").like(pair.id(home, 0), True)
    cabin.act("alice").like(pair.id(cabin, 1), False)
    await pair.cycle()

    cabin.act("alice").like(pair.id(cabin, 2), True)  # new like: the Likes filter
    home.act("alice").like(pair.id(home, 0), False)  # a change of a known rating
    home.act("alice").like(pair.id(home, 1), None)  # a cleared, known dislike
    if pair.generic:
        home.act("alice").set_user_data(pair.id(home, 6), PlayCount=3)
        cabin.act("alice").set_user_data(
            pair.id(cabin, 7), LastPlayedDate=datetime(2025, 2, 3, 4, 5, tzinfo=UTC)
        )
    report = await pair.cycle()
    assert report.servers[home.server_id].full_listings == 0
    assert _rating(pair.data(home, 2)) == 10
    assert _rating(pair.data(cabin, 0)) == 1
    assert _rating(pair.data(cabin, 1)) is None
    if pair.generic:
        assert pair.data(cabin, 6)["PlayCount"] == 3
        assert pair.data(cabin, 6)["Played"] is False
        assert pair.data(home, 7)["LastPlayedDate"].startswith("2025-02-03T04:05:00")
    assert (await pair.cycle()).writes_planned == 0


async def test_a_new_dislike_waits_for_the_full_listing(pair: Pair) -> None:
    """No filter isolates a rating below 6.5 on an item without other data.

    The daily full listing (``full_listing_hours``) or a ``full`` run finds it.
    The last movies are used: the ``DatePlayed`` listing's one page of undated
    items (in the simulator's library order) could find an early one by chance.
    """
    home, cabin = pair.home, pair.cabin
    late = len(pair.movies) - 1
    await pair.cycle()
    home.act("alice").like(pair.id(home, late), False)
    cabin.act("alice").like(pair.id(cabin, late - 1), False)
    quiet = await pair.cycle()
    assert quiet.writes_planned == 0
    assert _rating(pair.data(cabin, late)) is None

    forced = await pair.cycle(full=True)
    assert forced.writes_done == 2
    assert _rating(pair.data(cabin, late)) == 1
    assert _rating(pair.data(home, late - 1)) == 1

    home.act("alice").like(pair.id(home, late - 2), False)
    await pair.cycle()
    assert _rating(pair.data(cabin, late - 2)) is None
    daily = await pair.cycle(now=pair.now + timedelta(hours=24, minutes=1))
    assert daily.servers[home.server_id].full_listings == 2
    assert _rating(pair.data(cabin, late - 2)) == 1


async def test_an_item_added_after_the_first_sync_gets_its_data(pair: Pair) -> None:
    """A scan adds a film to cabin that alice watched on home: the next cycle syncs it.

    Found through ``minDateLastSavedForUser`` from cabin's own clock (its ``Date``
    header), without waiting for the periodic index refresh.
    """
    home, cabin = pair.home, pair.cabin
    identity = pair.movies[11]
    cabin.delete_item(cabin.item_by_key(identity).id)
    home.act("alice").mark_played(home.item_by_key(identity).id)
    first = await pair.cycle()
    assert first.servers[cabin.server_id].index_refreshed
    assert first.unmatched[home.server_id] >= 1

    added = cabin.readd_item(identity)
    report = await pair.cycle()
    assert not report.servers[cabin.server_id].index_refreshed
    assert cabin.user_data("alice", added.id)["Played"] is True
    assert (await pair.cycle()).writes_planned == 0
