"""First-sync merge: a server without a value never wins a tie (found by the benchmark).

``scripts/bench`` gives users resume points set through playback progress, which
Jellyfin stores without a last-played date. The first sync broke the date tie by
server priority, so a higher-ranked server that lacked the item reset everyone's
resume point to zero.
"""

from datetime import UTC, datetime

from custom_components.jellyfin_sync.jellyfin.models import UserData
from custom_components.jellyfin_sync.sync import (
    Participant,
    SyncOptions,
    resolve,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def part(server: str, current: UserData) -> Participant:
    return Participant(
        server_id=server, item_id=f"{server}-item", current=current, base=None
    )


def test_resume_point_without_date_survives_a_higher_ranked_empty_server() -> None:
    resumed = UserData(playback_position_ticks=7_830_000_000)
    target, _ = resolve(
        [part("a", UserData()), part("b", resumed), part("c", resumed)],
        None,
        SyncOptions(priority=("a", "b", "c")),
        now=NOW,
    )
    assert target.playback_position_ticks == 7_830_000_000


def test_equal_dates_still_follow_priority_between_values() -> None:
    when = datetime(2026, 2, 1, tzinfo=UTC)
    on_a = UserData(playback_position_ticks=100, last_played_date=when)
    on_b = UserData(playback_position_ticks=900, last_played_date=when)
    target, _ = resolve(
        [part("a", on_a), part("b", on_b)],
        None,
        SyncOptions(priority=("b", "a")),
        now=NOW,
    )
    assert target.playback_position_ticks == 900
