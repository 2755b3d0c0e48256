"""Merge rules of the sync engine (``sync/merge.py``), one test per rule."""

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.jellyfin_sync.jellyfin.models import SyncField, UserData
from custom_components.jellyfin_sync.sync import (
    Direction,
    FirstSyncPolicy,
    Participant,
    Rule,
    ServerOptions,
    SyncOptions,
    resolve,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
D1 = NOW - timedelta(days=3)
D2 = NOW - timedelta(days=2)
D3 = NOW - timedelta(days=1)
WATCHED = UserData(played=True, play_count=1, last_played_date=D1)


def part(server: str, current: UserData, base: UserData | None) -> Participant:
    return Participant(
        server_id=server, item_id=f"{server}-item", current=current, base=base
    )


def test_unchanged_everywhere_keeps_the_agreed_state() -> None:
    target, decisions = resolve(
        [part("a", WATCHED, WATCHED), part("b", WATCHED, WATCHED)],
        WATCHED,
        SyncOptions(),
        now=NOW,
    )
    assert target == WATCHED
    assert decisions == []


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (WATCHED, UserData()),  # un-watch
        (UserData(is_favorite=True), UserData()),  # un-favourite
        (UserData(rating=8.0), UserData()),  # clear a rating
        (
            UserData(),
            UserData(playback_position_ticks=5_000, last_played_date=D2, play_count=1),
        ),
    ],
)
def test_a_change_on_one_server_goes_everywhere_including_resets(
    before: UserData, after: UserData
) -> None:
    target, decisions = resolve(
        [part("a", after, before), part("b", before, before)],
        before,
        SyncOptions(),
        now=NOW,
    )
    assert target == after
    assert decisions == []


def test_pending_write_is_not_read_as_a_change() -> None:
    # a changed to WATCHED last cycle; the write to b failed, so b's confirmed
    # state is still the old one: b did not change, the agreed value must win.
    target, _ = resolve(
        [part("a", WATCHED, WATCHED), part("b", UserData(), UserData())],
        WATCHED,
        SyncOptions(),
        now=NOW,
    )
    assert target == WATCHED


def test_playback_conflict_follows_newest_last_played_date() -> None:
    base = UserData(played=True, play_count=1, last_played_date=D1)
    on_a = UserData(
        played=False, play_count=2, playback_position_ticks=900, last_played_date=D3
    )
    on_b = UserData(played=True, play_count=2, last_played_date=D2)
    target, decisions = resolve(
        [part("a", on_a, base), part("b", on_b, base)], base, SyncOptions(), now=NOW
    )
    assert (target.played, target.playback_position_ticks, target.last_played_date) == (
        False,
        900,
        D3,
    )
    rules = {d.rule for d in decisions}
    assert Rule.NEWEST_LAST_PLAYED in rules
    playback = next(d for d in decisions if SyncField.PLAYED in d.fields)
    assert playback.winner == "a"


def test_playback_tie_follows_server_priority() -> None:
    base = UserData()
    on_a = UserData(playback_position_ticks=100, last_played_date=D2)
    on_b = UserData(playback_position_ticks=200, last_played_date=D2)
    options = SyncOptions(priority=("b", "a"))
    target, decisions = resolve(
        [part("a", on_a, base), part("b", on_b, base)], base, options, now=NOW
    )
    assert target.playback_position_ticks == 200
    assert decisions[0].rule is Rule.PRIORITY
    assert decisions[0].winner == "b"


def test_plays_on_different_servers_add_up() -> None:
    base = UserData(played=True, play_count=2, last_played_date=D1)
    on_a = UserData(played=True, play_count=3, last_played_date=D2)
    on_b = UserData(played=True, play_count=4, last_played_date=D3)
    target, decisions = resolve(
        [part("a", on_a, base), part("b", on_b, base), part("c", base, base)],
        base,
        SyncOptions(),
        now=NOW,
    )
    assert target.play_count == 5  # 2 + 1 (a) + 2 (b)
    assert target.last_played_date == D3
    assert any(d.rule is Rule.PLAYS_ADD_UP for d in decisions)


def test_play_count_increment_counts_from_the_servers_own_base() -> None:
    # b is a 10.8 server whose count could not be written: its base is 1 while the
    # agreed count is 3. A new play on b (1 -> 2) adds one play to the agreed 3.
    agreed = UserData(played=True, play_count=3, last_played_date=D1)
    b_base = UserData(played=True, play_count=1, last_played_date=D1)
    b_now = UserData(played=True, play_count=2, last_played_date=D2)
    target, _ = resolve(
        [part("a", agreed, agreed), part("b", b_now, b_base)],
        agreed,
        SyncOptions(),
        now=NOW,
    )
    assert target.play_count == 4


