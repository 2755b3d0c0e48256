"""Match users and items across servers (pure; long loops are generators).

Items are matched in stages, strongest first: same item id (servers that share a media
root), provider ids, series provider ids + season + episode, path relative to a media
root. Each stage only joins groups that hold at most one item per server and whose
provider ids do not contradict each other. A key that two items of the same server
share (duplicates, versions) is *ambiguous* there: it is never used for that server
and the items are reported.

The generator functions yield ``None`` every few dozen items (and around every long
sort or release) so the async engine can give the event loop a turn whenever its time
budget is spent; :func:`run` drives them synchronously.
"""

from array import array
from collections import defaultdict
from collections.abc import (
    Callable,
    Collection,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    MutableSequence,
    Sequence,
)
from dataclasses import dataclass, field
import heapq
import posixpath
import sys
from typing import Any, cast

from custom_components.jellyfin_sync.jellyfin.models import Item, User, normalize_id

from .options import MatchMethod, SyncOptions

type Steps[T] = Generator[None, None, T]
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

#: Unmatched item ids kept per server for the report.
UNMATCHED_EXAMPLES = 20
_METHODS: tuple[MatchMethod, ...] = tuple(MatchMethod)
_STAGES: tuple[MatchMethod, ...] = (
    MatchMethod.ID,
    MatchMethod.PROVIDER,
    MatchMethod.EPISODE,
    MatchMethod.PATH,
    MatchMethod.NAME,
)
#: Identity preference: provider keys are stable across servers, ids are not; a
#: name is the last resort.
_IDENTITY_RANK: Mapping[MatchMethod, int] = {
    MatchMethod.PROVIDER: 0,
    MatchMethod.EPISODE: 1,
    MatchMethod.PATH: 2,
    MatchMethod.ID: 3,
    MatchMethod.NAME: 4,
}
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
_BOOK_TYPES = frozenset({"AudioBook", "Book"})
_MUSIC_GROUPS: tuple[str, ...] = tuple(
    dict.fromkeys(name for names in MUSIC_PROVIDERS.values() for name in names)
)
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
    if kind in _BOOK_TYPES:
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


#: Elements sorted in one step: longer lists are sorted in runs of this size, which
#: are then merged (sorting 100k strings at once holds the event loop for ~50 ms).
SORT_RUN = 4096
#: Merged elements per step.
_MERGE_STEP = 2000


def sorted_steps[T](
    values: Iterable[T], key: Callable[[T], Any] | None = None
) -> Steps[list[T]]:
    """``sorted(values, key=key)`` as a step generator (stable, like ``sorted``)."""
    items = list(values)
    if len(items) <= SORT_RUN:
        return sorted(items, key=cast(Any, key))
    runs: list[list[T]] = []
    for start in range(0, len(items), SORT_RUN):
        runs.append(sorted(items[start : start + SORT_RUN], key=cast(Any, key)))
        yield
    del items
    merged: list[T] = []
    # heapq.merge takes equal elements from earlier runs first: stable.
    for count, item in enumerate(heapq.merge(*runs, key=cast(Any, key)), 1):
        merged.append(item)
        if count % _MERGE_STEP == 0:
            yield
    return merged


def _drain(table: dict[Any, Any], every: int) -> Steps[None]:
    """Empty a big dict a slice at a time.

    Freeing 100k entries at once holds the event loop for tens of milliseconds.
    """
    count = 0
    while table:
        table.popitem()
        count += 1
        if count % every == 0:
            yield


