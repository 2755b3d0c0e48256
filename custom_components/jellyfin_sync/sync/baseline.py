"""The baseline: what every server agreed on at the last sync, and the undo history.

The baseline is plain data passed into and out of the engine; the Home Assistant
layer stores :meth:`Baseline.to_dict` and restores it with :meth:`Baseline.from_dict`.
Its parts live next door: the per-item entries in :mod:`.baseline_entries`, the undo
history in :mod:`.baseline_history` (both re-exported here).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from custom_components.jellyfin_sync.jellyfin.models import SyncField, UserData

from . import fields as fx
from .baseline_entries import BaselineEntry, EntryRecord, EntryTable, UserBaseline
from .baseline_history import HistoryCycle, HistoryRow, HistoryWrite

__all__ = [
    "BASELINE_VERSION",
    "MIGRATIONS",
    "Applying",
    "ApplyingKey",
    "Baseline",
    "BaselineEntry",
    "EntryRecord",
    "EntryTable",
    "HistoryCycle",
    "HistoryRow",
    "HistoryWrite",
    "UserBaseline",
]

#: Version of :meth:`Baseline.to_dict`; :meth:`Baseline.from_dict` migrates older ones.
BASELINE_VERSION = 1


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
        return fx.holds(current, self.desired, self.fields)


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
