"""Tests of the user-data write planner (pure, no HTTP).

The plans are executed against a small model of Jellyfin's write semantics taken from
API-NOTES §3 (MarkPlayed/MarkUnplayed side effects, likes -> rating 10/1, the generic
update copying non-null fields verbatim), so a test fails when a plan would leave the
server in another state than the planner claims.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.jellyfin_sync.jellyfin import (
    Capabilities,
    JellyfinUnsupportedError,
    SyncField,
    UserData,
    parse_datetime,
)
from custom_components.jellyfin_sync.jellyfin.userdata import get
from custom_components.jellyfin_sync.jellyfin.writes import (
    PLAYED_GROUP,
    OpKind,
    WriteOp,
    likes_rating,
    needs_current,
    plan_write,
    values_match,
)

V10_8 = Capabilities.for_version((10, 8, 13))
V10_9 = Capabilities.for_version((10, 9, 11))
NOW = datetime(2030, 1, 1, tzinfo=UTC)
D1 = datetime(2024, 5, 1, 20, 0, tzinfo=UTC)
D2 = datetime(2025, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)
ALL = frozenset(SyncField)


def run(state: UserData, ops: tuple[WriteOp, ...], *, generic: bool) -> UserData:
    """Apply ops the way Jellyfin does (API-NOTES §3.1-3.4)."""
    for op in ops:
        match op.kind:
            case OpKind.MARK_PLAYED:
                count = state.play_count + (1 if op.date_played else 0)
                if op.date_played is not None:
                    last = op.date_played
                elif generic:
                    last = state.last_played_date or NOW
                else:
                    last = NOW
                state = replace(
                    state,
                    played=True,
                    play_count=max(count, 1),
                    playback_position_ticks=0,
                    last_played_date=last,
                )
            case OpKind.MARK_UNPLAYED:
                state = replace(
                    state,
                    played=False,
                    play_count=0,
                    playback_position_ticks=0,
                    last_played_date=None,
                )
            case OpKind.FAVORITE | OpKind.UNFAVORITE:
                state = replace(state, is_favorite=op.kind is OpKind.FAVORITE)
            case OpKind.SET_LIKES:
                state = replace(state, rating=10.0 if op.likes else 1.0)
            case OpKind.CLEAR_RATING:
                state = replace(state, rating=None)
            case OpKind.UPDATE:
                assert generic, "10.8 has no generic update"
                body = op.body
                state = replace(
                    state,
                    played=body.get("Played", state.played),
                    play_count=body.get("PlayCount", state.play_count),
                    playback_position_ticks=body.get(
                        "PlaybackPositionTicks", state.playback_position_ticks
                    ),
                    is_favorite=body.get("IsFavorite", state.is_favorite),
                    rating=body.get("Rating", state.rating),
                    last_played_date=parse_datetime(body["LastPlayedDate"])
                    if "LastPlayedDate" in body
                    else state.last_played_date,
                )
    return state


user_data = st.builds(
    UserData,
    played=st.booleans(),
    play_count=st.integers(0, 5),
    playback_position_ticks=st.sampled_from([0, 1, 36_000_000_000]),
    last_played_date=st.sampled_from([None, D1, D2]),
    is_favorite=st.booleans(),
    rating=st.sampled_from([None, 0.0, 1.0, 6.4, 6.5, 7.5, 10.0]),
)
field_sets = st.frozensets(st.sampled_from(list(SyncField)))


@settings(max_examples=300, deadline=None)
@given(current=user_data, desired=user_data, fields=field_sets)
def test_generic_plan_reaches_desired_and_keeps_the_rest(
    current: UserData, desired: UserData, fields: frozenset[SyncField]
) -> None:
    plan = plan_write(V10_9, desired, fields, current)
    after = run(current, plan.ops, generic=True)
    for f in SyncField:
        want = desired if f in fields else current
        assert values_match(f, after, want), (f, plan.ops)
    assert plan.expected == after
    if all(values_match(f, current, desired) for f in fields):
        assert plan.ops == ()
    # At most: MarkUnplayed, one update, one rating delete.
    assert len(plan.ops) <= 3
    assert sum(op.kind is OpKind.UPDATE for op in plan.ops) <= 1


@settings(max_examples=300, deadline=None)
@given(current=user_data, desired=user_data, fields=field_sets)
def test_legacy_plan_is_exact_or_refused(
    current: UserData, desired: UserData, fields: frozenset[SyncField]
) -> None:
    refused: JellyfinUnsupportedError | None = None
    try:
        plan = plan_write(V10_8, desired, fields, current)
    except JellyfinUnsupportedError as err:
        refused = err
    if refused is not None:
        assert refused.fields
        assert refused.fields <= fields & PLAYED_GROUP
        return
    assert all(op.kind is not OpKind.UPDATE for op in plan.ops)
    after = run(current, plan.ops, generic=False)
    for f in fields:
        if f is SyncField.RATING:
            # Same likes already: left alone; otherwise stored as 10, 1 or None.
            if current.likes == desired.likes:
                assert after.rating == current.rating
            else:
                assert after.rating == likes_rating(desired.rating)
        else:
            assert values_match(f, after, desired), (f, plan.ops)
    for f in (SyncField.FAVORITE, SyncField.RATING):
        if f not in fields:
            assert get(after, f) == get(current, f)
    if not fields & PLAYED_GROUP:
        assert all(get(after, f) == get(current, f) for f in PLAYED_GROUP)
    # Never more than one play is added (no faked play counts).
    assert sum(op.kind is OpKind.MARK_PLAYED for op in plan.ops) <= 1


def test_generic_full_write_is_one_update() -> None:
    desired = UserData(
        played=True,
        play_count=3,
        playback_position_ticks=5,
        last_played_date=D2,
        is_favorite=True,
        rating=7.5,
    )
    plan = plan_write(V10_9, desired, ALL, None)
    assert plan.ops == (
        WriteOp(
            kind=OpKind.UPDATE,
            body={
                "Played": True,
                "PlayCount": 3,
                "PlaybackPositionTicks": 5,
                "LastPlayedDate": "2025-02-03T04:05:06.7890000Z",
                "IsFavorite": True,
                "Rating": 7.5,
            },
        ),
    )


def test_generic_clear_rating_without_current_deletes() -> None:
    plan = plan_write(V10_9, UserData(rating=None), {SyncField.RATING}, None)
    assert [op.kind for op in plan.ops] == [OpKind.CLEAR_RATING]


def test_generic_clear_last_played_rewrites_the_reset_fields() -> None:
    current = UserData(
        played=True, play_count=4, playback_position_ticks=9, last_played_date=D1
    )
    plan = plan_write(V10_9, UserData(), {SyncField.LAST_PLAYED}, current)
    assert [op.kind for op in plan.ops] == [OpKind.MARK_UNPLAYED, OpKind.UPDATE]
    assert plan.ops[1].body == {
        "Played": True,
        "PlayCount": 4,
        "PlaybackPositionTicks": 9,
    }
    assert plan.expected == replace(current, last_played_date=None)


def test_generic_clear_last_played_of_unplayed_item_is_one_request() -> None:
    current = UserData(last_played_date=D1, is_favorite=True)
    plan = plan_write(V10_9, UserData(), {SyncField.LAST_PLAYED}, current)
    assert plan.ops == (WriteOp(kind=OpKind.MARK_UNPLAYED),)
    plan = plan_write(
        V10_9, UserData(), {SyncField.LAST_PLAYED, SyncField.PLAY_COUNT}, current
    )
    assert plan.ops == (WriteOp(kind=OpKind.MARK_UNPLAYED),)


def test_generic_clear_last_played_needs_current() -> None:
    assert needs_current(V10_9, UserData(), frozenset({SyncField.LAST_PLAYED}))
    assert not needs_current(
        V10_9, UserData(last_played_date=D1), frozenset({SyncField.LAST_PLAYED})
    )
    with pytest.raises(ValueError, match="current user data"):
        plan_write(V10_9, UserData(), {SyncField.LAST_PLAYED}, None)


def test_rating_out_of_range_is_refused_before_io() -> None:
    with pytest.raises(ValueError, match="between 0 and 10"):
        plan_write(V10_9, UserData(rating=11.0), {SyncField.RATING}, None)


def test_legacy_mark_played_with_date_from_fresh_item() -> None:
    desired = UserData(played=True, play_count=1, last_played_date=D2)
    fields = {SyncField.PLAYED, SyncField.PLAY_COUNT, SyncField.LAST_PLAYED}
    plan = plan_write(V10_8, desired, fields, UserData())
    assert plan.ops == (WriteOp(kind=OpKind.MARK_PLAYED, date_played=D2),)
    assert not plan.ops[0].repeatable


def test_legacy_replay_resets_count_to_reach_one_play() -> None:
    current = UserData(played=True, play_count=3, last_played_date=D1)
    desired = UserData(played=True, play_count=1, last_played_date=D2)
    fields = {SyncField.PLAYED, SyncField.PLAY_COUNT, SyncField.LAST_PLAYED}
    plan = plan_write(V10_8, desired, fields, current)
    assert [op.kind for op in plan.ops] == [OpKind.MARK_UNPLAYED, OpKind.MARK_PLAYED]


def test_legacy_position_is_unsupported_unless_already_equal() -> None:
    with pytest.raises(JellyfinUnsupportedError) as info:
        plan_write(
            V10_8,
            UserData(playback_position_ticks=5),
            {SyncField.POSITION},
            UserData(),
        )
    assert info.value.fields == {SyncField.POSITION}
    same = UserData(playback_position_ticks=5)
    assert plan_write(V10_8, same, {SyncField.POSITION}, same).ops == ()


def test_legacy_play_count_cannot_be_raised_by_faking_plays() -> None:
    current = UserData(played=True, play_count=1, last_played_date=D1)
    desired = UserData(played=True, play_count=5, last_played_date=D1)
    with pytest.raises(JellyfinUnsupportedError) as info:
        plan_write(V10_8, desired, {SyncField.PLAY_COUNT}, current)
    assert info.value.fields == {SyncField.PLAY_COUNT}


def test_legacy_played_without_date_field_uses_plain_mark_played() -> None:
    plan = plan_write(V10_8, UserData(played=True), {SyncField.PLAYED}, UserData())
    assert plan.ops == (WriteOp(kind=OpKind.MARK_PLAYED),)
    assert plan.ops[0].repeatable
    # 10.8 stamps "now"; the planner does not pretend to know it.
    assert plan.expected.last_played_date is None


def test_legacy_rating_maps_to_likes() -> None:
    plan = plan_write(V10_8, UserData(rating=7.0), {SyncField.RATING}, None)
    assert plan.ops == (WriteOp(kind=OpKind.SET_LIKES, likes=True),)
    assert plan.expected.rating == 10.0
    plan = plan_write(V10_8, UserData(rating=2.0), {SyncField.RATING}, None)
    assert plan.ops == (WriteOp(kind=OpKind.SET_LIKES, likes=False),)
    plan = plan_write(V10_8, UserData(), {SyncField.RATING}, None)
    assert plan.ops == (WriteOp(kind=OpKind.CLEAR_RATING),)
    # Same likes already: nothing to send.
    plan = plan_write(
        V10_8, UserData(rating=9.0), {SyncField.RATING}, UserData(rating=10.0)
    )
    assert plan.ops == ()


def test_legacy_favourite_needs_no_current() -> None:
    assert not needs_current(V10_8, UserData(), frozenset({SyncField.FAVORITE}))
    plan = plan_write(V10_8, UserData(is_favorite=True), {SyncField.FAVORITE}, None)
    assert plan.ops == (WriteOp(kind=OpKind.FAVORITE),)


def test_values_match_tolerates_sub_second_dates_only() -> None:
    a = UserData(last_played_date=D1)
    assert values_match(
        SyncField.LAST_PLAYED, a, UserData(last_played_date=D1 + timedelta(0.5 / 86400))
    )
    assert not values_match(
        SyncField.LAST_PLAYED, a, UserData(last_played_date=D1 + timedelta(seconds=2))
    )
    assert not values_match(SyncField.LAST_PLAYED, a, UserData())
    assert values_match(
        SyncField.RATING, UserData(rating=10.0), UserData(rating=7.0), likes_only=True
    )
    assert not values_match(
        SyncField.RATING, UserData(rating=10.0), UserData(rating=7.0)
    )


def test_capabilities_by_version() -> None:
    assert not V10_8.generic_user_data
    assert V10_8.writable_fields == {SyncField.PLAYED, SyncField.FAVORITE}
    assert V10_9.writable_fields == ALL
    assert Capabilities.for_version((10, 11, 9)).verify_writes
    assert not Capabilities.for_version((10, 11, 10)).verify_writes
    assert not Capabilities.for_version((10, 10, 7)).verify_writes
    assert Capabilities.for_version((12, 0, 0)).generic_user_data
