"""What kinds of items are synced, which fields each keeps, and where they are read.

Jellyfin keeps per-user data on every item a user can open. Leaves (films, episodes,
tracks, books, videos) keep all six synced fields. Folders (series, seasons,
collections, albums, artists) keep a favourite and a rating of their own; their
played state, play count and position are derived from their children when read
(``Folder.FillUserDataDtoValues``), and marking a folder played marks every child. So
a folder's playback fields are never read as its own data and never written.

A listing reads one scope: a library (``parentId``) or the whole server, and a set
of item types. Choosing libraries or kinds only changes the scopes, so an item of a
library or kind left out is never listed, hence never matched, read or written.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from custom_components.jellyfin_sync.jellyfin.models import (
    Library,
    SyncField,
    UserData,
)


class Kind(StrEnum):
    """The kinds of items a user can choose to sync."""

    FILMS = "films"
    SHOWS = "shows"
    COLLECTIONS = "collections"
    MUSIC = "music"
    BOOKS = "books"
    HOME_VIDEOS = "home_videos"


#: Jellyfin item types (``BaseItemKind``) of each kind.
KIND_TYPES: Mapping[Kind, tuple[str, ...]] = {
    Kind.FILMS: ("Movie",),
    Kind.SHOWS: ("Series", "Season", "Episode"),
    Kind.COLLECTIONS: ("BoxSet",),
    Kind.MUSIC: ("MusicArtist", "MusicAlbum", "Audio", "MusicVideo"),
    Kind.BOOKS: ("AudioBook", "Book"),
    Kind.HOME_VIDEOS: ("Video",),
}
ALL_KINDS: frozenset[Kind] = frozenset(Kind)
#: Every synced item type, in a fixed order.
ALL_TYPES: tuple[str, ...] = tuple(t for kind in Kind for t in KIND_TYPES[kind])

#: Folders: their played state is derived from their children, never their own.
FOLDER_TYPES: frozenset[str] = frozenset(
    {"Series", "Season", "BoxSet", "MusicAlbum", "MusicArtist"}
)
#: The fields a folder keeps as its own.
FOLDER_FIELDS: frozenset[SyncField] = frozenset({SyncField.FAVORITE, SyncField.RATING})

#: Types listed only below a library that holds them. ``Video`` is also the type
#: of other things (a film's extra or second file on 10.x), so it is read only from
#: home-video and mixed libraries.
LIBRARY_ONLY_TYPES: frozenset[str] = frozenset({"Video"})
#: Types that are not below any library: a collection spans libraries, and the
#: server keeps it in its own folder. They are read server-wide, by kind only.
OUTSIDE_LIBRARY_TYPES: frozenset[str] = frozenset({"BoxSet"})

#: Item types a library of each collection type holds (``None``: mixed content).
LIBRARY_TYPES: Mapping[str | None, frozenset[str]] = {
    "movies": frozenset({"Movie"}),
    "tvshows": frozenset({"Series", "Season", "Episode"}),
    "music": frozenset({"MusicArtist", "MusicAlbum", "Audio"}),
    "musicvideos": frozenset({"MusicVideo"}),
    "books": frozenset({"AudioBook", "Book"}),
    "homevideos": frozenset({"Video"}),
    "boxsets": frozenset({"BoxSet"}),
    None: frozenset(ALL_TYPES) - OUTSIDE_LIBRARY_TYPES,
    "mixed": frozenset(ALL_TYPES) - OUTSIDE_LIBRARY_TYPES,
    "folders": frozenset(ALL_TYPES) - OUTSIDE_LIBRARY_TYPES,
    "unknown": frozenset(ALL_TYPES) - OUTSIDE_LIBRARY_TYPES,
}


def types_of(kinds: Iterable[Kind]) -> tuple[str, ...]:
    """The item types of some kinds, in :data:`ALL_TYPES` order.

    >>> types_of([Kind.SHOWS, Kind.FILMS])
    ('Movie', 'Series', 'Season', 'Episode')
    """
    wanted = {t for kind in kinds for t in KIND_TYPES[kind]}
    return tuple(t for t in ALL_TYPES if t in wanted)


def own_fields(item_type: str) -> frozenset[SyncField]:
    """The fields an item of this type keeps as its own (all, or a folder's).

    >>> sorted(own_fields("Series"))
    [<SyncField.FAVORITE: 'favorite'>, <SyncField.RATING: 'rating'>]
    """
    return FOLDER_FIELDS if item_type in FOLDER_TYPES else frozenset(SyncField)


def own_data(item_type: str, data: UserData) -> UserData:
    """``data`` without what the server derives for a folder (played, counts, position).

    >>> own_data("Season", UserData(played=True, play_count=3, is_favorite=True))
    UserData(played=False, play_count=0, playback_position_ticks=0, \
last_played_date=None, is_favorite=True, rating=None)
    """
    if item_type not in FOLDER_TYPES:
        return data
    if not (
        data.played
        or data.play_count
        or data.playback_position_ticks
        or data.last_played_date is not None
    ):
        return data
    return UserData(is_favorite=data.is_favorite, rating=data.rating)


class LibraryMode(StrEnum):
    """Which libraries take part."""

    ALL = "all"
    INCLUDE = "include"
    """Only the chosen libraries."""
    EXCLUDE = "exclude"
    """Every library but the chosen ones."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LibraryChoice:
    """The libraries that take part, by name, matched across servers.

    Names compare without case. ``same`` lists names that are one library on
    different servers (``Films = Movies``), like the user mapping.
    """

    mode: LibraryMode = LibraryMode.ALL
    names: frozenset[str] = frozenset()
    """Names (case-folded) chosen for :attr:`mode`."""
    same: tuple[frozenset[str], ...] = ()
    """Sets of case-folded names that are the same library."""

    def takes_part(self, library_name: str) -> bool:
        """Whether a library of this name takes part.

        >>> choice = LibraryChoice(mode=LibraryMode.INCLUDE, names=frozenset({"films"}),
        ...     same=(frozenset({"films", "movies"}),))
        >>> choice.takes_part("Movies"), choice.takes_part("Kids")
        (True, False)
        """
        if self.mode is LibraryMode.ALL:
            return True
        own = library_name.casefold()
        names = {own}.union(*(group for group in self.same if own in group))
        chosen = bool(names & self.names)
        return chosen if self.mode is LibraryMode.INCLUDE else not chosen


@dataclass(frozen=True, slots=True)
class Scope:
    """One listing's reach: a library (or the whole server) and item types."""

    parent_id: str | None
    types: tuple[str, ...]


def scopes(
    libraries: Sequence[Library] | None,
    types: Sequence[str],
    choice: LibraryChoice,
) -> tuple[Scope, ...]:
    """The listings that read a server's items of ``types`` in the chosen libraries.

    With every library and no type that is read only per library, one server-wide
    listing does (the cheapest). Otherwise each library that takes part is read
    alone, with the types its collection type holds, and collections server-wide.
    ``libraries`` ``None`` (not known yet) reads server-wide types only.

    >>> scopes([Library(id="l1", name="Home", collection_type="homevideos")],
    ...        ("Movie", "Video"), LibraryChoice())
    (Scope(parent_id=None, types=('Movie',)), Scope(parent_id='l1', types=('Video',)))
    """
    wanted = tuple(types)
    found: list[Scope] = []
    if choice.mode is LibraryMode.ALL:
        everywhere = tuple(t for t in wanted if t not in LIBRARY_ONLY_TYPES)
        if everywhere:
            found.append(Scope(None, everywhere))
        per_library = [t for t in wanted if t in LIBRARY_ONLY_TYPES]
    else:
        outside = tuple(t for t in wanted if t in OUTSIDE_LIBRARY_TYPES)
        if outside:
            found.append(Scope(None, outside))
        per_library = [t for t in wanted if t not in OUTSIDE_LIBRARY_TYPES]
    if not per_library or libraries is None:
        return tuple(found)
    for library in sorted(libraries, key=lambda lib: (lib.name.casefold(), lib.id)):
        if not choice.takes_part(library.name):
            continue
        held = LIBRARY_TYPES.get(library.collection_type, frozenset())
        kept = tuple(t for t in per_library if t in held)
        if kept:
            found.append(Scope(library.id, kept))
    return tuple(found)


def needs_libraries(types: Collection[str], choice: LibraryChoice) -> bool:
    """Whether the scopes depend on the server's library list."""
    return choice.mode is not LibraryMode.ALL or bool(
        LIBRARY_ONLY_TYPES.intersection(types)
    )
