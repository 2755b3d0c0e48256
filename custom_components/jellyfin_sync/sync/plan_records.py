"""What a plan is made of: planned writes, skips, conflicts and merge outcomes.

The records :func:`.plan.plan_steps` produces and the engine applies; the bulk ones
keep their states packed (see :func:`.fields.pack`). Re-exported by :mod:`.plan`.
"""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from custom_components.jellyfin_sync.jellyfin.models import SyncField, UserData

from . import fields as fx
from .merge import Decision, Participant

__all__ = [
    "Conflict",
    "Outcome",
    "OutcomeList",
    "OutcomeRecord",
    "PlannedWrite",
    "Skipped",
    "SyncPlan",
]


@dataclass(frozen=True, slots=True, init=False, repr=False)
class PlannedWrite:
    """One write: some fields of one item of one user on one server.

    ``current`` and ``desired`` are kept packed (see :func:`.fields.pack`): a first
    sync plans thousands of writes, and two states per write would be thousands
    more objects for the garbage collector to track.
    """

    server_id: str
    user_key: str
    user_id: str
    item_id: str
    identity: str
    fields: tuple[SyncField, ...]
    resets: tuple[SyncField, ...]
    """Fields this write clears (un-watch, un-favourite, clear rating)."""
    packed_current: fx.Packed
    packed_desired: fx.Packed

    def __init__(
        self,
        *,
        server_id: str,
        user_key: str,
        user_id: str,
        item_id: str,
        identity: str,
        fields: tuple[SyncField, ...],
        current: UserData,
        desired: UserData,
        resets: tuple[SyncField, ...],
    ) -> None:
        """Create a write (``desired`` is ``current`` with ``fields`` replaced)."""
        for name, value in (
            ("server_id", server_id),
            ("user_key", user_key),
            ("user_id", user_id),
            ("item_id", item_id),
            ("identity", identity),
            ("fields", fields),
            ("resets", resets),
            ("packed_current", fx.pack(current)),
            ("packed_desired", fx.pack(desired)),
        ):
            object.__setattr__(self, name, value)

    @property
    def current(self) -> UserData:
        """The server's state when it was read."""
        return fx.unpack(self.packed_current)

    @property
    def desired(self) -> UserData:
        """``current`` with ``fields`` replaced by the wanted values."""
        return fx.unpack(self.packed_desired)

    def __repr__(self) -> str:
        """Like a dataclass, with the states unpacked."""
        return (
            f"PlannedWrite(server_id={self.server_id!r}, user_key={self.user_key!r}, "
            f"user_id={self.user_id!r}, item_id={self.item_id!r}, "
            f"identity={self.identity!r}, fields={self.fields!r}, "
            f"current={self.current!r}, desired={self.desired!r}, "
            f"resets={self.resets!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (values as stored in the baseline)."""
        return {
            "server": self.server_id,
            "user": self.user_key,
            "item": self.item_id,
            "identity": self.identity,
            "fields": [f.value for f in self.fields],
            "from": fx.dump(fx.copy_fields(fx.DEFAULT, self.current, self.fields)),
            "to": fx.dump(fx.copy_fields(fx.DEFAULT, self.desired, self.fields)),
            "resets": [f.value for f in self.resets],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    """Fields that differ on a server but that its version cannot write."""

    server_id: str
    user_key: str
    identity: str
    item_id: str
    fields: tuple[SyncField, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "server": self.server_id,
            "user": self.user_key,
            "identity": self.identity,
            "item": self.item_id,
            "fields": [f.value for f in self.fields],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Conflict:
    """A decision for one item of one user."""

    user_key: str
    identity: str
    decision: Decision

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "user": self.user_key,
            "identity": self.identity,
            **self.decision.to_dict(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """The merge result of one item for one user (input to the baseline update)."""

    user_key: str
    identity: str
    stored_key: str | None
    """Key under which the baseline held the item, if it differs or exists."""
    target: UserData
    participants: Mapping[str, Participant]


type PackedOutcome = tuple[Any, ...]
"""An :class:`Outcome` as one flat tuple of atoms (see :class:`OutcomeRecord`)."""


class OutcomeRecord:
    """The layout of a :data:`PackedOutcome`; the only code that knows its slots.

    The keys (``USER_KEY``, ``IDENTITY``, ``STORED_KEY``; together the ``KEY``
    slice), the target state's values (``TARGET``), then from ``PARTICIPANTS`` on
    one group of ``PARTICIPANT_SIZE`` slots per participant, in order: its server
    id and item id, its current state's values (``CURRENT``), whether it has a base
    (``HAS_BASE``) and the base state's values (``BASE``; the default state when it
    has none). States are inline (see :func:`~.fields.unpack_at`) in one flat exact
    tuple; never instantiated: a tuple subclass would stay tracked by the collector.
    """

    USER_KEY = 0
    IDENTITY = 1
    STORED_KEY = 2
    KEY = slice(USER_KEY, STORED_KEY + 1)
    TARGET = STORED_KEY + 1
    PARTICIPANTS = TARGET + fx.PACKED_SIZE
    # Slots within one participant's group, counted from the group's start.
    SERVER_ID = 0
    ITEM_ID = 1
    CURRENT = 2
    HAS_BASE = CURRENT + fx.PACKED_SIZE
    BASE = HAS_BASE + 1
    PARTICIPANT_SIZE = BASE + fx.PACKED_SIZE

    @staticmethod
    def pack(outcome: Outcome) -> PackedOutcome:
        """``outcome`` as stored."""
        flat: list[Any] = [
            outcome.user_key,
            outcome.identity,
            outcome.stored_key,
            *fx.pack(outcome.target),
        ]
        for part in outcome.participants.values():
            flat += (
                part.server_id,
                part.item_id,
                *fx.pack(part.current),
                part.base is not None,
                *fx.pack(part.base or fx.DEFAULT),
            )
        return tuple(flat)

    @staticmethod
    def unpack(raw: PackedOutcome) -> Outcome:
        """Inverse of :meth:`pack`."""
        parts: dict[str, Participant] = {}
        for position in range(
            OutcomeRecord.PARTICIPANTS, len(raw), OutcomeRecord.PARTICIPANT_SIZE
        ):
            server_id = raw[position + OutcomeRecord.SERVER_ID]
            has_base = raw[position + OutcomeRecord.HAS_BASE]
            parts[server_id] = Participant(
                server_id=server_id,
                item_id=raw[position + OutcomeRecord.ITEM_ID],
                current=fx.unpack_at(raw, position + OutcomeRecord.CURRENT),
                base=(
                    fx.unpack_at(raw, position + OutcomeRecord.BASE)
                    if has_base
                    else None
                ),
            )
        return Outcome(
            user_key=raw[OutcomeRecord.USER_KEY],
            identity=raw[OutcomeRecord.IDENTITY],
            stored_key=raw[OutcomeRecord.STORED_KEY],
            target=fx.unpack_at(raw, OutcomeRecord.TARGET),
            participants=parts,
        )


class OutcomeList:
    """The outcomes of a plan, stored as flat plain tuples (:class:`OutcomeRecord`).

    A first sync has an outcome for every item with data (tens of thousands), kept
    from planning until the baseline is updated after the writes; reading one
    makes its objects each time.
    """

    __slots__ = ("_packed",)

    def __init__(self, outcomes: Iterable[Outcome] = ()) -> None:
        """Create a list, filled from ``outcomes`` when given."""
        self._packed: list[PackedOutcome] = []
        for outcome in outcomes:
            self.append(outcome)

    def append(self, outcome: Outcome) -> None:
        """Add an outcome."""
        self._packed.append(OutcomeRecord.pack(outcome))

    def keys(self) -> Iterator[tuple[Any, ...]]:
        """``(user key, identity, stored key)`` of each outcome, without making it."""
        key = OutcomeRecord.KEY
        return (raw[key] for raw in self._packed)

    def __getitem__(self, index: int) -> Outcome:
        """The outcome at an index."""
        return OutcomeRecord.unpack(self._packed[index])

    def __iter__(self) -> Iterator[Outcome]:
        """Every outcome, in order."""
        return map(OutcomeRecord.unpack, self._packed)

    def __len__(self) -> int:
        """Number of outcomes."""
        return len(self._packed)

    def __eq__(self, other: object) -> bool:
        """Equal to another list of the same outcomes."""
        if not isinstance(other, OutcomeList):
            return NotImplemented
        return self._packed == other._packed

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """Like a list of the outcomes."""
        return f"OutcomeList({list(self)!r})"


@dataclass(slots=True, kw_only=True)
class SyncPlan:
    """Everything a cycle would write, hold and skip, with the reasons."""

    writes: list[PlannedWrite] = field(default_factory=list)
    held: list[PlannedWrite] = field(default_factory=list)
    """Writes stopped by the mass-change guard."""
    skipped: list[Skipped] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    outcomes: OutcomeList = field(default_factory=OutcomeList)
    compared: int = 0
    """Matched items whose data was compared (per user)."""
    guard: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    """``(user, server)`` -> (resets, items with data) where the guard tripped."""
    readable: dict[str, frozenset[str]] = field(default_factory=dict)
    scoped: set[str] = field(default_factory=set)
    """Users read completely on every server: their scope is now the options'."""
    scope_key: str = ""
    """User -> servers read completely (full cycles only)."""
    waiting: list[str] = field(default_factory=list)
    """Users whose first sync waits for the unreadable source-of-truth server."""
