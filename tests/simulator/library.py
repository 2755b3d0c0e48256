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

FULL_TYPE_NAMES = {
    "Movie": TYPE_MOVIE,
    "Series": TYPE_SERIES,
    "Season": TYPE_SEASON,
    "Episode": TYPE_EPISODE,
    "CollectionFolder": TYPE_COLLECTION_FOLDER,
}

#: Leaf (playable) item kinds; the others are folders.
LEAF_TYPES = frozenset({"Movie", "Episode"})

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

    @property
    def is_folder(self) -> bool:
        """Whether Jellyfin treats the item as a folder (Series, Season, library)."""
        return self.type not in LEAF_TYPES

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
        for movie in extra:
            movie.name = f"{movie.name} ({server_name} only)"
            movie.rel_path = movie.rel_path.replace(
                "movies/", f"movies/{server_name} only/", 1
            )
            salt = hashlib.sha256(server_name.encode()).hexdigest()[:6]
            movie.provider_ids = {
                key: f"{value}{salt}" for key, value in movie.provider_ids.items()
            }
        media.extend(extra)
    drop_rng = random.Random(f"{spec.seed}:{server_name}:drop")
    root = media_root.rstrip("/")
    items: list[SimItem] = []
    movies_lib = _library(root, "Movies", "movies")
    shows_lib = _library(root, "Shows", "tv")
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
    return items


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
