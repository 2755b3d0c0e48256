"""Item kinds beyond movies and TV in the simulator: box sets, music, books, videos.

Each test pins one server rule and cites the Jellyfin source of each version
(``[tag] path:line``). Requests go through real HTTP, so the OpenAPI conformance
middleware validates every request and response against the version's document
(new DTO fields, CollectionType values, ``/Library/VirtualFolders``).
"""

from collections import Counter
from collections.abc import AsyncIterator

from aiohttp import ClientSession
import pytest

from tests.simulator import LibrarySpec, SimulatedServer
from tests.simulator.http import RawClient
from tests.simulator.library import SimItem, build_items

pytestmark = pytest.mark.conformance

VERSIONS = ["10.8.13", "10.9.11", "10.10.7", "10.11.11", "12.0.0"]
SPEC = LibrarySpec(
    seed=5,
    movies=10,
    series=1,
    seasons_per_series=1,
    episodes_per_season=3,
    missing_provider_ids=0.0,
    duplicate_provider_ids=0.0,
    multi_episode_files=0.0,
    boxsets=2,
    music_artists=3,
    albums_per_artist=2,
    tracks_per_album=4,
    guest_artists=1,
    audiobooks=2,
    books=2,
    home_videos=2,
    music_videos=2,
)
MINUTE = 60 * 10_000_000


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[ClientSession]:
    async with ClientSession() as client_session:
        yield client_session


@pytest.fixture(params=VERSIONS)
async def server(request, jellyfin_server_factory) -> SimulatedServer:
    return await jellyfin_server_factory(
        name=f"K{request.param}", version=request.param, library=SPEC
    )


def _modern(server: SimulatedServer) -> bool:
    return server.version_tuple[0] >= 12


async def _ids(raw: RawClient, user: str | None, **params: object) -> list[str]:
    reply = await raw.items(user, **params)
    assert reply.status == 200, reply.text
    return [i["Id"] for i in reply.json()["Items"]]


def _of(server: SimulatedServer, kind: str) -> list[SimItem]:
    return [i for i in server.items if i.type == kind]


# ------------------------------------------------------------------ generation


def test_new_fields_leave_existing_media_unchanged() -> None:
    """Specs without the new kinds give the same items and ids as before.

    Each new kind draws from its own generator (``"<seed>:music"`` ...).
    """
    base = LibrarySpec(seed=9, movies=20, series=2)
    rich = LibrarySpec(seed=9, movies=20, series=2, boxsets=2, music_artists=2)
    plain = build_items(base, server_name="a", media_root="/m")
    more = build_items(rich, server_name="a", media_root="/m")
    assert [(i.id, i.identity) for i in plain] == [
        (i.id, i.identity) for i in more[: len(plain)]
    ]
    assert {i.identity for i in more} >= {
        "library:boxsets",
        "library:music",
        "boxset:b0001",
        "artist:a0001",
        "album:a0001:1",
        "track:a0001:1:3",
    }
    assert not any(i.identity == "library:books" for i in more)


def test_boxset_ids_ignore_the_media_root() -> None:
    """BoxSets live in ``<DataPath>/collections/<Name> [boxset]``, not the media root.

    So a collection has the same id on servers with different roots, unlike its
    movies ([v10.10.7] Emby.Server.Implementations/Collections/
    CollectionManager.cs:110-113, 138-147; program-data paths made relative:
    Emby.Server.Implementations/Library/LibraryManager.cs:514-536).
    """
    first = build_items(SPEC, server_name="a", media_root="/media/a")
    second = build_items(SPEC, server_name="b", media_root="/media/b")
    box = {i.identity: i.id for i in first if i.type == "BoxSet"}
    assert box == {i.identity: i.id for i in second if i.type == "BoxSet"}
    movies = {i.identity: i.id for i in first if i.type == "Movie"}
    assert movies != {i.identity: i.id for i in second if i.type == "Movie"}


# ------------------------------------------------------------------ listing


