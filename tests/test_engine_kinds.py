"""Every item kind and the choice of libraries, on in-memory servers.

Folder rules follow the Jellyfin source (the simulator tests cite it per version):
a folder's played state is derived from its leaves when read
([v10.10.7] MediaBrowser.Controller/Entities/Folder.cs:1733-1774) and marking a
folder played marks every leaf below it (Folder.cs:1656-1712), while its favourite
and rating are its own rows ([v10.10.7] Jellyfin.Api/Controllers/
UserLibraryController.cs:660-684).
"""

from custom_components.jellyfin_sync.jellyfin.models import Item, Library, UserData
from custom_components.jellyfin_sync.sync import Baseline
from custom_components.jellyfin_sync.sync.kinds import (
    ALL_TYPES,
    Kind,
    LibraryChoice,
    LibraryMode,
    Scope,
    own_data,
    scopes,
    types_of,
)
from custom_components.jellyfin_sync.sync.options import ServerOptions

from .engine_fakes import Clock, FakeServer, jellyfin_id
from .test_engine_cycle import engine


def pair() -> tuple[FakeServer, FakeServer]:
    clock = Clock()
    a = FakeServer("a" * 32, clock=clock)
    b = FakeServer("b" * 32, clock=clock, version="10.11.11")
    for server in (a, b):
        server.add_user("Alice")
    return a, b


def add(server: FakeServer, library: Library | None = None, **fields: object) -> Item:
    kind = str(fields["type"])
    path = str(fields.pop("path"))
    fields.setdefault("name", path.rsplit("/", 1)[-1])
    item = Item(id=jellyfin_id(kind, path), path=path, **fields)  # type: ignore[arg-type]
    return server.add_item(item, library.id if library is not None else None)


# ------------------------------------------------------------------ pure rules


def test_folders_keep_only_favourite_and_rating() -> None:
    derived = UserData(played=True, play_count=4, is_favorite=True, rating=8.0)
    assert own_data("Series", derived) == UserData(is_favorite=True, rating=8.0)
    assert own_data("MusicAlbum", derived) == UserData(is_favorite=True, rating=8.0)
    assert own_data("Audio", derived) is derived


def test_kinds_name_their_types() -> None:
    assert types_of([Kind.MUSIC]) == (
        "MusicArtist",
        "MusicAlbum",
        "Audio",
        "MusicVideo",
    )
    assert set(types_of(list(Kind))) == set(ALL_TYPES)


def test_all_libraries_read_server_wide_and_home_videos_per_library() -> None:
    libs = [
        Library(id="m", name="Movies", collection_type="movies"),
        Library(id="h", name="Family", collection_type="homevideos"),
    ]
    found = scopes(libs, ("Movie", "Episode", "Video"), LibraryChoice())
    assert found == (Scope(None, ("Movie", "Episode")), Scope("h", ("Video",)))


def test_chosen_libraries_are_read_one_by_one_and_collections_server_wide() -> None:
    libs = [
        Library(id="m", name="Movies", collection_type="movies"),
        Library(id="k", name="Kids", collection_type="movies"),
        Library(id="t", name="Shows", collection_type="tvshows"),
        Library(id="x", name="Music", collection_type="music"),
    ]
    choice = LibraryChoice(mode=LibraryMode.EXCLUDE, names=frozenset({"kids"}))
    found = scopes(libs, ALL_TYPES, choice)
    assert found == (
        Scope(None, ("BoxSet",)),
        Scope("m", ("Movie",)),
        Scope("x", ("MusicArtist", "MusicAlbum", "Audio")),
        Scope("t", ("Series", "Season", "Episode")),
    )
    only = LibraryChoice(
        mode=LibraryMode.INCLUDE,
        names=frozenset({"films"}),
        same=(frozenset({"films", "movies"}),),
    )
    assert scopes(libs, ("Movie", "Episode"), only) == (Scope("m", ("Movie",)),)


# ---------------------------------------------------------------- folders


