"""``GET /Items`` filters, orders and date floors, as each Jellyfin version implements them.

Every rule cites the Jellyfin source of each tag (``[tag] path:line``). The names of
the like filters say one thing and the code does another; the sync's collection relies
on what the code does, so these tests pin the code's behaviour, not the names.
Requests go through real HTTP, so the OpenAPI conformance middleware checks them too.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from aiohttp import ClientSession
import pytest

from tests.simulator import LibrarySpec, SimulatedServer
from tests.simulator.http import RawClient

pytestmark = pytest.mark.conformance

VERSIONS = ["10.8.13", "10.9.11", "10.10.7", "10.11.11", "12.0.0"]
SPEC = LibrarySpec(
    seed=11,
    movies=12,
    series=1,
    seasons_per_series=1,
    episodes_per_season=2,
    missing_provider_ids=0.0,
    duplicate_provider_ids=0.0,
    multi_episode_files=0.0,
)


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[ClientSession]:
    async with ClientSession() as client_session:
        yield client_session


class Scene:
    """One server where alice has one kind of data on each of the first movies."""

    def __init__(self, server: SimulatedServer, raw: RawClient) -> None:
        self.server, self.raw = server, raw
        self.movies = [i.id for i in server.items if i.type == "Movie"]
        m = self.movies
        alice = server.act("alice")
        alice.mark_played(m[0], datetime(2024, 1, 1, tzinfo=UTC))
        alice.mark_played(m[1], datetime(2024, 6, 1, tzinfo=UTC))
        alice.favorite(m[2], True)
        alice.set_user_data(m[3], PlaybackPositionTicks=5_000)
        alice.rate(m[4], 6.5)  # liked: Rating >= UserItemData.MinLikeValue
        alice.rate(m[5], 6.4)  # disliked
        alice.set_user_data(m[6], PlayCount=2)  # a count only
        alice.set_user_data(m[7], LastPlayedDate=datetime(2023, 5, 1, tzinfo=UTC))

    async def ids(self, **params: object) -> list[str]:
        reply = await self.raw.items(
            "alice", recursive=True, includeItemTypes="Movie", **params
        )
        assert reply.status == 200, reply.text
        return [i["Id"] for i in reply.json()["Items"]]


@pytest.fixture(params=VERSIONS)
async def scene(request, jellyfin_server_factory, session) -> Scene:
    server = await jellyfin_server_factory(
        name=f"S{request.param}", version=request.param, library=SPEC
    )
    return Scene(server, RawClient(session, server))


def _minor(scene: Scene) -> tuple[int, int]:
    major, minor = scene.server.version_tuple[:2]
    return major, minor


async def test_likes_is_a_rating_of_6_5_or_more(scene: Scene) -> None:
    """``filters=Likes`` is ``Rating >= 6.5`` on every version.

    [v10.8.13] Emby.Server.Implementations/Data/SqliteItemRepository.cs:3784-3790,
    [v10.10.7] Emby.Server.Implementations/Data/SqliteItemRepository.cs:3476-3481,
    [v10.11.11] Jellyfin.Server.Implementations/Item/BaseItemRepository.cs:2054-2058,
    [v12.0-rc5] Jellyfin.Server.Implementations/Item/BaseItemRepository.TranslateQuery.cs:441-450.
    """
    assert set(await scene.ids(filters="Likes")) == {scene.movies[4]}


async def test_dislikes_is_not_what_its_name_says(scene: Scene) -> None:
    """``filters=Dislikes`` per version; on none is it "the disliked items".

    * 10.8-10.10: ``(rating is null or rating < 6.5)``, every item not liked, items
      without user data included ([v10.8.13] Emby.Server.Implementations/Data/
      SqliteItemRepository.cs:3791-3795, [v10.10.7] SqliteItemRepository.cs:3482-3486).
    * 10.11: ``IsLiked`` is tested with ``HasValue`` only, so the liked items
      ([v10.11.11] Jellyfin.Server.Implementations/Item/BaseItemRepository.cs:2054-2058).
    * 12.0: ``!likedIds.Contains(e.Id)``, every item not liked ([v12.0-rc5]
      Jellyfin.Server.Implementations/Item/BaseItemRepository.TranslateQuery.cs:441-450).
    """
    found = set(await scene.ids(filters="Dislikes"))
    if _minor(scene) == (10, 11):
        assert found == {scene.movies[4]}
    else:
        assert found == set(scene.movies) - {scene.movies[4]}


async def test_is_favorite_or_likes_is_favourites_only(scene: Scene) -> None:
    """``filters=IsFavoriteOrLikes`` checks ``IsFavorite`` alone on every version.

    [v10.10.7] Emby.Server.Implementations/Data/SqliteItemRepository.cs:3490-3502,
    [v10.11.11] Jellyfin.Server.Implementations/Item/BaseItemRepository.cs:2060-2064,
    [v12.0-rc5] Jellyfin.Server.Implementations/Item/BaseItemRepository.TranslateQuery.cs:452-463.
    """
    assert set(await scene.ids(filters="IsFavoriteOrLikes")) == {scene.movies[2]}
    assert set(await scene.ids(isFavorite=True)) == {scene.movies[2]}


async def test_played_and_resumable(scene: Scene) -> None:
    """``isPlayed=true`` is the played flag; ``IsResumable`` a position above 0.

    [v10.10.7] Emby.Server.Implementations/Data/SqliteItemRepository.cs:3520-3546
    (``played is null or played=0`` for false) and :3550-3560 (``playbackPositionTicks
    > 0``), [v10.11.11] Jellyfin.Server.Implementations/Item/BaseItemRepository.cs:
    2072-2106, [v12.0-rc5] BaseItemRepository.TranslateQuery.cs:473-556. A count or a
    date without played is in neither.
    """
    m = scene.movies
    assert set(await scene.ids(isPlayed=True)) == {m[0], m[1]}
    assert set(await scene.ids(filters="IsResumable")) == {m[3]}
    unplayed = set(await scene.ids(isPlayed=False))
    assert {m[6], m[7]} <= unplayed
    assert not {m[0], m[1]} & unplayed


async def test_date_played_descending_puts_undated_items_last(scene: Scene) -> None:
    """``sortBy=DatePlayed`` orders by the user's ``LastPlayedDate``; NULL sorts low.

    SQLite (and EF Core on it) sort NULL below every value, so descending lists
    every dated item first ([v10.10.7] Emby.Server.Implementations/Data/
    SqliteItemRepository.cs:2852-2853: ``DatePlayed => "LastPlayedDate"``;
    [v10.11.11] Jellyfin.Server.Implementations/Item/OrderMapper.cs:34).
    """
    m = scene.movies
    listed = await scene.ids(sortBy="DatePlayed", sortOrder="Descending", limit=4)
    assert listed[:3] == [m[1], m[0], m[7]]
    assert listed[3] not in {m[0], m[1], m[7]}
    unplayed = await scene.ids(
        isPlayed=False, sortBy="DatePlayed", sortOrder="Descending", limit=1
    )
    assert unplayed == [m[7]]


async def test_min_date_last_saved_for_user_is_the_item_rows_save_date(
    scene: Scene,
) -> None:
    """``minDateLastSavedForUser`` compares the item's ``DateLastSaved``, not user data.

    [v10.8.13] Emby.Server.Implementations/Data/SqliteItemRepository.cs:3563-3567,
    [v10.10.7] SqliteItemRepository.cs:3262-3266, [v10.11.11] Jellyfin.Server.
    Implementations/Item/BaseItemRepository.cs:1879-1882, [v12.0-rc5]
    BaseItemRepository.TranslateQuery.cs:280-283. A re-added item is saved by the
    scan's metadata refresh ([v10.11.11] Emby.Server.Implementations/Library/
    LibraryManager.cs:2157-2161), so it appears; user-data saves do not count.
    """
    server = scene.server
    floor = server.now() - timedelta(seconds=5)
    since = floor.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    scene_item = server.require_item(scene.movies[10])
    assert await scene.ids(minDateLastSavedForUser=since) == []
    server.delete_item(scene_item.id)
    new = server.readd_item(scene_item.identity)
    server.act("alice").favorite(scene.movies[9], True)
    assert await scene.ids(minDateLastSavedForUser=since) == [new.id]


async def test_min_date_last_saved_alone_is_broken_before_10_11(scene: Scene) -> None:
    """``minDateLastSaved`` binds a parameter its clause does not name before 10.11.

    The clause reads ``@MinDateLastSavedForUser`` and binds ``@MinDateLastSaved``
    ([v10.8.13] Emby.Server.Implementations/Data/SqliteItemRepository.cs:3557-3561,
    [v10.10.7] :3256-3260): SQLitePCL reads the unbound name as NULL (nothing
    matches); Microsoft.Data.Sqlite (10.9, 10.10) refuses the command (500). From
    10.11 it works ([v10.11.11] BaseItemRepository.cs:1874-1877).
    """
    since = "2019-01-01T00:00:00.0000000Z"
    minor = _minor(scene)
    if minor in {(10, 9), (10, 10)}:
        reply = await scene.raw.items(
            "alice", recursive=True, includeItemTypes="Movie", minDateLastSaved=since
        )
        assert reply.status == 500
        return
    found = set(await scene.ids(minDateLastSaved=since))
    assert found == (set() if minor == (10, 8) else set(scene.movies))


async def test_responses_carry_the_server_clock(scene: Scene) -> None:
    """Kestrel dates each response (RFC 7231 ``Date``) from the server's clock."""
    scene.server.clock = lambda: datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
    reply = await scene.raw.get("/System/Info/Public")
    assert reply.headers["Date"] == "Mon, 03 Feb 2031 04:05:06 GMT"


