"""The baseline's per-item entries and the packed table that holds them.

Per user and item *identity* (a key built from provider ids, episode numbers or paths,
never one server's item id) the baseline keeps:

* ``agreed``: the state the last cycle decided every server should have;
* ``confirmed``: for every server that took part, the state last read from or
  confirmed on it. It differs from ``agreed`` only while a write is pending (it
  failed, was held or cannot be written on that server's version). Comparing a
  server with its *own* confirmed state, not the agreed one, is what keeps a failed
  write from looking like a change on that server next cycle (no ping-pong).

Only non-default states are stored: an item everyone left untouched has no entry.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from custom_components.jellyfin_sync.jellyfin.models import UserData

from . import fields as fx

__all__ = ["BaselineEntry", "EntryRecord", "EntryTable", "UserBaseline"]


@dataclass(frozen=True, slots=True)
class BaselineEntry:
    """Agreed and per-server confirmed state of one item for one user.

    A value: change an item by storing a new entry in :attr:`UserBaseline.items`.
    """

    agreed: UserData
    confirmed: Mapping[str, UserData] = field(default_factory=dict)
    """Server id -> last confirmed state, for every server that took part."""

    @property
    def is_default(self) -> bool:
        """Whether the entry carries nothing worth storing."""
        return self.agreed.is_default and all(
            v.is_default for v in self.confirmed.values()
        )


type PackedEntry = tuple[Any, ...]
"""A :class:`BaselineEntry` as one flat tuple of atoms (see :class:`EntryRecord`)."""


class EntryRecord:
    """The layout of a :data:`PackedEntry`; the only code that knows its slots.

    ``AGREED``: the agreed state's values (:func:`~.fields.pack`). Then, from
    ``SERVERS`` on, one group per server in server id order: its id (``SERVER_ID``),
    ``True`` when its state is the agreed one (``SAME``), else ``False`` followed by
    that state's values (from ``STATE``).

    One flat exact tuple (see :func:`~.fields.unpack_at`): the collector untracks it
    in one pass. Never instantiated: a tuple subclass would stay tracked.
    """

    AGREED = 0
    SERVERS = AGREED + fx.PACKED_SIZE
    # Slots within one server's group, counted from the group's start.
    SERVER_ID = 0
    SAME = 1
    STATE = 2

    @staticmethod
    def pack(entry: BaselineEntry) -> PackedEntry:
        """``entry`` as stored."""
        flat: list[Any] = list(fx.pack(entry.agreed))
        for server_id in sorted(entry.confirmed):
            state = entry.confirmed[server_id]
            if state == entry.agreed:
                flat += (server_id, True)
            else:
                flat += (server_id, False, *fx.pack(state))
        return tuple(flat)

    @staticmethod
    def unpack(raw: PackedEntry) -> BaselineEntry:
        """Inverse of :meth:`pack` (a state equal to the agreed one is that object)."""
        agreed = fx.unpack_at(raw, EntryRecord.AGREED)
        return BaselineEntry(
            agreed,
            {
                server_id: agreed if position is None else fx.unpack_at(raw, position)
                for server_id, position in EntryRecord.confirmed(raw)
            },
        )

    @staticmethod
    def confirmed(raw: PackedEntry) -> Iterator[tuple[str, int | None]]:
        """Each server of a stored entry, with where its state starts in ``raw``.

        The position is ``None`` where the server's state is the agreed one.
        """
        position = EntryRecord.SERVERS
        while position < len(raw):
            server_id = raw[position + EntryRecord.SERVER_ID]
            if raw[position + EntryRecord.SAME]:
                yield server_id, None
                position += EntryRecord.STATE
            else:
                yield server_id, position + EntryRecord.STATE
                position += EntryRecord.STATE + fx.PACKED_SIZE


class EntryTable(fx.PackedTable[BaselineEntry, PackedEntry]):
    """Identity -> :class:`BaselineEntry`, stored as flat plain tuples.

    A baseline holds an entry for every item a user touched on any server (tens of
    thousands in big libraries) for as long as Home Assistant runs; as plain tuples
    they are untracked by Python's cyclic garbage collector (see
    :func:`~.fields.pack`). Reading an entry makes its objects each time.
    """

    __slots__ = ()

    def _pack(self, value: BaselineEntry) -> PackedEntry:
        return EntryRecord.pack(value)

    def _unpack(self, packed: PackedEntry) -> BaselineEntry:
        return EntryRecord.unpack(packed)

    def servers(self) -> set[str]:
        """Every server id that confirmed some entry."""
        confirmed = EntryRecord.confirmed
        return {
            server_id
            for raw in self._packed.values()
            for server_id, _ in confirmed(raw)
        }


@dataclass(slots=True)
class UserBaseline:
    """Baseline of one user."""

    servers: set[str] = field(default_factory=set)
    """Servers that were read completely for this user at least once."""
    items: EntryTable = field(default_factory=EntryTable)
    scope: str | None = None
    """The item kinds and libraries of the last complete cycle
    (``SyncOptions.scope_key``). Items that came into scope since have no
    earlier state: they are combined like a first sync, not as changes."""
