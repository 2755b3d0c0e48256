"""Titles with several versions on Jellyfin 12.0, synced with a single-file server.

The engine and the real client against simulated servers (tests/simulator/versions.py
has the 12.0 rules and their sources): home runs 12.0 with a second (2160p) file for
every title, cabin runs 10.11.11 with one file each. The unit of sync is the title as
the user sees it; a change on any version reaches cabin, a change on cabin reaches
every version, and no cycle after a settled one writes anything.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from custom_components.jellyfin_sync.sync import SyncEngine
from tests.simulator import LibrarySpec, SimulatedServer
from tests.simulator.library import SimItem
from tests.test_engine_sim import engine_for

LATE = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)


def spec(versions: float) -> LibrarySpec:
    return LibrarySpec(
        seed=9,
        movies=6,
        series=1,
        seasons_per_series=1,
        episodes_per_season=3,
        missing_provider_ids=0.0,
        duplicate_provider_ids=0.0,
        multi_episode_files=0.0,
        versions=versions,
    )


class Group:
    """Home (with versions) and cabin, and an engine over both."""

    def __init__(
        self, home: SimulatedServer, cabin: SimulatedServer, engine: SyncEngine
    ) -> None:
        self.home, self.cabin, self.engine = home, cabin, engine
        self.now = datetime(2026, 3, 2, tzinfo=UTC)

    def titles(self, kind: str = "Movie") -> list[tuple[SimItem, SimItem]]:
        """(primary, alternate) of home's titles of a kind."""
        out = []
        for item in self.home.items:
            if item.type == kind and item.primary_id is None:
                versions = self.home.versions_of(item)
                if len(versions) == 2:
                    out.append((versions[0], versions[1]))
        return out

    def on_cabin(self, item: SimItem) -> SimItem:
        return self.cabin.item_by_key(item.identity)

    def home_row(self, item: SimItem) -> Any:
        return self.home.row(self.home.users["alice"], item)

    async def cycle(self, **kwargs: Any) -> Any:
        self.now += timedelta(minutes=10)
        report = await self.engine.run_cycle(now=self.now, **kwargs)
        assert report.ok, report.errors
        return report


@pytest.fixture(params=["10.11.11", "12.0.0"])
async def group(
    request: pytest.FixtureRequest, jellyfin_server_factory: Any
) -> AsyncIterator[Group]:
    home = await jellyfin_server_factory(
        name="Home", version="12.0.0", media_root="/media/home", library=spec(1.0)
    )
    cabin = await jellyfin_server_factory(
        name="Cabin",
        version=request.param,
        media_root="/srv/cabin",
        library=spec(0.0),
    )
    async with aiohttp.ClientSession() as session:
        sync = Group(home, cabin, engine_for(session, home, cabin, roots=True))
        await sync.cycle()
        yield sync


async def test_a_title_matches_the_single_item(group: Group) -> None:
    report = await group.cycle(full=True)
    movie, alt = group.titles()[0]
    assert report.unmatched.get(group.home.server_id, 0) == 0
    assert report.unmatched.get(group.cabin.server_id, 0) == 0
    assert group.on_cabin(movie).identity == movie.identity
    assert alt.identity.endswith("#2160p")


async def test_a_position_on_the_alternate_reaches_the_other_server(
    group: Group,
) -> None:
    movie, alt = group.titles()[0]
    ticks = (alt.runtime_ticks or 0) // 3
    group.home.act("alice").progress(movie.id, ticks, media_source_id=alt.id, when=LATE)
    assert group.home_row(alt).playback_position_ticks == ticks
    assert group.home.user_data("alice", movie.id)["PlaybackPositionTicks"] == 0
    await group.cycle()
    cabin = group.cabin.user_data("alice", group.on_cabin(movie).id)
    assert cabin["PlaybackPositionTicks"] == ticks
    assert (await group.cycle()).writes_planned == 0


async def test_a_finished_alternate_makes_the_title_played_everywhere(
    group: Group,
) -> None:
    episode, alt = group.titles("Episode")[0]
    group.home.act("alice").watch(episode.id, LATE, media_source_id=alt.id)
    assert group.home_row(alt).played
    assert group.home_row(episode).played  # 12.0 passes a finish on
    await group.cycle()
    assert group.cabin.user_data("alice", group.on_cabin(episode).id)["Played"]
    assert (await group.cycle()).writes_planned == 0


async def test_played_and_unplayed_reach_every_version_and_stay(group: Group) -> None:
    movie, alt = group.titles()[1]
    cabin_movie = group.on_cabin(movie)
    group.cabin.act("alice").mark_played(cabin_movie.id, LATE)
    await group.cycle()
    assert group.home_row(movie).played
    assert group.home_row(alt).played
    assert (await group.cycle()).writes_planned == 0

    group.cabin.act("alice").mark_unplayed(cabin_movie.id)
    report = await group.cycle()
    assert report.writes_done == 1
    assert not group.home_row(movie).played
    assert not group.home_row(alt).played  # the "unplayed comes back" loop
    assert group.home.user_data("alice", movie.id)["Played"] is False
    assert (await group.cycle()).writes_planned == 0
    assert group.cabin.user_data("alice", cabin_movie.id)["Played"] is False