async def test_items_by_kind_and_library(server: SimulatedServer, session) -> None:
    """The new kinds list by includeItemTypes; parentId=<library> keeps that library.

    A recursive query under a library becomes ``TopParentIds`` = that library
    ([v10.10.7] Emby.Server.Implementations/Library/LibraryManager.cs:1467-1520;
    [v10.11.11] :1646-1700); music types from the resolvers ([v10.10.7]
    Emby.Server.Implementations/Library/Resolvers/Audio/MusicArtistResolver.cs:
    54-106, AudioResolver.cs:77-140, Books/BookResolver.cs:21-49).
    """
    raw = RawClient(session, server)
    kinds = "Audio,MusicAlbum,MusicArtist,BoxSet,AudioBook,Book,Video,MusicVideo"
    reply = await raw.items("alice", recursive="true", includeItemTypes=kinds)
    counts = Counter(i["Type"] for i in reply.json()["Items"])
    guests = 1 if _modern(server) else 0  # by-name artists, see the next test
    assert counts == {
        "Audio": 24,
        "MusicAlbum": 6,
        "MusicArtist": 3 + guests,
        "BoxSet": 2,
        "AudioBook": 2,
        "Book": 2,
        "Video": 2,
        "MusicVideo": 2,
    }
    music = server.item_by_key("library:music")
    ids = await _ids(raw, "alice", parentId=music.id, recursive="true")
    listed = {server.require_item(i).type for i in ids}
    assert listed == {"MusicArtist", "MusicAlbum", "Audio"}
    assert len(ids) == 3 + 6 + 24
    books = server.item_by_key("library:books")
    ids = await _ids(raw, "alice", parentId=books.id, recursive="true")
    assert {server.require_item(i).type for i in ids} == {"AudioBook", "Book"}
    album = server.item_by_key("album:a0001:1")
    ids = await _ids(raw, "alice", parentId=album.id)
    assert len(ids) == 4
    assert all(server.require_item(i).album_id == album.id for i in ids)


async def test_music_artist_listing(server: SimulatedServer, session) -> None:
    """Artist folders are listed; by-name artists depend on version and user.

    * An artist folder (``music/<Artist>/<Album>``) is a MusicArtist in the
      library tree; tag names reuse it ([v10.10.7] Emby.Server.Implementations/
      Library/LibraryManager.cs:942-981).
    * A name only a tag carries is a by-name artist with no parent and no
      library; ``IsFolder`` false ([v10.10.7] MediaBrowser.Controller/Entities/
      Audio/MusicArtist.cs:26-30).
    * 10.8-10.11: a user query is restricted to the user's libraries
      (``AddUserToQuery``), which by-name rows never match because ``/Items``
      never sets ``IncludeItemsByName`` ([v10.10.7] Emby.Server.Implementations/
      Library/LibraryManager.cs:1522-1547, Data/SqliteItemRepository.cs:
      4095-4140; [v10.11.11] Jellyfin.Server.Implementations/Item/
      BaseItemRepository.cs:2485-2499). Without a user (API key, no userId) and
      by ``ids=`` nothing restricts them.
    * 12.0: by-name kinds named in includeItemTypes are exempt from the library
      restriction ([v12.0-rc5] Jellyfin.Server.Implementations/Item/
      BaseItemRepository.QueryBuilding.cs:473-513, BaseItemRepository.cs:49-56).
    """
    raw = RawClient(session, server)
    guest = server.item_by_key("artist:g0001")
    folders = {i.id for i in _of(server, "MusicArtist") if not i.by_name}
    music = server.item_by_key("library:music")
    mine = set(
        await _ids(raw, "alice", recursive="true", includeItemTypes="MusicArtist")
    )
    in_lib = set(
        await _ids(
            raw,
            "alice",
            recursive="true",
            parentId=music.id,
            includeItemTypes="MusicArtist",
        )
    )
    anyone = set(
        await _ids(raw, None, recursive="true", includeItemTypes="MusicArtist")
    )
    by_id = set(await _ids(raw, "alice", ids=guest.id))
    expected = folders | ({guest.id} if _modern(server) else set())
    assert mine == expected
    assert in_lib == expected
    assert anyone == folders | {guest.id}
    assert by_id == {guest.id}
    reply = await raw.get(f"/Users/{server.users['alice']}/Items/{guest.id}")
    dto = reply.json()
    assert "IsFolder" not in dto  # not a folder, not IHasMediaSources
    assert "ParentId" not in dto
    track = server.item_by_key("track:a0001:1:1")
    reply = await raw.get(f"/Users/{server.users['alice']}/Items/{track.id}")
    artist_ids = [a["Id"] for a in reply.json()["ArtistItems"]]
    assert guest.id in artist_ids


