"""Edge cases of the sync engine: restarts, changed identities, partial failures."""

from datetime import UTC, datetime
import json

from custom_components.jellyfin_sync.jellyfin.exceptions import (
    ErrorReason,
    JellyfinConnectionError,
)
from custom_components.jellyfin_sync.jellyfin.models import Item, SyncField, UserData
from custom_components.jellyfin_sync.sync import (
    Baseline,
    GuardLimits,
    MatchMethod,
    Participant,
    Stage,
    SyncEngine,
    SyncError,
    SyncOptions,
    fields as fx,
    match_users,
    resolve,
)
from custom_components.jellyfin_sync.sync.matching import item_keys
from custom_components.jellyfin_sync.sync.report import SyncReport
from tests.engine_fakes import Clock, FakeServer, two_servers_same_ids

NO_GUARD = GuardLimits(max_changes=None, max_change_share=None)


def engine(
    *servers: FakeServer, baseline: Baseline | None = None, **options: object
) -> SyncEngine:
    options.setdefault("guard", NO_GUARD)
    return SyncEngine(
        {s.server_id: s for s in servers},
        SyncOptions(**options),  # type: ignore[arg-type]
        baseline,
    )


def movie_ids(server: FakeServer) -> list[str]:
    return sorted(i.id for i in server.items.values() if i.type == "Movie")


async def test_undo_after_a_restart() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    first = engine(a, b)
    await first.run_cycle(now=a.clock.tick())
    a.favorite("Alice", m0)
    await first.run_cycle(now=a.clock.tick())
    stored = json.loads(json.dumps(first.baseline.to_dict()))

    restarted = engine(a, b, baseline=Baseline.from_dict(stored))
    report = await restarted.undo(now=a.clock.tick())

    # Both servers: the copy on b and the favourite on a, where it started.
    assert report.writes_done == 2
    assert not b.get("Alice", m0).is_favorite
    assert not a.get("Alice", m0).is_favorite


async def test_undo_with_an_unreadable_server_finishes_when_it_answers() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    a.favorite("Alice", m0)
    await sync.run_cycle(now=a.clock.tick())
    b.fail_user_reads = True
    report = await sync.undo(now=a.clock.tick())
    assert report.writes_planned == 1  # a, where the favourite started
    assert report.server(b.server_id).waiting == 1
    assert (report.errors[0].server_id, report.errors[0].stage) == (
        b.server_id,
        Stage.UNDO_READ,
    )
    assert sync.undoable == []
    assert not a.get("Alice", m0).is_favorite
    b.fail_user_reads = False
    await sync.run_cycle(now=a.clock.tick())
    assert not b.get("Alice", m0).is_favorite
    assert not a.get("Alice", m0).is_favorite


async def test_write_that_did_not_take_has_nothing_to_undo() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    a.favorite("Alice", m0)

    async def ignore(
        user_id: str, item_id: str, *args: object, **kwargs: object
    ) -> UserData:
        return b.data.get((user_id, item_id), UserData())

    b.set_user_data = ignore  # type: ignore[method-assign,assignment]
    report = await sync.run_cycle(now=a.clock.tick())
    assert report.writes_failed == 1
    undo = await sync.undo(now=a.clock.tick(), dry_run=True)
    assert undo.writes_planned == 0


async def test_movies_only_reads_no_series() -> None:
    a, b = two_servers_same_ids()
    sync = engine(a, b, item_types=("Movie",))
    a.play("Alice", movie_ids(a)[0])
    report = await sync.run_cycle(now=a.clock.tick())
    assert report.writes_done == 1


async def test_unwatch_cannot_be_confirmed_when_the_lookup_fails() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    a.play("Alice", m0)
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    b.mark_unplayed("Alice", m0)

    async def broken(*args: object, **kwargs: object) -> list[Item]:
        raise JellyfinConnectionError("lookup failed")

    b.get_items = broken  # type: ignore[method-assign]
    report = await sync.run_cycle(now=a.clock.tick())

    assert report.writes_planned == 0
    assert a.get("Alice", m0).played
    assert any("lookup failed" in e.detail for e in report.errors)