async def test_is_favorite_false_and_items_without_a_row(scene: Scene) -> None:
    """``isFavorite=false``: 10.11 drops items that have no user-data row.

    [v10.10.7] Emby.Server.Implementations/Data/SqliteItemRepository.cs:3504-3516
    (``IsFavorite is null or IsFavorite=0``), [v10.11.11] Jellyfin.Server.
    Implementations/Item/BaseItemRepository.cs:2066-2070 (``FirstOrDefault()!.IsFavorite
    == false`` is NULL without a row), [v12.0-rc5] BaseItemRepository.TranslateQuery.cs:
    452-471 (``!favoriteIds.Contains(e.Id)``).
    """
    found = set(await scene.ids(isFavorite=False))
    with_rows = set(scene.movies[:8]) - {scene.movies[2]}
    if _minor(scene) == (10, 11):
        assert found == with_rows
    else:
        assert found == set(scene.movies) - {scene.movies[2]}


async def test_contradicting_filters(scene: Scene) -> None:
    """``IsPlayed,IsUnplayed``: the last one wins before 12.0; 12.0 answers 400.

    [v10.11.11] Jellyfin.Api/Controllers/ItemsController.cs:390-422 (a switch sets
    ``IsPlayed`` per filter), [v12.0-rc5] MediaBrowser.Controller/Entities/
    InternalItemsQuery.cs:531-598 (``ThrowConflictingFilters``).
    """
    m = scene.movies
    if scene.server.version_tuple[0] >= 12:
        reply = await scene.raw.items(
            "alice", recursive=True, includeItemTypes="Movie", filters="Likes,Dislikes"
        )
        assert reply.status == 400
        return
    assert set(await scene.ids(filters="IsUnplayed,IsPlayed")) == {m[0], m[1]}
    played_last = set(await scene.ids(filters="IsPlayed,IsUnplayed"))
    assert played_last == set(m) - {m[0], m[1]}


