"""Configuration of the sync engine: directions, policies, guard limits.

Everything here is a frozen dataclass or an enum, so options can be compared,
hashed and passed between the Home Assistant layer and the engine safely.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from custom_components.jellyfin_sync.jellyfin.models import SyncField

from .fields import FIELD_ORDER
from .kinds import ALL_TYPES, LibraryChoice

#: Every field the engine knows how to sync, in the order the options show them.
ALL_FIELDS: tuple[SyncField, ...] = FIELD_ORDER
#: Fields that follow the newest last-played date as one group in a conflict.
PLAYBACK_GROUP: tuple[SyncField, ...] = (
    SyncField.PLAYED,
    SyncField.POSITION,
    SyncField.LAST_PLAYED,
)


class Direction(StrEnum):
    """Which way data flows for a server (or for one field of a server).

    The values are the options screen's own words (``const.SERVER_DIRECTIONS``):
    one vocabulary from the screen to the engine.
    """

    TWO_WAY = "two_way"
    """Changes on the server are read and other servers' changes are written to it."""
    SOURCE_ONLY = "source_only"
    """The server is only a source: it is read, never written."""
    RECEIVE_ONLY = "receive_only"
    """The server is only a target: its own changes are ignored and overwritten."""
    OFF = "off"
    """The server takes no part for this field."""

    @property
    def reads(self) -> bool:
        """Whether changes on the server count."""
        return self in (Direction.TWO_WAY, Direction.SOURCE_ONLY)

    @property
    def writes(self) -> bool:
        """Whether the server may be written."""
        return self in (Direction.TWO_WAY, Direction.RECEIVE_ONLY)


class FirstSyncPolicy(StrEnum):
    """How items are combined when there is no baseline to compare against."""

    MERGE = "merge"
    """Watched anywhere wins, highest play count, newest position, favourite anywhere."""
    PRIMARY_WINS = "primary_wins"
    """The server named in :attr:`SyncOptions.primary_server` is the truth."""


