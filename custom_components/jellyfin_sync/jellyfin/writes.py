"""Plan the requests that make an item's user data equal a wanted state.

Pure functions, no I/O: :func:`plan_write` turns (capabilities, current state, wanted
state, fields) into an ordered list of :class:`WriteOp` plus the state the server will
hold afterwards. The client sends the operations; tests check the plans directly.

Routes and their side effects (API-NOTES §3):

* 10.9+: ``POST /UserItems/{id}/UserData`` copies every non-null field verbatim and
  cannot clear anything. Clearing ``Rating`` needs ``DELETE .../Rating``; clearing
  ``LastPlayedDate`` needs ``MarkUnplayed`` (which also zeroes played, play count and
  position), after which those three are written again.
* 10.8: only toggles exist. ``MarkPlayed(date)`` sets played, position 0, last played
  = date and play count + 1 (at least 1); without a date the count becomes at least 1
  and the date "now". ``MarkUnplayed`` zeroes all four. Likes write rating 10 or 1.
  A wanted state those toggles cannot reach raises :class:`JellyfinUnsupportedError`
  before anything is sent; play counts are never faked by repeated plays.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from .models import Capabilities, SyncField, UserData, format_datetime
from .userdata import copy_fields, dates_match, get, likes_rating, same
from .write_errors import JellyfinUnsupportedError

#: Fields that 10.8's played/unplayed toggles change together.
PLAYED_GROUP = frozenset(
    {SyncField.PLAYED, SyncField.PLAY_COUNT, SyncField.POSITION, SyncField.LAST_PLAYED}
)

#: Wire names of the generic update body (``UpdateUserItemDataDto``).
WIRE_NAMES: Mapping[SyncField, str] = {
    SyncField.PLAYED: "Played",
    SyncField.PLAY_COUNT: "PlayCount",
    SyncField.POSITION: "PlaybackPositionTicks",
    SyncField.LAST_PLAYED: "LastPlayedDate",
    SyncField.FAVORITE: "IsFavorite",
    SyncField.RATING: "Rating",
}


class OpKind(StrEnum):
    """One user-data request."""

    UPDATE = "update"
    """10.9+ generic ``POST .../UserData`` with ``body``."""
    MARK_PLAYED = "mark_played"
    """``POST ...PlayedItems/{id}`` (with ``date_played`` when set)."""
    MARK_UNPLAYED = "mark_unplayed"
    FAVORITE = "favorite"
    UNFAVORITE = "unfavorite"
    SET_LIKES = "set_likes"
    """``POST .../Rating?likes=`` (rating 10 or 1)."""
    CLEAR_RATING = "clear_rating"


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteOp:
    """One request of a write plan."""

    kind: OpKind
    date_played: datetime | None = None
    likes: bool | None = None
    body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def repeatable(self) -> bool:
        """Whether sending it twice leaves the same state (safe to retry).

        Only ``MarkPlayed`` with a date is not: every call adds a play.
        """
        return not (self.kind is OpKind.MARK_PLAYED and self.date_played is not None)


@dataclass(frozen=True, slots=True, kw_only=True)
class WritePlan:
    """The requests to send, in order, and the state expected afterwards."""

    ops: tuple[WriteOp, ...]
    expected: UserData
    """Wanted values of ``fields`` as the server can store them (10.8: likes)."""
    fields: frozenset[SyncField]


def values_match(
    sync_field: SyncField,
    actual: UserData,
    expected: UserData,
    *,
    likes_only: bool = False,
) -> bool:
    """Compare one field the way a read-back is judged.

    Dates match within one second (servers store them at different precisions);
    with ``likes_only`` (10.8) ratings match when their likes/dislikes agree.
    """
    if sync_field is SyncField.RATING and likes_only:
        return actual.likes == expected.likes
    return same(sync_field, actual, expected)


def needs_current(
    capabilities: Capabilities, desired: UserData, fields: frozenset[SyncField]
) -> bool:
    """Whether :func:`plan_write` needs the item's current state for this write."""
    if not capabilities.generic_user_data:
        return bool(fields & PLAYED_GROUP)
    if capabilities.versions and SyncField.PLAYED in fields:
        return True
    return SyncField.LAST_PLAYED in fields and desired.last_played_date is None


