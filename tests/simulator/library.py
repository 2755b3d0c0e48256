"""Deterministic media libraries for simulated Jellyfin servers.

A :class:`LibrarySpec` plus a seed always yields the same media (titles, years, provider
ids, seasons, episodes). Each server places that media under its own ``media_root``;
item ids follow Jellyfin's rule (API-NOTES §5)::

    uuid.UUID(bytes_le=md5((full .NET type name + path).encode("utf-16-le")).digest())

written in the 32-hex "N" format. Two servers with different roots therefore have
different ids for the same media, and identical ids when the roots are identical.

Every item also carries an ``identity`` key that is the same on every server for the
same media, whatever its root or id (e.g. ``movie:m00042`` or ``episode:s0003:1:2``).
Tests use it to compare servers; it is never sent over the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
import hashlib
import random
import uuid

TYPE_MOVIE = "MediaBrowser.Controller.Entities.Movies.Movie"
TYPE_SERIES = "MediaBrowser.Controller.Entities.TV.Series"
TYPE_SEASON = "MediaBrowser.Controller.Entities.TV.Season"
TYPE_EPISODE = "MediaBrowser.Controller.Entities.TV.Episode"
TYPE_COLLECTION_FOLDER = "MediaBrowser.Controller.Entities.CollectionFolder"
TYPE_BOXSET = "MediaBrowser.Controller.Entities.Movies.BoxSet"
TYPE_MUSIC_ARTIST = "MediaBrowser.Controller.Entities.Audio.MusicArtist"
TYPE_MUSIC_ALBUM = "MediaBrowser.Controller.Entities.Audio.MusicAlbum"
TYPE_AUDIO = "MediaBrowser.Controller.Entities.Audio.Audio"
TYPE_AUDIOBOOK = "MediaBrowser.Controller.Entities.AudioBook"
TYPE_BOOK = "MediaBrowser.Controller.Entities.Book"
TYPE_VIDEO = "MediaBrowser.Controller.Entities.Video"
TYPE_MUSIC_VIDEO = "MediaBrowser.Controller.Entities.MusicVideo"

FULL_TYPE_NAMES = {
    "Movie": TYPE_MOVIE,
    "Series": TYPE_SERIES,
    "Season": TYPE_SEASON,
    "Episode": TYPE_EPISODE,
    "CollectionFolder": TYPE_COLLECTION_FOLDER,
    "BoxSet": TYPE_BOXSET,
    "MusicArtist": TYPE_MUSIC_ARTIST,
    "MusicAlbum": TYPE_MUSIC_ALBUM,
    "Audio": TYPE_AUDIO,
    "AudioBook": TYPE_AUDIOBOOK,
    "Book": TYPE_BOOK,
    "MusicVideo": TYPE_MUSIC_VIDEO,
    # "Video" is deliberately absent: the owned 2160p alternates of 10.8-10.11
    # (place_versions) have always been hashed with the short name, and their ids
    # must not change. Home videos pass TYPE_VIDEO explicitly.
}

#: Leaf (playable) item kinds; the others are folders (a by-name MusicArtist is
#: neither: see SimItem.by_name).
LEAF_TYPES = frozenset(
    {"Movie", "Episode", "Video", "Audio", "AudioBook", "Book", "MusicVideo"}
)

#: ``CollectionType`` of each library this simulator builds, by identity.
#: Values of the ``CollectionType`` enum ([v10.10.7] Jellyfin.Data/Enums/
#: CollectionType.cs; 10.8 sends the same lower-case strings,
#: [v10.8.13] MediaBrowser.Model/Entities/CollectionType.cs).
LIBRARIES = {
    "movies": ("Movies", "movies"),
    "tv": ("Shows", "tvshows"),
    "boxsets": ("Collections", "boxsets"),
    "music": ("Music", "music"),
    "books": ("Books", "books"),
    "homevideos": ("Home videos", "homevideos"),
    "musicvideos": ("Music videos", "musicvideos"),
}

#: Jellyfin's program-data folder in the official container (``/config``).
PROGRAM_DATA_PATH = "/config"

_WORDS = [
    "Silent",
    "Crimson",
    "Hidden",
    "Last",
    "Broken",
    "Golden",
    "Winter",
    "Distant",
    "Iron",
    "Lost",
    "Midnight",
    "Paper",
    "Quiet",
    "Electric",
    "Northern",
    "Hollow",
    "Burning",
    "Glass",
    "Velvet",
    "Savage",
    "River",
    "Empire",
    "Shadow",
    "Garden",
    "Harbor",
    "Signal",
    "Orchard",
    "Comet",
    "Lantern",
    "Voyage",
    "Machine",
    "Kingdom",
    "Echo",
    "Frontier",
    "Mirror",
    "Falcon",
    "Tide",
    "Ember",
    "Circuit",
    "Canyon",
    "Meadow",
    "Atlas",
    "Cipher",
    "Beacon",
    "Summit",
]

_BASE_DATE = datetime(2020, 1, 1, tzinfo=UTC)


def jellyfin_item_id(type_name: str, path: str) -> str:
    """Return Jellyfin's item id for a path, in 32-hex "N" format (API-NOTES §5).

    Args:
        type_name: the item's short kind (``Movie``) or full .NET type name.
        path: the item's path as the server sees it.
    """
    full = FULL_TYPE_NAMES.get(type_name, type_name)
    digest = hashlib.md5((full + path).encode("utf-16-le"), usedforsecurity=False)
    return uuid.UUID(bytes_le=digest.digest()).hex


def program_data_item_id(type_name: str, path: str, *, lower: bool = False) -> str:
    r"""Item id of an item stored under the program-data folder (``/config/...``).

    ``GetNewItemIdInternal`` makes such paths relative with ``\`` separators;
    items by name (a by-name ``MusicArtist``) are also lower-cased, because
    ``EnableNormalizedItemByNameIds`` defaults to true ([v10.10.7] Emby.Server.
    Implementations/Library/LibraryManager.cs:514-536, 983-988;
    MediaBrowser.Model/Configuration/ServerConfiguration.cs:72).
    """
    key = path
    if key.startswith(PROGRAM_DATA_PATH):
        key = key[len(PROGRAM_DATA_PATH) :].lstrip("/\\").replace("/", "\\")
    if lower:
        key = key.lower()
    return jellyfin_item_id(type_name, key)


@dataclass(slots=True, kw_only=True)
class LibrarySpec:
    """What media a simulated server holds; the same spec and seed give the same media.

    Fractions are probabilities per movie/episode (``multi_episode_files`` per episode
    slot; a multi-episode file covers that episode and the next one).
    """

    seed: int = 1
    movies: int = 200
    series: int = 10
    seasons_per_series: int = 2
    episodes_per_season: int = 8
    missing_provider_ids: float = 0.05
    duplicate_provider_ids: float = 0.01
    multi_episode_files: float = 0.02
    versions: float = 0.0
    """Share of movies and episodes with a second file, ``<name> - 2160p.mkv``: one
    title in two versions (API-NOTES §9.2)."""
    boxsets: int = 0
    """Collections (``BoxSet``), each linking 3 of the spec's movies."""
    music_artists: int = 0
    """Artist folders ``music/<Artist>/<Album>/<NN> - <Title>.flac``."""
    albums_per_artist: int = 2
    tracks_per_album: int = 10
    guest_artists: int = 0
    """Artists only named in track tags (``Artists``), with no folder: Jellyfin
    makes them by-name ``MusicArtist`` items outside every library."""
    audiobooks: int = 0
    """``audiobooks/<Author>/<Title>/<Title>.m4b`` in the Books library."""
    books: int = 0
    """``books/<Author>/<Title>.epub`` in the Books library."""
    home_videos: int = 0
    music_videos: int = 0

    @classmethod
    def for_total(cls, total: int, *, seed: int = 1) -> LibrarySpec:
        """Return a spec of roughly ``total`` items (40 % movies, the rest TV)."""
        movies = max(1, total * 2 // 5)
        rest = max(0, total - movies)
        per_series = 2 * (1 + 10)  # 2 seasons of 10 episodes + season folders + series
        series = max(1, rest // (per_series + 1))
        return cls(
            seed=seed,
            movies=movies,
            series=series,
            seasons_per_series=2,
            episodes_per_season=10,
        )


@dataclass(slots=True, kw_only=True, eq=False)
class SimItem:
    """One library item of one simulated server."""

    id: str
    type: str
    """Jellyfin ``BaseItemKind``: Movie, Series, Season, Episode or CollectionFolder."""
    name: str
    path: str
    identity: str
    """Cross-server identity key (same media -> same key on every server)."""
    provider_ids: dict[str, str] = field(default_factory=dict)
    year: int | None = None
    runtime_ticks: int | None = None
    date_created: datetime = _BASE_DATE
    series_id: str | None = None
    series_name: str | None = None
    season_id: str | None = None
    season_name: str | None = None
    parent_id: str | None = None
    library_id: str | None = None
    index_number: int | None = None
    index_number_end: int | None = None
    parent_index_number: int | None = None
    series_provider_ids: dict[str, str] = field(default_factory=dict)
    sort_name: str = ""
    primary_id: str | None = None
    """For another version of a title: the id of the title's primary item.

    12.0: ``PrimaryVersionId``/``OwnerId`` of an alternate of the primary's type;
    10.8-10.11: the owner of a movie's local alternate, a ``Video``. Never listed
    to users ([v12.0-rc5] Jellyfin.Server.Implementations/Item/
    BaseItemRepository.TranslateQuery.cs:739-748, [v10.11.11] Emby.Server.
    Implementations/Library/LibraryManager.cs:1701-1726)."""
    date_last_saved: datetime | None = _BASE_DATE
    """The item row's ``DateLastSaved``: set when its metadata is saved, e.g. by the
    refresh that follows a scan ([v10.10.7] Emby.Server.Implementations/Library/
    LibraryManager.cs:2006, [v10.11.11] LibraryManager.cs:2157-2161); ``None`` while a
    created item has not been saved yet (CreateItems sets nothing)."""
    generation: int = 0
    """How often this media was re-added after a delete (changes the path, hence id)."""
    collection_type: str | None = None
    """A library's ``CollectionType`` (CollectionFolder only)."""
    locations: list[str] = field(default_factory=list)
    """A library's folders (``/Library/VirtualFolders`` ``Locations``)."""
    member_ids: list[str] = field(default_factory=list)
    """A BoxSet's linked children (movie ids), in display order."""
    album: str | None = None
    album_id: str | None = None
    album_artists: list[tuple[str, str]] = field(default_factory=list)
    """``(name, MusicArtist id)`` of the album artists (Audio, MusicAlbum)."""
    artists: list[tuple[str, str]] = field(default_factory=list)
    """``(name, MusicArtist id)`` of the artists (Audio, MusicAlbum, MusicVideo)."""
    by_name: bool = False
    """A ``MusicArtist`` accessed by name: no parent, ``IsFolder`` false, in no
    library ([v10.10.7] MediaBrowser.Controller/Entities/Audio/MusicArtist.cs:26-30)."""

    @property
    def is_folder(self) -> bool:
        """Whether Jellyfin treats the item as a folder (Series, Season, library)."""
        return self.type not in LEAF_TYPES and not self.by_name

    @property
    def media_type(self) -> str:
        """``BaseItem.MediaType`` of the kind (folders: Unknown)."""
        if self.type in {"Audio", "AudioBook"}:
            return "Audio"  # [v10.10.7] MediaBrowser.Controller/Entities/Audio/Audio.cs
        if self.type == "Book":
            return "Book"  # [v10.10.7] MediaBrowser.Controller/Entities/Book.cs
        if self.is_folder or self.by_name:
            return "Unknown"
        return "Video"

    def user_data_keys(self) -> list[str]:
        """Return ``GetUserDataKeys()`` as Jellyfin computes it (API-NOTES §5)."""
        dashed = str(uuid.UUID(hex=self.id))
        if self.type == "Movie" or (self.type == "Video" and self.primary_id):
            # A local alternate copies its primary's provider ids, so it has the
            # same keys ([v10.11.11] MediaBrowser.Controller/Entities/Video.cs:479-500).
            keys = [
                self.provider_ids[k] for k in ("Tmdb", "Imdb") if k in self.provider_ids
            ]
            return [*keys, dashed]
        if self.type == "Series":
            keys = [
                self.provider_ids[k] for k in ("Tvdb", "Imdb") if k in self.provider_ids
            ]
            return [*keys, dashed]
        if self.type in {"Season", "Episode"}:
            series_keys = [
                self.series_provider_ids[k]
                for k in ("Tvdb", "Imdb")
                if k in self.series_provider_ids
            ]
            season = self.parent_index_number or 0
            if self.type == "Season":
                season = self.index_number or 0
                return [f"{k}{season:03d}" for k in series_keys] + [dashed]
            episode = self.index_number or 0
            keys = [f"{k}{season:03d}{episode:03d}" for k in series_keys]
            return [*keys, dashed]
        if self.type in {"Audio", "AudioBook"}:
            # AudioBook derives from Audio: "<album artist>-<album>-<disc 0000>-
            # <track 0000><name>", parts left out when empty; no provider id
            # ([v10.10.7] MediaBrowser.Controller/Entities/Audio/Audio.cs:100-127,
            # same in [v10.8.13] :88-115, [v10.11.11] :100-127, [v12.0-rc5] :100-127;
            # [v10.10.7] MediaBrowser.Controller/Entities/AudioBook.cs:12).
            song = f"{self.index_number:04d}" if self.index_number is not None else ""
            if self.parent_index_number is not None:
                song = f"{self.parent_index_number:04d}-{song}"
            song += self.name
            if self.album:
                song = f"{self.album}-{song}"
            if self.album_artists and self.album_artists[0][0]:
                song = f"{self.album_artists[0][0]}-{song}"
            return [song, dashed]
        if self.type == "MusicAlbum":
            # [v10.10.7] MediaBrowser.Controller/Entities/Audio/MusicAlbum.cs:96-121
            # ([v10.11.11] :99-124, [v12.0-rc5] :99-124).
            keys = [dashed]
            if self.album_artists and self.album_artists[0][0]:
                keys.insert(0, f"{self.album_artists[0][0]}-{self.name}")
            if "MusicBrainzAlbum" in self.provider_ids:
                keys.insert(
                    0, "MusicAlbum-Musicbrainz-" + self.provider_ids["MusicBrainzAlbum"]
                )
            if "MusicBrainzReleaseGroup" in self.provider_ids:
                keys.insert(
                    0,
                    "MusicAlbum-MusicBrainzReleaseGroup-"
                    + self.provider_ids["MusicBrainzReleaseGroup"],
                )
            return keys
        if self.type == "MusicArtist":
            # [v10.10.7] MediaBrowser.Controller/Entities/Audio/MusicArtist.cs:124-149
            # ([v10.11.11] :127-152, [v12.0-rc5] :127-152). RemoveDiacritics is a
            # no-op for the ASCII names generated here.
            keys = []
            if "MusicBrainzArtist" in self.provider_ids:
                keys.append(
                    "Artist-Musicbrainz-" + self.provider_ids["MusicBrainzArtist"]
                )
            keys.append(f"Artist-{self.name}")
            return [*keys, dashed]
        # BoxSet, Book, Video (no provider ids), MusicVideo (none generated):
        # BaseItem.GetUserDataKeys, the id only ([v10.10.7] MediaBrowser.Controller/
        # Entities/BaseItem.cs:1404-1418).
        return [dashed]


def sort_name_of(name: str) -> str:
    """Return Jellyfin's default sort name: lower-cased, leading article removed."""
    lowered = name.lower()
    for article in ("the ", "a ", "an "):
        if lowered.startswith(article):
            return lowered[len(article) :]
    return lowered


@dataclass(slots=True)
class _Media:
    """Server-independent description of one piece of media (before placement)."""

    kind: str
    identity: str
    name: str
    rel_path: str
    provider_ids: dict[str, str]
    year: int | None = None
    runtime_ticks: int | None = None
    created_offset: int = 0
    series_identity: str | None = None
    season_identity: str | None = None
    index_number: int | None = None
    index_number_end: int | None = None
    parent_index_number: int | None = None
    children: list[_Media] = field(default_factory=list)
    second_file: str | None = None
    """Relative path of a second version (``... - 2160p.mkv``), if any."""


def _title(rng: random.Random) -> str:
    count = rng.choice((1, 2, 2, 3))
    words = " ".join(rng.choice(_WORDS) for _ in range(count))
    return f"The {words}" if rng.random() < 0.15 else words


def _generate_media(spec: LibrarySpec, prefix: str, rng: random.Random) -> list[_Media]:
    """Generate the server-independent media list of a spec."""
    media: list[_Media] = []
    offset = 0
    movies: list[_Media] = []
    for index in range(spec.movies):
        title = f"{_title(rng)} {index}"
        year = 1950 + rng.randrange(75)
        ids: dict[str, str] = {}
        roll = rng.random()
        if roll >= spec.missing_provider_ids:
            ids = {"Tmdb": str(10_000 + index), "Imdb": f"tt{1_000_000 + index * 7}"}
            if (
                roll < spec.missing_provider_ids + spec.duplicate_provider_ids
                and movies
            ):
                donor = rng.choice(movies)
                if donor.provider_ids:
                    ids = dict(donor.provider_ids)
        folder = f"{title} ({year})"
        offset += 1
        movie = _Media(
            kind="Movie",
            identity=f"{prefix}movie:m{index:05d}",
            name=title,
            rel_path=f"movies/{folder}/{folder}.mkv",
            provider_ids=ids,
            year=year,
            runtime_ticks=(60 + rng.randrange(90)) * 60 * 10_000_000,
            created_offset=offset,
        )
        movies.append(movie)
    media.extend(movies)
    for s_index in range(spec.series):
        title = f"{_title(rng)} Show {s_index}"
        year = 1990 + rng.randrange(35)
        series_ids = {
            "Tvdb": str(70_000 + s_index),
            "Imdb": f"tt{5_000_000 + s_index * 11}",
            "Tmdb": str(200_000 + s_index),
        }
        if rng.random() < spec.missing_provider_ids:
            series_ids = {}
        folder = f"tv/{title} ({year})"
        s_identity = f"{prefix}series:s{s_index:04d}"
        offset += 1
        series = _Media(
            kind="Series",
            identity=s_identity,
            name=title,
            rel_path=folder,
            provider_ids=series_ids,
            year=year,
            created_offset=offset,
        )
        for season_no in range(1, spec.seasons_per_series + 1):
            season_identity = f"{prefix}season:s{s_index:04d}:{season_no}"
            offset += 1
            season = _Media(
                kind="Season",
                identity=season_identity,
                name=f"Season {season_no}",
                rel_path=f"{folder}/Season {season_no:02d}",
                provider_ids={},
                year=year,
                created_offset=offset,
                series_identity=s_identity,
                index_number=season_no,
            )
            episode_no = 1
            while episode_no <= spec.episodes_per_season:
                end = None
                if (
                    episode_no < spec.episodes_per_season
                    and rng.random() < spec.multi_episode_files
                ):
                    end = episode_no + 1
                ep_ids: dict[str, str] = {}
                if series_ids and rng.random() >= spec.missing_provider_ids:
                    ep_ids = {
                        "Tvdb": str(
                            9_000_000 + s_index * 10_000 + season_no * 100 + episode_no
                        )
                    }
                code = f"S{season_no:02d}E{episode_no:02d}"
                if end is not None:
                    code += f"-E{end:02d}"
                offset += 1
                season.children.append(
                    _Media(
                        kind="Episode",
                        identity=f"{prefix}episode:s{s_index:04d}:{season_no}:{episode_no}",
                        name=f"{title} {code}",
                        rel_path=f"{season.rel_path}/{title} {code}.mkv",
                        provider_ids=ep_ids,
                        year=year,
                        runtime_ticks=(20 + rng.randrange(40)) * 60 * 10_000_000,
                        created_offset=offset,
                        series_identity=s_identity,
                        season_identity=season_identity,
                        index_number=episode_no,
                        index_number_end=end,
                        parent_index_number=season_no,
                    )
                )
                episode_no = (end or episode_no) + 1
            series.children.append(season)
        media.append(series)
    return media


def _add_second_files(media: list[_Media], spec: LibrarySpec) -> None:
    """Give a share of movies and single episodes a 2160p second file.

    Drawn from its own generator, so a spec's other media stay the same.
    """
    rng = random.Random(f"{spec.seed}:versions")

    def second(entry: _Media) -> None:
        if rng.random() < spec.versions:
            stem = entry.rel_path.removesuffix(".mkv")
            entry.second_file = f"{stem} - 2160p.mkv"

    for entry in media:
        if entry.kind == "Movie":
            second(entry)
            continue
        for season in entry.children:
            for episode in season.children:
                if episode.index_number_end is None:
                    second(episode)


def build_items(
    spec: LibrarySpec,
    *,
    server_name: str,
    media_root: str,
    drop_items: float = 0.0,
    extra_items: int = 0,
    version: tuple[int, ...] = (10, 11, 11),
) -> list[SimItem]:
    """Place a spec's media under ``media_root`` and return the server's items.

    Args:
        spec: the shared library description.
        server_name: seeds which items are dropped and names the extra items.
        media_root: the server's media folder, part of every path (hence every id).
        drop_items: fraction of movies/episodes this server does not have.
        extra_items: number of extra movies only this server has.
        version: the server's version; it decides what a second file becomes
            (:func:`place_versions`).
    """
    rng = random.Random(spec.seed)
    media = _generate_media(spec, "", rng)
    if spec.versions:
        _add_second_files(media, spec)
    if extra_items:
        extra_spec = LibrarySpec(
            seed=spec.seed,
            movies=extra_items,
            series=0,
            missing_provider_ids=0.0,
            duplicate_provider_ids=0.0,
        )
        extra_rng = random.Random(f"{spec.seed}:{server_name}:extra")
        extra = _generate_media(extra_spec, f"extra:{server_name}:", extra_rng)
        for extra_movie in extra:
            extra_movie.name = f"{extra_movie.name} ({server_name} only)"
            extra_movie.rel_path = extra_movie.rel_path.replace(
                "movies/", f"movies/{server_name} only/", 1
            )
            salt = hashlib.sha256(server_name.encode()).hexdigest()[:6]
            extra_movie.provider_ids = {
                key: f"{value}{salt}" for key, value in extra_movie.provider_ids.items()
            }
        media.extend(extra)
    drop_rng = random.Random(f"{spec.seed}:{server_name}:drop")
    root = media_root.rstrip("/")
    items: list[SimItem] = []
    movies_lib = _library_of(root, "movies", [f"{root}/movies"])
    shows_lib = _library_of(root, "tv", [f"{root}/tv"])
    items.extend((movies_lib, shows_lib))
    for entry in media:
        if entry.kind == "Movie":
            if drop_items and drop_rng.random() < drop_items:
                continue
            movie = _place(entry, root, movies_lib)
            items.append(movie)
            items.extend(place_versions(entry, movie, root, movies_lib, version))
            continue
        series = _place(entry, root, shows_lib)
        series_items: list[SimItem] = []
        for season_media in entry.children:
            season = _place(season_media, root, shows_lib, series=series)
            episodes: list[SimItem] = []
            for ep in season_media.children:
                if drop_items and drop_rng.random() < drop_items:
                    continue
                placed = _place(ep, root, shows_lib, series=series, season=season)
                episodes.append(placed)
                episodes.extend(place_versions(ep, placed, root, shows_lib, version))
            if episodes:
                series_items.append(season)
                series_items.extend(episodes)
        if series_items:
            items.append(series)
            items.extend(series_items)
    items.extend(build_other_kinds(spec, root, items, version=version))
    return items


def _mbid(rng: random.Random) -> str:
    """A MusicBrainz id (a UUID in its dashed form, as tags carry it)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _name(rng: random.Random, index: int) -> str:
    return f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} {index}"


def build_other_kinds(
    spec: LibrarySpec,
    root: str,
    placed: list[SimItem],
    *,
    version: tuple[int, ...] = (10, 11, 11),
) -> list[SimItem]:
    """The BoxSet, music, book, home-video and music-video items of a spec.

    Each kind draws from its own generator (``"<seed>:music"`` ...), so specs
    without them give exactly the items they gave before. A library exists only
    when the spec has media of its kind. Identities count from 1
    (``artist:a0001`` is the first artist).
    """
    items: list[SimItem] = []
    items.extend(_boxsets(spec, placed))
    items.extend(_music(spec, root))
    items.extend(_books(spec, root, version))
    items.extend(_home_videos(spec, root))
    items.extend(_music_videos(spec, root))
    return items


def _library_of(root: str, key: str, locations: list[str]) -> SimItem:
    name, collection_type = LIBRARIES[key]
    library = _library(root, name, key)
    library.collection_type = collection_type
    library.locations = locations
    return library


def _boxsets(spec: LibrarySpec, placed: list[SimItem]) -> list[SimItem]:
    """Collections: ``/config/data/collections/<Name> [boxset]`` in "Collections".

    ``CollectionManager`` keeps every BoxSet in ``<DataPath>/collections``, the one
    location of a library named "Collections" of type ``boxsets`` that it creates
    on first use; the folder name gets a ``[boxset]`` suffix; the movies are linked
    children and stay in their own library ([v10.10.7] Emby.Server.Implementations/
    Collections/CollectionManager.cs:81-119, 131-164; Library/Resolvers/Movies/
    BoxSetResolver.cs:26-41). The path is under the program data, not the media
    root, so a collection has the same id on servers with different media roots.
    """
    if spec.boxsets <= 0:
        return []
    rng = random.Random(f"{spec.seed}:boxsets")
    movie_keys = [f"movie:m{i:05d}" for i in range(spec.movies)]
    by_identity = {i.identity: i for i in placed if i.type == "Movie"}
    location = f"{PROGRAM_DATA_PATH}/data/collections"
    library = _library_of("", "boxsets", [location])
    out = [library]
    for index in range(1, spec.boxsets + 1):
        name = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} Collection {index}"
        members = rng.sample(movie_keys, k=min(3, len(movie_keys)))
        path = f"{location}/{name} [boxset]"
        boxset = SimItem(
            id=program_data_item_id("BoxSet", path),
            type="BoxSet",
            name=name,
            path=path,
            identity=f"boxset:b{index:04d}",
            provider_ids={"Tmdb": str(500_000 + index)},
            date_created=_BASE_DATE + timedelta(days=400, minutes=index),
            library_id=library.id,
            parent_id=library.id,
            sort_name=sort_name_of(name),
            member_ids=[by_identity[m].id for m in members if m in by_identity],
        )
        out.append(boxset)
    return out


def _music(spec: LibrarySpec, root: str) -> list[SimItem]:
    """Artist folders with albums of tracks, as the music resolvers see them.

    ``music/<Artist>`` holding album folders resolves as a ``MusicArtist`` folder
    in the library, ``<Album>`` as a ``MusicAlbum``, each file as ``Audio``
    ([v10.10.7] Emby.Server.Implementations/Library/Resolvers/Audio/
    MusicArtistResolver.cs:54-106, AudioResolver.cs:113-123). A name that only a
    tag carries becomes a by-name artist at ``<metadata>/artists/<Name>``, in no
    library; a folder artist of that name is always preferred ([v10.10.7]
    Emby.Server.Implementations/Library/LibraryManager.cs:942-981). Tracks carry the
    MusicBrainz ids of their tags ([v10.8.13] MediaBrowser.Providers/MediaInfo/
    FFProbeAudioInfo.cs:165-169, [v10.11.11] AudioFileProber.cs:377-428).
    """
    if spec.music_artists <= 0:
        return []
    rng = random.Random(f"{spec.seed}:music")
    missing = random.Random(f"{spec.seed}:music:missing")
    base = f"{root}/music"
    library = _library_of(root, "music", [base])
    out: list[SimItem] = [library]
    guests: list[SimItem] = []
    guest_rng = random.Random(f"{spec.seed}:music:guests")
    for g_index in range(1, spec.guest_artists + 1):
        name = f"{guest_rng.choice(_WORDS)} Guest {g_index}"
        path = f"{PROGRAM_DATA_PATH}/metadata/artists/{name}"
        guests.append(
            SimItem(
                id=program_data_item_id("MusicArtist", path, lower=True),
                type="MusicArtist",
                name=name,
                path=path,
                identity=f"artist:g{g_index:04d}",
                provider_ids={"MusicBrainzArtist": _mbid(guest_rng)},
                date_created=_BASE_DATE + timedelta(days=300, minutes=g_index),
                sort_name=sort_name_of(name),
                by_name=True,
            )
        )
    offset = 0
    for a_index in range(1, spec.music_artists + 1):
        artist_name = _name(rng, a_index)
        artist_mbid = _mbid(rng)
        artist_path = f"{base}/{artist_name}"
        offset += 1
        artist = SimItem(
            id=jellyfin_item_id("MusicArtist", artist_path),
            type="MusicArtist",
            name=artist_name,
            path=artist_path,
            identity=f"artist:a{a_index:04d}",
            provider_ids={}
            if missing.random() < spec.missing_provider_ids
            else {"MusicBrainzArtist": artist_mbid},
            date_created=_BASE_DATE + timedelta(days=200, minutes=offset),
            library_id=library.id,
            parent_id=library.id,
            sort_name=sort_name_of(artist_name),
        )
        out.append(artist)
        for al_index in range(1, spec.albums_per_artist + 1):
            album_name = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} {al_index}"
            year = 1960 + rng.randrange(65)
            album_path = f"{artist_path}/{album_name}"
            tagged = missing.random() >= spec.missing_provider_ids
            album_ids: dict[str, str] = {}
            if tagged:
                album_ids = {
                    "MusicBrainzAlbum": _mbid(rng),
                    "MusicBrainzAlbumArtist": artist_mbid,
                    "MusicBrainzReleaseGroup": _mbid(rng),
                }
            offset += 1
            album = SimItem(
                id=jellyfin_item_id("MusicAlbum", album_path),
                type="MusicAlbum",
                name=album_name,
                path=album_path,
                identity=f"album:a{a_index:04d}:{al_index}",
                provider_ids=album_ids,
                year=year,
                date_created=_BASE_DATE + timedelta(days=200, minutes=offset),
                library_id=library.id,
                parent_id=artist.id,
                sort_name=sort_name_of(album_name),
                album_artists=[(artist_name, artist.id)],
                artists=[(artist_name, artist.id)],
            )
            out.append(album)
            discs = 2 if a_index % 3 == 0 and al_index == 2 else 1
            per_disc = max(1, spec.tracks_per_album // discs)
            for number in range(1, spec.tracks_per_album + 1):
                disc = min(discs, 1 + (number - 1) // per_disc)
                track_no = number - (disc - 1) * per_disc
                title = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}"
                prefix = f"{track_no:02d}" if disc == 1 else f"{disc}-{track_no:02d}"
                path = f"{album_path}/{prefix} - {title}.flac"
                ids: dict[str, str] = {}
                if tagged and missing.random() >= spec.missing_provider_ids:
                    ids = {
                        "MusicBrainzTrack": _mbid(rng),
                        **album_ids,
                    }
                    if "MusicBrainzArtist" in artist.provider_ids:
                        ids["MusicBrainzArtist"] = artist_mbid
                track_artists = [(artist_name, artist.id)]
                if number == 1 and al_index == 1:
                    # Guest g features on the first track of artist g's first album
                    # (guests beyond the artist count wrap around).
                    track_artists.extend(
                        (guest.name, guest.id)
                        for g, guest in enumerate(guests)
                        if g % spec.music_artists == a_index - 1
                    )
                offset += 1
                identity = f"track:a{a_index:04d}:{al_index}:{track_no}"
                if disc > 1:
                    identity = f"track:a{a_index:04d}:{al_index}:{disc}-{track_no}"
                out.append(
                    SimItem(
                        id=jellyfin_item_id("Audio", path),
                        type="Audio",
                        name=title,
                        path=path,
                        identity=identity,
                        provider_ids=ids,
                        year=year,
                        runtime_ticks=(120 + rng.randrange(240)) * 10_000_000,
                        date_created=_BASE_DATE + timedelta(days=200, minutes=offset),
                        library_id=library.id,
                        parent_id=album.id,
                        index_number=track_no,
                        parent_index_number=disc,
                        sort_name=sort_name_of(title),
                        album=album_name,
                        album_id=album.id,
                        album_artists=[(artist_name, artist.id)],
                        artists=track_artists,
                    )
                )
    out.extend(guests)
    return out


def _books(spec: LibrarySpec, root: str, version: tuple[int, ...]) -> list[SimItem]:
    """Audiobooks and books in one "Books" library (type ``books``).

    In a ``books`` library a folder holding one audio file is an ``AudioBook``
    named after the folder, whose path is the file's ([v10.10.7] Emby.Server.
    Implementations/Library/Resolvers/Audio/AudioResolver.cs:83-93, 142-215); a
    document file is a ``Book`` ([v10.10.7] .../Resolvers/Books/BookResolver.cs:
    21-49). Both types exist and are produced on every modelled version. No
    provider ids: the ``MetadataProvider`` enum has none for books (ISBN etc. are
    plugin keys) ([v10.11.11] MediaBrowser.Model/Entities/MetadataProvider.cs).
    Up to 10.11 a Book's constructor sets ``RunTimeTicks`` to one second
    ([v10.8.13] MediaBrowser.Controller/Entities/Book.cs:17, [v10.11.11] :18);
    12.0 dropped it, so a 12.0 Book has no runtime.
    """
    book_runtime = 10_000_000 if version[0] < 12 else None
    if spec.audiobooks <= 0 and spec.books <= 0:
        return []
    rng = random.Random(f"{spec.seed}:books")
    locations = []
    if spec.books > 0:
        locations.append(f"{root}/books")
    if spec.audiobooks > 0:
        locations.append(f"{root}/audiobooks")
    library = _library_of(root, "books", locations)
    out = [library]
    for index in range(1, spec.audiobooks + 1):
        author = f"{rng.choice(_WORDS)} Author {index % 7}"
        title = f"{_title(rng)} {index}"
        path = f"{root}/audiobooks/{author}/{title}/{title}.m4b"
        out.append(
            SimItem(
                id=jellyfin_item_id("AudioBook", path),
                type="AudioBook",
                name=title,
                path=path,
                identity=f"audiobook:k{index:04d}",
                year=1990 + rng.randrange(35),
                runtime_ticks=(5 * 60 + rng.randrange(600)) * 60 * 10_000_000,
                date_created=_BASE_DATE + timedelta(days=500, minutes=index),
                library_id=library.id,
                parent_id=library.id,
                sort_name=sort_name_of(title),
            )
        )
    for index in range(1, spec.books + 1):
        author = f"{rng.choice(_WORDS)} Writer {index}"
        title = f"{_title(rng)} {index}"
        path = f"{root}/books/{author}/{title}.epub"
        out.append(
            SimItem(
                id=jellyfin_item_id("Book", path),
                type="Book",
                name=title,
                path=path,
                identity=f"book:k{index:04d}",
                year=1900 + rng.randrange(125),
                runtime_ticks=book_runtime,
                date_created=_BASE_DATE + timedelta(days=600, minutes=index),
                library_id=library.id,
                parent_id=library.id,
                sort_name=sort_name_of(title),
            )
        )
    return out


def _home_videos(spec: LibrarySpec, root: str) -> list[SimItem]:
    """``homevideos/<year>/<name>.mp4``: plain ``Video`` items, no provider ids."""
    if spec.home_videos <= 0:
        return []
    rng = random.Random(f"{spec.seed}:homevideos")
    library = _library_of(root, "homevideos", [f"{root}/homevideos"])
    out = [library]
    for index in range(1, spec.home_videos + 1):
        year = 2005 + rng.randrange(20)
        name = f"{rng.choice(_WORDS)} day {index}"
        path = f"{root}/homevideos/{year}/{name}.mp4"
        out.append(
            SimItem(
                id=jellyfin_item_id(TYPE_VIDEO, path),
                type="Video",
                name=name,
                path=path,
                identity=f"homevideo:h{index:04d}",
                year=year,
                runtime_ticks=(1 + rng.randrange(20)) * 60 * 10_000_000,
                date_created=_BASE_DATE + timedelta(days=700, minutes=index),
                library_id=library.id,
                parent_id=library.id,
                sort_name=sort_name_of(name),
            )
        )
    return out


def _music_videos(spec: LibrarySpec, root: str) -> list[SimItem]:
    """``musicvideos/<Artist> - <Title>.mkv``: ``MusicVideo`` items (untagged)."""
    if spec.music_videos <= 0:
        return []
    rng = random.Random(f"{spec.seed}:musicvideos")
    library = _library_of(root, "musicvideos", [f"{root}/musicvideos"])
    out = [library]
    for index in range(1, spec.music_videos + 1):
        name = f"{rng.choice(_WORDS)} Singer - {rng.choice(_WORDS)} {index}"
        path = f"{root}/musicvideos/{name}.mkv"
        out.append(
            SimItem(
                id=jellyfin_item_id("MusicVideo", path),
                type="MusicVideo",
                name=name,
                path=path,
                identity=f"musicvideo:v{index:04d}",
                year=1980 + rng.randrange(45),
                runtime_ticks=(3 + rng.randrange(5)) * 60 * 10_000_000,
                date_created=_BASE_DATE + timedelta(days=800, minutes=index),
                library_id=library.id,
                parent_id=library.id,
                sort_name=sort_name_of(name),
            )
        )
    return out


def place_versions(
    entry: _Media,
    item: SimItem,
    root: str,
    library: SimItem,
    version: tuple[int, ...],
) -> list[SimItem]:
    """The items a title's second file becomes; ``item`` is the first file's item.

    * 12.0: one title, a primary and an alternate of the primary's type. For a movie
      the file named like its folder is the primary; for an episode the file with a
      resolution in its name sorts first and becomes the primary
      ([v12.0-rc5] Emby.Naming/Video/VideoListResolver.cs:136-156, 268-312), so
      ``item`` is turned into the episode's alternate here.
    * 10.8-10.11: a movie's second file is an owned ``Video``
      ([v10.11.11] Emby.Naming/Video/VideoListResolver.cs:102-210,
      MediaBrowser.Controller/Entities/BaseItem.cs:2513-2541); an episode's second
      file is a second ``Episode`` ([v10.11.11] Emby.Server.Implementations/Library/
      Resolvers/Movies/MovieResolver.cs:231).
    """
    if entry.second_file is None:
        return []
    path = f"{root}/{entry.second_file}"
    modern = version[0] >= 12
    kind = "Video" if entry.kind == "Movie" and not modern else entry.kind
    # The same media in another file: everything but the file, its id and kind.
    other = replace(
        item,
        id=jellyfin_item_id(kind, path),
        type=kind,
        path=path,
        identity=f"{entry.identity}#2160p",
        provider_ids=dict(item.provider_ids),
        series_provider_ids=dict(item.series_provider_ids),
        index_number_end=None,
    )
    if entry.kind == "Movie":
        other.primary_id = item.id
        return [other]
    if not modern:
        return [other]
    # 12.0 episode: the 2160p file is the title; the plain file its alternate.
    other.identity, item.identity = item.identity, f"{entry.identity}#plain"
    item.primary_id = other.id
    return [other]


def _library(root: str, name: str, folder: str) -> SimItem:
    path = f"/config/root/default/{name}"
    item = SimItem(
        id=jellyfin_item_id("CollectionFolder", path),
        type="CollectionFolder",
        name=name,
        path=path,
        identity=f"library:{folder}",
        sort_name=name.lower(),
    )
    item.library_id = item.id
    return item


def _place(
    entry: _Media,
    root: str,
    library: SimItem,
    *,
    series: SimItem | None = None,
    season: SimItem | None = None,
) -> SimItem:
    path = f"{root}/{entry.rel_path}"
    item = SimItem(
        id=jellyfin_item_id(entry.kind, path),
        type=entry.kind,
        name=entry.name,
        path=path,
        identity=entry.identity,
        provider_ids=dict(entry.provider_ids),
        year=entry.year,
        runtime_ticks=entry.runtime_ticks,
        date_created=_BASE_DATE + timedelta(minutes=entry.created_offset),
        index_number=entry.index_number,
        index_number_end=entry.index_number_end,
        parent_index_number=entry.parent_index_number,
        library_id=library.id,
        parent_id=library.id,
        sort_name=sort_name_of(entry.name),
    )
    if series is not None:
        item.series_id = series.id
        item.series_name = series.name
        item.series_provider_ids = dict(series.provider_ids)
        item.parent_id = series.id
    if season is not None:
        item.season_id = season.id
        item.season_name = season.name
        item.parent_id = season.id
    return item


def replaced_item(item: SimItem) -> SimItem:
    """Return ``item`` re-added under a new file name, hence with a new id.

    This models a file that was deleted and re-added (re-encoded, renamed): Jellyfin
    derives the id from the path, so the returning item has a different id.
    """
    generation = item.generation + 1
    path = item.path
    base = path
    if item.generation:
        stem, _, ext = path.rpartition(".")
        base = f"{stem.rsplit(' - v', 1)[0]}.{ext}"
    stem, dot, ext = base.rpartition(".")
    new_path = f"{stem} - v{generation + 1}.{ext}" if dot else f"{base} ({generation})"
    return SimItem(
        id=jellyfin_item_id(item.type, new_path),
        type=item.type,
        name=item.name,
        path=new_path,
        identity=item.identity,
        provider_ids=dict(item.provider_ids),
        year=item.year,
        runtime_ticks=item.runtime_ticks,
        date_created=datetime.now(UTC),
        series_id=item.series_id,
        series_name=item.series_name,
        season_id=item.season_id,
        season_name=item.season_name,
        parent_id=item.parent_id,
        library_id=item.library_id,
        index_number=item.index_number,
        index_number_end=item.index_number_end,
        parent_index_number=item.parent_index_number,
        series_provider_ids=dict(item.series_provider_ids),
        sort_name=item.sort_name,
        generation=generation,
    )