async def test_a_favourite_series_and_a_rated_season_reach_the_other_server() -> None:
    a, b = pair()
    shows: dict[str, tuple[Item, Item, Item]] = {}
    for server, root in ((a, "/a"), (b, "/b")):
        series = server.add_series(f"{root}/tv/Show", ids={"tvdb": "81189"})
        season = add(
            server,
            type="Season",
            path=f"{root}/tv/Show/Season 01",
            series_id=series.id,
            episode_number=1,
        )
        episode = server.add_episode(series, 1, 1)
        shows[server.server_id] = (series, season, episode)
    series_a, season_a, episode_a = shows[a.server_id]
    series_b, season_b, episode_b = shows[b.server_id]
    a.favorite("Alice", series_a.id)
    a.rate("Alice", season_a.id, 9.0)
    a.play("Alice", episode_a.id)
    sync = engine(a, b)

    report = await sync.run_cycle(now=a.clock.tick())

    assert report.ok, report.errors
    assert b.get("Alice", series_b.id).is_favorite
    assert b.get("Alice", season_b.id).rating == 9.0
    assert b.get("Alice", episode_b.id).played
    # The series and season read as played on A (derived from the episode);
    # nothing ever marks them played: that would mark every episode.
    assert b.folder_played_writes == a.folder_played_writes == []
    assert (await sync.run_cycle(now=a.clock.tick())).writes_planned == 0


async def test_a_series_watched_on_one_server_is_never_marked_played_on_another() -> (
    None
):
    a, b = pair()
    episodes: dict[str, list[Item]] = {}
    for server, root in ((a, "/a"), (b, "/b")):
        series = server.add_series(f"{root}/tv/Show", ids={"tvdb": "1"})
        episodes[server.server_id] = [server.add_episode(series, 1, n) for n in (1, 2)]
    # B has a third episode A lacks: marking B's series played would mark it.
    series_b = next(i for i in b.items.values() if i.type == "Series")
    extra = b.add_episode(series_b, 1, 3)
    for episode in episodes[a.server_id]:
        a.play("Alice", episode.id)
    sync = engine(a, b)

    report = await sync.run_cycle(now=a.clock.tick())

    assert report.ok
    assert all(b.get("Alice", e.id).played for e in episodes[b.server_id])
    assert not b.get("Alice", extra.id).played
    assert b.folder_played_writes == []


async def test_series_without_provider_ids_match_by_name_and_year() -> None:
    a, b = pair()
    found = []
    for server, root in ((a, "/a"), (b, "/b")):
        found.append(
            add(
                server,
                type="Series",
                path=f"{root}/Show",
                name="Show",
                production_year=2001,
            )
        )
        add(
            server,
            type="Series",
            path=f"{root}/Remake",
            name="Show",
            production_year=2020,
        )
    a.favorite("Alice", found[0].id)
    sync = engine(a, b)

    report = await sync.run_cycle(now=a.clock.tick())

    assert report.matches_by_method["name"] == 2
    assert b.get("Alice", found[1].id).is_favorite
    remake_b = next(i for i in b.items.values() if i.production_year == 2020)
    assert not b.get("Alice", remake_b.id).is_favorite


async def test_a_favourite_collection_reaches_the_other_server() -> None:
    a, b = pair()
    sets = [
        add(
            server,
            type="BoxSet",
            path=f"/{tag}/collections/Trilogy",
            provider_ids={"tmdb": "10"},
        )
        for server, tag in ((a, "a"), (b, "b"))
    ]
    a.favorite("Alice", sets[0].id)
    sync = engine(a, b)

    report = await sync.run_cycle(now=a.clock.tick())

    assert report.ok
    assert b.get("Alice", sets[1].id).is_favorite


# ------------------------------------------------------------------ music


def music(server: FakeServer, root: str, *, mbid: bool = True) -> dict[str, Item]:
    artist = add(
        server,
        type="MusicArtist",
        path=f"{root}/music/Band",
        name="Band",
        provider_ids={"musicbrainzartist": "art-1"} if mbid else {},
    )
    album = add(
        server,
        type="MusicAlbum",
        path=f"{root}/music/Band/Album",
        name="Album",
        album_artist="Band",
        provider_ids={"musicbrainzalbum": "alb-1"} if mbid else {},
    )
    tracks = {
        f"track{n}": add(
            server,
            type="Audio",
            path=f"{root}/music/Band/Album/0{n} Song {n}.flac",
            name=f"Song {n}",
            album="Album",
            album_artist="Band",
            season_number=1,
            episode_number=n,
            # A track carries its album's and artist's ids too: shared by every
            # track, so they never identify one.
            provider_ids=(
                {
                    "musicbrainztrack": f"trk-{n}",
                    "musicbrainzalbum": "alb-1",
                    "musicbrainzartist": "art-1",
                }
                if mbid
                else {}
            ),
        )
        for n in (1, 2)
    }
    server.parents.update({t.id: (album.id, artist.id) for t in tracks.values()})
    return {"artist": artist, "album": album, **tracks}


