"""End-to-end cycles of the sync engine against in-memory Jellyfin servers."""

import json
import uuid

import pytest

from custom_components.jellyfin_sync.jellyfin.exceptions import (
    ErrorReason,
    JellyfinConnectionError,
)
from custom_components.jellyfin_sync.jellyfin.models import SyncField, UserData
from custom_components.jellyfin_sync.jellyfin.write_errors import (
    JellyfinUnsupportedError,
    JellyfinVerificationError,
)
from custom_components.jellyfin_sync.sync import (
    Baseline,
    Direction,
    FirstSyncPolicy,
    GuardLimits,
    ServerOptions,
    SkippedUser,
    SkipReason,
    Stage,
    SyncEngine,
    SyncError,
    SyncOptions,
)
from tests.engine_fakes import Clock, FakeServer, two_servers_same_ids

NO_GUARD = GuardLimits(max_changes=None, max_change_share=None)


def engine(*servers: FakeServer, **options: object) -> SyncEngine:
    options.setdefault("guard", NO_GUARD)
    return SyncEngine(
        {s.server_id: s for s in servers},
        SyncOptions(**options),  # type: ignore[arg-type]
    )


def movie_ids(server: FakeServer) -> list[str]:
    return sorted(i.id for i in server.items.values() if i.type == "Movie")


# ----------------------------------------------------------- the seed scenario


async def test_seed_scenario_identical_ids_two_servers() -> None:
    a, b = two_servers_same_ids()
    m0, m1, m2 = movie_ids(a)
    a.play("Alice", m0)
    b.partial("Alice", m1, 5_000)
    b.favorite("bob", m2)
    a.rate("bob", m2, 7.5)
    sync = engine(a, b)

    report = await sync.run_cycle(now=a.clock.tick())

    assert report.ok
    assert report.writes_done == report.writes_planned == 4
    for user in ("Alice", "bob"):
        for item in (m0, m1, m2):
            assert a.get(user, item) == b.get(user, item)
    assert b.get("Alice", m0).played
    assert a.get("Alice", m1).playback_position_ticks == 5_000
    assert a.get("bob", m2).is_favorite
    assert b.get("bob", m2).rating == 7.5
    assert report.matches_by_method["id"] == 3

    again = await sync.run_cycle(now=a.clock.tick())
    assert again.writes_planned == 0
    assert again.items_compared == 3


async def test_applied_writes_are_taken_once_and_dry_runs_apply_none() -> None:
    """The caller takes a cycle's writes (webhook echoes); nothing else is kept."""
    a, b = two_servers_same_ids()
    m0, m1, _ = movie_ids(a)
    a.play("Alice", m0)
    b.favorite("bob", m1)
    sync = engine(a, b)
    assert sync.take_applied_writes() == []

    dry = await sync.run_cycle(now=a.clock.tick(), dry_run=True)
    assert dry.writes_planned == 2
    assert sync.take_applied_writes() == []

    await sync.run_cycle(now=a.clock.tick())
    applied = sync.take_applied_writes()
    assert sorted((w.server_id, w.user_key, w.item_id) for w in applied) == [
        (a.server_id, "bob", m1),
        (b.server_id, "alice", m0),
    ]
    assert sync.take_applied_writes() == []
    assert not hasattr(sync, "last_plan")


async def test_unwatch_unfavourite_and_clear_rating_propagate() -> None:
    a, b = two_servers_same_ids()
    m0, m1, _ = movie_ids(a)
    a.play("Alice", m0)
    a.favorite("Alice", m1)
    a.rate("Alice", m1, 9.0)
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    assert b.get("Alice", m0).played
    assert b.get("Alice", m1).is_favorite

    b.mark_unplayed("Alice", m0)
    b.favorite("Alice", m1, False)
    b.rate("Alice", m1, None)
    report = await sync.run_cycle(now=a.clock.tick())

    assert report.writes_done == 2
    assert a.get("Alice", m0) == UserData()
    assert a.get("Alice", m1) == UserData()
    assert (await sync.run_cycle(now=a.clock.tick())).writes_planned == 0
    # The baseline no longer stores anything for Alice: all default.
    assert sync.baseline.users["alice"].items == {}