def run[T](steps: Steps[T]) -> T:
    """Drive a step generator to completion without yielding anywhere."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- users


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchedUser:
    """One person, with their user id on each server they exist on."""

    key: str
    """Sync name, lower-case: the user's key in the baseline."""
    name: str
    ids: Mapping[str, str]
    """Server id -> user id."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UserMatch:
    """Result of :func:`match_users`."""

    users: tuple[MatchedUser, ...]
    skipped: tuple[str, ...]
    """Why users were left out, one line each (no ids)."""


def _user_ref_matches(user: User, ref: str) -> bool:
    ref_norm = ref.strip()
    return user.id == normalize_id(ref_norm) or (
        user.name.casefold() == ref_norm.casefold()
    )


def match_users(users: Mapping[str, Sequence[User]], options: SyncOptions) -> UserMatch:
    """Match users by name (case-insensitive), an explicit map and exclusions.

    Disabled and hidden users are skipped unless the options ask for them; a user
    found on one server only has nothing to sync with and is skipped.
    """
    excluded = {e.casefold() for e in options.excluded_users} | {
        normalize_id(e) for e in options.excluded_users
    }
    skipped: list[str] = []

    def usable(server_id: str, user: User) -> bool:
        if user.name.casefold() in excluded or user.id in excluded:
            return False
        if user.is_disabled and not options.include_disabled_users:
            skipped.append(f"{user.name} on {server_id}: disabled")
            return False
        if user.is_hidden and not options.include_hidden_users:
            skipped.append(f"{user.name} on {server_id}: hidden")
            return False
        return True

    claimed: set[Node] = set()
    groups: dict[str, dict[str, User]] = {}
    names: dict[str, str] = {}
    for sync_name in sorted(options.user_map):
        key = sync_name.casefold()
        if key in excluded:
            continue
        for server_id, ref in sorted(options.user_map[sync_name].items()):
            found = [u for u in users.get(server_id, ()) if _user_ref_matches(u, ref)]
            if len(found) != 1:
                skipped.append(f"{sync_name} on {server_id}: mapped user not found")
                continue
            claimed.add((server_id, found[0].id))
            if usable(server_id, found[0]):
                groups.setdefault(key, {})[server_id] = found[0]
                names[key] = sync_name
    by_name: dict[str, dict[str, list[User]]] = defaultdict(lambda: defaultdict(list))
    for server_id in sorted(users):
        for user in users[server_id]:
            key = user.name.casefold()
            if (server_id, user.id) in claimed or key in options.user_map:
                continue
            if key in {k.casefold() for k in options.user_map}:
                continue
            if usable(server_id, user):
                by_name[key][server_id].append(user)
    for key, per_server in by_name.items():
        for server_id, found in per_server.items():
            if len(found) > 1:
                skipped.append(f"{found[0].name} on {server_id}: name not unique")
                continue
            groups.setdefault(key, {})[server_id] = found[0]
            names.setdefault(key, found[0].name)
    matched: list[MatchedUser] = []
    for key in sorted(groups):
        members = groups[key]
        if len(members) < 2:
            only = next(iter(members))
            skipped.append(f"{names[key]}: only on {only}")
            continue
        matched.append(
            MatchedUser(
                key=key,
                name=names[key],
                ids={s: members[s].id for s in sorted(members)},
            )
        )
    return UserMatch(users=tuple(matched), skipped=tuple(sorted(set(skipped))))


# --------------------------------------------------------------------------- items


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchedItem:
    """One item present on two or more servers."""

    identity: str
    """The item's key in the baseline (provider, episode, path or id key)."""
    method: MatchMethod
    """The weakest method that joined the group."""
    members: Mapping[str, str]
    """Server id -> item id."""