async def test_track_plays_add_up_and_favourite_albums_and_artists_sync() -> None:
    a, b = pair()
    ma, mb = music(a, "/a"), music(b, "/b", mbid=False)
    a.play("Alice", ma["track1"].id)
    a.play("Alice", ma["track1"].id)
    b.play("Alice", mb["track1"].id)
    a.favorite("Alice", ma["album"].id)
    b.favorite("Alice", mb["artist"].id)
    sync = engine(a, b)

    report = await sync.run_cycle(now=a.clock.tick())

    assert report.ok, report.errors
    assert report.ambiguous == 0
    # B's copies have no MusicBrainz ids: artist, album and tracks match by name.
    assert report.matches_by_method["name"] == 4
    # First sync merges: the highest count wins (no baseline to add against).
    assert b.get("Alice", mb["track1"].id).play_count == 2
    assert b.get("Alice", mb["album"].id).is_favorite
    assert a.get("Alice", ma["artist"].id).is_favorite
    assert a.folder_played_writes == b.folder_played_writes == []
    # Later plays on both sides add up.
    a.play("Alice", ma["track1"].id)
    b.play("Alice", mb["track1"].id)
    await sync.run_cycle(now=a.clock.tick())
    assert a.get("Alice", ma["track1"].id).play_count == 4
    assert b.get("Alice", mb["track1"].id).play_count == 4


async def test_two_artists_of_the_same_name_are_reported_not_guessed() -> None:
    a, b = pair()
    for server, tag in ((a, "a"), (b, "b")):
        add(server, type="MusicArtist", path=f"/{tag}/music/Nirvana", name="Nirvana")
    twin = add(a, type="MusicArtist", path="/a/music/Nirvana (UK)", name="Nirvana")
    a.favorite("Alice", twin.id)
    sync = engine(a, b)

    report = await sync.run_cycle(now=a.clock.tick())

    assert report.ambiguous == 1
    only_b = next(i for i in b.items.values() if i.type == "MusicArtist")
    assert not b.get("Alice", only_b.id).is_favorite


async def test_an_audiobook_position_syncs() -> None:
    a, b = pair()
    books = [
        add(
            server,
            type="AudioBook",
            path=f"{root}/books/Dune.m4b",
            provider_ids={"isbn": "9780441013593"},
        )
        for server, root in ((a, "/a"), (b, "/b"))
    ]
    a.partial("Alice", books[0].id, 36_000_000_000)
    sync = engine(a, b)

    await sync.run_cycle(now=a.clock.tick())

    assert b.get("Alice", books[1].id).playback_position_ticks == 36_000_000_000


# ---------------------------------------------------------------- libraries


def library_servers() -> tuple[FakeServer, FakeServer, dict[str, dict[str, Item]]]:
    a, b = pair()
    items: dict[str, dict[str, Item]] = {}
    for server, root in ((a, "/a"), (b, "/b")):
        movies = server.add_library("Movies", "movies")
        kids = server.add_library("Kids" if server is a else "Children", "movies")
        home = server.add_library("Home", "homevideos")
        items[server.server_id] = {
            "film": add(
                server,
                movies,
                type="Movie",
                path=f"{root}/m/F.mkv",
                provider_ids={"imdb": "tt1"},
            ),
            "kids": add(
                server,
                kids,
                type="Movie",
                path=f"{root}/k/K.mkv",
                provider_ids={"imdb": "tt2"},
            ),
            "home": add(server, home, type="Video", path=f"{root}/h/2019/Wedding.mp4"),
        }
    return a, b, items


async def test_an_excluded_library_is_never_read_or_written() -> None:
    a, b, items = library_servers()
    ia, ib = items[a.server_id], items[b.server_id]
    for key in ("film", "kids"):
        a.play("Alice", ia[key].id)
    choice = LibraryChoice(
        mode=LibraryMode.EXCLUDE,
        names=frozenset({"kids"}),
        same=(frozenset({"kids", "children"}),),
    )
    sync = engine(a, b, libraries=choice)

    report = await sync.run_cycle(now=a.clock.tick(), full=True)

    assert report.ok, report.errors
    assert b.get("Alice", ib["film"].id).played
    assert not b.get("Alice", ib["kids"].id).played
    for server in (a, b):
        kids = next(
            lib.id for lib in server.libraries if lib.name in {"Kids", "Children"}
        )
        listings = [entry for entry in server.log if entry[0] == "items"]
        assert listings
        # Every listing names a library that takes part, or reads collections only.
        assert all(
            (parent is not None and parent != kids) or types == ("BoxSet",)
            for _, parent, types in listings
        )