async def test_is_played_on_folders(scene: Scene) -> None:
    """``isPlayed`` for a series: by its episodes, differently per version.

    [v10.10.7] Emby.Server.Implementations/Data/SqliteItemRepository.cs:3518-3548
    (``includeItemTypes=Series`` alone: no unplayed episode), [v10.11.11]
    Jellyfin.Server.Implementations/Item/BaseItemRepository.cs:2072-2093 (any played
    episode), [v12.0-rc5] BaseItemRepository.TranslateQuery.cs:473-493 (every folder
    by its leaves). Other folders read their own row before 12.0.
    """
    server = scene.server
    episodes = [i for i in server.items if i.type == "Episode"]
    series = next(i for i in server.items if i.type == "Series")
    season = next(i for i in server.items if i.type == "Season")
    server.act("alice").mark_played(episodes[0].id)

    async def played(kind: str) -> bool:
        reply = await scene.raw.items(
            "alice", recursive=True, includeItemTypes=kind, isPlayed=True
        )
        return any(i["Id"] in {series.id, season.id} for i in reply.json()["Items"])

    minor = _minor(scene)
    assert await played("Series") is (minor == (10, 11))
    assert await played("Season") is False
    for episode in episodes[1:]:
        server.act("alice").mark_played(episode.id)
    assert await played("Series") is True
    assert await played("Season") is (minor[0] >= 12)