class MatchedItems:
    """The matched items of a match, stored compactly.

    A 100k library has about as many matched items; as :class:`MatchedItem`
    instances with a member dict each they took ~250 bytes apiece and every one was
    scanned by each full garbage collection. Here they are identities, methods (one
    byte each) and one flat ``(server id, item id, ...)`` sequence of every item's
    members with each item's start in an array; once matching is over they are kept
    in tuples of strings, which the collector untracks. A :class:`MatchedItem` is
    made each time an item is read and not kept.
    """

    __slots__ = ("_identities", "_members", "_methods", "_starts")

    def __init__(self) -> None:
        """Start empty."""
        self._identities: list[str] | tuple[str, ...] = []
        self._methods = bytearray()
        """Position of each item's method in :data:`_METHODS`."""
        self._members: list[str] | tuple[str, ...] = []
        self._starts = array("q", [0])
        """Where each item's members start in :attr:`_members` (one more entry
        than items: the end)."""

    def add(
        self, identity: str, method: MatchMethod, members: Sequence[tuple[str, str]]
    ) -> int:
        """Add an item (``members`` = ``(server id, item id)`` pairs); its index."""
        identities = self._identities
        if not isinstance(identities, list):
            identities = self._identities = list(identities)
        flat = self._members
        if not isinstance(flat, list):
            flat = self._members = list(flat)
        identities.append(identity)
        for pair in members:
            flat += pair
        self._starts.append(len(flat))
        self._methods.append(_METHODS.index(method))
        return len(identities) - 1

    def freeze(self) -> None:
        """Keep the items in tuples (done once matching is over).

        Every full pass of Python's garbage collector scans each element of a list,
        while a tuple of strings is untracked by it.
        """
        self._identities = tuple(self._identities)
        self._members = tuple(self._members)

    def identity(self, index: int) -> str:
        """The identity of an item, without making its object."""
        return self._identities[index]

    def _make(self, index: int) -> MatchedItem:
        flat = self._members[self._starts[index] : self._starts[index + 1]]
        return MatchedItem(
            identity=self._identities[index],
            method=_METHODS[self._methods[index]],
            members=dict(zip(flat[::2], flat[1::2], strict=True)),
        )

    def __len__(self) -> int:
        """Number of matched items."""
        return len(self._identities)

    def __getitem__(self, index: int) -> MatchedItem:
        """The item at an index (made on each read, not kept)."""
        return self._make(range(len(self))[index])

    def __iter__(self) -> Iterator[MatchedItem]:
        """Every item in order."""
        return map(self._make, range(len(self)))

    def __eq__(self, other: object) -> bool:
        """Equal to another sequence of the same items (lists included)."""
        if not isinstance(other, Sequence | MatchedItems):
            return NotImplemented
        return len(self) == len(other) and all(
            a == b for a, b in zip(self, other, strict=True)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """Like a list of the items."""
        return repr(list(self))


@dataclass(frozen=True, slots=True, kw_only=True)
class Ambiguity:
    """A key shared by several items of one server; it is not used there."""

    server_id: str
    key: str
    item_ids: tuple[str, ...]


@dataclass(slots=True, kw_only=True)
class ItemMatch:
    """Result of :func:`match_items`."""

    items: MatchedItems
    by_identity: dict[str, int]
    by_method: dict[MatchMethod, int]
    unmatched: dict[str, int]
    """Server id -> items found on that server only."""
    unmatched_examples: dict[str, list[str]] = field(default_factory=dict)
    """Server id -> the first few item ids found on that server only."""
    ambiguous: list[Ambiguity]
    conflicts: int = 0
    """Joins refused because they would put two items of a server together or
    contradict provider ids."""
    members_index: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)
    """Server id -> item id -> index into :attr:`items`."""
    key_source: Callable[[int], list[str]] | None = field(default=None, repr=False)
    """All matching keys of an item (computed on demand, not stored)."""
    aliases: dict[str, int] = field(default_factory=dict, repr=False)
    """Keys other than the identity that name exactly one item (see
    :func:`build_aliases`)."""
    alias_checked: set[str] = field(default_factory=set, repr=False)

    def index_of(self, server_id: str, item_id: str) -> int | None:
        """Index of the matched item a server's item belongs to."""
        return self.members_index.get(server_id, {}).get(item_id)

    def member(self, server_id: str, item_id: str) -> MatchedItem | None:
        """The matched item a server's item belongs to."""
        index = self.index_of(server_id, item_id)
        return None if index is None else self.items[index]

    def keys(self, index: int) -> list[str]:
        """Every matching key of an item, most trusted first."""
        return self.key_source(index) if self.key_source is not None else []

    def resolve(self, key: str) -> int | None:
        """Index of the matched item a baseline key names, if any.

        Keys other than identities are found once :func:`build_aliases` has looked
        for them.
        """
        found = self.by_identity.get(key)
        return found if found is not None else self.aliases.get(key)