async def test_music_dto_fields_without_fields_param(
    server: SimulatedServer, session
) -> None:
    """Album/artist fields come without ``fields=``; ProviderIds needs it.

    [v10.8.13] Emby.Server.Implementations/Dto/DtoService.cs:784-785, 900-1020;
    [v10.10.7] :790-791, 916-1033; [v10.11.11] :885-886, 1011-1110;
    [v12.0-rc5] :1069-1070, 1197-1305. MusicBrainz keys are the MetadataProvider
    names ([v10.10.7] MediaBrowser.Model/Entities/MetadataProvider.cs).
    """
    raw = RawClient(session, server)
    track = server.item_by_key("track:a0002:1:3")
    reply = await raw.items("alice", ids=track.id)
    dto = reply.json()["Items"][0]
    artist = server.item_by_key("artist:a0002")
    album = server.item_by_key("album:a0002:1")
    assert dto["Album"] == album.name
    assert dto["AlbumId"] == album.id
    assert dto["AlbumArtist"] == artist.name
    assert dto["AlbumArtists"] == [{"Name": artist.name, "Id": artist.id}]
    assert dto["Artists"] == [artist.name]
    assert dto["IndexNumber"] == 3
    assert dto["ParentIndexNumber"] == 1
    assert dto["MediaType"] == "Audio"
    assert dto["IsFolder"] is False
    assert "ProviderIds" not in dto
    reply = await raw.items("alice", ids=track.id, fields="ProviderIds")
    assert set(reply.json()["Items"][0]["ProviderIds"]) == {
        "MusicBrainzTrack",
        "MusicBrainzAlbum",
        "MusicBrainzAlbumArtist",
        "MusicBrainzArtist",
        "MusicBrainzReleaseGroup",
    }
    reply = await raw.items("alice", ids=server.item_by_key("book:k0001").id)
    book = reply.json()["Items"][0]
    assert book["MediaType"] == "Book"
    assert "IsFolder" not in book
    # A Book's constructor sets one second of runtime up to 10.11
    # ([v10.11.11] MediaBrowser.Controller/Entities/Book.cs:18); 12.0 has none.
    assert book.get("RunTimeTicks") == (None if _modern(server) else 10_000_000)


async def test_boxset_lists_and_parent(server: SimulatedServer, session) -> None:
    """BoxSets list under "Collections"; their children are the linked movies.

    ``includeItemTypes=BoxSet`` alone drops parentId on 10.x ([v10.10.7]
    Jellyfin.Api/Controllers/ItemsController.cs:272-276); 12.0 keeps only box
    sets with a member under a non-boxsets parent ([v12.0-rc5] Jellyfin.Api/
    Controllers/ItemsController.cs:289-308).
    """
    raw = RawClient(session, server)
    box = server.item_by_key("boxset:b0001")
    members = await _ids(raw, "alice", parentId=box.id)
    assert set(members) == set(box.member_ids)
    assert len(members) == 3
    movies = server.item_by_key("library:movies")
    shows = server.item_by_key("library:tv")
    under_movies = await _ids(
        raw, "alice", parentId=movies.id, recursive="true", includeItemTypes="BoxSet"
    )
    under_shows = await _ids(
        raw, "alice", parentId=shows.id, recursive="true", includeItemTypes="BoxSet"
    )
    assert len(under_movies) == 2
    assert len(under_shows) == (0 if _modern(server) else 2)


# ------------------------------------------------------------------ user data


