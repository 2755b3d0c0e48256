"""The undo history: the writes of recent cycles with the values they overwrote."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from custom_components.jellyfin_sync.jellyfin.models import (
    SyncField,
    UserData,
    format_datetime,
    parse_datetime,
)

from . import fields as fx

__all__ = ["HistoryCycle", "HistoryRow", "HistoryWrite"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryWrite:
    """One write of a cycle with the values it overwrote."""

    server_id: str
    user_key: str
    user_id: str
    item_id: str
    identity: str
    fields: tuple[SyncField, ...]
    before: UserData
    """The server's state before the write."""
    after: UserData
    """The state confirmed after the write."""
    agreed_before: UserData
    """The agreed state of the item before the cycle."""
    first: bool = False
    """A server of the item had no earlier state to compare with (a first sync):
    there was no agreed state to return to."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "server": self.server_id,
            "user": self.user_key,
            "user_id": self.user_id,
            "item": self.item_id,
            "identity": self.identity,
            "fields": [f.value for f in self.fields],
            "before": fx.dump(self.before),
            "after": fx.dump(self.after),
            "agreed": fx.dump(self.agreed_before),
            "first": self.first,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`."""
        return cls(
            server_id=str(raw["server"]),
            user_key=str(raw["user"]),
            user_id=str(raw["user_id"]),
            item_id=str(raw["item"]),
            identity=str(raw["identity"]),
            fields=tuple(SyncField(f) for f in raw["fields"]),
            before=fx.load(raw["before"]),
            after=fx.load(raw["after"]),
            agreed_before=fx.load(raw["agreed"]),
            first=bool(raw.get("first", False)),
        )


type PackedWrite = tuple[Any, ...]
"""A :class:`HistoryWrite` as one flat tuple of atoms (see :class:`HistoryRow`)."""


class HistoryRow:
    """The layout of a :data:`PackedWrite`; the only code that knows its slots.

    The ids, the fields by name joined with commas (``FIELDS``), the three states'
    values inline (``BEFORE``, ``AFTER``, ``AGREED_BEFORE``; see
    :func:`~.fields.unpack_at`) and the first-sync flag (``FIRST``; a row without it
    reads as ``False``). One flat exact tuple, never instantiated: a tuple subclass
    would stay tracked by the collector.
    """

    SERVER_ID = 0
    USER_KEY = 1
    USER_ID = 2
    ITEM_ID = 3
    IDENTITY = 4
    FIELDS = 5
    BEFORE = 6
    AFTER = BEFORE + fx.PACKED_SIZE
    AGREED_BEFORE = AFTER + fx.PACKED_SIZE
    FIRST = AGREED_BEFORE + fx.PACKED_SIZE

    @staticmethod
    def pack(write: HistoryWrite) -> PackedWrite:
        """``write`` as stored."""
        return (
            write.server_id,
            write.user_key,
            write.user_id,
            write.item_id,
            write.identity,
            ",".join(f.value for f in write.fields),
            *fx.pack(write.before),
            *fx.pack(write.after),
            *fx.pack(write.agreed_before),
            write.first,
        )

    @staticmethod
    def unpack(raw: PackedWrite) -> HistoryWrite:
        """Inverse of :meth:`pack`."""
        first = HistoryRow.FIRST
        return HistoryWrite(
            server_id=raw[HistoryRow.SERVER_ID],
            user_key=raw[HistoryRow.USER_KEY],
            user_id=raw[HistoryRow.USER_ID],
            item_id=raw[HistoryRow.ITEM_ID],
            identity=raw[HistoryRow.IDENTITY],
            fields=tuple(SyncField(f) for f in raw[HistoryRow.FIELDS].split(",") if f),
            before=fx.unpack_at(raw, HistoryRow.BEFORE),
            after=fx.unpack_at(raw, HistoryRow.AFTER),
            agreed_before=fx.unpack_at(raw, HistoryRow.AGREED_BEFORE),
            first=bool(raw[first]) if len(raw) > first else False,
        )


class HistoryCycle:
    """The writes of one applied cycle, newest cycle last in the history.

    The writes are stored as flat plain tuples (:class:`HistoryRow`): a first sync
    records thousands, kept until newer cycles push them out, and plain tuples are
    untracked by Python's cyclic garbage collector. Reading :attr:`writes` makes
    their objects each time.
    """

    __slots__ = ("_packed", "at", "cycle_id")

    def __init__(
        self, *, cycle_id: str, at: datetime, writes: Iterable[HistoryWrite]
    ) -> None:
        """Create a cycle's record."""
        self.cycle_id = cycle_id
        self.at = at
        self._packed: tuple[PackedWrite, ...] = tuple(map(HistoryRow.pack, writes))

    @staticmethod
    def row(write: HistoryWrite) -> PackedWrite:
        """A write as stored (see :meth:`from_rows`)."""
        return HistoryRow.pack(write)

    @classmethod
    def from_rows(
        cls, *, cycle_id: str, at: datetime, rows: Iterable[PackedWrite]
    ) -> Self:
        """A cycle's record from writes already made into :meth:`row` form."""
        cycle = cls(cycle_id=cycle_id, at=at, writes=())
        cycle._packed = tuple(rows)
        return cycle

    @property
    def writes(self) -> tuple[HistoryWrite, ...]:
        """The cycle's writes, in order."""
        return tuple(map(HistoryRow.unpack, self._packed))

    @property
    def write_count(self) -> int:
        """Number of writes (without making their objects)."""
        return len(self._packed)

    def __eq__(self, other: object) -> bool:
        """Equal to a record of the same cycle with the same writes."""
        if not isinstance(other, HistoryCycle):
            return NotImplemented
        return (self.cycle_id, self.at, self._packed) == (
            other.cycle_id,
            other.at,
            other._packed,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """Like a dataclass."""
        return (
            f"HistoryCycle(cycle_id={self.cycle_id!r}, at={self.at!r}, "
            f"writes={self.writes!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "cycle": self.cycle_id,
            "at": format_datetime(self.at),
            "writes": [w.to_dict() for w in self.writes],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`."""
        at = parse_datetime(raw["at"])
        if at is None:
            raise ValueError("history cycle without a date")
        return cls(
            cycle_id=str(raw["cycle"]),
            at=at,
            writes=[HistoryWrite.from_dict(w) for w in raw["writes"]],
        )
