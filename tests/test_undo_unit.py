"""The undo rules alone (sync/undo.py), without servers."""

from datetime import UTC, datetime

from custom_components.jellyfin_sync.jellyfin.models import SyncField, UserData
from custom_components.jellyfin_sync.sync.baseline import (
    Baseline,
    BaselineEntry,
    HistoryWrite,
)
from custom_components.jellyfin_sync.sync.undo import make_undo_item, restore_baseline

T = datetime(2026, 1, 1, tzinfo=UTC)
WATCHED = UserData(played=True, play_count=2, last_played_date=T)
FIELDS = (SyncField.PLAYED, SyncField.PLAY_COUNT, SyncField.LAST_PLAYED)
MEMBERS = {"a": ("ua", "ia"), "b": ("ub", "ib")}


def write(agreed: UserData, *, first: bool = False) -> HistoryWrite:
    """The cycle un-watched the film on b (a's un-watch spread)."""
    return HistoryWrite(
        server_id="b",
        user_key="alice",
        user_id="ub",
        item_id="ib",
        identity="movie:imdb:tt1",
        fields=FIELDS,
        before=WATCHED,
        after=UserData(),
        agreed_before=agreed,
        first=first,
    )


def test_every_server_returns_to_the_agreed_values_from_before() -> None:
    item = make_undo_item([write(WATCHED)], MEMBERS, absent=(), rank=str)
    assert item.target("a") == (FIELDS, WATCHED)
    assert item.target("b") == (FIELDS, WATCHED)


def test_a_held_then_approved_change_returns_to_what_the_written_server_had() -> None:
    # The held cycle already agreed on the un-watch: agreed_before is the new value.
    item = make_undo_item([write(UserData())], MEMBERS, absent=(), rank=str)
    assert item.group == WATCHED


def test_a_first_sync_gives_back_each_written_servers_own_value_only() -> None:
    item = make_undo_item([write(UserData(), first=True)], MEMBERS, absent=(), rank=str)
    assert item.target("b") == (FIELDS, WATCHED)
    assert item.target("a") is None


def test_a_newer_play_keeps_the_whole_playback_unit() -> None:
    item = make_undo_item([write(WATCHED)], MEMBERS, absent=(), rank=str)
    replayed = UserData(play_count=1)  # a play since, stopped early
    assert item.changed_since("b", replayed) == FIELDS
    # a (not written) is compared with what the cycle spread: unchanged.
    assert item.changed_since("a", UserData()) == ()


def test_the_stored_state_makes_the_next_cycle_quiet_and_spreads_a_kept_change() -> (
    None
):
    baseline = Baseline()
    user = baseline.user("alice")
    user.items["movie:imdb:tt1"] = BaselineEntry(
        UserData(), {"a": UserData(), "b": UserData()}
    )
    item = make_undo_item([write(WATCHED)], MEMBERS, absent=(), rank=str)
    kept = UserData(play_count=1)
    restore_baseline(
        baseline,
        item,
        settled={("a", "alice", "movie:imdb:tt1"): WATCHED},
        changed={("b", "alice", "movie:imdb:tt1"): FIELDS},
    )
    entry = user.items["movie:imdb:tt1"]
    assert entry.agreed == WATCHED
    assert entry.confirmed["a"] == WATCHED  # settled: quiet
    # b kept a newer change: its base is the restored values, so b's own state
    # reads as a change and goes everywhere.
    assert entry.confirmed["b"] == WATCHED
    assert kept != entry.confirmed["b"]