async def test_folder_favourites_and_ratings_are_stored(
    server: SimulatedServer, session
) -> None:
    """Favourite and rating of a folder live on its own row; dump reports them.

    ``MarkFavorite``/``UpdateUserItemRating`` write any item ([v10.8.13]
    Jellyfin.Api/Controllers/UserLibraryController.cs:346-383; [v10.10.7]
    :660-684; [v12.0-rc5] :676-711); ``FillUserDataDtoValues`` never touches
    them ([v10.10.7] MediaBrowser.Controller/Entities/Folder.cs:1733-1777).
    """
    raw = RawClient(session, server)
    keys = ["boxset:b0001", "album:a0001:1", "artist:a0001", "artist:g0001"]
    keys += ["series:s0000", "season:s0000:1"]
    for key in keys:
        item = server.item_by_key(key)
        assert (await raw.favorite("alice", item.id)).json()["IsFavorite"] is True
        reply = await raw.likes("alice", item.id, True)
        assert reply.json()["Likes"] is True
    dump = server.dump_user_data()["alice"]
    for key in keys:
        assert dump[key] == {"IsFavorite": True, "Rating": 10.0}
    favs = await _ids(raw, "alice", recursive="true", filters="IsFavorite")
    listed = {server.require_item(i).identity for i in favs}
    expected = set(keys) - (set() if _modern(server) else {"artist:g0001"})
    # 12.0 lists by-name artists only when includeItemTypes names MusicArtist.
    expected.discard("artist:g0001")
    assert listed == expected


async def test_folder_rollups(server: SimulatedServer, session) -> None:
    """Derived Played/UnplayedItemCount/PlayedPercentage, per kind and version.

    * Series, Season, BoxSet (``SupportsPlayedStatus``): ``UnplayedItemCount``;
      10.8-10.11 ``PlayedPercentage`` only with ``RecursiveItemCount``
      ([v10.8.13] MediaBrowser.Controller/Entities/Folder.cs:1727-1771,
      [v10.11.11] :1798-1839); 12.0 always ([v12.0-rc5] :1938-1997).
    * MusicAlbum/MusicArtist: ``SupportsPlayedStatus`` false, so no roll-up and
      the row's own Played ([v10.10.7] MediaBrowser.Controller/Entities/Audio/
      MusicAlbum.cs:48, MusicArtist.cs:45).
    * MarkPlayed on any folder marks its leaves, not the folder ([v10.10.7]
      MediaBrowser.Controller/Entities/Folder.cs:1656-1712); a box set's leaves
      are its linked movies ([v10.10.7] Movies/BoxSet.cs:130-145, [v12.0-rc5]
      :197-223); a by-name artist has none.
    """
    raw = RawClient(session, server)
    alice = server.users["alice"]
    box = server.item_by_key("boxset:b0001")
    server.act("alice").mark_played(box.member_ids[0])
    listed = (await raw.items("alice", ids=box.id)).json()["Items"][0]["UserData"]
    assert listed["UnplayedItemCount"] == 2
    assert listed["Played"] is False
    if _modern(server):
        assert listed["PlayedPercentage"] == pytest.approx(100 / 3)
    else:
        assert "PlayedPercentage" not in listed
    with_count = (
        await raw.items("alice", ids=box.id, fields="RecursiveItemCount")
    ).json()["Items"][0]
    assert with_count["RecursiveItemCount"] == 3
    assert with_count["UserData"]["PlayedPercentage"] == pytest.approx(100 / 3)

    album = server.item_by_key("album:a0001:1")
    data = (await raw.played("alice", album.id)).json()
    assert data["Played"] is False  # the album's own row, untouched
    assert "UnplayedItemCount" not in data
    tracks = [i for i in server.items if i.album_id == album.id]
    assert all(server.user_data("alice", t.id)["Played"] for t in tracks)
    artist = server.item_by_key("artist:a0002")
    await raw.played("alice", artist.id)
    under = [
        i for i in server.items if i.type == "Audio" and i.path.startswith(artist.path)
    ]
    assert len(under) == 8
    assert all(server.user_data("alice", t.id)["Played"] for t in under)
    guest = server.item_by_key("artist:g0001")
    before = server.dump_user_data()["alice"]
    await raw.played("alice", guest.id)
    assert server.dump_user_data()["alice"] == before
    reply = await raw.get(f"/Users/{alice}/Items/{album.id}")
    assert reply.json()["RecursiveItemCount"] == 4


