"""What item matching finds: the matched items, compactly stored, and the report.

:class:`ItemMatch` is the result of :func:`~.stages.match_items`; the plan and the
baseline read items through it by server and item id or by baseline key.
"""

from array import array
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from custom_components.jellyfin_sync.sync.options import MatchMethod

from .steps import Steps

_METHODS: tuple[MatchMethod, ...] = tuple(MatchMethod)


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
