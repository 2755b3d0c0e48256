"""One sync group: its servers, its engine and the cycles that run over them.

A cycle checks every server (identity, version, key), runs the engine over the
usable ones (collect, plan, apply), stores the new baseline and keeps the
summaries. Cycles never overlap: scheduled cycles, the actions, the undo and the
webhook's targeted runs share :attr:`SyncGroup.lock`.

Plain asyncio: no Home Assistant here. The Home Assistant layer gives the group its
clients, its settings and a place to store its state, and turns what the group
returns (states, summaries, typed errors) into entities, events, repair issues and
translated messages.
"""

import asyncio
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
import logging
from typing import Any, Protocol

from custom_components.jellyfin_sync.jellyfin import JellyfinClient
from custom_components.jellyfin_sync.jellyfin.exceptions import (
    JellyfinAuthError,
    JellyfinError,
)
from custom_components.jellyfin_sync.jellyfin.models import (
    MIN_SUPPORTED_VERSION,
    ServerInfo,
    SyncField,
    User,
)
from custom_components.jellyfin_sync.sync import Baseline, SyncEngine, SyncOptions

from . import undoing
from .data import CycleSummary, ServerProblem, ServerState, Status, SyncGroupData
from .echoes import ItemKey, RecentWrites, drop_echoes
from .errors import NoServerOnlineError, ServerAuthError, UnknownUserError
from .store import GroupStorage, StoredState
from .undoing import UndoResult

_LOGGER = logging.getLogger(__package__.rpartition(".")[0])

type Targets = Mapping[str, list[tuple[str, str]]]
"""Server id -> ``(user id, item id)`` pairs saved there (a targeted cycle)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupSettings:
    """What the group is told by its configuration (read when it is created)."""

    title: str
    names: Mapping[str, str]
    """Server id -> name, in the order of the group's servers."""
    dry_run: bool
    """Whether cycles only plan, unless a run says otherwise."""
    fields: frozenset[SyncField]
    """The synced fields (what an echo must match)."""
    sync_options: Callable[[Mapping[str, list[User]]], SyncOptions]
    """The engine's options, given the users each server has now."""
    cycle_users: Callable[[list[str] | None], list[str] | None]
    """The sync names a cycle is limited to, given the names a run asked for."""


@dataclass(frozen=True, slots=True)
class CycleResult:
    """What one cycle did: the published data and the action's answer."""

    data: SyncGroupData
    summary: CycleSummary
    response: dict[str, Any]
    held_changed: bool
    """Whether the held changes were decided anew (not a dry or failed run)."""


@dataclass(frozen=True, slots=True)
class ItemsRun:
    """What a run over some saved items did."""

    echoes: int
    """Saves that were only the echo of the sync's own writes."""
    result: CycleResult | None = None
    """The targeted cycle (``None`` when every save was an echo, or it failed)."""
    cycles: int = 0
    """Targeted cycles started (0 or 1)."""
    auth_error: ServerAuthError | None = None
    """Why the cycle stopped: a server rejected its key."""