async def test_is_played_on_music_folders(server: SimulatedServer, session) -> None:
    """``isPlayed=true`` on albums: own row on 10.x, no unplayed track on 12.0.

    [v10.10.7] Emby.Server.Implementations/Data/SqliteItemRepository.cs:
    3518-3548 (only includeItemTypes=Series alone looks at children);
    [v10.11.11] Jellyfin.Server.Implementations/Item/BaseItemRepository.cs:
    2072-2093; [v12.0-rc5] .../BaseItemRepository.TranslateQuery.cs:473-493
    (every folder by its descendants).
    """
    raw = RawClient(session, server)
    album = server.item_by_key("album:a0001:2")
    await raw.played("alice", album.id)
    played = await _ids(
        raw, "alice", recursive="true", includeItemTypes="MusicAlbum", isPlayed="true"
    )
    assert played == ([album.id] if _modern(server) else [])


async def test_user_data_keys_and_sharing(server: SimulatedServer) -> None:
    """Keys per kind; 10.8-10.10 share a row between items with the same keys[0].

    Audio/AudioBook: ``<album artist>-<album>-<disc>-<track><name>``
    ([v10.10.7] MediaBrowser.Controller/Entities/Audio/Audio.cs:100-127);
    MusicAlbum: release group first ([v10.10.7] Audio/MusicAlbum.cs:96-121);
    MusicArtist: ``Artist-Musicbrainz-<id>`` ([v10.10.7] Audio/MusicArtist.cs:
    124-149); BoxSet and Book: the id ([v10.10.7] BaseItem.cs:1404-1418). Rows
    are read by keys[0] on 10.8-10.10 ([v10.10.7] Emby.Server.Implementations/
    Data/SqliteUserDataRepository.cs:287-297) and by item from 10.11
    ([v10.11.11] Emby.Server.Implementations/Library/UserDataManager.cs:239-249).
    """
    track = server.item_by_key("track:a0001:1:3")
    artist = server.item_by_key("artist:a0001")
    album = server.item_by_key("album:a0001:1")
    assert track.user_data_keys()[0] == (
        f"{artist.name}-{album.name}-0001-0003{track.name}"
    )
    assert album.user_data_keys()[0] == (
        "MusicAlbum-MusicBrainzReleaseGroup-"
        + album.provider_ids["MusicBrainzReleaseGroup"]
    )
    assert artist.user_data_keys()[0] == (
        "Artist-Musicbrainz-" + artist.provider_ids["MusicBrainzArtist"]
    )
    first, second = _of(server, "AudioBook")
    # An untagged audiobook's key is its name: two with one title share a row.
    second.name = first.name
    assert first.user_data_keys()[0] == first.name
    server.act("alice").favorite(first.id, True)
    shared = server.user_data("alice", second.id)["IsFavorite"]
    assert shared is (server.version_tuple[:2] < (10, 11))