def plan_write(
    capabilities: Capabilities,
    desired: UserData,
    fields: Iterable[SyncField],
    current: UserData | None,
) -> WritePlan:
    """Plan the requests that give ``fields`` the values of ``desired``.

    Args:
        capabilities: What the server version can write.
        desired: The wanted state; only ``fields`` are read from it.
        fields: The fields to write; every other field is left alone where the
            server allows it.
        current: The server's state before the write, if known. Used to skip
            requests that change nothing and to predict side effects; required
            when :func:`needs_current` says so.

    Returns:
        The plan; its ``ops`` are empty when ``current`` already matches.

    Raises:
        JellyfinUnsupportedError: the version cannot reach the wanted values.
        ValueError: ``current`` is missing but needed, or a rating is out of 0-10.
    """
    wanted = frozenset(SyncField(f) for f in fields)
    if desired.rating is not None and not 0 <= desired.rating <= 10:
        raise ValueError("rating must be between 0 and 10")
    if current is None and needs_current(capabilities, desired, wanted):
        raise ValueError("this write needs the item's current user data")
    if capabilities.generic_user_data:
        if (
            capabilities.versions
            and SyncField.PLAYED in wanted
            and current is not None
            and current.played != desired.played
            and not (desired.played and desired.last_played_date is None)
        ):
            return _plan_title(desired, wanted, current)
        return _plan_generic(desired, wanted, current)
    return _plan_legacy(desired, wanted, current)


def _plan_title(
    desired: UserData, fields: frozenset[SyncField], current: UserData
) -> WritePlan:
    """12.0: change a title's played flag through the played routes.

    ``MarkPlayed``/``MarkUnplayed`` reach every version of the title; the generic
    update changes only the version it names, so an un-play sent that way leaves an
    alternate played and the title still reads played (API-NOTES §9.2). The toggle's
    side effects on this version (position 0; count at least 1 or 0; the date kept
    or cleared) are then set right with one generic update. A played title without
    a date keeps the generic route: ``MarkPlayed`` always leaves a date.
    """
    expected = copy_fields(current, desired, fields)
    if desired.played:
        mark = WriteOp(kind=OpKind.MARK_PLAYED)
        after = replace(
            current,
            played=True,
            playback_position_ticks=0,
            play_count=max(current.play_count, 1),
        )
    else:
        mark = WriteOp(kind=OpKind.MARK_UNPLAYED)
        after = replace(
            current,
            played=False,
            playback_position_ticks=0,
            play_count=0,
            last_played_date=None,
        )
    rest = set(fields - {SyncField.PLAYED})
    for kept in (SyncField.PLAY_COUNT, SyncField.POSITION, SyncField.LAST_PLAYED):
        if kept not in fields and get(after, kept) != get(current, kept):
            rest.add(kept)  # a value the sync does not own: put it back
    follow = _plan_generic(expected, frozenset(rest), after)
    return WritePlan(ops=(mark, *follow.ops), expected=expected, fields=fields)


def _unchanged(
    current: UserData | None, desired: UserData, fields: Iterable[SyncField]
) -> bool:
    return current is not None and all(
        values_match(f, current, desired) for f in fields
    )


def _plan_generic(
    desired: UserData, fields: frozenset[SyncField], current: UserData | None
) -> WritePlan:
    base = current if current is not None else UserData()
    expected = copy_fields(base, desired, fields)
    if _unchanged(current, desired, fields):
        return WritePlan(ops=(), expected=expected, fields=fields)
    ops: list[WriteOp] = []
    send = set(fields)
    if SyncField.LAST_PLAYED in fields and desired.last_played_date is None:
        send.discard(SyncField.LAST_PLAYED)
        if current is None:  # pragma: no cover - excluded by needs_current()
            raise ValueError("clearing the last-played date needs the current state")
        if current.last_played_date is not None:
            ops.append(WriteOp(kind=OpKind.MARK_UNPLAYED))
            # MarkUnplayed zeroed these; write back the kept or wanted values
            # unless zero is what they should be.
            for reset in (SyncField.PLAYED, SyncField.PLAY_COUNT, SyncField.POSITION):
                if get(expected, reset) == get(UserData(), reset):
                    send.discard(reset)
                else:
                    send.add(reset)
    clear_rating = SyncField.RATING in fields and desired.rating is None
    if clear_rating:
        send.discard(SyncField.RATING)
    body: dict[str, Any] = {}
    for sync_field in sorted(send):
        value = get(expected, sync_field)
        if isinstance(value, datetime):
            value = format_datetime(value)
        body[WIRE_NAMES[sync_field]] = value
    if body:
        ops.append(WriteOp(kind=OpKind.UPDATE, body=body))
    if clear_rating and (current is None or current.rating is not None):
        ops.append(WriteOp(kind=OpKind.CLEAR_RATING))
    return WritePlan(ops=tuple(ops), expected=expected, fields=fields)


