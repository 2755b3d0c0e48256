"""Alternate versions (several files of one title), as Jellyfin 12.0 treats user data.

Pure rules over :class:`~.userdata.UserDataRow` values, used by the server; each cites
the 12.0 source (``[v12.0-rc5]``). 10.8-10.11 have none of this: a movie's second
file is an owned ``Video`` no user listing shows, and every route touches only the
item it names (API-NOTES §9.2).
"""

from __future__ import annotations

from collections.abc import Sequence

from .library import SimItem
from .userdata import UserDataRow, mark_unplayed


def winner(
    versions: Sequence[SimItem], rows: Sequence[UserDataRow]
) -> tuple[SimItem, UserDataRow] | None:
    """The version whose playback the title shows: latest ``LastPlayedDate``.

    Candidates are the versions in progress or played, primary first; the first
    one wins a tie ([v12.0-rc5] Emby.Server.Implementations/Library/
    UserDataManager.cs:247-341, MediaBrowser.Controller/Library/
    VersionPlaybackSelector.cs:26-57).
    """
    best: tuple[SimItem, UserDataRow] | None = None
    for version, row in zip(versions, rows, strict=True):
        if row.playback_position_ticks <= 0 and not row.played:
            continue
        if best is None or _stamp(row) > _stamp(best[1]):
            best = (version, row)
    return best


def _stamp(row: UserDataRow) -> float:
    # A missing date counts as the minimum.
    date = row.last_played_date
    return date.timestamp() if date is not None else float("-inf")


def merged(
    primary: SimItem, versions: Sequence[SimItem], rows: Sequence[UserDataRow]
) -> UserDataRow:
    """The primary's row as every read shows it (``VersionResumeData``).

    ``Played`` = own or the winner's; ``LastPlayedDate`` = the later of the two;
    when the winner is another version that is played at position 0, the position
    reads 0. Play count, favourite and rating are never merged
    ([v12.0-rc5] MediaBrowser.Controller/Library/VersionResumeData.cs:23-39).
    """
    own = rows[0].copy()
    best = winner(versions, rows)
    if best is None:
        return own
    version, row = best
    own.played = own.played or row.played
    if row.last_played_date is not None and (
        own.last_played_date is None or row.last_played_date > own.last_played_date
    ):
        own.last_played_date = row.last_played_date
    if version is not primary and row.played and row.playback_position_ticks == 0:
        own.playback_position_ticks = 0
    return own


def follow_played(row: UserDataRow) -> UserDataRow:
    """What ``MarkPlayed`` on one version does to each other version.

    Only ``Played = true`` and position 0, through the generic update path: play
    count, last played date, favourite and rating stay
    ([v12.0-rc5] MediaBrowser.Controller/Entities/Video.cs:344-348, 370-396).
    """
    out = row.copy()
    out.played = True
    out.playback_position_ticks = 0
    return out


def follow_unplayed(row: UserDataRow) -> UserDataRow:
    """What ``MarkUnplayed`` on one version does to each other version: a full reset.

    [v12.0-rc5] MediaBrowser.Controller/Entities/Video.cs:354-360, 397-407.
    """
    out = row.copy()
    mark_unplayed(out)
    return out


def resume_pick(
    versions: Sequence[SimItem], rows: Sequence[UserDataRow]
) -> SimItem | None:
    """The one version of a title that resume lists keep: in progress, latest date.

    Equal dates keep the smaller id; a version without a date never beats one with a
    date ([v12.0-rc5] Jellyfin.Server.Implementations/Item/
    BaseItemRepository.TranslateQuery.cs:520-545).
    """
    best: tuple[SimItem, UserDataRow] | None = None
    for version, row in zip(versions, rows, strict=True):
        if row.playback_position_ticks <= 0:
            continue
        if best is None:
            best = (version, row)
            continue
        mine, theirs = row.last_played_date, best[1].last_played_date
        if mine is None:
            continue
        if (
            theirs is None
            or mine > theirs
            or (mine == theirs and version.id < best[0].id)
        ):
            best = (version, row)
    return best[0] if best is not None else None