async def test_played_without_date_is_stamped_everywhere() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    a.mark_played_without_date("Alice", m0)
    now = a.clock.tick()

    report = await sync.run_cycle(now=now)

    assert report.conflicts_by_rule == {"played_without_date": 1}
    assert a.get("Alice", m0).last_played_date == now
    assert b.get("Alice", m0) == a.get("Alice", m0)
    assert (await sync.run_cycle(now=a.clock.tick())).writes_planned == 0


# ------------------------------------------------------ different media roots


def library_pair() -> tuple[FakeServer, FakeServer]:
    clock = Clock()
    a = FakeServer("a" * 32, clock=clock)
    b = FakeServer("b" * 32, clock=clock, version="10.11.11")
    for server, root in ((a, "/mnt/media"), (b, "/srv/jellyfin/library")):
        server.add_user("Alice")
        server.add_movie(f"{root}/movies/Matrix.mkv", ids={"imdb": "tt0133093"})
        show = server.add_series(f"{root}/tv/Breaking Bad", ids={"tvdb": "81189"})
        server.add_episode(show, 1, 1)
        server.add_episode(show, 1, 2)
        server.add_movie(f"{root}/home/Wedding.mkv")
    return a, b


async def test_different_media_roots_every_id_differs() -> None:
    a, b = library_pair()
    assert not set(a.items) & set(b.items)
    sync = engine(
        a,
        b,
        servers={
            a.server_id: ServerOptions(media_roots=("/mnt/media",)),
            b.server_id: ServerOptions(media_roots=("/srv/jellyfin/library",)),
        },
    )
    by_name = {s.server_id: {i.name: i.id for i in s.items.values()} for s in (a, b)}
    a.play("Alice", by_name[a.server_id]["Matrix.mkv"])
    b.partial("Alice", by_name[b.server_id]["Breaking Bad 1x2"], 1234)
    a.favorite("Alice", by_name[a.server_id]["Wedding.mkv"])

    report = await sync.run_cycle(now=a.clock.tick())

    # The series is synced too (its favourite and rating), matched by provider id.
    assert report.matches_by_method == {
        "episode": 2,
        "id": 0,
        "name": 0,
        "path": 1,
        "provider": 2,
    }
    assert report.unmatched == {a.server_id: 0, b.server_id: 0}
    assert b.get("Alice", by_name[b.server_id]["Matrix.mkv"]).played
    assert (
        a.get("Alice", by_name[a.server_id]["Breaking Bad 1x2"]).playback_position_ticks
        == 1234
    )
    assert b.get("Alice", by_name[b.server_id]["Wedding.mkv"]).is_favorite
    identities = set(sync.baseline.users["alice"].items)
    assert identities == {
        "movie:imdb:tt0133093",
        "episode:series:tvdb:81189:s1e2",
        "path:movie:home/wedding.mkv",
    }
    assert (await sync.run_cycle(now=a.clock.tick())).writes_planned == 0


async def test_ambiguous_items_are_reported_and_left_alone() -> None:
    a, b = two_servers_same_ids(movies=1)
    extra = a.add_movie("/media/movies/Movie 0 - 4K.mkv", ids={"imdb": "tt0000000"})
    b_only = b.add_movie("/other/Movie 0.mkv", ids={"imdb": "tt0000000"})
    a.play("Alice", extra.id)
    sync = engine(a, b)

    report = await sync.run_cycle(now=a.clock.tick())

    # tt0000000 names two items on each server: never used there.
    assert report.ambiguous == 2
    assert {e["server"] for e in report.ambiguous_examples} == {
        a.server_id,
        b.server_id,
    }
    assert report.matches_by_method["id"] == 1  # the shared path still matches
    assert b.get("Alice", b_only.id) == UserData()


# --------------------------------------------------------------- first sync


