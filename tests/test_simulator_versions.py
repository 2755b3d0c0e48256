"""Alternate versions (two files of one title) in the simulator, from the source.

12.0 makes one title of several files: a primary that lists, alternates that never
do, each with its own user data, a merged view on the primary and played toggles that
reach every version. 10.8-10.11 keep a movie's second file as an owned ``Video`` no
user listing shows, and an episode's as a second ``Episode``. Each test cites the
lines it follows; every request is validated against the version's OpenAPI document.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import ClientSession
import pytest

from tests.simulator import LibrarySpec, SimulatedServer
from tests.simulator.http import RawClient
from tests.simulator.library import SimItem

pytestmark = pytest.mark.conformance

SPEC = LibrarySpec(
    seed=3,
    movies=8,
    series=1,
    seasons_per_series=1,
    episodes_per_season=4,
    missing_provider_ids=0.0,
    duplicate_provider_ids=0.0,
    multi_episode_files=0.0,
    versions=1.0,
)
EARLY = datetime(2025, 1, 1, tzinfo=UTC)
LATE = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[ClientSession]:
    async with ClientSession() as client_session:
        yield client_session


async def start(factory, version: str) -> SimulatedServer:
    return await factory(name=f"V{version}", version=version, library=SPEC)


def title(server: SimulatedServer, kind: str = "Movie") -> tuple[SimItem, SimItem]:
    """(primary, alternate) of the first title of a kind with two versions."""
    for item in server.items:
        if item.type == kind and item.primary_id is None:
            versions = server.versions_of(item)
            if len(versions) == 2:
                return versions[0], versions[1]
    raise LookupError(kind)


async def listed(raw: RawClient, **params: object) -> list[str]:
    reply = await raw.items("alice", recursive=True, **params)
    assert reply.status == 200, reply.text
    return [i["Id"] for i in reply.json()["Items"]]


async def test_12_0_lists_titles_never_alternates(
    jellyfin_server_factory, session
) -> None:
    """``PrimaryVersionId == null`` unless owned items are asked for, ``ids=`` too.

    [v12.0-rc5] Jellyfin.Server.Implementations/Item/BaseItemRepository.TranslateQuery.cs:
    739-748. Movies keep the folder-named file as the primary, an episode's 2160p file
    sorts first ([v12.0-rc5] Emby.Naming/Video/VideoListResolver.cs:136-156, 268-312).
    """
    server = await start(jellyfin_server_factory, "12.0.0")
    raw = RawClient(session, server)
    movie, movie_alt = title(server)
    episode, episode_alt = title(server, "Episode")
    assert movie_alt.type == "Movie"
    assert "2160p" in movie_alt.path
    assert "2160p" in episode.path
    assert "2160p" not in episode_alt.path
    ids = await listed(raw)
    assert movie.id in ids
    assert episode.id in ids
    assert movie_alt.id not in ids
    assert episode_alt.id not in ids
    assert await listed(raw, ids=f"{movie_alt.id},{movie.id}") == [movie.id]
    single = await raw.get(
        f"/Items/{movie_alt.id}", params={"userId": server.users["alice"]}
    )
    assert single.status == 200
    counted = await raw.items(
        "alice", recursive=True, ids=movie.id, fields="MediaSourceCount,MediaSources"
    )
    dto = counted.json()["Items"][0]
    assert dto["MediaSourceCount"] == 2
    assert [m["Id"] for m in dto["MediaSources"]] == [movie.id, movie_alt.id]


@pytest.mark.parametrize("version", ["10.8.13", "10.10.7", "10.11.11"])
async def test_10_x_second_files(jellyfin_server_factory, session, version) -> None:
    """Before 12.0: a movie's second file is a hidden ``Video``, an episode's a copy.

    The owned ``Video`` is in no user listing; the episode's second file is a second
    ``Episode`` (two copies).

    [v10.11.11] MediaBrowser.Controller/Entities/BaseItem.cs:2513-2541, Emby.Server.
    Implementations/Library/LibraryManager.cs:1701-1726, Emby.Server.Implementations/
    Library/Resolvers/Movies/MovieResolver.cs:231.
    """
    server = await start(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    movie, owned = title(server)
    assert owned.type == "Video"
    ids = await listed(raw)
    assert movie.id in ids
    assert owned.id not in ids
    episodes = [i for i in server.items if i.type == "Episode"]
    assert len({i.identity.split("#")[0] for i in episodes}) == len(episodes) // 2
    assert {i.id for i in episodes} <= set(ids)


async def test_12_0_primary_shows_a_merged_view(
    jellyfin_server_factory, session
) -> None:
    """The primary's reads merge the latest version's playback into its own row.

    Played is ORed with the latest version's; the later date wins; a finished
    alternate clears the position; count, favourite and rating are the primary's own.

    [v12.0-rc5] Emby.Server.Implementations/Library/UserDataManager.cs:247-341,
    MediaBrowser.Controller/Library/VersionPlaybackSelector.cs:26-57,
    MediaBrowser.Controller/Library/VersionResumeData.cs:23-39.
    """
    server = await start(jellyfin_server_factory, "12.0.0")
    raw = RawClient(session, server)
    movie, alt = title(server)
    alice = server.act("alice")
    alice.progress(movie.id, (movie.runtime_ticks or 0) // 3, when=EARLY)
    alice.favorite(movie.id, True)
    alice.set_user_data(alt.id, PlayCount=4, Played=True, LastPlayedDate=LATE)
    shown = server.user_data("alice", movie.id)
    assert shown["Played"] is True
    assert shown["LastPlayedDate"].startswith("2025-06-01")
    assert shown["PlaybackPositionTicks"] == 0
    assert shown["PlayCount"] == 0
    assert shown["IsFavorite"] is True
    own = await raw.get(f"/Items/{alt.id}", params={"userId": server.users["alice"]})
    assert own.json()["UserData"]["PlayCount"] == 4
    assert own.json()["UserData"]["IsFavorite"] is False

    # An alternate in progress: its position is not the title's.
    other, other_alt = title(server, "Episode")
    alice.progress(other_alt.id, (other_alt.runtime_ticks or 0) // 2, when=LATE)
    view = server.user_data("alice", other.id)
    assert view["PlaybackPositionTicks"] == 0
    assert view["Played"] is False
    assert view["LastPlayedDate"].startswith("2025-06-01")


async def test_12_0_played_toggles_reach_every_version(
    jellyfin_server_factory, session
) -> None:
    """Played toggles reach every version; other routes touch one.

    MarkPlayed gives every other version Played and position 0 (their counts and
    dates stay); MarkUnplayed resets every version.

    [v12.0-rc5] MediaBrowser.Controller/Entities/Video.cs:344-360, 370-407;
    Jellyfin.Api/Controllers/ItemsController.cs:1128-1158, UserLibraryController.cs:
    676-711. One ``UserDataSaved`` per version, the addressed one first
    (Emby.Server.Implementations/Library/UserDataManager.cs:85-92).
    """
    server = await start(jellyfin_server_factory, "12.0.0")
    raw = RawClient(session, server)
    movie, alt = title(server)
    alice = server.act("alice")
    alice.progress(alt.id, (alt.runtime_ticks or 0) // 2, when=EARLY)
    server.events.clear()
    reply = await raw.played("alice", movie.id, on=True)
    assert reply.status == 200
    assert [e.item_id for e in server.events] == [movie.id, alt.id]
    alt_row = server.row(server.users["alice"], alt)
    assert alt_row.played is True
    assert alt_row.playback_position_ticks == 0
    assert alt_row.play_count == 0
    assert alt_row.last_played_date is not None

    await raw.favorite("alice", movie.id)
    assert server.row(server.users["alice"], alt).is_favorite is False
    generic = await raw.post(
        f"/UserItems/{movie.id}/UserData",
        params={"userId": server.users["alice"]},
        json_body={"Played": False},
    )
    assert generic.status == 200
    assert generic.json()["Played"] is True  # the alternate still is
    assert (await raw.played("alice", alt.id, on=False)).status == 200
    for version in (movie, alt):
        row = server.row(server.users["alice"], version)
        assert (row.played, row.play_count, row.last_played_date) == (False, 0, None)
    assert server.user_data("alice", movie.id)["Played"] is False


async def test_10_11_writes_touch_only_the_item(
    jellyfin_server_factory, session
) -> None:
    """Before 12.0 no route reaches another file ([v10.11.11] PlaystateController.cs:72-191)."""
    server = await start(jellyfin_server_factory, "10.11.11")
    raw = RawClient(session, server)
    episode = next(
        i for i in server.items if i.type == "Episode" and "#" not in i.identity
    )
    second = server.item_by_key(f"{episode.identity}#2160p")
    await raw.played("alice", episode.id, on=True)
    assert server.user_data("alice", second.id)["Played"] is False


async def test_12_0_filters_and_orders_with_versions(
    jellyfin_server_factory, session
) -> None:
    """Filters read one row; ``DatePlayed`` and resume lists look at every version.

    ``isPlayed`` reads the item's own row; ``DatePlayed`` the newest of its
    versions; ``IsResumable`` keeps one version per title; resume lists show an
    alternate as itself.

    [v12.0-rc5] Jellyfin.Server.Implementations/Item/BaseItemRepository.TranslateQuery.cs:
    473-493, 520-545; Jellyfin.Server.Implementations/Item/OrderMapper.cs:32-49;
    Jellyfin.Api/Controllers/ItemsController.cs:978-997.
    """
    server = await start(jellyfin_server_factory, "12.0.0")
    raw = RawClient(session, server)
    movie, alt = title(server)
    alice = server.act("alice")
    alice.set_user_data(alt.id, Played=True, LastPlayedDate=LATE)
    assert movie.id not in await listed(raw, isPlayed=True, includeItemTypes="Movie")
    newest = await listed(
        raw, includeItemTypes="Movie", sortBy="DatePlayed", sortOrder="Descending"
    )
    assert newest[0] == movie.id

    episode, episode_alt = title(server, "Episode")
    alice.progress(episode.id, (episode.runtime_ticks or 0) // 4, when=EARLY)
    alice.progress(episode_alt.id, (episode.runtime_ticks or 0) // 2, when=LATE)
    resumable = await listed(raw, filters="IsResumable", includeItemTypes="Episode")
    assert episode.id not in resumable
    resume = await raw.get(
        "/UserItems/Resume",
        params={"userId": server.users["alice"], "includeItemTypes": "Episode"},
    )
    assert resume.status == 200
    entries = resume.json()["Items"]
    assert [e["Id"] for e in entries] == [episode_alt.id]
    assert entries[0]["UserData"]["PlaybackPositionTicks"] > 0


@pytest.mark.parametrize("version", ["10.11.11", "12.0.0"])
async def test_playback_picks_a_version(jellyfin_server_factory, version) -> None:
    """12.0 records the version named by ``MediaSourceId``; 10.11 the item.

    [v12.0-rc5] Emby.Server.Implementations/Session/SessionManager.cs:739-755.
    """
    server = await start(jellyfin_server_factory, version)
    episode = next(
        i for i in server.items if i.type == "Episode" and i.primary_id is None
    )
    other = [v for v in server.versions_of(episode) if v is not episode]
    if version.startswith("10."):
        other = [server.item_by_key(f"{episode.identity}#2160p")]
    server.act("alice").progress(
        episode.id, (episode.runtime_ticks or 0) // 2, media_source_id=other[0].id
    )
    landed = server.row(server.users["alice"], other[0]).playback_position_ticks > 0
    assert landed is version.startswith("12.")


async def test_upgrade_from_10_11(jellyfin_server_factory) -> None:
    """Upgrading 10.11 to 12.0 recreates movie alternates and joins episode files.

    Movie alternates come back as ``Movie`` items with new ids and no data; an
    episode's plain file becomes the alternate of its 2160p file, keeping its data.

    [v12.0-rc5] Jellyfin.Server/Migrations/Routines/20260113120000_MigrateLinkedChildren.cs:
    281-321, Emby.Naming/Video/VideoListResolver.cs:268-312.
    """
    server = await start(jellyfin_server_factory, "10.11.11")
    movie, owned = title(server)
    plain = next(
        i for i in server.items if i.type == "Episode" and "#" not in i.identity
    )
    second = server.item_by_key(f"{plain.identity}#2160p")
    alice = server.act("alice")
    alice.watch(plain.id)
    alice.watch(movie.id)
    old_owned = owned.id
    await server.stop()
    server.upgrade_to_12()
    await server.start()
    assert server.get_item(old_owned) is None
    assert owned.type == "Movie"
    assert owned.primary_id == movie.id
    assert server.user_data("alice", owned.id)["Played"] is False
    assert plain.primary_id == second.id
    assert server.item_by_key(second.identity) is second
    assert server.user_data("alice", plain.id)["Played"] is True
    assert server.user_data("alice", second.id)["Played"] is True  # merged view
    assert server.user_data("alice", movie.id)["Played"] is True
    assert server.legacy_auth is False
