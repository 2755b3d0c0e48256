"""The sync group alone: no Home Assistant, in-memory servers and storage.

What the coordinator used to do inside Home Assistant (checking servers, running
cycles, storing state, undo bookkeeping, echo detection) is the group's, so it is
tested here without an event bus, entities or a config entry.
"""

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from custom_components.jellyfin_sync.group import (
    GroupSettings,
    ItemsRun,
    NoServerOnlineError,
    NothingToUndoError,
    ServerAuthError,
    ServerProblem,
    Status,
    SyncGroup,
    UndoResult,
    UnknownCycleError,
    UnknownUserError,
)
from custom_components.jellyfin_sync.jellyfin.exceptions import JellyfinAuthError
from custom_components.jellyfin_sync.jellyfin.models import ServerInfo, SyncField
from custom_components.jellyfin_sync.sync import GuardLimits, SyncOptions
from tests.engine_fakes import FakeServer, two_servers_same_ids


class MemoryStorage:
    """The group's storage port, in memory; counts saves."""

    def __init__(self) -> None:
        self.data: dict[str, Any] | None = None
        self.saves = 0

    async def load(self) -> Mapping[str, Any] | None:
        return self.data

    async def save(self, data: dict[str, Any]) -> None:
        self.saves += 1
        self.data = data

    async def run_job[T](self, job: Callable[[], T]) -> T:
        return job()


def make_group(
    *servers: FakeServer, storage: MemoryStorage | None = None
) -> tuple[SyncGroup, MemoryStorage]:
    storage = storage or MemoryStorage()
    clients = {s.server_id: s for s in servers}
    settings = GroupSettings(
        title="Test",
        names={s.server_id: s.server_id[:4] for s in servers},
        dry_run=False,
        fields=frozenset(SyncField),
        sync_options=lambda users: SyncOptions(
            guard=GuardLimits(max_changes=None, max_change_share=None)
        ),
        cycle_users=lambda names: names,
    )
    group = SyncGroup(
        settings,
        clients,  # type: ignore[arg-type]
        clients,  # type: ignore[arg-type]
        storage,
        clock=servers[0].clock.tick,
    )
    return group, storage


async def undo(group: SyncGroup, cycle_id: str | None = None) -> UndoResult:
    async with group.lock:
        return await group.undo(dry_run=False, cycle_id=cycle_id)


async def run_items(group: SyncGroup, keys: list[tuple[str, str, str]]) -> ItemsRun:
    async with group.lock:
        return await group.run_items(keys)


def movie(server: FakeServer) -> str:
    return min(i.id for i in server.items.values() if i.type == "Movie")


async def test_a_cycle_syncs_stores_and_publishes() -> None:
    a, b = two_servers_same_ids()
    group, storage = make_group(a, b)
    await group.load()
    a.play("Alice", movie(a))
    async with group.lock:
        result = await group.run_cycle()
    assert b.get("Alice", movie(b)).played
    assert result.summary.outcome is Status.OK
    assert result.held_changed
    assert result.data.servers[b.server_id].online
    assert result.data.last_success == result.summary.finished_at
    assert storage.data is not None
    assert storage.data["baseline"]["users"]
    assert storage.data["tracked"] == {a.server_id: 1, b.server_id: 1}
    # The write is remembered for echo detection.
    key = (b.server_id, b.user_id("Alice"), movie(b))
    assert group.recent_writes.candidate(key, 0.0) is not None

    # A new group over the same storage starts from what was stored.
    again, _ = make_group(a, b, storage=storage)
    await again.load()
    assert again.baseline.item_count == group.baseline.item_count >= 1
    assert again.stored.last_success == result.summary.finished_at


async def test_a_rejected_key_names_the_server() -> None:
    a, b = two_servers_same_ids()
    group, _ = make_group(a, b)

    async def rejected() -> ServerInfo:
        raise JellyfinAuthError("401")

    b.get_system_info = rejected  # type: ignore[method-assign]
    with pytest.raises(ServerAuthError) as raised:
        await group.check_servers()
    assert (raised.value.server_id, raised.value.name) == (b.server_id, "bbbb")