def _relative(path: str, roots: Sequence[str]) -> str | None:
    norm = path.replace("\\", "/")
    for root in sorted(roots, key=len, reverse=True):
        prefix = root.replace("\\", "/").rstrip("/") + "/"
        if norm.casefold().startswith(prefix.casefold()):
            rel = posixpath.normpath(norm[len(prefix) :])
            return rel.casefold()
    return None


#: Separates names and values in an :data:`IndexEntry`'s providers (ASCII "unit
#: separator"; removed from the values, which never contain it in practice).
PROVIDER_SEPARATOR = "\x1f"


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


#: Starts the path of an :data:`IndexEntry` that holds it relative to a media
#: root already (case-folded, normalised).
RELATIVE_MARK = PROVIDER_SEPARATOR


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
        relative = _relative(path, roots)
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


def _entry(value: Indexed) -> IndexEntry:
    return value if isinstance(value, tuple) else index_entry(value)


def _provider(entry: IndexEntry, name: str) -> str | None:
    """A provider id of an entry (names and values are lower-case already)."""
    if not entry[7]:
        return None
    providers = entry[7].split(PROVIDER_SEPARATOR)
    for position in range(0, len(providers) - 1, 2):
        if providers[position] == name:
            return providers[position + 1] or None
    return None


class _Keys:
    """Computes matching keys on demand, so nothing per item is kept in memory."""

    def __init__(
        self,
        series: Mapping[str, Mapping[str, Indexed]],
        options: SyncOptions,
        roots: Mapping[str, Sequence[str]],
        kinds: Collection[str] | None = None,
    ) -> None:
        self.series = series
        self.options = options
        self.roots = roots
        present = None if kinds is None else set(kinds)
        provider_groups: dict[str, None] = {}
        for kind in sorted(present) if present is not None else ("", *MUSIC_PROVIDERS):
            provider_groups.update(dict.fromkeys(trusted_providers(kind, options)))
        if present is None or present & _BOOK_TYPES:
            provider_groups.update(dict.fromkeys(BOOK_PROVIDERS))
        self._provider_groups = tuple(provider_groups)
        self._allowed: dict[str, frozenset[str]] = {}

    def _allows(self, kind: str, group: str) -> bool:
        allowed = self._allowed.get(kind)
        if allowed is None:
            allowed = frozenset(trusted_providers(kind, self.options))
            self._allowed[kind] = allowed
        return group in allowed

    def _series_value(
        self, server_id: str, series_id: str | None, group: str
    ) -> str | None:
        """A provider id (or with ``group`` "name" the name key) of an item's series."""
        if not series_id:
            return None
        show = self.series.get(server_id, {}).get(series_id)
        if show is None:
            return None
        entry = _entry(show)
        return entry[8] if group == "name" else _provider(entry, group)

    def key(
        self, stage: MatchMethod, group: str, server_id: str, entry: IndexEntry
    ) -> str | None:
        """One key of an item (``group`` = provider name, or the stage's name)."""
        item_id, kind, path, series_id, season, episode, episode_end, _, title = entry
        if stage is MatchMethod.ID:
            return f"id:{item_id}" if self.options.match_by_id else None
        if stage is MatchMethod.PROVIDER:
            if not self._allows(kind, group):
                return None
            value = _provider(entry, group)
            return f"{kind.lower()}:{group}:{value}" if value else None
        if stage is MatchMethod.EPISODE:
            if kind == "Season" and season is not None:
                value = self._series_value(server_id, series_id, group)
                return f"season:series:{group}:{value}:s{season}" if value else None
            if kind != "Episode" or season is None or episode is None:
                return None
            value = self._series_value(server_id, series_id, group)
            if not value:
                return None
            number = f"s{season}e{episode}"
            if episode_end is not None:
                number += f"-{episode_end}"
            return f"episode:series:{group}:{value}:{number}"
        if stage is MatchMethod.NAME:
            if kind == "Season" and season is not None:
                value = self._series_value(server_id, series_id, "name")
                return f"season:name:{value}:s{season}" if value else None
            return f"{kind.lower()}:name:{title}" if title else None
        if not path:
            return None
        if path.startswith(RELATIVE_MARK):
            relative: str | None = path[len(RELATIVE_MARK) :]
        else:
            roots = self.roots.get(server_id, ())
            relative = _relative(path, roots) if roots else None
        return f"path:{kind.lower()}:{relative}" if relative is not None else None

    def ranked(
        self, server_id: str, item: IndexEntry
    ) -> Iterator[tuple[int, int, str]]:
        """All keys of an item as ``(stage rank, group rank, key)``."""
        for stage in _STAGES:
            for group_rank, group in enumerate(self.groups(stage)):
                key = self.key(stage, group, server_id, item)
                if key is not None:
                    yield (_IDENTITY_RANK[stage], group_rank, key)

    def groups(self, stage: MatchMethod) -> Sequence[str]:
        """Key groups of a stage: one pass per provider, else one pass."""
        if stage is MatchMethod.PROVIDER:
            return self._provider_groups
        if stage is MatchMethod.EPISODE:
            return self.options.provider_keys
        return (stage.value,)

    def providers(self, item: IndexEntry) -> dict[str, str]:
        """The item's identifying provider ids (for contradiction checks)."""
        found: dict[str, str] = {}
        for name in trusted_providers(item[1], self.options):
            value = _provider(item, name)
            if value:
                found[name] = value
        return found


