"""Index entries: the identity fields of an item that matching reads, as a tuple.

The engine keeps one :data:`IndexEntry` per item of every server (100k of them in a
big library) instead of the model item; this module makes them and reads them.
"""

from collections.abc import Collection, Mapping, Sequence
import posixpath
import sys
from typing import Final

from custom_components.jellyfin_sync.jellyfin.models import Item
from custom_components.jellyfin_sync.sync.options import SyncOptions

type Node = tuple[str, str]
"""``(server id, item id)``."""
type IndexEntry = tuple[
    str,
    str,
    str | None,
    str | None,
    int | None,
    int | None,
    int | None,
    str,
    str | None,
]
"""An item's identity fields as a plain tuple: ``(id, type, path, series id, season,
episode, last episode, providers, title)``, ``providers`` one string of lower-case
names and values separated by :data:`PROVIDER_SEPARATOR` (``"imdb\x1ftt1\x1ftmdb\x1f7"``;
one string takes a third of the memory of a tuple of strings). ``season`` is a
season's own number and a track's disc; ``episode`` a track's number. ``title`` is
the case-folded name key of the kinds matched by name (:func:`title_key`).

A tuple of strings, numbers and ``None`` is untracked by Python's cyclic garbage
collector after its first pass, so an index of 100k such entries does not lengthen
every later collection the way 100k dataclass instances do."""
type Indexed = Item | IndexEntry
"""An index value: a model item or its :func:`index_entry`."""


class Slot:
    """The named slots of an :data:`IndexEntry` (the only place that numbers them).

    Read an entry as ``entry[Slot.TYPE]``; :func:`index_entry` fills them.
    """

    ID: Final = 0
    TYPE: Final = 1
    PATH: Final = 2
    """Absolute, or relative to a media root after :data:`RELATIVE_MARK`."""
    SERIES: Final = 3
    """The series id (episodes and seasons)."""
    SEASON: Final = 4
    """A season's own number, an episode's season, a track's disc."""
    EPISODE: Final = 5
    """An episode's (or a track's) number."""
    EPISODE_END: Final = 6
    """The last episode of a multi-episode file."""
    PROVIDERS: Final = 7
    TITLE: Final = 8
    SIZE: Final = 9


#: Separates names and values in an :data:`IndexEntry`'s providers (ASCII "unit
#: separator"; removed from the values, which never contain it in practice).
PROVIDER_SEPARATOR = "\x1f"
#: Starts the path of an :data:`IndexEntry` that holds it relative to a media
#: root already (case-folded, normalised).
RELATIVE_MARK = PROVIDER_SEPARATOR

#: Provider ids that identify music (``MetadataProvider`` names, lower-case), per
#: type; films, shows, collections and books use ``SyncOptions.provider_keys``.
#: A track also carries its album's and artists' ids, which many tracks share, so
#: each type is keyed by its own ids only.
MUSIC_PROVIDERS: Mapping[str, tuple[str, ...]] = {
    "Audio": ("musicbrainztrack", "musicbrainzrecording"),
    "MusicAlbum": ("musicbrainzalbum", "musicbrainzreleasegroup"),
    "MusicArtist": ("musicbrainzartist",),
}
#: Provider ids of books beyond ``SyncOptions.provider_keys``.
BOOK_PROVIDERS: tuple[str, ...] = ("isbn",)
BOOK_TYPES = frozenset({"AudioBook", "Book"})
#: Types with a name key (:func:`title_key`); seasons use their series' one.
NAMED_TYPES = frozenset({"Series", "BoxSet", "MusicArtist", "MusicAlbum", "Audio"})


def trusted_providers(kind: str, options: SyncOptions) -> tuple[str, ...]:
    """The provider names that identify an item of this type, most trusted first.

    The index keeps only these: a track's album and artist ids would take about
    150 bytes each.

    >>> trusted_providers("Audio", SyncOptions())
    ('musicbrainztrack', 'musicbrainzrecording')
    """
    music = MUSIC_PROVIDERS.get(kind)
    if music is not None:
        return music
    if kind in BOOK_TYPES:
        return (*options.provider_keys, *BOOK_PROVIDERS)
    return options.provider_keys