async def test_identity_change_keeps_the_baseline_through_other_keys() -> None:
    clock = Clock()
    a, b = FakeServer("a" * 32, clock=clock), FakeServer("b" * 32, clock=clock)
    for server in (a, b):
        server.add_user("Alice")
        server.add_movie("/media/Film.mkv")  # no provider ids yet: identity id:...
    (m0,) = movie_ids(a)
    a.play("Alice", m0)
    sync = engine(a, b, yield_every=1)
    await sync.run_cycle(now=clock.tick())
    assert list(sync.baseline.users["alice"].items) == [f"id:{m0}"]

    # A metadata refresh adds provider ids: the identity becomes a provider key.
    for server in (a, b):
        item = server.items[m0]
        server.items[m0] = Item(
            id=item.id,
            type=item.type,
            name=item.name,
            path=item.path,
            provider_ids={"imdb": "tt42"},
        )
    b.mark_unplayed("Alice", m0)
    report = await sync.run_cycle(now=clock.tick(), full=True)

    # The un-watch is a change against the stored state, not a first-sync merge.
    assert report.writes_done == 1
    assert a.get("Alice", m0) == UserData()
    assert list(sync.baseline.users["alice"].items) == []


async def test_entries_of_items_gone_everywhere_are_ignored() -> None:
    a, b = two_servers_same_ids()
    m0, m1, _ = movie_ids(a)
    a.play("Alice", m0)
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    del a.items[m0]
    del b.items[m0]
    a.play("Alice", m1)
    report = await sync.run_cycle(now=a.clock.tick(), full=True)
    assert report.writes_done == 1
    assert "movie:imdb:tt0000000" in sync.baseline.users["alice"].items


async def test_targeted_cycle_for_a_user_missing_on_one_server() -> None:
    clock = Clock()
    a, b, c = (FakeServer(x * 32, clock=clock) for x in "abc")
    for server in (a, b, c):
        server.add_movie("/media/Film.mkv")
        server.add_user("Alice")
    for server in (a, b):
        server.add_user("Bob")
    (m0,) = movie_ids(a)
    sync = engine(a, b, c)
    await sync.run_cycle(now=clock.tick())
    a.favorite("Bob", m0)
    report = await sync.run_cycle(
        now=clock.tick(), targets={a.server_id: [(a.user_id("Bob"), m0)]}
    )
    assert report.writes_done == 1
    assert b.get("Bob", m0).is_favorite


def test_report_lists_are_bounded() -> None:
    report = SyncReport(cycle_id="c", started=datetime(2026, 1, 1, tzinfo=UTC), limit=2)
    errors = [
        SyncError("s", Stage.WRITE, ErrorReason.SERVER_ERROR, f"e{n}") for n in range(5)
    ]
    for error in errors:
        report.error(error)
    assert report.errors == errors[:2]
    assert report.errors_total == 5
    assert report.to_dict()["ok"] is False


def test_field_helpers() -> None:
    assert fx.likes_rating(None) is None
    assert fx.likes_rating(6.5) == 10.0
    assert fx.likes_rating(2.0) == 1.0
    assert not fx.is_reset(
        SyncField.POSITION, UserData(playback_position_ticks=5), UserData()
    )
    assert fx.is_reset(SyncField.RATING, UserData(rating=3.0), UserData())
    assert fx.load(fx.dump(UserData(rating=0.0))) == UserData(rating=0.0)


def test_mapped_user_with_an_excluded_sync_name_is_skipped() -> None:
    from custom_components.jellyfin_sync.jellyfin.models import User

    users = {
        "a": [User(id="1" * 32, name="Guest")],
        "b": [User(id="2" * 32, name="Guest")],
    }
    options = SyncOptions(
        user_map={"Guest": {"a": "guest", "b": "guest"}},
        excluded_users=frozenset({"GUEST"}),
    )
    assert match_users(users, options).users == ()