def item_keys(
    item: Item,
    series: Mapping[str, Item],
    options: SyncOptions,
    roots: Sequence[str],
) -> list[str]:
    """Every matching key of one item, most trusted first.

    >>> from custom_components.jellyfin_sync.jellyfin.models import Item
    >>> item_keys(Item(id="a1", type="Movie", name="M",
    ...     provider_ids={"Imdb": "TT1"}), {}, SyncOptions(), ())
    ['movie:imdb:tt1', 'id:a1']
    """
    keys = _Keys({"": series}, options, {"": roots})
    return [key for _, _, key in sorted(keys.ranked("", index_entry(item)))]


#: Hash of a key string in the per-stage tables (replaceable to test collisions).
_digest: Callable[[str], int] = hash


def _shared_keys(
    keys: _Keys,
    stage: MatchMethod,
    group: str,
    node_server: Sequence[str],
    node_item: Sequence[IndexEntry],
    every: int,
    find: Callable[[int], int],
) -> Steps[list[tuple[str, tuple[int, ...]]]]:
    """The keys of one pass that can join or are ambiguous, sorted, nodes ascending.

    Most keys name one node, so the table holds a key's hash and its first node
    only; a node list is kept from the second node on (once the first node's key is
    confirmed to be the same string), and the key string only once the key has
    nodes in two groups. A key whose nodes are all in one group already can neither
    join nor be ambiguous (a group holds one item per server) and is left out. Keys
    that merely share the hash of another key are collected by string aside.
    """
    digest = _digest
    first: dict[int, int] = {}
    # Node lists are tuples: a list per shared key (~100k of them in a big library)
    # would be scanned by every garbage-collector pass; tuples of ints are not.
    shared: dict[int, tuple[int, ...]] = {}
    names: dict[int, str] = {}
    clashes: dict[str, list[int]] = defaultdict(list)
    for node in range(len(node_item)):
        key = keys.key(stage, group, node_server[node], node_item[node])
        if node % every == every - 1:
            yield
        if key is None:
            continue
        hashed = digest(key)
        nodes = shared.get(hashed)
        if nodes is None:
            earlier = first.setdefault(hashed, node)
            if earlier == node:
                continue
            nodes = (earlier,)
            name = keys.key(stage, group, node_server[earlier], node_item[earlier])
        else:
            name = names.get(hashed) or keys.key(
                stage, group, node_server[nodes[0]], node_item[nodes[0]]
            )
        if name != key:
            clashes[key].append(node)
            continue
        nodes += (node,)
        shared[hashed] = nodes
        if hashed not in names and find(node) != find(nodes[0]):
            names[hashed] = key
    yield from _drain(first, every * 20)
    found: list[tuple[str, tuple[int, ...]]] = []
    count = 0
    while shared:
        hashed, nodes = shared.popitem()
        if hashed in names:
            found.append((names[hashed], nodes))
        count += 1
        if count % (every * 20) == 0:
            yield
    yield from _drain(names, every * 20)
    found += ((key, tuple(nodes)) for key, nodes in clashes.items() if len(nodes) > 1)
    return (yield from sorted_steps(found))


