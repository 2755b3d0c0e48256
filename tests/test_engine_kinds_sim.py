"""Every item kind, per Jellyfin version, through the real client and the simulator.

The simulator models each kind from the Jellyfin source of each version
(tests/test_simulator_kinds.py cites it): a folder keeps its own favourite and
rating while its played state is derived from its leaves, and marking a folder
played marks every leaf ([v10.10.7] MediaBrowser.Controller/Entities/
Folder.cs:1656-1774; [v12.0-rc5] Folder.cs:1870-1997). Servers have different
media roots, so every item id differs and items match by provider ids and names.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from custom_components.jellyfin_sync.jellyfin import JellyfinClient
from custom_components.jellyfin_sync.sync import SyncEngine, SyncOptions
from custom_components.jellyfin_sync.sync.kinds import LibraryChoice, LibraryMode
from custom_components.jellyfin_sync.sync.options import GuardLimits, ServerOptions
from tests.simulator import LibrarySpec, SimulatedServer

VERSIONS = ["10.8.13", "10.9.11", "10.10.7", "10.11.11", "12.0.0"]
SPEC = LibrarySpec(
    seed=7,
    movies=6,
    series=2,
    seasons_per_series=2,
    episodes_per_season=2,
    missing_provider_ids=0.0,
    duplicate_provider_ids=0.0,
    multi_episode_files=0.0,
    boxsets=1,
    music_artists=2,
    albums_per_artist=1,
    tracks_per_album=3,
    audiobooks=2,
    books=1,
    home_videos=2,
    music_videos=1,
)
NO_GUARD = GuardLimits(max_changes=None, max_change_share=None)


class Pair:
    """Two servers of one version with different media roots, and an engine."""

    def __init__(
        self,
        home: SimulatedServer,
        cabin: SimulatedServer,
        session: aiohttp.ClientSession,
    ) -> None:
        self.home, self.cabin, self.session = home, cabin, session
        self.now = datetime.now(UTC)
        self.engine = self.make()

    def make(self, **options: Any) -> SyncEngine:
        clients = {
            s.server_id: JellyfinClient(s.url, s.api_key, self.session, retries=0)
            for s in (self.home, self.cabin)
        }
        roots = {
            s.server_id: ServerOptions(media_roots=(s.media_root,))
            for s in (self.home, self.cabin)
        }
        return SyncEngine(
            clients, SyncOptions(guard=NO_GUARD, servers=roots, **options)
        )

    def id(self, server: SimulatedServer, identity: str) -> str:
        return server.item_by_key(identity).id

    def data(self, server: SimulatedServer, identity: str) -> dict[str, Any]:
        return server.user_data("alice", self.id(server, identity))

    async def cycle(self, engine: SyncEngine | None = None, **kwargs: Any) -> Any:
        self.now += timedelta(minutes=5)
        report = await (engine or self.engine).run_cycle(now=self.now, **kwargs)
        assert report.ok, report.errors
        return report


@pytest.fixture(params=VERSIONS)
async def pair(
    request: pytest.FixtureRequest, jellyfin_server_factory: Any
) -> AsyncIterator[Pair]:
    version = request.param
    home = await jellyfin_server_factory(
        name="Home",
        version=version,
        media_root="/media/home",
        library=SPEC,
        users=["alice"],
    )
    cabin = await jellyfin_server_factory(
        name="Cabin",
        version=version,
        media_root="/srv/cabin",
        library=SPEC,
        users=["alice"],
    )
    async with aiohttp.ClientSession() as session:
        yield Pair(home, cabin, session)


def identities(server: SimulatedServer, kind: str) -> list[str]:
    return sorted(i.identity for i in server.items if i.type == kind)


async def test_a_favourite_series_a_rated_season_and_a_favourite_collection(
    pair: Pair,
) -> None:
    home, cabin = pair.home, pair.cabin
    series = identities(home, "Series")[0]
    season = identities(home, "Season")[1]
    boxset = identities(home, "BoxSet")[0]
    await pair.cycle()
    home.act("alice").favorite(pair.id(home, series), True)
    # 10.8 sets likes only (rating 10 or 1); later versions any rating.
    cabin.act("alice").like(pair.id(cabin, season), True)
    cabin.act("alice").favorite(pair.id(cabin, boxset), True)

    report = await pair.cycle()

    assert pair.data(cabin, series)["IsFavorite"] is True
    assert pair.data(home, season)["Likes"] is True
    assert pair.data(home, boxset)["IsFavorite"] is True
    assert report.writes_done == 3
    assert (await pair.cycle()).writes_planned == 0


async def test_a_series_watched_on_one_server_marks_nothing_else_on_the_other(
    pair: Pair,
) -> None:
    home, cabin = pair.home, pair.cabin
    series = identities(home, "Series")[0]
    episodes = [
        i.identity
        for i in home.items
        if i.type == "Episode" and i.series_id == pair.id(home, series)
    ]
    for identity in episodes:
        home.act("alice").mark_played(pair.id(home, identity))

    await pair.cycle()

    for identity in episodes:
        assert pair.data(cabin, identity)["Played"] is True
    others = [
        i for i in cabin.items if i.type == "Episode" and i.identity not in episodes
    ]
    assert others
    assert not any(pair.data(cabin, i.identity)["Played"] for i in others)
    assert (await pair.cycle()).writes_planned == 0


async def test_track_plays_add_up_and_favourite_albums_and_artists_sync(
    pair: Pair,
) -> None:
    home, cabin = pair.home, pair.cabin
    track = identities(home, "Audio")[0]
    album = identities(home, "MusicAlbum")[0]
    artist = next(
        i for i in identities(home, "MusicArtist") if i.startswith("artist:a")
    )
    home.act("alice").watch(pair.id(home, track))
    await pair.cycle()
    assert pair.data(cabin, track)["PlayCount"] == 1

    home.act("alice").watch(pair.id(home, track))
    cabin.act("alice").watch(pair.id(cabin, track))
    home.act("alice").favorite(pair.id(home, album), True)
    cabin.act("alice").favorite(pair.id(cabin, artist), True)
    await pair.cycle()

    # 10.8 cannot set a play count: marking played there only makes it 1 or more.
    if home.version_tuple[:2] > (10, 8):
        assert pair.data(home, track)["PlayCount"] == 3
        assert pair.data(cabin, track)["PlayCount"] == 3
    assert pair.data(cabin, album)["IsFavorite"] is True
    assert pair.data(home, artist)["IsFavorite"] is True
    assert (await pair.cycle()).writes_planned == 0


async def test_an_audiobook_position_syncs(pair: Pair) -> None:
    home, cabin = pair.home, pair.cabin
    book = identities(home, "AudioBook")[0]
    await pair.cycle()
    runtime = home.item_by_key(book).runtime_ticks or 0
    home.act("alice").progress(pair.id(home, book), runtime // 3)
    position = pair.data(home, book)["PlaybackPositionTicks"]
    assert position > 0

    await pair.cycle()

    if home.version_tuple[:2] > (10, 8):
        assert pair.data(cabin, book)["PlaybackPositionTicks"] == position
    else:  # 10.8: no position through an API key (reported as unsupported)
        assert pair.data(cabin, book)["PlaybackPositionTicks"] == 0


async def test_an_excluded_library_is_never_read_or_written(pair: Pair) -> None:
    home, cabin = pair.home, pair.cabin
    excluded = {i.identity for i in home.items if i.type == "Audio"}
    track = min(excluded)
    film = identities(home, "Movie")[0]
    home.act("alice").watch(pair.id(home, track))
    home.act("alice").watch(pair.id(home, film))
    engine = pair.make(
        libraries=LibraryChoice(mode=LibraryMode.EXCLUDE, names=frozenset({"music"}))
    )
    for server in (home, cabin):
        server.request_log.clear()

    await pair.cycle(engine, full=True)
    await pair.cycle(engine)

    assert pair.data(cabin, film)["Played"] is True
    assert pair.data(cabin, track)["Played"] is False
    for server in (home, cabin):
        music = {i.id for i in server.items if i.identity in excluded}
        music_library = next(
            i.id for i in server.items if i.identity == "library:music"
        )
        assert server.request_log
        for entry in server.request_log:
            assert entry.query.get("parentId", "").replace("-", "") != music_library
            assert not music & entry.served, entry.path
            assert not any(item_id in entry.path.replace("-", "") for item_id in music)


async def test_an_item_in_only_one_servers_included_library_is_left_alone(
    pair: Pair,
) -> None:
    home, cabin = pair.home, pair.cabin
    home_video = identities(home, "Video")[0]
    cabin.delete_item(pair.id(cabin, home_video))
    home.act("alice").watch(pair.id(home, home_video))

    report = await pair.cycle()

    assert report.unmatched[home.server_id] >= 1
    assert report.writes_done == 0


@pytest.mark.parametrize("version", ["10.11.11", "12.0.0"])
async def test_an_artist_without_a_folder_syncs_where_jellyfin_lists_it(
    version: str, jellyfin_server_factory: Any
) -> None:
    """An artist without a folder is listed to users on 12.0 only.

    10.8-10.11 list such an artist to no user query ([v10.10.7]
    Emby.Server.Implementations/Library/LibraryManager.cs:1522-1547); 12.0 lists it
    whenever ``MusicArtist`` is asked for ([v12.0-rc5] Jellyfin.Server.
    Implementations/Item/BaseItemRepository.QueryBuilding.cs:473-559).
    """
    spec = LibrarySpec(
        seed=3,
        movies=1,
        series=0,
        music_artists=1,
        albums_per_artist=1,
        tracks_per_album=2,
        guest_artists=1,
    )
    servers = [
        await jellyfin_server_factory(
            name=name, version=version, media_root=root, library=spec, users=["alice"]
        )
        for name, root in (("Home", "/media/home"), ("Cabin", "/srv/cabin"))
    ]
    async with aiohttp.ClientSession() as session:
        pair = Pair(servers[0], servers[1], session)
        guest = next(
            i.identity for i in pair.home.items if i.identity.startswith("artist:g")
        )
        pair.home.act("alice").favorite(pair.id(pair.home, guest), True)

        await pair.cycle()

        synced = pair.data(pair.cabin, guest)["IsFavorite"]
        assert synced is (version == "12.0.0")