async def test_first_sync_merges_without_destroying_data() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    a.play("Alice", m0)
    a.play("Alice", m0)
    b.play("Alice", m0)
    b.favorite("Alice", m0)
    sync = engine(a, b)

    await sync.run_cycle(now=a.clock.tick())

    merged = a.get("Alice", m0)
    assert merged == b.get("Alice", m0)
    assert merged.played
    assert merged.is_favorite
    assert merged.play_count == 2  # the highest, not the sum, on a first sync


async def test_first_sync_source_of_truth_waits_for_the_source() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    a.play("Alice", m0)
    sync = engine(
        a, b, first_sync=FirstSyncPolicy.PRIMARY_WINS, primary_server=b.server_id
    )
    b.fail_user_reads = True

    report = await sync.run_cycle(now=a.clock.tick())

    assert SkippedUser("alice", SkipReason.WAITS_FOR_PRIMARY) in report.users_skipped
    assert a.get("Alice", m0).played
    b.fail_user_reads = False
    await sync.run_cycle(now=a.clock.tick())
    assert a.get("Alice", m0) == UserData()  # b (the truth) never saw it watched


async def test_first_sync_waits_while_the_primary_server_is_down() -> None:
    clock = Clock()
    a, b, source = (FakeServer(x * 32, clock=clock) for x in "abs")
    for server in (a, b, source):
        server.add_user("Alice")
        server.add_movie("/media/Film.mkv")
    (m0,) = movie_ids(a)
    a.play("Alice", m0)
    sync = engine(
        a,
        b,
        source,
        first_sync=FirstSyncPolicy.PRIMARY_WINS,
        primary_server=source.server_id,
    )
    source.fail_reads = True  # down: not even its users are known

    report = await sync.run_cycle(now=clock.tick())

    assert SkippedUser("alice", SkipReason.WAITS_FOR_PRIMARY) in report.users_skipped
    assert report.users == []
    assert not b.get("Alice", m0).played
    source.fail_reads = False
    await sync.run_cycle(now=clock.tick())
    assert a.get("Alice", m0) == UserData()
    # Once synced with the source, a later outage no longer stops the others.
    source.fail_reads = True
    a.favorite("Alice", m0)
    report = await sync.run_cycle(now=clock.tick())
    assert report.users == ["alice"]
    assert b.get("Alice", m0).is_favorite


# ------------------------------------------------------------------- faults


async def test_unreadable_server_takes_no_part_and_nothing_is_reset() -> None:
    a, b = two_servers_same_ids()
    m0, m1, _ = movie_ids(a)
    a.play("Alice", m0)
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())

    b.fail_user_reads = True
    b.mark_unplayed("Alice", m0)
    a.play("Alice", m1)
    report = await sync.run_cycle(now=a.clock.tick())

    assert not report.ok
    assert report.writes_planned == 0
    assert a.get("Alice", m0).played  # b's state was not read: not an un-watch
    b.fail_user_reads = False
    await sync.run_cycle(now=a.clock.tick())
    assert a.get("Alice", m0) == UserData()  # b's un-watch arrives now
    assert b.get("Alice", m1).played


async def test_partly_read_server_contributes_nothing() -> None:
    a, b = two_servers_same_ids(movies=6)
    for item in movie_ids(a):
        a.play("Alice", item)
        a.favorite("Alice", item)
    # Pages of 2: the favourites listing needs three.
    sync = engine(a, b, sweep_page_size=2)
    await sync.run_cycle(now=a.clock.tick())
    for item in movie_ids(a):
        a.mark_unplayed("Alice", item)
    a.fail_after_pages = 1
    b.play("Alice", movie_ids(b)[0])

    report = await sync.run_cycle(now=a.clock.tick())

    assert report.writes_planned == 0
    assert all(b.get("Alice", i).played for i in movie_ids(b))


async def test_failed_write_is_retried_and_never_ping_pongs() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    a.favorite("Alice", m0)
    b.fail_writes = True

    first = await sync.run_cycle(now=a.clock.tick())
    assert first.writes_failed == 1
    assert a.get("Alice", m0).is_favorite  # b's old value did not come back
    second = await sync.run_cycle(now=a.clock.tick())
    assert second.writes_failed == 1
    assert a.get("Alice", m0).is_favorite
    assert second.servers[a.server_id].writes == 0

    b.fail_writes = False
    third = await sync.run_cycle(now=a.clock.tick())
    assert third.writes_done == 1
    assert b.get("Alice", m0).is_favorite
    assert (await sync.run_cycle(now=a.clock.tick())).writes_planned == 0


