"""The baseline: what every server agreed on at the last sync, and the undo history.

The baseline is plain data passed into and out of the engine; the Home Assistant
layer stores :meth:`Baseline.to_dict` and restores it with :meth:`Baseline.from_dict`.

Per user and item *identity* (a key built from provider ids, episode numbers or paths,
never one server's item id) it keeps:

* ``agreed``: the state the last cycle decided every server should have;
* ``confirmed``: for every server that took part, the state last read from or
  confirmed on it. It differs from ``agreed`` only while a write is pending (it
  failed, was held or cannot be written on that server's version). Comparing a
  server with its *own* confirmed state, not the agreed one, is what keeps a failed
  write from looking like a change on that server next cycle (no ping-pong).

Only non-default states are stored: an item everyone left untouched has no entry.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from custom_components.jellyfin_sync.jellyfin.models import (
    SyncField,
    UserData,
    format_datetime,
    parse_datetime,
)

from . import fields as fx

#: Version of :meth:`Baseline.to_dict`; :meth:`Baseline.from_dict` migrates older ones.
BASELINE_VERSION = 1


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


type _PackedEntry = tuple[Any, ...]
"""The agreed state's values, then per server (in order) its id and ``True`` when
its state is the agreed one, else ``False`` and the state's values: one flat tuple
(see :func:`~.fields.unpack_at`)."""


def _confirmed_states(raw: _PackedEntry) -> Iterator[tuple[str, int | None]]:
    """Each server of a stored entry, with where its state starts in ``raw``.

    The position is ``None`` where the server's state is the agreed one.
    """
    position = fx.PACKED_SIZE
    while position < len(raw):
        server_id, same = raw[position], raw[position + 1]
        position += 2
        if same:
            yield server_id, None
        else:
            yield server_id, position
            position += fx.PACKED_SIZE


class EntryTable(MutableMapping[str, BaselineEntry]):
    """Identity -> :class:`BaselineEntry`, stored as flat plain tuples.

    A baseline holds an entry for every item a user touched on any server (tens of
    thousands in big libraries) for as long as Home Assistant runs; as plain tuples
    they are untracked by Python's cyclic garbage collector (see
    :func:`~.fields.pack`). Reading an entry makes its objects each time.
    """

    __slots__ = ("_packed",)

    def __init__(self, entries: Mapping[str, BaselineEntry] | None = None) -> None:
        """Create a table, filled from ``entries`` when given."""
        self._packed: dict[str, _PackedEntry] = {}
        if entries is not None:
            self.update(entries)

    def __getitem__(self, key: str) -> BaselineEntry:
        """The entry of an identity."""
        raw = self._packed[key]
        agreed = fx.unpack_at(raw, 0)
        return BaselineEntry(
            agreed,
            {
                server_id: agreed if position is None else fx.unpack_at(raw, position)
                for server_id, position in _confirmed_states(raw)
            },
        )

    def __setitem__(self, key: str, entry: BaselineEntry) -> None:
        """Store the entry of an identity."""
        flat: list[Any] = list(fx.pack(entry.agreed))
        for server_id in sorted(entry.confirmed):
            state = entry.confirmed[server_id]
            if state == entry.agreed:
                flat += (server_id, True)
            else:
                flat += (server_id, False, *fx.pack(state))
        self._packed[key] = tuple(flat)

    def __delitem__(self, key: str) -> None:
        """Forget an identity."""
        del self._packed[key]

    def __contains__(self, key: object) -> bool:
        """Whether an identity has an entry (without unpacking it)."""
        return key in self._packed

    def __iter__(self) -> Iterator[str]:
        """The identities."""
        return iter(self._packed)

    def __len__(self) -> int:
        """Number of entries."""
        return len(self._packed)

    def __eq__(self, other: object) -> bool:
        """Equal to another table or mapping with equal entries."""
        if isinstance(other, EntryTable):
            return self._packed == other._packed
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """Like a dict of the entries."""
        return f"EntryTable({dict(self.items())!r})"

    def servers(self) -> set[str]:
        """Every server id that confirmed some entry."""
        return {
            server_id
            for raw in self._packed.values()
            for server_id, _ in _confirmed_states(raw)
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


class HistoryCycle:
    """The writes of one applied cycle, newest cycle last in the history.

    The writes are stored as flat plain tuples (states inline, fields by name): a
    first sync records thousands, kept until newer cycles push them out, and plain
    tuples are untracked by Python's cyclic garbage collector. Reading
    :attr:`writes` makes their objects each time.
    """

    __slots__ = ("_packed", "at", "cycle_id")

    def __init__(
        self, *, cycle_id: str, at: datetime, writes: Iterable[HistoryWrite]
    ) -> None:
        """Create a cycle's record."""
        self.cycle_id = cycle_id
        self.at = at
        self._packed: tuple[tuple[Any, ...], ...] = tuple(map(self.row, writes))

    @staticmethod
    def row(write: HistoryWrite) -> tuple[Any, ...]:
        """A write as stored (see :meth:`from_rows`)."""
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

    @classmethod
    def from_rows(
        cls, *, cycle_id: str, at: datetime, rows: Iterable[tuple[Any, ...]]
    ) -> Self:
        """A cycle's record from writes already made into :meth:`row` form."""
        cycle = cls(cycle_id=cycle_id, at=at, writes=())
        cycle._packed = tuple(rows)
        return cycle

    @property
    def writes(self) -> tuple[HistoryWrite, ...]:
        """The cycle's writes, in order."""
        size = fx.PACKED_SIZE
        return tuple(
            HistoryWrite(
                server_id=raw[0],
                user_key=raw[1],
                user_id=raw[2],
                item_id=raw[3],
                identity=raw[4],
                fields=tuple(SyncField(f) for f in raw[5].split(",") if f),
                before=fx.unpack_at(raw, 6),
                after=fx.unpack_at(raw, 6 + size),
                agreed_before=fx.unpack_at(raw, 6 + 2 * size),
                first=bool(raw[6 + 3 * size]) if len(raw) > 6 + 3 * size else False,
            )
            for raw in self._packed
        )

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