class MatchMethod(StrEnum):
    """How an item was found to be the same on several servers."""

    ID = "id"
    PROVIDER = "provider"
    EPISODE = "episode"
    PATH = "path"
    NAME = "name"


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardLimits:
    """When a cycle's resets (un-watch, un-favourite, clear rating) are held.

    Resets are counted per user and server. They are held when the count exceeds
    ``max_changes``, or when it reaches ``min_changes`` and exceeds ``max_change_share`` of
    the user's items with data on that server. ``None`` switches a limit off.
    """

    max_changes: int | None = 100
    max_change_share: float | None = 0.25
    min_changes: int = 10
    """Below this count the share limit is not applied (small libraries)."""

    def exceeded(self, resets: int, items_with_data: int) -> bool:
        """Whether ``resets`` of a user's ``items_with_data`` must be held.

        >>> GuardLimits(max_changes=5).exceeded(6, 1000)
        True
        >>> GuardLimits(max_changes=None, max_change_share=0.5, min_changes=2).exceeded(3, 4)
        True
        """
        if resets == 0:
            return False
        if self.max_changes is not None and resets > self.max_changes:
            return True
        return (
            self.max_change_share is not None
            and resets >= self.min_changes
            and resets > self.max_change_share * max(items_with_data, 1)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerOptions:
    """Per-server settings."""

    direction: Direction = Direction.TWO_WAY
    field_directions: Mapping[SyncField, Direction] = field(default_factory=dict)
    """Overrides of ``direction`` for single fields (e.g. favourites one-way)."""
    media_roots: tuple[str, ...] = ()
    """Path prefixes stripped before matching items by path (longest first wins)."""

    def direction_for(self, sync_field: SyncField) -> Direction:
        """The direction that applies to one field of this server."""
        return self.field_directions.get(sync_field, self.direction)


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncOptions:
    """Everything that shapes a cycle; the defaults are the documented behaviour."""

    servers: Mapping[str, ServerOptions] = field(default_factory=dict)
    """Per-server options keyed by server id; missing servers use the defaults."""
    priority: tuple[str, ...] = ()
    """Server ids in priority order for ties and ratings; unlisted ones follow by id."""
    fields: frozenset[SyncField] = frozenset(ALL_FIELDS)
    """The fields that are synced at all."""
    first_sync: FirstSyncPolicy = FirstSyncPolicy.MERGE
    primary_server: str | None = None
    """The server that is the truth for :attr:`FirstSyncPolicy.PRIMARY_WINS`."""
    guard: GuardLimits = field(default_factory=GuardLimits)
    # Users
    user_map: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Explicit users: sync name -> {server id: user name or id on that server}."""
    excluded_users: frozenset[str] = frozenset()
    """User names (any case) or ids that are never synced."""
    include_disabled_users: bool = False
    include_hidden_users: bool = True
    """Jellyfin hides new users from the login screen by default (``IsHidden``), so
    "hidden" says nothing about whether their watch data matters."""
    # Items
    item_types: tuple[str, ...] = ALL_TYPES
    """Jellyfin item types that are synced (:mod:`.kinds`)."""
    libraries: LibraryChoice = field(default_factory=LibraryChoice)
    """The libraries that take part."""
    match_by_id: bool = True
    """Items with the same id on two servers (same media path) are the same item."""
    provider_keys: tuple[str, ...] = ("imdb", "tmdb", "tvdb")
    """Provider ids used for matching, in order of trust (lower-case)."""
    # Collecting and applying
    index_refresh_cycles: int = 24
    """A full item-index scan every this many cycles (1 = every cycle)."""
    full_listing_hours: float = 24.0
    """List each user's whole library this often (and on the first cycle, and with
    ``full``): the one way to find an item whose only data is a rating below 6.5,
    which no Jellyfin filter isolates. Other cycles read only the filtered listings."""
    max_concurrent_requests: int = 4
    """Requests in flight per server."""
    page_size: int | None = None
    """Page size for listings with identity fields (item index, lookups); ``None``
    lets the client choose."""
    sweep_page_size: int = 2000
    """Page size for the user-data listings of each cycle. They ask for no optional
    field (an item is ~250 bytes of JSON), so big pages are cheap, and every page is
    a query the server runs again from the start of its result."""
    history_cycles: int = 3
    """Cycles whose overwritten values are kept for undo."""
    history_max_writes: int = 10_000
    """Upper bound on the writes kept in the history (oldest cycles drop first).

    The history is stored with the baseline (about 300 bytes per write)."""
    report_limit: int = 50
    """Entries kept in each list of a report (counts are always complete)."""
    yield_every: int = 50
    """Items processed per step of the long loops: a step generator checks the time
    budget after each (see ``pacing.STEP_BUDGET``), other loops yield to the event
    loop."""

    @property
    def scope_key(self) -> str:
        """The item kinds and libraries synced, as one comparable string."""
        choice = self.libraries
        same = sorted("=".join(sorted(group)) for group in choice.same)
        return "|".join(
            (
                ",".join(sorted(self.item_types)),
                choice.mode.value,
                ",".join(sorted(choice.names)),
                ";".join(same),
            )
        )

    def server(self, server_id: str) -> ServerOptions:
        """Options of one server (defaults when not configured)."""
        return self.servers.get(server_id) or _DEFAULT_SERVER

    def direction(self, server_id: str, sync_field: SyncField) -> Direction:
        """Direction of one field of one server, honouring :attr:`fields`."""
        if sync_field not in self.fields:
            return Direction.OFF
        return self.server(server_id).direction_for(sync_field)

    def rank(self, server_id: str) -> tuple[int, str]:
        """Sort key of a server: listed priority first, then by id."""
        try:
            return (self.priority.index(server_id), server_id)
        except ValueError:
            return (len(self.priority), server_id)


_DEFAULT_SERVER = ServerOptions()
