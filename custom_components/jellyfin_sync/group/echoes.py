"""The sync's own recent writes, to recognise their webhook echoes.

Every write the sync makes is saved by Jellyfin and announced by its Webhook plugin
like a user's change. A save of a written item, on the written server, within
:data:`ECHO_WINDOW` seconds, is an echo when that server now holds, in every synced
field, what was written. The server is asked (one small read per server and user);
the call's own values are never trusted.
"""

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from custom_components.jellyfin_sync.jellyfin import JellyfinClient
from custom_components.jellyfin_sync.jellyfin.exceptions import JellyfinError
from custom_components.jellyfin_sync.jellyfin.models import SyncField, UserData
from custom_components.jellyfin_sync.sync import fields as fx
from custom_components.jellyfin_sync.sync.kinds import own_data
from custom_components.jellyfin_sync.sync.plan import PlannedWrite

ECHO_WINDOW = 120.0
"""Seconds after a sync write during which a save of that item may be its echo."""

type ItemKey = tuple[str, str, str]
"""(server id, user id, item id), ids as the client normalises them."""


@dataclass(frozen=True, slots=True)
class _Written:
    until: float
    desired: UserData


class RecentWrites:
    """What the sync wrote lately, per item, until the echo window closes."""

    def __init__(self, window: float = ECHO_WINDOW) -> None:
        """Start empty."""
        self.window = window
        self._writes: dict[ItemKey, _Written] = {}

    def __len__(self) -> int:
        """Number of remembered writes."""
        return len(self._writes)

    def record(self, writes: Iterable[PlannedWrite], now: float) -> None:
        """Remember a cycle's applied writes (and forget expired ones)."""
        self._writes = {k: w for k, w in self._writes.items() if w.until > now}
        for write in writes:
            key = (write.server_id, write.user_id, write.item_id)
            self._writes[key] = _Written(now + self.window, write.desired)

    def candidate(self, key: ItemKey, now: float) -> UserData | None:
        """What the sync wrote to this item recently, if it did."""
        written = self._writes.get(key)
        if written is None or written.until <= now:
            return None
        return written.desired

    def forget(self, key: ItemKey) -> None:
        """Stop treating saves of this item as echoes (a real change was seen)."""
        self._writes.pop(key, None)


async def drop_echoes(
    recent: RecentWrites,
    clients: Mapping[str, JellyfinClient],
    fields: Collection[SyncField],
    keys: Collection[ItemKey],
    now: float,
) -> tuple[list[ItemKey], int]:
    """The items that are not mere echoes of the sync's own writes, and the echoes.

    Echo candidates are read with one request per server and user (a season marked
    watched echoes dozens of items at once). An item that cannot be read is kept:
    the cycle finds out what happened to it.
    """
    kept: list[ItemKey] = []
    candidates: dict[tuple[str, str], dict[str, UserData]] = {}
    for key in keys:
        written = recent.candidate(key, now)
        if written is None:
            kept.append(key)
        else:
            candidates.setdefault(key[:2], {})[key[2]] = written
    echoes = 0
    for (server_id, user_id), wanted in candidates.items():
        try:
            items = await clients[server_id].get_items(user_id, list(wanted), fields=())
        except JellyfinError:
            kept.extend((server_id, user_id, item_id) for item_id in wanted)
            continue
        # A folder's played state is derived; what was written is its own.
        current = {
            item.id: own_data(item.type, item.user_data)
            for item in items
            if item.user_data is not None
        }
        for item_id, written in wanted.items():
            key = (server_id, user_id, item_id)
            state = current.get(item_id)
            if state is not None and fx.holds(state, written, fields):
                echoes += 1
                continue
            recent.forget(key)
            kept.append(key)
    return kept, echoes