async def test_servers_down_are_typed_problems_and_counted() -> None:
    a, b = two_servers_same_ids()
    group, storage = make_group(a, b)
    a.fail_reads = b.fail_reads = True
    with pytest.raises(NoServerOnlineError):
        await group.first_check()
    a.fail_reads = False
    data = await group.first_check()
    assert data.servers[b.server_id].error is ServerProblem.CANNOT_CONNECT
    assert data.servers[b.server_id].failures == 1
    async with group.lock:
        result = await group.run_cycle()
    assert result.summary.outcome is Status.ERROR
    assert result.response["report"] == {
        "ok": False,
        "error": "too_few_servers_online",
    }
    assert group.states[b.server_id].failures == 2
    # A targeted cycle does not count a failure.
    async with group.lock:
        await group.run_cycle(targets={a.server_id: []})
    assert group.states[b.server_id].failures == 2
    # Nothing that could change the baseline ran: only the history was stored.
    assert storage.data is not None
    assert storage.data["baseline"] is None


async def test_a_server_too_old_is_left_out() -> None:
    a, b = two_servers_same_ids()
    b.version = "10.7.7"
    group, _ = make_group(a, b)
    problems = await group.check_servers()
    assert problems == {b.server_id: ServerProblem.UNSUPPORTED_VERSION}
    assert group.answered == {a.server_id, b.server_id}


async def test_undo_is_typed_and_idempotent() -> None:
    a, b = two_servers_same_ids()
    group, _ = make_group(a, b)
    with pytest.raises(NothingToUndoError):
        await undo(group)
    async with group.lock:
        await group.run_cycle()  # first sync: nothing to combine
    b.favorite("Alice", movie(b))
    async with group.lock:
        result = await group.run_cycle()
    assert a.get("Alice", movie(a)).is_favorite
    cycle_id = result.response["report"]["cycle"]
    with pytest.raises(UnknownCycleError) as raised:
        await undo(group, "2000-01-01T00:00:00Z")
    assert raised.value.cycle_id == "2000-01-01T00:00:00Z"

    undone = await undo(group)
    assert undone.summary is not None
    assert undone.summary["cycle_id"] == cycle_id
    assert undone.response["already_undone"] is False
    # Every server goes back to where the cycle found them agreeing: the
    # favourite is taken back on a (written) and on b (where it was made).
    assert undone.response["restored"] == 2
    assert not a.get("Alice", movie(a)).is_favorite
    assert not b.get("Alice", movie(b)).is_favorite
    assert group.stored.last_undone == cycle_id
    assert group.undo_history[-1]["cycle_id"] == cycle_id

    again = await undo(group)
    assert again.summary is None
    assert again.response["already_undone"] is True


async def test_unknown_users_are_refused() -> None:
    a, b = two_servers_same_ids()
    group, _ = make_group(a, b)
    await group.check_servers()
    group.check_users(["alice", "BOB"])
    with pytest.raises(UnknownUserError) as raised:
        group.check_users(["alice", "carol"])
    assert raised.value.user == "carol"
    assert group.knows_user(a.server_id, a.user_id("Alice"))
    assert not group.knows_user(a.server_id, "0" * 32)
    assert group.knows_user("unknown server", "0" * 32)


async def test_saved_items_run_a_targeted_cycle_unless_they_are_echoes() -> None:
    a, b = two_servers_same_ids()
    group, _ = make_group(a, b)
    async with group.lock:
        await group.run_cycle()
    a.play("Alice", movie(a))
    key_a = (a.server_id, a.user_id("Alice"), movie(a))
    run = await run_items(group, [key_a])
    assert (run.echoes, run.cycles) == (0, 1)
    assert run.result is not None
    assert run.result.response["report"]["targeted"] is True
    assert b.get("Alice", movie(b)).played
    # Jellyfin announces the sync's own write on b: an echo, no cycle.
    key_b = (b.server_id, b.user_id("Alice"), movie(b))
    echo = await run_items(group, [key_b])
    assert (echo.echoes, echo.cycles, echo.result) == (1, 0, None)


async def test_a_rejected_key_stops_a_targeted_run_without_raising() -> None:
    a, b = two_servers_same_ids()
    group, _ = make_group(a, b)

    async def rejected() -> ServerInfo:
        raise JellyfinAuthError("401")

    b.get_system_info = rejected  # type: ignore[method-assign]
    run = await run_items(group, [(a.server_id, a.user_id("Alice"), movie(a))])
    assert run.cycles == 1
    assert run.result is None
    assert run.auth_error is not None
    assert run.auth_error.server_id == b.server_id
    assert not group.syncing