async def test_vanished_item_is_not_an_unwatch() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    a.play("Alice", m0)
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())

    del a.items[m0]  # deleted (or being rescanned) on a
    report = await sync.run_cycle(now=a.clock.tick())

    assert report.vanished == 1
    assert report.writes_planned == 0
    assert b.get("Alice", m0).played


async def test_unwatch_missing_from_sweep_is_confirmed_by_fetching() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    a.play("Alice", m0)
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    b.mark_unplayed("Alice", m0)
    requests_before = b.requests

    report = await sync.run_cycle(now=a.clock.tick())

    assert report.vanished == 0
    assert a.get("Alice", m0) == UserData()
    assert b.requests > requests_before


async def test_write_to_deleted_item_counts_as_vanished() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    del b.items[m0]  # gone on b, the index does not know yet
    a.play("Alice", m0)

    report = await sync.run_cycle(now=a.clock.tick())

    assert report.vanished == 1
    assert report.writes_failed == 1
    assert report.errors == []


# -------------------------------------------------------- guard, undo, dry run


async def test_mass_unwatch_is_held_until_approved() -> None:
    a, b = two_servers_same_ids(movies=10)
    for item in movie_ids(a):
        a.play("Alice", item)
    sync = engine(a, b, guard=GuardLimits(max_changes=5))
    await sync.run_cycle(now=a.clock.tick())
    for item in movie_ids(a)[:8]:
        a.mark_unplayed("Alice", item)
    a.favorite("Alice", movie_ids(a)[9])

    report = await sync.run_cycle(now=a.clock.tick())

    assert report.held == 8
    assert report.guard == [
        {"user": "alice", "server": b.server_id, "resets": 8, "items_with_data": 10}
    ]
    assert report.writes_done == 1  # the favourite is not a reset
    assert all(b.get("Alice", i).played for i in movie_ids(b))
    # Still held next cycle: a's un-watch is not forgotten, b's state not re-read as new.
    assert (await sync.run_cycle(now=a.clock.tick())).held == 8
    approved = await sync.run_cycle(now=a.clock.tick(), approve_held=True)
    assert approved.writes_done == 8
    assert not any(b.get("Alice", i).played for i in movie_ids(b)[:8])


def test_guard_share_limit() -> None:
    guard = GuardLimits(max_changes=None, max_change_share=0.5, min_changes=3)
    assert not guard.exceeded(2, 2)
    assert guard.exceeded(3, 4)
    assert not guard.exceeded(3, 10)
    assert not guard.exceeded(0, 0)


async def test_undo_restores_every_server_and_is_idempotent() -> None:
    a, b = two_servers_same_ids()
    m0, m1, _ = movie_ids(a)
    for item in (m0, m1):
        b.play("Alice", item)
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    before = {item: (a.get("Alice", item), b.get("Alice", item)) for item in (m0, m1)}
    a.mark_unplayed("Alice", m0)
    a.mark_unplayed("Alice", m1)
    await sync.run_cycle(now=a.clock.tick())
    assert not b.get("Alice", m0).played
    b.favorite("Alice", m1)  # newer changes on b after the cycle
    b.partial("Alice", m1, 77)
    changed_m1 = b.get("Alice", m1)

    dry = await sync.undo(now=a.clock.tick(), dry_run=True)
    # m0 on both servers, m1 on a (where the un-watch started); b's m1 is kept.
    assert dry.writes_planned == 3
    assert dry.errors == []
    assert dry.server(b.server_id).kept == 1
    assert not b.get("Alice", m0).played
    cycle = sync.undoable[-1]

    report = await sync.undo(now=a.clock.tick(), cycle_id=cycle)

    assert report.ok, report.errors
    assert report.writes_done == 3
    assert report.server(a.server_id).restored == 2
    assert report.server(b.server_id).restored == 1
    assert report.server(b.server_id).kept == 1
    assert (a.get("Alice", m0), b.get("Alice", m0)) == before[m0]
    assert a.get("Alice", m1) == before[m1][0]
    assert b.get("Alice", m1) == changed_m1  # not clobbered
    assert cycle not in sync.undoable
    again = await sync.undo(now=a.clock.tick(), cycle_id=cycle)
    assert again.writes_planned == 0
    # The next cycle re-applies nothing that was undone; b's newer change of m1
    # reaches a, whole.
    await sync.run_cycle(now=a.clock.tick())
    assert (a.get("Alice", m0), b.get("Alice", m0)) == before[m0]
    assert a.get("Alice", m1) == b.get("Alice", m1) == changed_m1
    assert (await sync.run_cycle(now=a.clock.tick())).writes_planned == 0


