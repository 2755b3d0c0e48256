"""The pure planning API: snapshots + baseline -> plan -> baseline (no I/O)."""

from datetime import UTC, datetime

from custom_components.jellyfin_sync.jellyfin.models import (
    Capabilities,
    Item,
    SyncField,
    UserData,
)
from custom_components.jellyfin_sync.sync import (
    Baseline,
    BaselineEntry,
    Direction,
    MatchedUser,
    ServerOptions,
    SyncOptions,
    UserSnapshot,
    advance_baseline,
    build_plan,
    match_items,
    run,
)

NOW = datetime(2026, 5, 1, tzinfo=UTC)
CAPS = Capabilities.for_version((10, 10, 7))
ALICE = MatchedUser(key="alice", name="Alice", ids={"a": "ua", "b": "ub"})
COUNT = 1001  # more than one step of every generator


def library(count: int) -> dict[str, dict[str, Item]]:
    return {
        server: {
            f"{server}{n:04d}": Item(
                id=f"{server}{n:04d}",
                type="Movie",
                name=f"M{n}",
                provider_ids={"tmdb": str(n)},
            )
            for n in range(count)
        }
        for server in ("a", "b")
    }


def test_plan_apply_and_replan_without_io() -> None:
    index = library(COUNT)
    match = run(match_items(index, {}, SyncOptions()))
    watched = UserData(played=True, play_count=1, last_played_date=NOW)
    snapshot = UserSnapshot(
        user=ALICE,
        readable=frozenset({"a", "b"}),
        data={"a": dict.fromkeys(index["a"], watched), "b": {}},
    )
    baseline = Baseline()
    baseline.user("alice").items["movie:tmdb:gone"] = BaselineEntry(
        watched, {"a": watched, "b": watched}
    )

    plan = build_plan(
        [snapshot], match, baseline, SyncOptions(), {"a": CAPS, "b": CAPS}, now=NOW
    )

    assert len(plan.writes) == COUNT
    assert {w.server_id for w in plan.writes} == {"b"}
    assert plan.writes[0].fields == (
        SyncField.PLAYED,
        SyncField.PLAY_COUNT,
        SyncField.LAST_PLAYED,
    )
    assert baseline.item_count == 1  # planning does not touch the baseline
    confirmed = {(w.server_id, w.user_key, w.identity): w.desired for w in plan.writes}
    advance_baseline(baseline, plan, confirmed)
    assert baseline.item_count == COUNT + 1
    assert baseline.users["alice"].servers == {"a", "b"}

    after = UserSnapshot(
        user=ALICE,
        readable=frozenset({"a", "b"}),
        data={
            "a": dict.fromkeys(index["a"], watched),
            "b": dict.fromkeys(index["b"], watched),
        },
    )
    again = build_plan(
        [after], match, baseline, SyncOptions(), {"a": CAPS, "b": CAPS}, now=NOW
    )
    assert again.writes == []
    assert again.compared == COUNT


def test_identity_key_wins_over_an_old_alias() -> None:
    index = library(1)
    match = run(match_items(index, {}, SyncOptions()))
    (item,) = match.items
    old = UserData(is_favorite=True)
    current = UserData(is_favorite=True, rating=4.0)
    baseline = Baseline()
    stored = baseline.user("alice")
    stored.servers = {"a", "b"}
    stored.items[item.identity] = BaselineEntry(current, {"a": current, "b": current})
    stored.items["id:a0000"] = BaselineEntry(old, {"a": old, "b": old})
    snapshot = UserSnapshot(
        user=ALICE,
        readable=frozenset({"a", "b"}),
        data={"a": {"a0000": current}, "b": {"b0000": current}},
    )
    caps = {"a": CAPS, "b": CAPS}
    for _ in range(2):  # the second time the alias is already known
        plan = build_plan([snapshot], match, baseline, SyncOptions(), caps, now=NOW)
        assert plan.writes == []
        assert plan.outcomes[0].stored_key == item.identity


def test_entry_stored_under_an_old_key_is_found() -> None:
    index = library(1)
    match = run(match_items(index, {}, SyncOptions()))
    agreed = UserData(is_favorite=True)
    baseline = Baseline()
    stored = baseline.user("alice")
    stored.servers = {"a", "b"}
    stored.items["id:b0000"] = BaselineEntry(agreed, {"a": agreed, "b": agreed})
    snapshot = UserSnapshot(
        user=ALICE,
        readable=frozenset({"a", "b"}),
        data={"a": {}, "b": {"b0000": agreed}},  # un-favourited on a
    )
    caps = {"a": CAPS, "b": CAPS}
    plan = build_plan([snapshot], match, baseline, SyncOptions(), caps, now=NOW)
    assert [(w.server_id, w.resets) for w in plan.writes] == [
        ("b", (SyncField.FAVORITE,))
    ]
    advance_baseline(baseline, plan, {})
    assert "id:b0000" not in baseline.users["alice"].items


def test_targeted_snapshot_without_a_server_state_leaves_it_out() -> None:
    index = library(1)
    match = run(match_items(index, {}, SyncOptions()))
    snapshot = UserSnapshot(
        user=ALICE,
        readable=frozenset({"a", "b"}),
        data={"a": {"a0000": UserData(is_favorite=True)}, "b": {}},
        scope=frozenset({0}),
    )
    plan = build_plan(
        [snapshot], match, Baseline(), SyncOptions(), {"a": CAPS, "b": CAPS}, now=NOW
    )
    assert plan.compared == 0
    assert plan.readable == {}


def test_likes_only_server_keeps_an_equivalent_rating() -> None:
    index = library(1)
    match = run(match_items(index, {}, SyncOptions()))
    old_caps = Capabilities.for_version((10, 8, 13))
    snapshot = UserSnapshot(
        user=ALICE,
        readable=frozenset({"a", "b"}),
        data={
            "a": {"a0000": UserData(rating=8.0)},
            "b": {"b0000": UserData(rating=10.0)},
        },
    )
    baseline = Baseline()
    baseline.user("alice").items[match.items[0].identity] = BaselineEntry(
        UserData(rating=10.0), {"a": UserData(rating=10.0), "b": UserData(rating=10.0)}
    )
    plan = build_plan(
        [snapshot], match, baseline, SyncOptions(), {"a": CAPS, "b": old_caps}, now=NOW
    )
    assert plan.writes == []
    assert [s.fields for s in plan.skipped] == [(SyncField.RATING,)]


def test_direction_of_a_switched_off_field() -> None:
    options = SyncOptions(
        fields=frozenset({SyncField.PLAYED}),
        servers={"a": ServerOptions(direction=Direction.SOURCE_ONLY)},
    )
    assert options.direction("a", SyncField.FAVORITE) is Direction.OFF
    assert options.direction("a", SyncField.PLAYED) is Direction.SOURCE_ONLY
    assert options.direction("b", SyncField.PLAYED) is Direction.TWO_WAY
    assert not Direction.OFF.reads
    assert not Direction.OFF.writes
