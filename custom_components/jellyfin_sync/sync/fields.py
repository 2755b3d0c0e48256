"""Field access, comparison and compact serialisation of :class:`UserData`."""

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from datetime import datetime
from typing import Any

from custom_components.jellyfin_sync.jellyfin.exceptions import JellyfinResponseError
from custom_components.jellyfin_sync.jellyfin.models import (
    SyncField,
    UserData,
    format_datetime,
    parse_datetime,
)
from custom_components.jellyfin_sync.jellyfin.userdata import (
    copy_fields,
    get,
    holds,
    is_reset,
    likes_rating,
    same,
    with_values,
)

__all__ = [
    "DEFAULT",
    "FIELD_ORDER",
    "PACKED_SIZE",
    "PackedTable",
    "StateTable",
    "copy_fields",
    "dump",
    "get",
    "holds",
    "is_reset",
    "likes_rating",
    "load",
    "pack",
    "same",
    "unpack",
    "unpack_at",
    "with_values",
]

DEFAULT = UserData()

#: Short keys of the stored form, in field order.
_SHORT: Mapping[SyncField, str] = {
    SyncField.PLAYED: "p",
    SyncField.PLAY_COUNT: "n",
    SyncField.POSITION: "t",
    SyncField.LAST_PLAYED: "d",
    SyncField.FAVORITE: "f",
    SyncField.RATING: "r",
}

#: Field order used everywhere output must be deterministic.
FIELD_ORDER: tuple[SyncField, ...] = tuple(SyncField)

type Packed = tuple[bool, int, int, datetime | None, bool, float | None]
"""A :class:`UserData` as a plain tuple, in field order (see :func:`pack`).

Only :func:`pack`, :func:`unpack` and :func:`unpack_at` know its slots; the records
that hold states inline (``EntryRecord``, ``HistoryRow``, ``OutcomeRecord``) place
them with :data:`PACKED_SIZE`."""


def pack(data: UserData) -> Packed:
    """The values of ``data`` as a plain tuple.

    Tables that hold thousands of states (snapshots, plan outcomes, the baseline)
    store them packed: Python's cyclic garbage collector untracks a tuple of
    numbers, dates and ``None``, so such tables neither trigger its full passes nor
    make them longer (a full pass stops Home Assistant's event loop).

    >>> pack(UserData(played=True, play_count=2))
    (True, 2, 0, None, False, None)
    """
    return (
        data.played,
        data.play_count,
        data.playback_position_ticks,
        data.last_played_date,
        data.is_favorite,
        data.rating,
    )


_PACKED_DEFAULT = pack(DEFAULT)
#: Number of values :func:`pack` makes.
PACKED_SIZE = len(_PACKED_DEFAULT)


def unpack_at(flat: Sequence[Any], position: int) -> UserData:
    """The state packed at ``flat[position : position + PACKED_SIZE]``.

    Records that hold several states keep them inline in one flat tuple: the
    collector untracks a tuple only once the tuples inside it are untracked, which
    can take a pass per level, so a nested record may reach the old generation
    still tracked.
    """
    return unpack(tuple(flat[position : position + PACKED_SIZE]))


def unpack(packed: Packed) -> UserData:
    """Inverse of :func:`pack` (the default state gives :data:`DEFAULT` itself)."""
    if packed == _PACKED_DEFAULT:
        return DEFAULT
    played, count, ticks, date, favorite, rating = packed
    return UserData(
        played=played,
        play_count=count,
        playback_position_ticks=ticks,
        last_played_date=date,
        is_favorite=favorite,
        rating=rating,
    )


class PackedTable[V, P](MutableMapping[str, V]):
    """Key -> value, each value stored packed (a flat tuple of atoms).

    The one mapping over packed records: a subclass says how one value is packed
    (:meth:`_pack`) and read back (:meth:`_unpack`). The tuples are untracked by
    Python's cyclic garbage collector; reading a value makes its objects each time.
    """

    __slots__ = ("_packed",)

    def __init__(self, values: Mapping[str, V] | None = None) -> None:
        """Create a table, filled from ``values`` when given."""
        self._packed: dict[str, P] = {}
        if values is not None:
            self.update(values)

    def _pack(self, value: V) -> P:
        raise NotImplementedError

    def _unpack(self, packed: P) -> V:
        raise NotImplementedError

    def __getitem__(self, key: str) -> V:
        """The value of a key."""
        return self._unpack(self._packed[key])

    def __setitem__(self, key: str, value: V) -> None:
        """Store the value of a key."""
        self._packed[key] = self._pack(value)

    def __delitem__(self, key: str) -> None:
        """Forget a key."""
        del self._packed[key]

    def __contains__(self, key: object) -> bool:
        """Whether a key has a value (without unpacking it)."""
        return key in self._packed

    def __iter__(self) -> Iterator[str]:
        """The keys."""
        return iter(self._packed)

    def __len__(self) -> int:
        """Number of keys."""
        return len(self._packed)

    def __eq__(self, other: object) -> bool:
        """Equal to another table of the same kind or a mapping of equal values."""
        if type(other) is type(self):
            return self._packed == other._packed
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """Like a dict of the values."""
        return f"{type(self).__name__}({dict(self.items())!r})"


class StateTable(PackedTable[UserData, Packed]):
    """Item id -> state, the states stored packed (see :func:`pack`).

    Reading a state makes a :class:`UserData` each time; a snapshot reads each one
    about once per cycle.
    """

    __slots__ = ()

    def _pack(self, value: UserData) -> Packed:
        return pack(value)

    def _unpack(self, packed: Packed) -> UserData:
        return unpack(packed)


def dump(data: UserData) -> dict[str, Any]:
    """Compact JSON-safe form that omits default values.

    >>> dump(UserData(played=True, play_count=2))
    {'p': 1, 'n': 2}
    """
    out: dict[str, Any] = {}
    for sync_field in FIELD_ORDER:
        value = get(data, sync_field)
        if value == get(DEFAULT, sync_field):
            continue
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, datetime):
            value = format_datetime(value)
        out[_SHORT[sync_field]] = value
    return out


def load(raw: Mapping[str, Any]) -> UserData:
    """Inverse of :func:`dump`.

    Raises:
        TypeError: the data is not an object.
        ValueError: the data is not in the stored form.
    """
    if not isinstance(raw, Mapping):
        raise TypeError("user data must be an object")
    try:
        rating = raw.get("r")
        return UserData(
            played=bool(raw.get("p", 0)),
            play_count=int(raw.get("n", 0)),
            playback_position_ticks=int(raw.get("t", 0)),
            last_played_date=parse_datetime(raw.get("d")),
            is_favorite=bool(raw.get("f", 0)),
            rating=float(rating) if rating is not None else None,
        )
    except (TypeError, ValueError, JellyfinResponseError) as err:
        raise ValueError(f"invalid stored user data: {err}") from err