class Clock(Protocol):
    """Where the group reads the time (the tests move it)."""

    def __call__(self) -> datetime:
        """The current time, aware."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SyncGroup:
    """The servers, engine, stored state and cycles of one sync group."""

    def __init__(
        self,
        settings: GroupSettings,
        clients: Mapping[str, JellyfinClient],
        probe_clients: Mapping[str, JellyfinClient],
        storage: GroupStorage,
        *,
        clock: Clock = _utcnow,
    ) -> None:
        """Bind the clients and storage; no I/O here.

        ``probe_clients`` answer the check that opens each cycle: fast, without
        retries, so a server that does not respond is "down" for the cycle.
        """
        self.settings = settings
        self.clients = dict(clients)
        self._probe_clients = dict(probe_clients)
        self.stored = StoredState(storage)
        self._clock = clock
        self.lock = asyncio.Lock()
        """Held while a cycle (or an undo) runs: whoever runs one takes it first,
        so that what it does with the result (publish, events) is in order too."""
        self.syncing = False
        self.engine: SyncEngine | None = None
        self._engine_servers: frozenset[str] = frozenset()
        self.infos: dict[str, ServerInfo] = {}
        self.users: dict[str, list[User]] = {}
        self.answered: set[str] = set()
        """Servers that answered the last check (their version is known)."""
        self.states: dict[str, ServerState] = {}
        self.recent_writes = RecentWrites()
        """The sync's own writes, to recognise their webhook echoes."""
        self.published = False
        """Whether a check or cycle has produced data yet."""

    @property
    def baseline(self) -> Baseline:
        """The last synced state (with the undo history)."""
        return self.stored.baseline

    @property
    def names(self) -> Mapping[str, str]:
        """Server id -> name."""
        return self.settings.names

    @property
    def last_report(self) -> dict[str, Any] | None:
        """The last cycle's report (the ``run`` action's form)."""
        return self.stored.last_report

    @property
    def history(self) -> list[dict[str, Any]]:
        """The last cycle summaries, oldest first."""
        return list(self.stored.history)

    @property
    def undo_history(self) -> list[dict[str, Any]]:
        """The last undos (ids and counts), oldest first."""
        return list(self.stored.undo_history)

    async def load(self) -> None:
        """Read the stored state (once, before the first check)."""
        await self.stored.load(self.settings.title)

    def data(self, summary: CycleSummary | None = None) -> SyncGroupData:
        """What the group publishes now."""
        return SyncGroupData(
            servers=dict(self.states),
            last_cycle=summary,
            last_success=self.stored.last_success,
            held=self.stored.held,
        )

    # ---- servers --------------------------------------------------------------------

    async def first_check(self) -> SyncGroupData:
        """Check every server once (keys, versions) and publish their states.

        Raises:
            ServerAuthError: a server rejected its key.
            NoServerOnlineError: no server answered.
        """
        problems = await self.check_servers()
        if len(problems) == len(self.clients):
            raise NoServerOnlineError
        self._update_states(problems, count_failures=True)
        self.published = True
        return self.data()

    async def check_servers(self) -> dict[str, ServerProblem]:
        """Probe every server; why the unusable ones cannot be synced.

        Raises:
            ServerAuthError: a server rejected its key.
        """
        probe = await self._probe()
        for server_id, error in probe.items():
            if isinstance(error, JellyfinAuthError):
                raise ServerAuthError(server_id, self.names[server_id])
        self.answered = {sid for sid, error in probe.items() if error is None}
        problems: dict[str, ServerProblem] = {}
        for server_id, error in probe.items():
            if error is not None:
                problems[server_id] = ServerProblem.of(error.reason)
            elif not self.supported(server_id):
                problems[server_id] = ServerProblem.UNSUPPORTED_VERSION
        return problems

    def supported(self, server_id: str) -> bool:
        """Whether a server's version can be synced (unknown counts as yes)."""
        info = self.infos.get(server_id)
        return info is None or info.version_tuple[:2] >= MIN_SUPPORTED_VERSION

    async def _probe(self) -> dict[str, JellyfinError | None]:
        """Read identity, version and users of every server at once."""

        async def probe(server_id: str, client: JellyfinClient) -> None:
            self.infos[server_id] = await client.get_system_info()
            self.users[server_id] = await client.get_users(include_hidden=True)

        results = await asyncio.gather(
            *(probe(sid, client) for sid, client in self._probe_clients.items()),
            return_exceptions=True,
        )
        outcome: dict[str, JellyfinError | None] = {}
        for server_id, result in zip(self._probe_clients, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, JellyfinError):
                    raise result
                outcome[server_id] = result
            else:
                outcome[server_id] = None
        return outcome

    def check_users(self, names: Collection[str]) -> None:
        """Refuse user names that exist on none of the servers.

        Raises:
            UnknownUserError: the first unknown name.
        """
        known = {u.name.casefold() for users in self.users.values() for u in users}
        for name in names:
            if name.casefold() not in known:
                raise UnknownUserError(name)

    def knows_user(self, server_id: str, user_id: str) -> bool:
        """Whether a server listed a user at the last check (unknown server: yes)."""
        users = self.users.get(server_id)
        return users is None or user_id in {u.id for u in users}

    def _update_states(
        self, problems: Mapping[str, ServerProblem], *, count_failures: bool
    ) -> None:
        """New server states; log once when a server goes away and once when back.

        ``count_failures`` is off for targeted (webhook) cycles: a server that is
        down keeps the failure count of the last scheduled cycle.
        """
        for server_id, name in self.names.items():
            previous = self.states.get(server_id)
            error = problems.get(server_id)
            online = error is None
            failures = previous.failures if previous else 0
            if online:
                failures = 0
            elif count_failures or previous is None:
                failures += 1
            self.states[server_id] = ServerState(
                server_id=server_id,
                name=name,
                online=online,
                info=self.infos.get(server_id),
                tracked_items=self.stored.tracked.get(server_id, 0),
                error=error,
                failures=failures,
            )
            if online and previous is not None and not previous.online:
                _LOGGER.info("Jellyfin server %s is available again", name)
            elif not online and (previous is None or previous.online):
                _LOGGER.info("Jellyfin server %s is unavailable (%s)", name, error)

    # ---- cycles ---------------------------------------------------------------------

    def _engine(self) -> SyncEngine:
        """The engine over the servers a cycle may use (rebuilt when that set changes).

        The engine keeps item indexes and matches between cycles, so it lives as
        long as the set of usable servers stays the same.
        """
        usable = frozenset(sid for sid in self.clients if self.supported(sid))
        options = self.settings.sync_options(self.users)
        if self.engine is None or usable != self._engine_servers:
            self.engine = SyncEngine(
                {sid: self.clients[sid] for sid in sorted(usable)},
                options,
                self.baseline,
            )
            # The baseline is stored before writes start, so a stop mid-apply
            # does not count the sync's own writes as new plays after a restart.
            self.engine.checkpoint = self.stored.save
            self._engine_servers = usable
        else:
            # User lists may have changed: the explicit mapping is re-resolved.
            self.engine.options = options
        return self.engine

    async def run_cycle(
        self,
        *,
        dry_run: bool | None = None,
        full: bool = False,
        users: list[str] | None = None,
        approve_held: bool = False,
        targets: Targets | None = None,
        on_start: Callable[[], None] | None = None,
        on_checked: Callable[[], None] | None = None,
    ) -> CycleResult:
        """One cycle: check, sync the usable servers, store. The caller holds the lock.

        ``on_start`` is called as the cycle starts (:attr:`syncing` is set),
        ``on_checked`` once the servers were checked (:attr:`answered`, :attr:`infos`).

        Raises:
            ServerAuthError: a server rejected its key.
        """
        self.syncing = True
        if on_start is not None:
            on_start()
        try:
            return await self._cycle(
                dry_run=self.settings.dry_run if dry_run is None else dry_run,
                full=full,
                users=users,
                approve_held=approve_held,
                targets=targets,
                on_checked=on_checked,
            )
        finally:
            self.syncing = False

    async def _cycle(
        self,
        *,
        dry_run: bool,
        full: bool,
        users: list[str] | None,
        approve_held: bool,
        targets: Targets | None,
        on_checked: Callable[[], None] | None,
    ) -> CycleResult:
        started = self._clock()
        problems = await self.check_servers()
        if on_checked is not None:
            on_checked()
        online = [sid for sid in self.clients if sid not in problems]
        if len(online) < 2:
            summary = CycleSummary(
                started_at=started,
                finished_at=self._clock(),
                outcome=Status.ERROR,
                dry_run=dry_run,
                full=full,
                servers=tuple(online),
                error="too_few_servers_online",
            )
            report_dict: dict[str, Any] = {
                "ok": False,
                "error": "too_few_servers_online",
            }
            await self.stored.finish_cycle(summary, report_dict, None)
            decided = False
        else:
            engine = self._engine()
            report = await engine.run_cycle(
                now=started,
                dry_run=dry_run,
                full=full,
                users=self.settings.cycle_users(users),
                targets=targets,
                approve_held=approve_held,
            )
            if not dry_run:
                self.recent_writes.record(
                    engine.take_applied_writes(), asyncio.get_running_loop().time()
                )
            summary = CycleSummary.of(report, started=started, finished=self._clock())
            for server_id, server_report in report.servers.items():
                failed = not server_report.readable or server_report.read_failures
                if failed and server_id not in problems:
                    problems[server_id] = ServerProblem.READ_FAILED
            report_dict = report.to_dict()
            await self.stored.finish_cycle(summary, report_dict, report)
            decided = not dry_run
        # A burst of webhook cycles must not count as many failed cycles.
        self._update_states(problems, count_failures=targets is None)
        self.published = True
        response = {"summary": summary.as_dict(), "report": report_dict}
        return CycleResult(self.data(summary), summary, response, decided)

    async def run_items(
        self,
        keys: Collection[ItemKey],
        *,
        on_start: Callable[[], None] | None = None,
        on_checked: Callable[[], None] | None = None,
    ) -> ItemsRun:
        """A targeted cycle over items saved on the servers (echoes dropped first).

        The caller holds the lock, as for :meth:`run_cycle`. A server that rejects
        its key stops the cycle; the answer says so (:attr:`ItemsRun.auth_error`)
        instead of raising.
        """
        kept, echoes = await drop_echoes(
            self.recent_writes,
            self.clients,
            self.settings.fields,
            keys,
            asyncio.get_running_loop().time(),
        )
        if not kept:
            return ItemsRun(echoes)
        targets: dict[str, list[tuple[str, str]]] = {}
        for server_id, user_id, item_id in sorted(kept):
            targets.setdefault(server_id, []).append((user_id, item_id))
        try:
            result = await self.run_cycle(
                targets=targets, on_start=on_start, on_checked=on_checked
            )
        except ServerAuthError as err:
            return ItemsRun(echoes, None, 1, err)
        return ItemsRun(echoes, result, 1)

    # ---- undo -----------------------------------------------------------------------

    async def undo(self, *, dry_run: bool, cycle_id: str | None) -> UndoResult:
        """Write back what a cycle overwrote (see :func:`.undoing.undo`).

        The caller holds the lock, as for :meth:`run_cycle`.

        Raises:
            NothingToUndoError: there is no applied cycle to undo.
            UnknownCycleError: ``cycle_id`` names no recorded cycle.
        """
        return await undoing.undo(
            self._engine(),
            self.stored,
            self.names,
            now=self._clock,
            dry_run=dry_run,
            cycle_id=cycle_id,
        )