async def test_favourite_and_rating_reach_the_title(group: Group) -> None:
    (movie, _), (other, _) = group.titles()[2:4]
    group.cabin.act("alice").favorite(group.on_cabin(movie).id, True)
    group.home.act("alice").like(other.id, True)
    await group.cycle()
    assert group.home.user_data("alice", movie.id)["IsFavorite"] is True
    assert group.cabin.user_data("alice", group.on_cabin(other).id)["Likes"] is True
    assert (await group.cycle()).writes_planned == 0


async def test_a_position_behind_a_later_alternate_settles_in_one_cycle(
    group: Group,
) -> None:
    """Written to the primary, a position hides behind the alternate last played.

    It goes to the version the user would resume, so one cycle settles it.
    """
    movie, alt = group.titles()[4]
    runtime = alt.runtime_ticks or 0
    group.home.act("alice").progress(
        movie.id, runtime // 5, media_source_id=alt.id, when=LATE
    )
    await group.cycle()
    cabin_movie = group.on_cabin(movie)
    group.cabin.act("alice").progress(
        cabin_movie.id, runtime // 2, when=LATE + timedelta(hours=2)
    )
    settle = await group.cycle()
    assert settle.writes_done == 1
    assert group.home_row(alt).playback_position_ticks == runtime // 2
    assert (await group.cycle()).writes_planned == 0
    assert (
        group.cabin.user_data("alice", cabin_movie.id)["PlaybackPositionTicks"]
        == runtime // 2
    )


async def test_upgrading_a_server_to_12_0_resets_nothing(
    jellyfin_server_factory: Any,
) -> None:
    """10.11 -> 12.0 is held like a rescan: nothing is reset on either server.

    The upgrade recreates movie alternates with new ids and makes an episode's two
    files one title whose primary is the other file, with a merged view that shows
    no alternate's play count (tests/simulator/server.py ``upgrade_to_12``). The
    engine adopts the upgraded server's states once; each title then shows what it
    showed before the upgrade, and cabin is untouched.
    """
    home = await jellyfin_server_factory(
        name="Home", version="10.11.11", media_root="/media/home", library=spec(1.0)
    )
    cabin = await jellyfin_server_factory(
        name="Cabin", version="10.11.11", media_root="/srv/cabin", library=spec(0.0)
    )
    movies = [i for i in home.items if i.type == "Movie"]
    plain = [i for i in home.items if i.type == "Episode" and "#" not in i.identity]
    alice = home.act("alice")
    alice.watch(movies[0].id, LATE)
    alice.favorite(movies[1].id, True)
    position = (plain[0].runtime_ticks or 0) // 2
    alice.progress(plain[0].id, position, when=LATE)
    cabin.act("alice").watch(cabin.item_by_key(plain[1].identity).id, LATE)
    titles = [i.identity for i in (*movies, *plain)]
    fields = ("Played", "PlayCount", "LastPlayedDate", "IsFavorite", "Rating")

    def shown() -> dict[str, tuple[Any, ...]]:
        return {
            key: tuple(
                home.user_data("alice", home.item_by_key(key).id).get(f) for f in fields
            )
            for key in titles
        }

    async with aiohttp.ClientSession() as session:
        engine = engine_for(session, home, cabin, roots=True)
        now = datetime(2026, 3, 2, tzinfo=UTC)
        await engine.run_cycle(now=now)
        settled = await engine.run_cycle(now=now + timedelta(minutes=5))
        assert settled.writes_planned == 0
        # On 10.11 an episode's two files are two copies: reported, not guessed.
        assert settled.ambiguous > 0
        before_home = shown()
        before_cabin = cabin.dump_user_data()["alice"]

        port = home.port
        await home.stop()
        home.upgrade_to_12()
        await home.start(port=port)
        assert shown() != before_home  # the upgrade hid a play count
        first = await engine.run_cycle(now=now + timedelta(minutes=15))
        assert first.ok, first.errors
        assert first.servers[home.server_id].index_refreshed
        assert all(not w["resets"] for w in first.to_dict()["planned"])
        assert {w["server"] for w in first.to_dict()["planned"]} <= {home.server_id}
        for step in (2, 3):
            later = await engine.run_cycle(
                now=now + timedelta(minutes=15 * step), full=step == 3
            )
            assert later.ok, later.errors
            assert later.writes_planned == 0
    assert cabin.dump_user_data()["alice"] == before_cabin
    assert shown() == before_home
    resumed = home.row(home.users["alice"], plain[0])
    assert resumed.playback_position_ticks == position


async def test_a_target_naming_an_unknown_alternate_finds_its_title(
    group: Group,
) -> None:
    """A webhook for a title learned after the index: its sources name the title."""
    movie, alt = group.titles()[5]
    home = group.engine._state.servers[group.home.server_id]
    home.versions.primary_of.clear()
    ticks = (alt.runtime_ticks or 0) // 6
    group.home.act("alice").progress(movie.id, ticks, media_source_id=alt.id, when=LATE)
    alice = group.home.users["alice"]
    await group.cycle(targets={group.home.server_id: [(alice, alt.id.upper())]})
    assert home.versions.title(alt.id) == movie.id
    cabin = group.cabin.user_data("alice", group.on_cabin(movie).id)
    assert cabin["PlaybackPositionTicks"] == ticks