async def test_undo_of_an_approved_held_change_converges() -> None:
    """The issue's sequence: mass un-watch held, approved, undone; nothing returns."""
    a, b = two_servers_same_ids(movies=8)
    movies = movie_ids(a)
    for item in movies:
        b.play("Alice", item)
    sync = engine(a, b, guard=GuardLimits(max_changes=3))
    await sync.run_cycle(now=a.clock.tick())
    before = {item: b.get("Alice", item) for item in movies}
    assert all(a.get("Alice", item) == before[item] for item in movies)
    for item in movies:
        a.mark_unplayed("Alice", item)
    held = await sync.run_cycle(now=a.clock.tick())
    assert held.held == len(movies)
    approved = await sync.run_cycle(now=a.clock.tick(), approve_held=True)
    assert approved.writes_done == len(movies)
    assert not any(b.get("Alice", item).played for item in movies)

    undo = await sync.undo(now=a.clock.tick())

    assert undo.ok, undo.errors
    for item in movies:
        assert a.get("Alice", item) == b.get("Alice", item) == before[item]
    again = await sync.run_cycle(now=a.clock.tick())
    assert again.held == again.writes_planned == 0
    for item in movies:
        assert a.get("Alice", item) == b.get("Alice", item) == before[item]


async def test_undo_with_a_write_that_fails_finishes_in_the_next_cycle() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    a.favorite("Alice", m0)
    await sync.run_cycle(now=a.clock.tick())
    b.fail_writes = True
    failed = await sync.undo(now=a.clock.tick())
    assert failed.writes_failed == 1
    assert failed.server(b.server_id).waiting == 1
    assert failed.server(a.server_id).restored == 1
    assert not a.get("Alice", m0).is_favorite
    assert b.get("Alice", m0).is_favorite
    assert sync.undoable == []  # what is left is in the stored state, not lost
    b.fail_writes = False
    await sync.run_cycle(now=a.clock.tick())
    assert not b.get("Alice", m0).is_favorite
    assert not a.get("Alice", m0).is_favorite


async def test_undo_without_history_or_of_a_vanished_item() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    sync = engine(a, b)
    assert (await sync.undo(now=a.clock.tick())).writes_planned == 0
    a.favorite("Alice", m0)
    await sync.run_cycle(now=a.clock.tick())
    del b.items[m0]
    report = await sync.undo(now=a.clock.tick())
    assert report.vanished == 1
    assert sync.undoable == []


async def test_undo_of_a_first_sync_recreates_the_baseline_entry() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    a.favorite("Alice", m0)
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    a.favorite("Alice", m0, False)
    await sync.run_cycle(now=a.clock.tick())  # b un-favourited too; entry dropped
    assert "alice" not in {u for u, v in sync.baseline.users.items() if v.items}

    await sync.undo(now=a.clock.tick())

    assert b.get("Alice", m0).is_favorite
    assert a.get("Alice", m0).is_favorite
    assert sync.baseline.users["alice"].items["movie:imdb:tt0000000"].agreed.is_favorite


