"""Unit tests of the title-with-versions rules (sync/versions.py) and their writes."""

from datetime import UTC, datetime

import pytest

from custom_components.jellyfin_sync.jellyfin.models import (
    Capabilities,
    Item,
    SyncField,
    UserData,
)
from custom_components.jellyfin_sync.jellyfin.writes import (
    OpKind,
    needs_current,
    plan_write,
)
from custom_components.jellyfin_sync.sync.versions import Versions

V12 = Capabilities.for_version((12, 0, 0))
V11 = Capabilities.for_version((10, 11, 11))
DATE = datetime(2026, 2, 1, tzinfo=UTC)
P, A, B = "p" * 32, "a" * 32, "b" * 32


def title(*ids: str, data: UserData | None = None) -> Item:
    return Item(id=ids[0], type="Movie", name="t", version_ids=ids, user_data=data)


def test_only_12_0_has_versions() -> None:
    assert V12.versions
    assert not V11.versions


def test_learn_forget_and_title() -> None:
    versions = Versions()
    assert not versions
    assert versions.learn(title(P, A))
    assert not versions.learn(title(P, A))  # nothing new
    assert versions
    assert versions.title(A) == P
    assert versions.title(B) == B
    versions.forget([P])
    assert not versions


def test_overlay_takes_the_resumed_alternates_position() -> None:
    versions = Versions()
    versions.learn(title(P, A))
    found = {P: UserData(played=True, last_played_date=DATE)}
    resumed = [
        Item(
            id=A, type="Movie", name="t", user_data=UserData(playback_position_ticks=7)
        ),
        Item(
            id=B, type="Movie", name="x", user_data=UserData(playback_position_ticks=9)
        ),
        Item(id=A, type="Movie", name="t"),  # without user data: ignored
    ]
    changed = versions.overlay("u", found, resumed[:2])
    assert changed == {
        P: UserData(played=True, last_played_date=DATE, playback_position_ticks=7)
    }
    assert versions.resumed_titles("u") == {P}
    assert versions.overlay("u", {}, resumed[:1]) == {}  # title not read yet
    assert versions.overlay("v", found, resumed[2:]) == {}
    assert versions.resumed_titles("v") == set()


def test_route_sends_the_position_to_the_resumed_version() -> None:
    versions = Versions()
    versions.learn(title(P, A))
    own = UserData(playback_position_ticks=5)
    alt = Item(id=A, type="Movie", name="t", user_data=own)
    versions.overlay("u", {P: UserData()}, [alt])
    fields = frozenset({SyncField.POSITION, SyncField.LAST_PLAYED, SyncField.FAVORITE})
    desired = UserData(playback_position_ticks=9, last_played_date=DATE)
    assert versions.route("u", P, desired, fields) == [
        (P, frozenset({SyncField.FAVORITE}), None),
        (A, frozenset({SyncField.POSITION, SyncField.LAST_PLAYED}), own),
    ]
    # Only the position, and no date to move: one route to the alternate.
    undated = UserData(playback_position_ticks=9)
    position = frozenset({SyncField.POSITION, SyncField.LAST_PLAYED})
    assert versions.route("u", P, undated, position) == [
        (P, frozenset({SyncField.LAST_PLAYED}), None),
        (A, frozenset({SyncField.POSITION}), own),
    ]
    assert versions.route("u", P, desired, frozenset({SyncField.POSITION})) == [
        (A, frozenset({SyncField.POSITION}), own)
    ]
    # A title becoming played, a user with no resumed version: all to the primary.
    played = UserData(played=True)
    assert versions.route("u", P, played, fields) == [(P, fields, None)]
    assert versions.route("w", P, desired, fields) == [(P, fields, None)]


def test_a_12_0_un_play_goes_through_the_played_route() -> None:
    current = UserData(played=True, play_count=3, last_played_date=DATE, rating=7.0)
    fields = frozenset({SyncField.PLAYED})
    assert needs_current(V12, UserData(), fields)
    plan = plan_write(V12, UserData(), fields, current)
    assert [op.kind for op in plan.ops] == [OpKind.MARK_UNPLAYED, OpKind.UPDATE]
    # The count and date the sync does not own are put back.
    assert plan.ops[1].body == {
        "LastPlayedDate": "2026-02-01T00:00:00.0000000Z",
        "PlayCount": 3,
    }
    assert plan.expected == UserData(play_count=3, last_played_date=DATE, rating=7.0)
    # 10.11 keeps the generic update.
    legacy = plan_write(V11, UserData(), fields, current)
    assert [op.kind for op in legacy.ops] == [OpKind.UPDATE]


def test_a_12_0_play_marks_every_version_then_sets_the_values() -> None:
    fields = frozenset({SyncField.PLAYED, SyncField.PLAY_COUNT, SyncField.LAST_PLAYED})
    desired = UserData(played=True, play_count=2, last_played_date=DATE)
    plan = plan_write(V12, desired, fields, UserData(playback_position_ticks=50))
    assert [op.kind for op in plan.ops] == [OpKind.MARK_PLAYED, OpKind.UPDATE]
    assert plan.ops[1].body == {
        "LastPlayedDate": "2026-02-01T00:00:00.0000000Z",
        "PlayCount": 2,
        "PlaybackPositionTicks": 50,
    }
    # Played without a date: MarkPlayed would add one, so the generic route.
    undated = plan_write(
        V12, UserData(played=True), frozenset({SyncField.PLAYED}), UserData()
    )
    assert [op.kind for op in undated.ops] == [OpKind.UPDATE]


@pytest.mark.parametrize("raw", [None, "x", [1, {"Id": 5}, {"Id": ""}]])
def test_media_sources_that_carry_no_ids(raw: object) -> None:
    payload = {"Id": P, "Type": "Movie", "Name": "t", "MediaSources": raw}
    assert Item.from_json(payload).version_ids == ()
