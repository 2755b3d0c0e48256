"""What a user-data field is and when two values are the same: one home for the rules.

The client (write planning, read-back checks), the engine (merge, plan, undo) and the
group (echo detection, ``group/echoes.py``) all use these; none writes them again.

* Fields are read and replaced by :class:`~.models.SyncField`.
* Dates are the same within :data:`DATE_TOLERANCE_S`: servers store them at
  different precisions, so a date written and read back may differ by a fraction of
  a second, and treating that as a change would rewrite it every cycle.
* A reset is an un-watch, an un-favourite or a cleared rating.
* Jellyfin 10.8 stores likes only: a rating of 10, 1 or none.
* Jellyfin ids compare in the 32-hex "N" form (:func:`normalize_id`).
"""

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from .models import SyncField, UserData, normalize_id

__all__ = [
    "DATE_TOLERANCE_S",
    "FIELD_ATTR",
    "copy_fields",
    "dates_match",
    "get",
    "holds",
    "is_reset",
    "likes_rating",
    "normalize_id",
    "same",
    "with_values",
]

#: Seconds within which two dates are the same.
DATE_TOLERANCE_S = 1.0

#: The :class:`UserData` attribute of each field.
FIELD_ATTR: Mapping[SyncField, str] = {
    SyncField.PLAYED: "played",
    SyncField.PLAY_COUNT: "play_count",
    SyncField.POSITION: "playback_position_ticks",
    SyncField.LAST_PLAYED: "last_played_date",
    SyncField.FAVORITE: "is_favorite",
    SyncField.RATING: "rating",
}


def get(data: UserData, sync_field: SyncField) -> Any:
    """Value of one field.

    >>> get(UserData(play_count=3), SyncField.PLAY_COUNT)
    3
    """
    return getattr(data, FIELD_ATTR[sync_field])


def with_values(base: UserData, values: Mapping[SyncField, Any]) -> UserData:
    """``base`` with some fields replaced."""
    return replace(base, **{FIELD_ATTR[f]: v for f, v in values.items()})


def copy_fields(
    base: UserData, source: UserData, fields: Iterable[SyncField]
) -> UserData:
    """``base`` with ``fields`` taken from ``source``."""
    return with_values(base, {f: get(source, f) for f in fields})


def dates_match(left: datetime | None, right: datetime | None) -> bool:
    """Whether two dates are the same (within :data:`DATE_TOLERANCE_S`)."""
    if left is None or right is None:
        return left is right
    return abs((left - right).total_seconds()) < DATE_TOLERANCE_S


def holds(current: UserData, wanted: UserData, fields: Iterable[SyncField]) -> bool:
    """Whether ``current`` holds ``wanted`` in every one of ``fields``.

    >>> holds(UserData(played=True, rating=5.0), UserData(played=True), [SyncField.PLAYED])
    True
    """
    return all(same(f, current, wanted) for f in fields)


def same(sync_field: SyncField, left: UserData, right: UserData) -> bool:
    """Whether one field holds the same value (dates within a second).

    >>> same(SyncField.PLAYED, UserData(played=True), UserData())
    False
    """
    a = get(left, sync_field)
    b = get(right, sync_field)
    if sync_field is SyncField.LAST_PLAYED:
        return dates_match(a, b)
    return bool(a == b)


def is_reset(sync_field: SyncField, before: UserData, after: UserData) -> bool:
    """Whether writing ``after`` over ``before`` un-watches, un-favourites or clears.

    >>> is_reset(SyncField.PLAYED, UserData(played=True), UserData())
    True
    """
    if sync_field is SyncField.PLAYED:
        return before.played and not after.played
    if sync_field is SyncField.FAVORITE:
        return before.is_favorite and not after.is_favorite
    if sync_field is SyncField.RATING:
        return before.rating is not None and after.rating is None
    return False


def likes_rating(rating: float | None) -> float | None:
    """The rating a likes-only server (10.8) stores for a wanted rating.

    >>> likes_rating(7.0), likes_rating(3.0), likes_rating(None)
    (10.0, 1.0, None)
    """
    if rating is None:
        return None
    return 10.0 if UserData(rating=rating).likes else 1.0