def match_items(
    indexes: Mapping[str, Mapping[str, Indexed]],
    series: Mapping[str, Mapping[str, Indexed]],
    options: SyncOptions,
) -> Steps[ItemMatch]:
    """Group the items of all servers (a step generator, see :func:`run`).

    Args:
        indexes: Server id -> item id -> item (identity fields only) or its
            :func:`index_entry`.
        series: Server id -> series id -> series item or entry (for episode
            matching).
        options: Matching options (``match_by_id``, ``provider_keys``, media roots).
    """
    servers = sorted(indexes)
    every = max(1, options.yield_every)
    # Per-node data lives in tuples and arrays, not lists: every full pass of the
    # garbage collector scans each element of a list (hundreds of thousands here),
    # and an array of numbers holds no int objects (28 bytes each above 256).
    nodes_of_server: list[str] = []
    items_of_server: list[IndexEntry] = []
    for server_id in servers:
        server_index = indexes[server_id]
        ordered: list[str] = yield from sorted_steps(server_index)
        for position, item_id in enumerate(ordered, 1):
            nodes_of_server.append(server_id)
            items_of_server.append(_entry(server_index[item_id]))
            if position % every == 0:
                yield
        del ordered
    node_server = tuple(nodes_of_server)
    node_item = tuple(items_of_server)
    del nodes_of_server, items_of_server
    keys = _Keys(
        {s: series.get(s, {}) for s in servers},
        options,
        {s: options.server(s).media_roots for s in servers},
        kinds={entry[1] for entry in node_item},
    )
    count = len(node_item)
    bit = {server_id: 1 << i for i, server_id in enumerate(servers)}
    parent = array("q")
    mask: MutableSequence[int] = array("q") if len(servers) < 63 else []
    for start in range(0, count, every * 100):
        end = min(count, start + every * 100)
        parent.extend(range(start, end))
        mask.extend(bit[s] for s in node_server[start:end])
        yield
    provs: dict[int, dict[str, str]] = {}
    """Root -> the group's provider ids, kept only where they differ from the root's
    own (joins of items with the same ids, the usual case, store nothing)."""
    stage_of = bytearray(count)
    """Root -> index of the weakest stage that joined its group."""

    def find(node: int) -> int:
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    def providers(root: int) -> dict[str, str]:
        found = provs.get(root)
        return found if found is not None else keys.providers(node_item[root])

    ambiguous: list[Ambiguity] = []
    conflicts = 0
    steps = 0
    for stage_index, stage in enumerate(_STAGES):
        for group in keys.groups(stage):
            shared = yield from _shared_keys(
                keys, stage, group, node_server, node_item, every, find
            )
            for key, nodes in shared:
                steps += 1
                if steps % every == 0:
                    yield
                per_server: dict[str, list[int]] = defaultdict(list)
                for node in nodes:
                    per_server[node_server[node]].append(node)
                usable: list[int] = []
                for server_id in sorted(per_server):
                    found = per_server[server_id]
                    if len(found) > 1:
                        ambiguous.append(
                            Ambiguity(
                                server_id=server_id,
                                key=key,
                                item_ids=tuple(sorted(node_item[n][0] for n in found)),
                            )
                        )
                    else:
                        usable.append(found[0])
                if len(usable) < 2:
                    continue
                root = find(usable[0])
                for node in usable[1:]:
                    other = find(node)
                    if other == root:
                        continue
                    mine, theirs = providers(root), providers(other)
                    # The same id is the same file: metadata may disagree, the
                    # item does not. Other stages refuse contradicting ids.
                    if mask[root] & mask[other] or (
                        stage is not MatchMethod.ID
                        and any(
                            mine[p] != theirs[p] for p in mine.keys() & theirs.keys()
                        )
                    ):
                        conflicts += 1
                        continue
                    keep, drop = min(root, other), max(root, other)
                    parent[drop] = keep
                    mask[keep] |= mask[drop]
                    merged = {**theirs, **mine}
                    provs.pop(drop, None)
                    if merged == keys.providers(node_item[keep]):
                        provs.pop(keep, None)
                    else:
                        provs[keep] = merged
                    stage_of[keep] = max(stage_of[keep], stage_of[drop], stage_index)
                    root = keep
            while shared:  # freed a slice at a time (~100k tuples)
                del shared[-every * 20 :]
                yield
    provs.clear()
    # Every root is the smallest node of its group (joins keep the smaller root), so
    # a counting sort by root lists the groups by root, members in order.
    size = array("q", bytes(8 * count))
    for node in range(count):
        size[find(node)] += 1
        steps += 1
        if steps % every == 0:
            yield
    slot = size  # reused: the first free position of each root's group
    position = 0
    for node in range(count):
        members = size[node]
        slot[node] = position
        position += members
        if node % (every * 10) == 0:
            yield
    order = array("q", bytes(8 * count))
    for node in range(count):
        root = parent[node]
        order[slot[root]] = node
        slot[root] += 1
        if node % (every * 4) == 0:
            yield
    del size, slot
    result = ItemMatch(
        items=MatchedItems(),
        by_identity={},
        by_method=dict.fromkeys(_STAGES, 0),
        unmatched=dict.fromkeys(servers, 0),
        ambiguous=sorted(set(ambiguous), key=lambda a: (a.server_id, a.key)),
        conflicts=conflicts,
        members_index={s: {} for s in servers},
    )
    start = 0
    while start < count:
        root = parent[order[start]]
        end = start + 1
        while end < count and parent[order[end]] == root:
            end += 1
        nodes = tuple(order[start:end])
        start = end
        if len(nodes) < 2:
            server_id = node_server[nodes[0]]
            result.unmatched[server_id] += 1
            examples = result.unmatched_examples.setdefault(server_id, [])
            if len(examples) < UNMATCHED_EXAMPLES:
                examples.append(node_item[nodes[0]][0])
            continue
        method = _STAGES[stage_of[root]]
        identity = min(
            (
                next(iter(sorted(keys.ranked(node_server[n], node_item[n]))), None)
                for n in nodes
            ),
            key=lambda k: k if k is not None else (9, 0, ""),
        )
        name = identity[2] if identity is not None else f"node:{node_item[nodes[0]][0]}"
        if name in result.by_identity:
            name = f"{name}#{node_item[nodes[0]][0]}"
        index = result.items.add(
            name, method, [(node_server[n], node_item[n][0]) for n in nodes]
        )
        result.by_identity[name] = index
        result.by_method[method] += 1
        for n in nodes:
            result.members_index[node_server[n]][node_item[n][0]] = index
        steps += 1
        if steps % every == 0:
            yield

    # Keys are recomputed from the indexes when asked for; nothing per node is kept.
    def key_source(index: int) -> list[str]:
        found = {
            key
            for server_id, item_id in result.items._make(index).members.items()
            if (item := indexes[server_id].get(item_id)) is not None
            for key in keys.ranked(server_id, _entry(item))
        }
        return [key for _, _, key in sorted(found)]

    result.key_source = key_source
    result.items.freeze()
    return result


def build_aliases(match: ItemMatch, wanted: Collection[str]) -> Steps[None]:
    """Find the items that keys other than identities name (for old baselines).

    Only keys not looked for before are searched; a key that names two items is
    never used.
    """
    todo = {
        k for k in wanted if k not in match.alias_checked and k not in match.by_identity
    }
    if not todo:
        return
    match.alias_checked |= todo
    seen: dict[str, int] = {}
    shared: set[str] = set()
    for index in range(len(match.items)):
        for key in match.keys(index):
            if key in todo:
                if key in seen and seen[key] != index:
                    shared.add(key)
                seen[key] = index
        if index % 200 == 199:
            yield
    for key, index in seen.items():
        if key not in shared:
            match.aliases[key] = index
