"""What the engine keeps between cycles: each server's state and the item match.

One :class:`EngineState` is shared by the engine's parts (indexing, reading,
collecting, applying, undoing); each reads the options and the baseline from it,
so replacing either on the engine reaches them all.
"""

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
import time

from custom_components.jellyfin_sync.jellyfin.models import (
    Capabilities,
    Library,
    ServerInfo,
    User,
)

from .baseline import Baseline
from .client import ServerClient
from .matching import IndexEntry, ItemMatch, match_items
from .options import SyncOptions
from .pacing import drive
from .versions import Versions


@dataclass(slots=True)
class ServerState:
    """What the engine knows about one server between cycles."""

    server_id: str
    client: ServerClient
    info: ServerInfo | None = None
    capabilities: Capabilities | None = None
    users: list[User] = field(default_factory=list)
    index: dict[str, IndexEntry] | None = None
    series: dict[str, IndexEntry] = field(default_factory=dict)
    cycles_since_index: int = 0
    gone: set[str] = field(default_factory=set)
    """Ids dropped from the index because they vanished; looked up again each cycle
    until they are back or the next full index read settles them."""
    saved_since: datetime | None = None
    """Server time from which new or re-saved items are asked for each cycle."""
    listed: dict[str, datetime] = field(default_factory=dict)
    """User id -> when the user's whole library was last listed."""
    dated: dict[tuple[str, str | None], int] = field(default_factory=dict)
    """(User id, library) -> dated unplayed items found last cycle (sizes the next
    page)."""
    libraries: list[Library] | None = None
    """The server's libraries, read with the index when the scopes need them."""
    views: dict[str, frozenset[str]] = field(default_factory=dict)
    """User id -> ids of the libraries the user can open (read when needed)."""
    upgraded: bool = False
    """The server moved to a version with titles of several versions (12.0) since
    the last cycle: its title states are adopted once (``SyncEngine._adopt``)."""
    versions: Versions = field(default_factory=Versions)
    """Titles with several versions (12.0) and the version each user would resume."""
    listing: asyncio.Lock = field(default_factory=asyncio.Lock)
    """One full listing at a time per server: each holds a whole library's pages
    and ids in memory while it runs."""
    ready: bool = False
    semaphore: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))


class EngineState:
    """The options, the baseline, every server's state and the item match.

    The match is computed from the servers' item indexes when first asked for after
    one of them changed (``match_dirty``).
    """

    def __init__(
        self,
        options: SyncOptions,
        baseline: Baseline,
        servers: dict[str, ServerState],
    ) -> None:
        """Hold the shared state; the match is computed on first use."""
        self.options = options
        self.baseline = baseline
        self.servers = servers
        self.match: ItemMatch | None = None
        self.match_dirty = True
        self.match_seconds = 0.0
        """Time spent matching in the current cycle (reported on its own)."""

    def ready(self) -> dict[str, ServerState]:
        """The servers that answered in this cycle, by id."""
        return {sid: s for sid, s in self.servers.items() if s.ready}

    def forget(self, server: ServerState, item_ids: Iterable[str]) -> None:
        """Drop items that vanished from a server's index.

        They are looked up again each cycle (``ServerState.gone``) and the items are
        matched again without them.
        """
        index = server.index or {}
        for item_id in item_ids:
            index.pop(item_id, None)
            server.gone.add(item_id)
        self.match_dirty = True

    async def matched(self) -> ItemMatch:
        """The item match of the current indexes, matched again when they changed."""
        if self.match is None or self.match_dirty:
            started = time.monotonic()
            indexes = {
                sid: s.index for sid, s in self.servers.items() if s.index is not None
            }
            series = {sid: s.series for sid, s in self.servers.items()}
            self.match_dirty = False
            self.match = await drive(match_items(indexes, series, self.options))
            self.match_seconds += time.monotonic() - started
        return self.match