def test_provider_keys_match_whatever_the_case_of_their_names() -> None:
    item = Item(id="x", type="Movie", name="M", provider_ids={"IMDB": "TT7"})
    assert item_keys(item, {}, SyncOptions(), ()) == ["movie:imdb:tt7", "id:x"]


def test_merge_with_play_count_and_favourite_switched_off() -> None:
    options = SyncOptions(fields=frozenset({SyncField.PLAYED, SyncField.RATING}))
    base = UserData()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    parts = [
        Participant(
            server_id="a",
            item_id="1",
            current=UserData(play_count=4, is_favorite=True),
            base=base,
        ),
        Participant(
            server_id="b", item_id="2", current=UserData(rating=5.0), base=base
        ),
    ]
    target, _ = resolve(parts, base, options, now=now)
    assert target == UserData(rating=5.0)
    target, _ = resolve(
        [
            Participant(
                server_id="a",
                item_id="1",
                current=UserData(is_favorite=True),
                base=None,
            )
        ],
        None,
        options,
        now=now,
    )
    assert target == UserData()


async def test_targeted_cycle_when_a_server_cannot_be_read() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    a.favorite("Alice", m0)
    b.fail_user_reads = True
    report = await sync.run_cycle(
        now=a.clock.tick(), targets={a.server_id: [(a.user_id("Alice"), m0)]}
    )
    assert report.writes_planned == 0
    assert any(
        (e.server_id, e.stage, e.subject) == (b.server_id, Stage.READ_USER, "Alice")
        for e in report.errors
    )


async def test_matches_and_unmatched_items_can_be_inspected() -> None:
    a, b = two_servers_same_ids()
    only_a = a.add_movie("/media/movies/Only here.mkv")
    sync = engine(a, b)
    assert sync.matches() == []
    report = await sync.run_cycle(now=a.clock.tick(), dry_run=True)
    assert report.unmatched_examples == {a.server_id: [only_a.id]}
    assert report.to_dict()["unmatched_examples"] == {a.server_id: [only_a.id]}
    listed = sync.matches(limit=2)
    assert len(listed) == 2
    assert listed[0]["method"] == "id"
    assert set(listed[0]["items"]) == {a.server_id, b.server_id}
    assert sync.matches(method=MatchMethod.PATH) == []


async def test_item_back_after_a_rescan_is_synced_before_the_next_index_read() -> None:
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    a.play("Alice", m0)
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    item = a.items.pop(m0)  # a rescan: briefly gone on a
    assert (await sync.run_cycle(now=a.clock.tick())).vanished == 1

    # Still gone, and the lookup itself fails once: reported, nothing reset.
    original = a.get_items

    async def broken(*args: object, **kwargs: object) -> list[Item]:
        raise JellyfinConnectionError("lookup failed")

    a.get_items = broken  # type: ignore[method-assign]
    report = await sync.run_cycle(now=a.clock.tick())
    assert any(e.stage is Stage.LOOKUP_VANISHED for e in report.errors)
    assert b.get("Alice", m0).played
    a.get_items = original  # type: ignore[method-assign]

    a.items[m0] = item  # back; the user un-watches it on b meanwhile
    b.mark_unplayed("Alice", m0)
    report = await sync.run_cycle(now=a.clock.tick())
    assert not report.servers[a.server_id].index_refreshed
    assert a.get("Alice", m0) == UserData()


async def test_undo_of_a_first_sync_gives_each_server_its_own_values_back() -> None:
    """A first sync had no agreed state before it: nothing is wiped."""
    a, b = two_servers_same_ids()
    m0 = movie_ids(a)[0]
    a.play("Alice", m0)
    b.favorite("Alice", m0)
    own_a, own_b = a.get("Alice", m0), b.get("Alice", m0)
    sync = engine(a, b)
    await sync.run_cycle(now=a.clock.tick())
    assert a.get("Alice", m0) == b.get("Alice", m0)

    report = await sync.undo(now=a.clock.tick())

    assert report.ok, report.errors
    assert a.get("Alice", m0) == own_a
    assert b.get("Alice", m0) == own_b