def test_unwatch_loses_to_a_newer_dated_play_elsewhere() -> None:
    base = UserData(played=True, play_count=2, last_played_date=D1)
    on_a = UserData()  # un-watched: no date
    on_b = UserData(played=True, play_count=3, last_played_date=D3)
    target, decisions = resolve(
        [part("a", on_a, base), part("b", on_b, base)], base, SyncOptions(), now=NOW
    )
    assert target.played is True
    assert target.play_count == 3  # b's play counts, a's reset is overruled
    count = next(d for d in decisions if d.fields == (SyncField.PLAY_COUNT,))
    assert count.winner == "b"


def test_play_count_reset_wins_when_the_reset_side_is_newer() -> None:
    base = UserData(played=True, play_count=2, last_played_date=D1)
    # a: a partial re-watch that reset the count to 1 with a newer date (no increment).
    on_a = UserData(play_count=1, playback_position_ticks=50, last_played_date=D3)
    on_b = UserData(played=True, play_count=3, last_played_date=D2)
    target, _ = resolve(
        [part("a", on_a, base), part("b", on_b, base)], base, SyncOptions(), now=NOW
    )
    assert target.play_count == 1
    assert target.playback_position_ticks == 50


def test_play_count_without_playback_winner_uses_newest_changer() -> None:
    options = SyncOptions(fields=frozenset({SyncField.PLAY_COUNT}))
    base = UserData(play_count=5, last_played_date=D1)
    on_a = UserData(play_count=2, last_played_date=D3)
    on_b = UserData(play_count=7, last_played_date=D2)
    target, decisions = resolve(
        [part("a", on_a, base), part("b", on_b, base)], base, options, now=NOW
    )
    assert target.play_count == 2
    assert decisions[0].winner == "a"


def test_rating_conflict_follows_priority() -> None:
    base = UserData(rating=5.0)
    on_a = UserData(rating=8.0)
    on_b = UserData(rating=2.0)
    target, decisions = resolve(
        [part("a", on_a, base), part("b", on_b, base)],
        base,
        SyncOptions(priority=("b",)),
        now=NOW,
    )
    assert target.rating == 2.0
    assert decisions[-1].rule is Rule.PRIORITY
    assert decisions[-1].winner == "b"


def test_favourite_conflict_follows_priority() -> None:
    # After a failed write the two servers have different bases; both changed.
    on_a = UserData(is_favorite=True)
    on_b = UserData(is_favorite=False)
    target, decisions = resolve(
        [part("a", on_a, UserData()), part("b", on_b, UserData(is_favorite=True))],
        UserData(),
        SyncOptions(priority=("a", "b")),
        now=NOW,
    )
    assert target.is_favorite is True
    assert decisions[-1].winner == "a"
    assert decisions[-1].fields == (SyncField.FAVORITE,)


def test_same_change_on_two_servers_is_no_conflict() -> None:
    base = UserData()
    same = UserData(is_favorite=True, rating=9.0)
    target, decisions = resolve(
        [part("a", same, base), part("b", same, base)], base, SyncOptions(), now=NOW
    )
    assert target == same
    assert decisions == []


def test_first_sync_merge_never_destroys_data() -> None:
    on_a = UserData(played=True, play_count=3, last_played_date=D1, rating=8.0)
    on_b = UserData(
        play_count=1, playback_position_ticks=700, last_played_date=D2, is_favorite=True
    )
    on_c = UserData(rating=3.0)
    target, decisions = resolve(
        [part("a", on_a, None), part("b", on_b, None), part("c", on_c, None)],
        None,
        SyncOptions(priority=("c", "a", "b")),
        now=NOW,
    )
    assert target == UserData(
        played=True,
        play_count=3,
        playback_position_ticks=700,
        last_played_date=D2,
        is_favorite=True,
        rating=3.0,
    )
    assert decisions[0].rule is Rule.FIRST_SYNC_MERGE
    assert SyncField.RATING in decisions[0].fields


def test_first_sync_where_only_one_server_has_data_reports_no_conflict() -> None:
    target, decisions = resolve(
        [part("a", WATCHED, None), part("b", UserData(), None)],
        None,
        SyncOptions(),
        now=NOW,
    )
    assert target == WATCHED
    assert decisions == []


def test_first_sync_source_of_truth() -> None:
    options = SyncOptions(first_sync=FirstSyncPolicy.PRIMARY_WINS, primary_server="b")
    target, decisions = resolve(
        [part("a", WATCHED, None), part("b", UserData(is_favorite=True), None)],
        None,
        options,
        now=NOW,
    )
    assert target == UserData(is_favorite=True)
    assert decisions[0].rule is Rule.PRIMARY_SERVER
    assert decisions[0].winner == "b"