async def test_history_is_bounded() -> None:
    a, b = two_servers_same_ids(movies=4)
    sync = engine(a, b, history_cycles=2, history_max_writes=3)
    for item in movie_ids(a):
        a.favorite("Alice", item)
        await sync.run_cycle(now=a.clock.tick())
    assert len(sync.undoable) == 2
    for item in movie_ids(a):
        a.favorite("Alice", item, False)
    report = await sync.run_cycle(now=a.clock.tick())
    assert report.history_dropped == 1
    assert report.ok
    assert [len(c.writes) for c in sync.baseline.history] == [3]


async def test_dry_run_plans_without_writing() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    a.play("Alice", m0)
    sync = engine(a, b)

    report = await sync.run_cycle(now=a.clock.tick(), dry_run=True)

    assert report.writes_planned == 1
    assert report.planned[0]["fields"] == ["played", "play_count", "last_played_date"]
    assert report.writes_done == 0
    assert b.writes == 0
    assert sync.baseline == Baseline()


# ---------------------------------------------------------- targeted cycles


async def test_targeted_cycle_and_no_echo_from_own_writes() -> None:
    a, b = two_servers_same_ids()
    m0, m1, _ = movie_ids(a)
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    a.play("Alice", m0)
    a.play("Alice", m1)
    alice_a, alice_b = a.user_id("Alice"), b.user_id("Alice")

    dashed = str(uuid.UUID(alice_a))  # webhooks send dashed Guids
    report = await sync.run_cycle(
        now=a.clock.tick(), targets={a.server_id: [(dashed, m0.upper())]}
    )

    assert report.targeted
    assert report.writes_done == 1
    assert b.get("Alice", m0).played
    assert not b.get("Alice", m1).played  # not targeted
    # The write on b fires a webhook on b: the echo cycle must write nothing.
    echo = await sync.run_cycle(
        now=a.clock.tick(), targets={b.server_id: [(alice_b, m0)]}
    )
    assert echo.writes_planned == 0
    full = await sync.run_cycle(now=a.clock.tick())
    assert full.writes_done == 1
    assert b.get("Alice", m1).played


async def test_targeted_cycle_learns_new_items_and_ignores_unknowns() -> None:
    a, b = two_servers_same_ids()
    new_b = b.add_movie("/other/New.mkv", ids={"imdb": "tt7"})
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    # Added on a after the index was read; b's copy is in b's index already.
    new_a = a.add_movie("/media/movies/New.mkv", ids={"imdb": "tt7"})
    a.favorite("Alice", new_a.id)

    report = await sync.run_cycle(
        now=a.clock.tick(),
        targets={
            a.server_id: [(a.user_id("Alice"), new_a.id), ("0" * 32, new_a.id)],
            "unknown-server": [("x", "y")],
        },
    )

    assert report.writes_done == 1
    assert b.get("Alice", new_b.id).is_favorite


async def test_targeted_cycle_with_failures() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    b.fail_reads = True
    report = await sync.run_cycle(
        now=a.clock.tick(), targets={a.server_id: [(a.user_id("Alice"), m0)]}
    )
    assert report.writes_planned == 0
    b.fail_reads = False

    original = a.get_items

    async def broken(*args: object, **kwargs: object) -> list[object]:
        raise JellyfinConnectionError("boom")

    a.get_items = broken  # type: ignore[method-assign]
    new_a = a.add_movie("/media/movies/Late.mkv")
    report = await sync.run_cycle(
        now=a.clock.tick(), targets={a.server_id: [(a.user_id("Alice"), new_a.id)]}
    )
    assert any(e.stage is Stage.READ_TARGET for e in report.errors)
    a.get_items = original  # type: ignore[method-assign]
    del b.items[m0]
    report = await sync.run_cycle(
        now=a.clock.tick(), targets={a.server_id: [(a.user_id("Alice"), m0)]}
    )
    assert report.vanished == 1


# ------------------------------------------------- versions and directions