async def test_home_videos_match_by_path_and_a_lone_one_is_left_alone() -> None:
    a, b, items = library_servers()
    lone = add(a, a.libraries[2], type="Video", path="/a/h/2020/Party.mp4")
    a.play("Alice", items[a.server_id]["home"].id)
    a.play("Alice", lone.id)
    sync = engine(
        a,
        b,
        servers={
            a.server_id: ServerOptions(media_roots=("/a/h",)),
            b.server_id: ServerOptions(media_roots=("/b/h",)),
        },
    )

    report = await sync.run_cycle(now=a.clock.tick())

    assert report.ok, report.errors
    assert b.get("Alice", items[b.server_id]["home"].id).played
    # One write: the wedding on B. The party exists on A only and is left alone.
    assert report.writes_done == 1
    assert report.unmatched[a.server_id] == 1


async def test_a_library_the_user_cannot_open_is_skipped_for_that_user() -> None:
    a, b, items = library_servers()
    kids_b = next(lib.id for lib in b.libraries if lib.name == "Children")
    b.hidden_libraries[b.user_id("Alice")] = {kids_b}
    a.play("Alice", items[a.server_id]["film"].id)
    sync = engine(
        a,
        b,
        libraries=LibraryChoice(mode=LibraryMode.EXCLUDE, names=frozenset({"home"})),
    )

    report = await sync.run_cycle(now=a.clock.tick())

    assert report.ok, report.errors
    assert b.get("Alice", items[b.server_id]["film"].id).played


async def test_kinds_left_out_are_not_listed() -> None:
    a, b, _ = library_servers()
    sync = engine(a, b, item_types=types_of([Kind.FILMS]))

    await sync.run_cycle(now=a.clock.tick())

    listed = {t for entry in a.log if entry[0] == "items" for t in entry[2]}
    assert listed == {"Movie"}


async def test_a_kind_that_comes_into_scope_is_combined_like_a_first_sync() -> None:
    """Plays made before a kind was synced do not add up: nothing agreed on them."""
    a, b = pair()
    tracks = [
        add(
            s,
            type="Audio",
            path=f"/{t}/music/Song.flac",
            name="Song",
            provider_ids={"musicbrainztrack": "trk-1"},
        )
        for s, t in ((a, "a"), (b, "b"))
    ]
    films = [
        s.add_movie(f"/{t}/m/F.mkv", ids={"imdb": "tt1"})
        for s, t in ((a, "a"), (b, "b"))
    ]
    sync = engine(a, b, item_types=types_of([Kind.FILMS]))
    await sync.run_cycle(now=a.clock.tick())
    a.play("Alice", films[0].id)
    for _ in range(3):
        a.play("Alice", tracks[0].id)
    for _ in range(5):
        b.play("Alice", tracks[1].id)
    await sync.run_cycle(now=a.clock.tick())
    assert b.get("Alice", films[1].id).played
    assert sync.baseline.users["alice"].scope == sync.options.scope_key

    music = engine(a, b, item_types=types_of([Kind.FILMS, Kind.MUSIC]))
    music.baseline = Baseline.from_dict(sync.baseline.to_dict())
    report = await music.run_cycle(now=a.clock.tick())

    assert report.ok, report.errors
    # The first-sync rule: the highest count, not 3 + 5.
    assert a.get("Alice", tracks[0].id).play_count == 5
    assert b.get("Alice", tracks[1].id).play_count == 5
    assert music.baseline.users["alice"].scope == music.options.scope_key
    # Later plays of a synced track add up as usual.
    a.play("Alice", tracks[0].id)
    b.play("Alice", tracks[1].id)
    await music.run_cycle(now=a.clock.tick())
    assert a.get("Alice", tracks[0].id).play_count == 7


async def test_a_webhook_for_a_kind_left_out_writes_nothing() -> None:
    """The Webhook plugin reports every item type; a kind left out stays out."""
    a, b = pair()
    films = [
        s.add_movie(f"/{t}/m/F.mkv", ids={"imdb": "tt1"})
        for s, t in ((a, "a"), (b, "b"))
    ]
    sync = engine(a, b, item_types=types_of([Kind.SHOWS]))
    await sync.run_cycle(now=a.clock.tick())
    b.favorite("Alice", films[1].id)
    targets = {b.server_id: [(b.user_id("Alice"), films[1].id)]}
    await sync.run_cycle(now=a.clock.tick(), targets=targets)
    a.play("Alice", films[0].id)
    targets = {a.server_id: [(a.user_id("Alice"), films[0].id)]}
    report = await sync.run_cycle(now=a.clock.tick(), targets=targets)

    assert report.writes_planned == 0
    assert not a.get("Alice", films[0].id).is_favorite
    assert not b.get("Alice", films[1].id).played