def test_source_policy_without_the_source_merges() -> None:
    options = SyncOptions(first_sync=FirstSyncPolicy.PRIMARY_WINS, primary_server="z")
    target, _ = resolve(
        [part("a", WATCHED, None), part("b", UserData(is_favorite=True), None)],
        None,
        options,
        now=NOW,
    )
    assert target == UserData(
        played=True, play_count=1, last_played_date=D1, is_favorite=True
    )


def test_source_policy_keeps_agreed_state_when_a_new_server_joins() -> None:
    options = SyncOptions(first_sync=FirstSyncPolicy.PRIMARY_WINS, primary_server="a")
    target, _ = resolve(
        [part("a", UserData(), UserData()), part("c", WATCHED, None)],
        UserData(),
        options,
        now=NOW,
    )
    assert target == UserData()


def test_new_server_is_merged_with_the_agreed_state() -> None:
    agreed = UserData(played=True, play_count=2, last_played_date=D2)
    newcomer = UserData(
        play_count=5, playback_position_ticks=10, last_played_date=D1, is_favorite=True
    )
    target, _ = resolve(
        [
            part("a", agreed, agreed),
            part("b", agreed, agreed),
            part("c", newcomer, None),
        ],
        agreed,
        SyncOptions(),
        now=NOW,
    )
    # Watched stays watched, play counts are not added up across an unknown base.
    assert target.played is True
    assert target.play_count == 5
    assert target.last_played_date == D2
    assert target.playback_position_ticks == 0
    assert target.is_favorite is True


def test_played_without_date_gets_the_newest_known_date() -> None:
    on_a = UserData(played=True)
    on_b = UserData(playback_position_ticks=10, last_played_date=D2, play_count=1)
    target, decisions = resolve(
        [part("a", on_a, UserData()), part("b", UserData(), UserData())],
        UserData(),
        SyncOptions(),
        now=NOW,
    )
    assert target.played is True
    assert target.last_played_date == NOW
    assert decisions[-1].rule is Rule.PLAYED_WITHOUT_DATE
    target, _ = resolve(
        [part("a", on_a, None), part("b", on_b, None)], None, SyncOptions(), now=NOW
    )
    assert target.played is True
    assert target.last_played_date == D2


def test_receive_only_server_changes_are_ignored() -> None:
    options = SyncOptions(
        servers={
            "b": ServerOptions(
                field_directions={SyncField.FAVORITE: Direction.RECEIVE_ONLY}
            )
        }
    )
    target, _ = resolve(
        [
            part("a", UserData(), UserData()),
            part("b", UserData(is_favorite=True), UserData()),
        ],
        UserData(),
        options,
        now=NOW,
    )
    assert target.is_favorite is False


def test_read_only_winner_field_falls_back_to_other_changers() -> None:
    # a wins the playback conflict (newer) but its position is not read.
    options = SyncOptions(
        servers={
            "a": ServerOptions(
                field_directions={SyncField.POSITION: Direction.RECEIVE_ONLY}
            )
        }
    )
    base = UserData()
    on_a = UserData(
        played=True, play_count=1, last_played_date=D3, playback_position_ticks=1
    )
    on_b = UserData(play_count=1, playback_position_ticks=400, last_played_date=D2)
    target, _ = resolve(
        [part("a", on_a, base), part("b", on_b, base)], base, options, now=NOW
    )
    assert target.played is True
    assert target.playback_position_ticks == 400
    assert target.last_played_date == D3


def test_disabled_fields_keep_the_agreed_value() -> None:
    options = SyncOptions(fields=frozenset({SyncField.FAVORITE}))
    target, _ = resolve(
        [part("a", WATCHED, None), part("b", UserData(is_favorite=True), None)],
        None,
        options,
        now=NOW,
    )
    assert target == UserData(is_favorite=True)


def test_dates_within_a_second_are_the_same() -> None:
    base = UserData(played=True, play_count=1, last_played_date=D1)
    echo = UserData(
        played=True, play_count=1, last_played_date=D1 + timedelta(milliseconds=400)
    )
    target, decisions = resolve(
        [part("a", echo, base), part("b", base, base)], base, SyncOptions(), now=NOW
    )
    assert target == base
    assert decisions == []


def test_servers_new_to_an_item_keep_what_the_others_agreed() -> None:
    """Two servers that were down when the item was first synced join it empty.

    Found by the property test: without the agreed state in the merge, their
    untouched copies out-voted it and the play was reset everywhere.
    """
    target, _ = resolve(
        [part("b", UserData(), None), part("c", UserData(), None)],
        WATCHED,
        SyncOptions(),
        now=NOW,
    )
    assert target.played is True
    assert target.play_count == 1
    assert target.last_played_date == D1