_NOW = object()
"""Stands for 10.8's "last played = now" in predictions: equal to nothing."""


def _predict_played(
    state: tuple[bool, int, int, object], op: WriteOp
) -> tuple[bool, int, int, object]:
    _, count, _, _ = state
    if op.kind is OpKind.MARK_UNPLAYED:
        return (False, 0, 0, None)
    if op.date_played is not None:
        return (True, max(count + 1, 1), 0, op.date_played)
    return (True, max(count, 1), 0, _NOW)


def _plan_legacy(
    desired: UserData, fields: frozenset[SyncField], current: UserData | None
) -> WritePlan:
    ops: list[WriteOp] = []
    group = fields & PLAYED_GROUP
    base = current if current is not None else UserData()
    expected = copy_fields(base, desired, fields)
    if SyncField.RATING in fields:
        expected = replace(expected, rating=likes_rating(desired.rating))
    if group:
        if current is None:  # pragma: no cover - excluded by needs_current()
            raise ValueError("played-state writes on 10.8 need the current state")
        group_ops, predicted = _plan_legacy_played(desired, group, current)
        ops.extend(group_ops)
        played, count, position, last = predicted
        expected = replace(
            expected,
            played=played,
            play_count=count,
            playback_position_ticks=position,
            last_played_date=last if isinstance(last, datetime) else None,
        )
        if _NOW is last:
            # 10.8 stamps "now"; the date is unknown until read back.
            expected = replace(expected, last_played_date=None)
    if SyncField.FAVORITE in fields and (
        current is None or current.is_favorite != desired.is_favorite
    ):
        ops.append(
            WriteOp(kind=OpKind.FAVORITE if desired.is_favorite else OpKind.UNFAVORITE)
        )
    if SyncField.RATING in fields and (
        current is None or current.likes != desired.likes
    ):
        if desired.likes is None:
            ops.append(WriteOp(kind=OpKind.CLEAR_RATING))
        else:
            ops.append(WriteOp(kind=OpKind.SET_LIKES, likes=desired.likes))
    return WritePlan(ops=tuple(ops), expected=expected, fields=fields)


def _plan_legacy_played(
    desired: UserData, group: frozenset[SyncField], current: UserData
) -> tuple[list[WriteOp], tuple[bool, int, int, object]]:
    state: tuple[bool, int, int, object] = (
        current.played,
        current.play_count,
        current.playback_position_ticks,
        current.last_played_date,
    )
    want: tuple[bool, int, int, object] = (
        desired.played if SyncField.PLAYED in group else current.played,
        desired.play_count,
        desired.playback_position_ticks,
        desired.last_played_date,
    )
    order = (
        SyncField.PLAYED,
        SyncField.PLAY_COUNT,
        SyncField.POSITION,
        SyncField.LAST_PLAYED,
    )
    checked = [i for i, f in enumerate(order) if f in group]

    def mismatches(predicted: tuple[bool, int, int, object]) -> list[SyncField]:
        return [
            order[i]
            for i in checked
            if not _same(predicted[i], want[i], dates=order[i] is SyncField.LAST_PLAYED)
        ]

    unplayed = WriteOp(kind=OpKind.MARK_UNPLAYED)
    candidates: list[list[WriteOp]] = [[]]
    if want[0]:
        date = desired.last_played_date if SyncField.LAST_PLAYED in group else None
        played = WriteOp(kind=OpKind.MARK_PLAYED, date_played=date)
        candidates += [[played], [unplayed, played]]
    else:
        candidates.append([unplayed])
    misses: list[list[SyncField]] = []
    for ops in candidates:
        predicted = state
        for op in ops:
            predicted = _predict_played(predicted, op)
        missing = mismatches(predicted)
        if not missing:
            return ops, predicted
        misses.append(missing)
    fewest = min(misses, key=len)
    names = ", ".join(f.value for f in fewest)
    raise JellyfinUnsupportedError(
        f"Jellyfin 10.8 cannot set {names} to the wanted value with an API key "
        "(only played/unplayed toggles exist)",
        fewest,
    )


def _same(got: object, want: object, *, dates: bool) -> bool:
    if got is _NOW:
        return False
    if dates and isinstance(got, datetime) and isinstance(want, datetime):
        return dates_match(got, want)
    return got == want
