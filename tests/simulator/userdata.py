"""Per-user item data and the write rules Jellyfin applies (API-NOTES §3).

Each function here is one server rule, parameterised by the server version where
the rule differs; :class:`tests.simulator.server.SimulatedServer` calls them from both
the HTTP routes and the "act as a user" control surface, so the same quirks apply.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

#: ``UserItemData.MinLikeValue``: ratings at or above it read as ``Likes=true``.
MIN_LIKE_VALUE = 6.5
#: Server defaults (ServerConfiguration): resume thresholds for playback reporting.
MIN_RESUME_PCT = 5.0
MAX_RESUME_PCT = 90.0
MIN_RESUME_DURATION_SECONDS = 300
#: ``MinAudiobookResume`` / ``MaxAudiobookResume`` (minutes), ServerConfiguration.
MIN_AUDIOBOOK_RESUME_MINUTES = 5
MAX_AUDIOBOOK_RESUME_MINUTES = 5
TICKS_PER_SECOND = 10_000_000


class RatingOutOfRangeError(ValueError):
    """A rating outside 0-10 (Jellyfin's ArgumentOutOfRangeException, HTTP 400)."""


@dataclass(slots=True)
class UserDataRow:
    """One stored ``UserItemData`` row."""

    rating: float | None = None
    played: bool = False
    play_count: int = 0
    is_favorite: bool = False
    playback_position_ticks: int = 0
    last_played_date: datetime | None = None

    @property
    def likes(self) -> bool | None:
        """Derived like ``UserItemData.Likes``: rating >= 6.5, None without rating."""
        if self.rating is None:
            return None
        return self.rating >= MIN_LIKE_VALUE

    def set_likes(self, likes: bool | None) -> None:
        """Set ``Likes`` as Jellyfin does: true -> 10, false -> 1, None -> no rating."""
        self.rating = None if likes is None else (10.0 if likes else 1.0)

    def set_rating(self, rating: float | None) -> None:
        """Set the rating, rejecting values outside 0-10."""
        if rating is not None and not 0 <= rating <= 10:
            raise RatingOutOfRangeError(f"rating {rating} outside 0-10")
        self.rating = rating

    def is_default(self) -> bool:
        """Whether the row holds nothing a user did."""
        return self == UserDataRow()

    def copy(self) -> UserDataRow:
        """Return an independent copy."""
        return replace(self)


def mark_played(
    row: UserDataRow,
    *,
    version: tuple[int, ...],
    date_played: datetime | None,
    now: datetime,
) -> None:
    """Apply ``BaseItem.MarkPlayed(user, datePlayed, resetPosition: true)`` (§3.1).

    With a date the play count goes up by one; in every case it becomes at least 1.
    The position is reset. ``LastPlayedDate`` is ``datePlayed ?? UtcNow`` on 10.8 and
    ``datePlayed ?? existing ?? UtcNow`` on 10.9 and later.
    """
    if date_played is not None:
        row.play_count += 1
    row.play_count = max(row.play_count, 1)
    row.playback_position_ticks = 0
    row.played = True
    if version[:2] >= (10, 9):
        row.last_played_date = date_played or row.last_played_date or now
    else:
        row.last_played_date = date_played or now


def mark_unplayed(row: UserDataRow) -> None:
    """Apply ``BaseItem.MarkUnplayed``: everything about playing reset (§3.1)."""
    row.play_count = 0
    row.playback_position_ticks = 0
    row.last_played_date = None
    row.played = False


def apply_update(row: UserDataRow, update: dict[str, Any]) -> None:
    """Apply ``UserDataManager.SaveUserData(UpdateUserItemDataDto)`` (§3.4).

    ``update`` maps lower-cased property names to already-parsed values. Only non-null
    fields are copied, in Jellyfin's order (Rating last, so it wins over Likes);
    PlayedPercentage, UnplayedItemCount, Key and ItemId are ignored; nothing has side
    effects.
    """
    if update.get("playbackpositionticks") is not None:
        row.playback_position_ticks = int(update["playbackpositionticks"])
    if update.get("playcount") is not None:
        row.play_count = int(update["playcount"])
    if update.get("isfavorite") is not None:
        row.is_favorite = bool(update["isfavorite"])
    if update.get("likes") is not None:
        row.set_likes(bool(update["likes"]))
    if update.get("played") is not None:
        row.played = bool(update["played"])
    if update.get("lastplayeddate") is not None:
        row.last_played_date = update["lastplayeddate"]
    if update.get("rating") is not None:
        row.set_rating(float(update["rating"]))


def playback_start(row: UserDataRow, *, now: datetime, resumable: bool) -> None:
    """Apply a playback start: play count up, last played now (§3.5)."""
    row.play_count += 1
    row.last_played_date = now
    if resumable:
        row.played = False


def playback_progress(
    row: UserDataRow,
    *,
    position_ticks: int | None,
    runtime_ticks: int | None,
    kind: str = "Movie",
) -> bool:
    """Apply ``UserDataManager.UpdatePlayState``; return played-to-completion.

    ``position_ticks=None`` (a stop report without a position) counts as the
    runtime. Per kind ([v10.10.7] Emby.Server.Implementations/Library/
    UserDataManager.cs:212-286; [v10.8.13] :216-290, [v10.9.11] :254-328,
    [v10.11.11] :296-370, [v12.0-rc5] :439-513, same rules):

    * every kind but AudioBook and Book: below 5 % the position becomes 0; above
      90 % (or at/after the runtime) played and 0; otherwise, for runtimes under
      300 s, played and 0 (MinResumePct, MaxResumePct, MinResumeDurationSeconds);
    * AudioBook: in minutes: before 5 min the position becomes 0; less than 5 min
      left (or at/after the runtime): played and 0 (MinAudiobookResume,
      MaxAudiobookResume = 5, [v10.10.7] MediaBrowser.Model/Configuration/
      ServerConfiguration.cs:151-157); no minimum duration;
    * Book: no rule for a position; without a runtime (books have none) the item
      is played and the position 0, whatever was reported;
    * any kind without a runtime: played, position 0;
    * ``SupportsPositionTicksResume`` false (``Audio``: BaseItem's default,
      [v10.10.7] MediaBrowser.Controller/Entities/BaseItem.cs, Audio/Audio.cs
      does not override it): the position is always stored as 0.

    ``LastPlayedDate`` is not touched, so an item can end up played without a date.
    """
    runtime = runtime_ticks or 0
    position = position_ticks if position_ticks is not None else runtime
    has_runtime = runtime > 0
    completed = False
    if position > 0 and has_runtime and kind not in {"AudioBook", "Book"}:
        pct = 100.0 * position / runtime
        if pct < MIN_RESUME_PCT:
            position = 0
        elif (
            pct > MAX_RESUME_PCT
            or position >= runtime
            # Enforce MinResumeDuration: short items count as played.
            or runtime < MIN_RESUME_DURATION_SECONDS * TICKS_PER_SECOND
        ):
            position = 0
            completed = True
    elif position > 0 and has_runtime and kind == "AudioBook":
        minutes_in = position / TICKS_PER_SECOND / 60
        minutes_left = (runtime - position) / TICKS_PER_SECOND / 60
        if minutes_in < MIN_AUDIOBOOK_RESUME_MINUTES:
            position = 0
        elif minutes_left < MAX_AUDIOBOOK_RESUME_MINUTES or position >= runtime:
            position = 0
            completed = True
    elif not has_runtime:
        completed = True
        position = 0
    if kind == "Audio":
        position = 0
    if completed:
        row.played = True
    row.playback_position_ticks = position
    return completed


def format_date(value: datetime, *, utc_kind: bool = True) -> str:
    """Format a date like Jellyfin's JsonDateTimeConverter (API-NOTES §6).

    Whole milliseconds of zero: ``yyyy-MM-ddTHH:mm:ss.fffffffZ`` (7 digits).
    Otherwise System.Text.Json's default ISO form: fraction without trailing zeros,
    and no ``Z`` when the value's kind is not UTC (``utc_kind=False``).
    """
    utc = value.astimezone(UTC)
    head = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond // 1000 == 0:
        return f"{head}.{utc.microsecond * 10:07d}Z"
    fraction = f"{utc.microsecond:06d}".rstrip("0")
    return f"{head}.{fraction}" + ("Z" if utc_kind else "")


def parse_date(raw: str) -> datetime:
    """Parse a date the way ``LegacyDateTimeModelBinder`` and System.Text.Json do.

    Accepts ``yyyyMMddHHmmss`` (UTC) and ISO 8601 with up to 7 fractional digits;
    dates without an offset are taken as UTC.

    Raises:
        ValueError: the value is not a date.
    """
    text = raw.strip()
    if len(text) == 14 and text.isdigit():
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:
        head, _, tail = text.partition(".")
        digits = ""
        rest = ""
        for index, char in enumerate(tail):
            if not char.isdigit():
                rest = tail[index:]
                break
            digits += char
        text = f"{head}.{(digits + '000000')[:6]}{rest}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