async def test_jellyfin_10_8_limits_are_skipped_and_reported() -> None:
    clock = Clock()
    new = FakeServer("n" * 32, clock=clock, version="10.10.7")
    old = FakeServer("o" * 32, clock=clock, version="10.8.13")
    for server in (new, old):
        server.add_user("Alice")
        server.add_movie("/m/A.mkv")
        server.add_movie("/m/B.mkv")
    m_a, m_b = movie_ids(new)
    new.partial("Alice", m_a, 4_000)
    new.rate("Alice", m_b, 7.0)
    new.play("Alice", m_b)
    new.play("Alice", m_b)
    sync = engine(new, old)

    report = await sync.run_cycle(now=clock.tick())

    assert report.unsupported == 2
    assert old.get("Alice", m_b).played
    assert old.get("Alice", m_b).rating == 10.0  # likes: the 10.8 way to say 7
    assert old.get("Alice", m_a).playback_position_ticks == 0  # cannot be written
    assert report.servers[old.server_id].unsupported == 2
    # Nothing is written again and nothing flows back (no ping-pong, no poison).
    again = await sync.run_cycle(now=clock.tick())
    assert again.writes_planned == 0
    assert new.get("Alice", m_b).play_count == 2
    assert new.get("Alice", m_b).rating == 7.0
    # A new play on the 10.8 server adds up on the other one.
    old.play("Alice", m_b)
    await sync.run_cycle(now=clock.tick())
    assert new.get("Alice", m_b).play_count == 3


async def test_client_refusing_a_field_is_reported() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    a.partial("Alice", m0, 10)

    async def refuse(*args: object, **kwargs: object) -> UserData:
        raise JellyfinUnsupportedError(
            "Jellyfin 10.8 cannot write playback_position", [SyncField.POSITION]
        )

    b.set_user_data = refuse  # type: ignore[method-assign]
    report = await sync.run_cycle(now=a.clock.tick())

    assert report.servers[b.server_id].unsupported == 1
    assert report.writes_failed == 1
    expected = SyncError(
        b.server_id,
        Stage.WRITE,
        ErrorReason.UNSUPPORTED,
        "movie:imdb:tt0000000",
        "Jellyfin 10.8 cannot write playback_position",
    )
    assert report.errors == [expected]
    assert report.to_dict()["errors"] == [
        {
            "server": b.server_id,
            "stage": "write",
            "reason": "unsupported",
            "subject": "movie:imdb:tt0000000",
            "detail": "Jellyfin 10.8 cannot write playback_position",
        }
    ]


async def test_read_only_server_is_never_written() -> None:
    a, b = two_servers_same_ids()
    m0, m1, _ = movie_ids(a)
    a.play("Alice", m0)
    b.play("Alice", m1)
    sync = engine(
        a, b, servers={a.server_id: ServerOptions(direction=Direction.SOURCE_ONLY)}
    )

    await sync.run_cycle(now=a.clock.tick())
    await sync.run_cycle(now=a.clock.tick())

    assert b.get("Alice", m0).played
    assert not a.get("Alice", m1).played
    assert a.writes == 0


async def test_favourites_one_way() -> None:
    a, b = two_servers_same_ids()
    m0, m1, _ = movie_ids(a)
    sync = engine(
        a,
        b,
        servers={
            b.server_id: ServerOptions(
                field_directions={SyncField.FAVORITE: Direction.RECEIVE_ONLY}
            )
        },
    )
    await sync.run_cycle(now=a.clock.tick())
    a.favorite("Alice", m0)
    b.favorite("Alice", m1)
    await sync.run_cycle(now=a.clock.tick())
    assert b.get("Alice", m0).is_favorite
    assert not a.get("Alice", m1).is_favorite
    assert not b.get("Alice", m1).is_favorite  # b is written back to the agreed state


# ----------------------------------------------------------- persistence etc.


async def test_baseline_survives_a_restart() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    a.play("Alice", m0)
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    stored = json.loads(json.dumps(sync.baseline.to_dict()))

    restarted = SyncEngine(
        {a.server_id: a, b.server_id: b},
        SyncOptions(guard=NO_GUARD),
        Baseline.from_dict(stored),
    )
    b.mark_unplayed("Alice", m0)
    report = await restarted.run_cycle(now=a.clock.tick())

    assert report.writes_done == 1
    assert a.get("Alice", m0) == UserData()