async def test_resume_thresholds_per_kind(server: SimulatedServer) -> None:
    """Resume and played thresholds of ``UpdatePlayState`` per kind.

    [v10.10.7] Emby.Server.Implementations/Library/UserDataManager.cs:212-286;
    [v10.8.13] :216-290; [v10.11.11] :296-370; [v12.0-rc5] :439-513.
    AudioBook: minutes (MinAudiobookResume = MaxAudiobookResume = 5,
    [v10.10.7] MediaBrowser.Model/Configuration/ServerConfiguration.cs:151-157);
    Audio: no resume position (``SupportsPositionTicksResume`` false); Book: no
    percentage rule; Video/MusicVideo: 5 %/90 %.
    """
    alice = server.act("alice")
    book = server.item_by_key("audiobook:k0001")
    runtime = book.runtime_ticks or 0
    assert alice.progress(book.id, 4 * MINUTE)["PlaybackPositionTicks"] == 0
    data = alice.progress(book.id, 6 * MINUTE)
    assert data["PlaybackPositionTicks"] == 6 * MINUTE  # < 5 % of hours, kept
    data = alice.progress(book.id, runtime - 6 * MINUTE)
    assert data["PlaybackPositionTicks"] == runtime - 6 * MINUTE  # > 90 %, kept
    data = alice.progress(book.id, runtime - 4 * MINUTE)
    assert data["Played"] is True
    assert data["PlaybackPositionTicks"] == 0
    for track in _of(server, "Audio")[:6]:
        data = alice.progress(track.id, (track.runtime_ticks or 0) // 2)
        assert data["PlaybackPositionTicks"] == 0
        # Half-way is played only for tracks under MinResumeDurationSeconds.
        short = (track.runtime_ticks or 0) < 300 * 10_000_000
        assert data["Played"] is short
    ebook = server.item_by_key("book:k0001")
    data = alice.progress(ebook.id, 123)
    if _modern(server):
        assert data["Played"] is True  # no runtime: counted as played
        assert data["PlaybackPositionTicks"] == 0
    else:
        assert data["Played"] is False  # one-second runtime, no rule applies
        assert data["PlaybackPositionTicks"] == 123
    video = server.item_by_key("musicvideo:v0001")
    data = alice.progress(video.id, (video.runtime_ticks or 0) // 2)
    assert data["PlaybackPositionTicks"] == 0  # under 300 s: played
    assert data["Played"] is True


# ------------------------------------------------------------------ libraries


async def test_views_and_virtual_folders(server: SimulatedServer, session) -> None:
    """Views list each library with its CollectionType; VirtualFolders is admin-only.

    A library's view is the CollectionFolder itself, so its id equals
    ``VirtualFolderInfo.ItemId`` ([v10.10.7] Emby.Server.Implementations/Library/
    UserViewManager.cs:43-94, LibraryManager.cs:1162-1200). ``CollectionType``
    of VirtualFolderInfo is ``CollectionTypeOptions``: PascalCase on 10.8
    ([v10.8.13] MediaBrowser.Model/Entities/CollectionTypeOptions.cs:7-14),
    lower-case from 10.9. ``FirstTimeSetupOrElevated`` ([v10.8.13] Jellyfin.Api/
    Controllers/LibraryStructureController.cs:28-29).
    """
    raw = RawClient(session, server)
    alice = server.users["alice"]
    if raw.modern:
        views = await raw.get("/UserViews", params={"userId": alice})
    else:
        views = await raw.get(f"/Users/{alice}/Views")
    by_name = {v["Name"]: (v["Id"], v["CollectionType"]) for v in views.json()["Items"]}
    assert {name: kind for name, (_, kind) in by_name.items()} == {
        "Movies": "movies",
        "Shows": "tvshows",
        "Collections": "boxsets",
        "Music": "music",
        "Books": "books",
        "Home videos": "homevideos",
        "Music videos": "musicvideos",
    }
    folders = (await raw.get("/Library/VirtualFolders")).json()
    assert [f["Name"] for f in folders] == sorted(by_name)
    for folder in folders:
        assert folder["ItemId"] == by_name[folder["Name"]][0]
    kinds = {f["Name"]: f["CollectionType"] for f in folders}
    assert kinds["Music"] == ("Music" if not raw.modern else "music")
    assert kinds["Collections"] == ("BoxSets" if not raw.modern else "boxsets")
    collections = next(f for f in folders if f["Name"] == "Collections")
    assert collections["Locations"] == ["/config/data/collections"]
    user_raw = RawClient(session, server, token=server.user_token("bob"))
    assert (await user_raw.get("/Library/VirtualFolders")).status == 403


async def test_restrict_music_library(server: SimulatedServer, session) -> None:
    """A hidden library hides its items, by-name artists included.

    10.x never lists them to users; 12.0 drops those no visible item names
    ([v12.0-rc5] Jellyfin.Server.Implementations/Item/
    BaseItemRepository.QueryBuilding.cs:524-559).
    """
    raw = RawClient(session, server)
    server.restrict_library("alice", "Music")
    ids = await _ids(
        raw, "alice", recursive="true", includeItemTypes="Audio,MusicArtist"
    )
    assert ids == []
    server.restrict_library("alice", "Music", blocked=False)
    assert await _ids(raw, "alice", recursive="true", includeItemTypes="Audio")