@dataclass(frozen=True, slots=True, init=False, repr=False)
class Applying:
    """A write a cycle started; kept until the cycle's outcome is in the baseline.

    ``desired`` is kept packed (see :func:`.fields.pack`; a first sync starts
    thousands of writes).
    """

    fields: tuple[SyncField, ...]
    packed_desired: fx.Packed

    def __init__(self, fields: tuple[SyncField, ...], desired: UserData) -> None:
        """Record a started write of ``fields`` towards ``desired``."""
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "packed_desired", fx.pack(desired))

    @property
    def desired(self) -> UserData:
        """The state the write asked for."""
        return fx.unpack(self.packed_desired)

    def __repr__(self) -> str:
        """Like a dataclass, with the state unpacked."""
        return f"Applying(fields={self.fields!r}, desired={self.desired!r})"

    def landed(self, current: UserData) -> bool:
        """Whether a server holds what the write asked for in every field."""
        desired = self.desired
        return all(fx.same(f, current, desired) for f in self.fields)


type ApplyingKey = tuple[str, str, str]
"""(server id, user key, item identity)."""


class Baseline:
    """Per-user agreed states plus a bounded history of overwritten values.

    ``applying`` lists the writes of a cycle that was stopped before its outcome
    was recorded (Home Assistant stopped mid-apply). A server that holds such a
    write's values is treated as having confirmed it, so the sync's own write is
    not read as a new change there (a play counted twice).
    """

    __slots__ = ("applying", "history", "users")

    def __init__(
        self,
        users: dict[str, UserBaseline] | None = None,
        history: list[HistoryCycle] | None = None,
        applying: dict[ApplyingKey, Applying] | None = None,
    ) -> None:
        """Create a baseline (empty by default: everything is a first sync)."""
        self.users: dict[str, UserBaseline] = users if users is not None else {}
        self.history: list[HistoryCycle] = history if history is not None else []
        self.applying: dict[ApplyingKey, Applying] = (
            applying if applying is not None else {}
        )

    def user(self, user_key: str) -> UserBaseline:
        """The baseline of a user, created empty when missing."""
        found = self.users.get(user_key)
        if found is None:
            found = self.users[user_key] = UserBaseline()
        return found

    def __eq__(self, other: object) -> bool:
        """Value equality (used by tests and change detection)."""
        if not isinstance(other, Baseline):
            return NotImplemented
        return (
            self.users == other.users
            and self.history == other.history
            and self.applying == other.applying
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def item_count(self) -> int:
        """Stored entries over all users."""
        return sum(len(u.items) for u in self.users.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, versioned form. Server ids are stored once per user."""
        users: dict[str, Any] = {}
        for user_key in sorted(self.users):
            user = self.users[user_key]
            table: list[str] = sorted(user.servers | user.items.servers())
            index = {server: i for i, server in enumerate(table)}
            items: dict[str, Any] = {}
            for identity in sorted(user.items):
                entry = user.items[identity]
                if entry.is_default:
                    continue
                mask = 0
                pending: dict[str, Any] = {}
                for server, value in entry.confirmed.items():
                    if value == entry.agreed:
                        mask |= 1 << index[server]
                    else:
                        pending[str(index[server])] = fx.dump(value)
                stored: dict[str, Any] = {"a": fx.dump(entry.agreed), "m": mask}
                if pending:
                    stored["c"] = dict(sorted(pending.items()))
                items[identity] = stored
            users[user_key] = {
                "servers": table,
                "synced": [index[s] for s in sorted(user.servers)],
                "items": items,
            }
            if user.scope is not None:
                users[user_key]["scope"] = user.scope
        out: dict[str, Any] = {
            "version": BASELINE_VERSION,
            "users": users,
            "history": [c.to_dict() for c in self.history],
        }
        if self.applying:
            out["applying"] = [
                {
                    "server": server,
                    "user": user_key,
                    "identity": identity,
                    "fields": [f.value for f in write.fields],
                    "to": fx.dump(write.desired),
                }
                for (server, user_key, identity), write in sorted(self.applying.items())
            ]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Restore from :meth:`to_dict` output, migrating older versions.

        Raises:
            TypeError: the data is not an object.
            ValueError: the data is not a baseline or comes from a newer version.
        """
        if not isinstance(data, Mapping):
            raise TypeError("baseline must be an object")
        migrated = _migrate(data)
        try:
            users: dict[str, UserBaseline] = {}
            for user_key, raw_user in migrated["users"].items():
                table = [str(s) for s in raw_user["servers"]]
                user = UserBaseline(servers={table[i] for i in raw_user["synced"]})
                scope = raw_user.get("scope")
                user.scope = str(scope) if scope is not None else None
                for identity, raw in raw_user["items"].items():
                    agreed = fx.load(raw["a"])
                    confirmed: dict[str, UserData] = {}
                    mask = int(raw["m"])
                    for i, server in enumerate(table):
                        if mask & (1 << i):
                            confirmed[server] = agreed
                    for i, value in raw.get("c", {}).items():
                        confirmed[table[int(i)]] = fx.load(value)
                    user.items[str(identity)] = BaselineEntry(agreed, confirmed)
                users[str(user_key)] = user
            history = [HistoryCycle.from_dict(c) for c in migrated.get("history", [])]
            applying = {
                (str(raw["server"]), str(raw["user"]), str(raw["identity"])): Applying(
                    tuple(SyncField(f) for f in raw["fields"]), fx.load(raw["to"])
                )
                for raw in migrated.get("applying", [])
            }
        except (KeyError, IndexError, TypeError, AttributeError) as err:
            raise ValueError(f"invalid baseline: {err!r}") from err
        return cls(users, history, applying)


#: Upgrades from a stored version to the next one, keyed by the stored version.
MIGRATIONS: dict[int, Callable[[Mapping[str, Any]], Mapping[str, Any]]] = {}


def _migrate(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Bring stored data to :data:`BASELINE_VERSION` through :data:`MIGRATIONS`."""
    version = data.get("version")
    if not isinstance(version, int) or not 1 <= version <= BASELINE_VERSION:
        raise ValueError(f"unsupported baseline version {version!r}")
    while version < BASELINE_VERSION:
        data = MIGRATIONS[version](data)
        version = int(data["version"])
    return data