def _fold(text: str | None) -> str:
    """A name as compared: case-folded, spaces collapsed, separators removed."""
    if not text:
        return ""
    return " ".join(text.replace(PROVIDER_SEPARATOR, " ").split()).casefold()


def title_key(item: Item) -> str | None:
    r"""The name key of an item matched by name, ``None`` for other types.

    Series and collections: name and year. Artists: name. Albums: album artist and
    name. Tracks: artist, album, disc, track number and name.

    >>> title_key(Item(id="s", type="Series", name=" The  Office", production_year=2005))
    'the office\x1f2005'
    """
    kind, name = item.type, _fold(item.name)
    if kind not in NAMED_TYPES or not name:
        return None
    sep = PROVIDER_SEPARATOR
    if kind in ("Series", "BoxSet"):
        return f"{name}{sep}{item.production_year or ''}"
    if kind == "MusicArtist":
        return name
    artist = _fold(item.album_artist)
    if kind == "MusicAlbum":
        return f"{artist}{sep}{name}" if artist else None
    album = _fold(item.album)
    if not artist or not album or item.episode_number is None:
        return None
    disc = item.season_number or 1
    return f"{artist}{sep}{album}{sep}{disc}{sep}{item.episode_number}{sep}{name}"


def relative_path(path: str, roots: Sequence[str]) -> str | None:
    """A path relative to the longest media root it is below (case-folded).

    >>> relative_path("/mnt/Media/Films/A.mkv", ("/mnt/media/",))
    'films/a.mkv'
    """
    norm = path.replace("\\", "/")
    for root in sorted(roots, key=len, reverse=True):
        prefix = root.replace("\\", "/").rstrip("/") + "/"
        if norm.casefold().startswith(prefix.casefold()):
            rel = posixpath.normpath(norm[len(prefix) :])
            return rel.casefold()
    return None


def _providers(
    provider_ids: Mapping[str, str], trusted: Collection[str] | None = None
) -> str:
    """Provider ids as one ``name<US>value<US>...`` string, lower-case.

    A name spelled exactly in lower case wins over other spellings; among those the
    first one counts. ``trusted`` keeps only the names listed.
    """
    found: dict[str, str] = {}
    for key, value in provider_ids.items():
        name = key.lower()
        if trusted is not None and name not in trusted:
            continue
        if key == name or name not in found:
            found[name] = value
    flat: list[str] = []
    for name, value in found.items():
        flat += (name, value.lower())
    return PROVIDER_SEPARATOR.join(
        part.replace(PROVIDER_SEPARATOR, "") for part in flat
    )


def index_entry(
    item: Item,
    trusted: Collection[str] | None = None,
    *,
    with_path: bool = True,
    roots: Sequence[str] | None = None,
) -> IndexEntry:
    """The identity fields of an item as an :data:`IndexEntry`.

    Args:
        item: The item.
        trusted: Keep only these provider names (lower-case); all when ``None``.
        with_path: Keep the path (only matching by relative path needs it).
        roots: The server's media roots: the path is kept relative to them, or
            not at all when it is below none. The same media has the same
            relative path on every server, so the string is shared (interned)
            between the servers' indexes: paths are the biggest part of them.
    """
    season = item.episode_number if item.type == "Season" else item.season_number
    path = item.path if with_path else None
    if path is not None and roots:
        relative = relative_path(path, roots)
        path = sys.intern(RELATIVE_MARK + relative) if relative is not None else None
    return (
        item.id,
        sys.intern(item.type),
        path,
        sys.intern(item.series_id) if item.series_id else item.series_id,
        season,
        item.episode_number,
        item.episode_number_end,
        _providers(item.provider_ids, trusted),
        title_key(item),
    )


def as_entry(value: Indexed) -> IndexEntry:
    """An index value as an entry (a model item is converted, all its ids kept)."""
    return value if isinstance(value, tuple) else index_entry(value)


def provider_id(entry: IndexEntry, name: str) -> str | None:
    """A provider id of an entry (names and values are lower-case already)."""
    packed = entry[Slot.PROVIDERS]
    if not packed:
        return None
    providers = packed.split(PROVIDER_SEPARATOR)
    for position in range(0, len(providers) - 1, 2):
        if providers[position] == name:
            return providers[position + 1] or None
    return None