async def test_new_items_get_their_data_in_the_next_cycle() -> None:
    """A scan adds a film to both servers; the one watched on a reaches b next cycle.

    Found through ``minDateLastSavedForUser`` from the server's own clock
    (API-NOTES §2.4), not the periodic index refresh.
    """
    a, b = two_servers_same_ids()
    sync = engine(a, b, index_refresh_cycles=100)
    await sync.run_cycle(now=a.clock.tick())
    late_a = a.add_movie("/media/movies/Late.mkv", ids={"imdb": "tt9"})
    late_b = b.add_movie("/media/movies/Late.mkv", ids={"imdb": "tt9"})
    a.play("Alice", late_a.id)
    report = await sync.run_cycle(now=a.clock.tick())
    assert not report.servers[b.server_id].index_refreshed
    assert report.writes_done == 1
    assert b.get("Alice", late_b.id).played
    assert (await sync.run_cycle(now=a.clock.tick())).writes_planned == 0


async def test_new_items_wait_for_the_index_refresh_without_a_server_clock() -> None:
    a, b = two_servers_same_ids()
    for server in (a, b):
        server.sends_date = False
    sync = engine(a, b, index_refresh_cycles=3)
    await sync.run_cycle(now=a.clock.tick())
    late_a = a.add_movie("/media/movies/Late.mkv", ids={"imdb": "tt9"})
    late_b = b.add_movie("/media/movies/Late.mkv", ids={"imdb": "tt9"})
    a.play("Alice", late_a.id)  # a's sweep finds it; b's copy is untouched
    first = await sync.run_cycle(now=a.clock.tick())
    assert first.writes_planned == 0
    assert first.unmatched[a.server_id] == 1
    assert (
        not (await sync.run_cycle(now=a.clock.tick()))
        .servers[b.server_id]
        .index_refreshed
    )
    refreshed = await sync.run_cycle(now=a.clock.tick())
    assert refreshed.servers[b.server_id].index_refreshed
    assert b.get("Alice", late_b.id).played
    full = await sync.run_cycle(now=a.clock.tick(), full=True)
    assert full.servers[a.server_id].index_refreshed


async def test_users_filter_and_report_is_json() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    a.play("Alice", m0)
    a.play("bob", m0)
    sync = engine(a, b)

    report = await sync.run_cycle(now=a.clock.tick(), users=["ALICE"])

    assert report.users == ["alice"]
    assert not b.get("bob", m0).played
    data = json.loads(json.dumps(report.to_dict()))
    assert data["writes_done"] == 1
    assert data["servers"][0]["writes_by_field"] == {}
    assert data["servers"][1]["writes_by_field"] == {
        "last_played_date": 1,
        "play_count": 1,
        "played": 1,
    }


async def test_server_down_entirely() -> None:
    a, b = two_servers_same_ids()
    a.play("Alice", movie_ids(a)[0])
    b.fail_reads = True
    sync = engine(a, b)
    report = await sync.run_cycle(now=a.clock.tick())
    assert report.users == []
    assert report.servers[b.server_id].readable is False
    first = report.errors[0]
    assert (first.server_id, first.stage) == (b.server_id, Stage.READ_SERVER)
    assert first.reason is ErrorReason.CANNOT_CONNECT


@pytest.mark.parametrize("verify_error", [True, False])
async def test_write_verification(verify_error: bool) -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    a.favorite("Alice", m0)
    original = b.set_user_data

    async def stale(
        user_id: str, item_id: str, desired: UserData, fields: object, **kw: object
    ) -> UserData:
        actual = b.data.get((user_id, item_id), UserData())
        if verify_error:
            raise JellyfinVerificationError(
                "stale", fields=[SyncField.FAVORITE], expected=desired, actual=actual
            )
        return actual

    b.set_user_data = stale  # type: ignore[method-assign,assignment]
    report = await sync.run_cycle(now=a.clock.tick())
    assert report.writes_failed == 1
    assert report.errors[-1].reason is ErrorReason.NOT_VERIFIED
    assert report.errors[-1].detail == "favorite did not take"
    b.set_user_data = original  # type: ignore[method-assign]
    await sync.run_cycle(now=a.clock.tick())
    assert b.get("Alice", m0).is_favorite
