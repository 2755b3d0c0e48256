"""The sync engine: collect from every server, match, plan, apply, report, undo.

Its collaborators (``indexing``, ``reading``, ``collecting``, ``applying``,
``undoing``) do the I/O, always through a :class:`~.client.ServerClient`. It keeps an item index per server in memory between
cycles (refreshed fully every ``index_refresh_cycles`` cycles, extended
incrementally from each cycle's reads) and reads per user only the items that carry
user data, so a cycle where nothing changed costs a few small listings per user.

:class:`SyncEngine` runs a cycle step by step; its parts share one
:class:`~.state.EngineState`: :class:`~.indexing.Indexer` (server info, users, item
indexes), :class:`~.reading.Reader` (a user's data on a server),
:class:`~.collecting.Collector` (the snapshots a cycle compares),
:class:`~.applying.Applier` (writes and history) and :class:`~.undoing.Undoer`.
"""

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from datetime import datetime
import time
from typing import Any

from custom_components.jellyfin_sync.jellyfin.models import format_datetime

from . import fields as fx
from .applying import Applier
from .baseline import Applying, Baseline, BaselineEntry
from .client import ServerClient
from .collecting import Collector
from .indexing import Indexer
from .matching import ItemMatch, MatchedUser, build_aliases, match_users
from .options import FirstSyncPolicy, MatchMethod, SyncOptions
from .pacing import drive
from .plan import PlannedWrite, SyncPlan, UserSnapshot, advance_steps, plan_steps
from .reading import Reader
from .report import SkippedUser, SkipReason, SyncReport
from .state import EngineState, ServerState
from .undoing import Undoer


def _waiting(users: Iterable[str]) -> list[SkippedUser]:
    """Users whose first sync waits for the primary server."""
    return [SkippedUser(user, SkipReason.WAITS_FOR_PRIMARY) for user in users]


class SyncEngine:
    """Keeps the watch data of several Jellyfin servers identical.

    Args:
        clients: Server id (the server's SystemId) -> client.
        options: Rules, directions, guard limits.
        baseline: The stored baseline (``Baseline.from_dict``); empty when ``None``.
    """

    def __init__(
        self,
        clients: Mapping[str, ServerClient],
        options: SyncOptions,
        baseline: Baseline | None = None,
    ) -> None:
        """Create the engine; nothing is read until the first cycle."""
        servers = {
            server_id: ServerState(
                server_id,
                client,
                semaphore=asyncio.Semaphore(max(1, options.max_concurrent_requests)),
            )
            for server_id, client in sorted(clients.items())
        }
        self._state = EngineState(
            options, baseline if baseline is not None else Baseline(), servers
        )
        self._indexer = Indexer(self._state)
        reader = Reader(self._state, self._indexer)
        self._collector = Collector(self._state, reader)
        self._applier = Applier(self._state)
        self._undoer = Undoer(self._state, self._indexer, reader, self._applier)
        self._applied: list[PlannedWrite] = []
        self.checkpoint: Callable[[], Awaitable[None]] | None = None
        """Called (and awaited) before a cycle writes, with ``baseline.applying``
        set: the caller stores the baseline so a stop mid-apply can be recovered."""

    @property
    def options(self) -> SyncOptions:
        """Rules, directions, guard limits (replaceable between cycles)."""
        return self._state.options

    @options.setter
    def options(self, options: SyncOptions) -> None:
        self._state.options = options

    @property
    def baseline(self) -> Baseline:
        """What the servers last agreed on, and the history of recent cycles."""
        return self._state.baseline

    @baseline.setter
    def baseline(self, baseline: Baseline) -> None:
        self._state.baseline = baseline

    def take_applied_writes(self) -> list[PlannedWrite]:
        """The writes the last cycle that was no dry run sent; forgotten once taken.

        The caller tells the sync's own writes from a user's with them (webhook
        echoes); the engine keeps nothing else of a cycle's plan.
        """
        applied, self._applied = self._applied, []
        return applied

    # ------------------------------------------------------------------ cycle

    async def run_cycle(
        self,
        *,
        now: datetime,
        dry_run: bool = False,
        full: bool = False,
        users: Collection[str] | None = None,
        targets: Mapping[str, Collection[tuple[str, str]]] | None = None,
        approve_held: bool = False,
    ) -> SyncReport:
        """Run one cycle and return its report.

        Args:
            now: The cycle's time (report, history, played items without a date).
            dry_run: Plan only; nothing is written and the baseline is unchanged.
            full: Refresh every server's item index first.
            users: Only these users (sync names, any case); all when ``None``.
            targets: Only these items: server id -> ``(user id, item id)`` pairs on
                that server (near-real-time updates). The same rules apply.
            approve_held: Apply resets that the mass-change guard would hold.
        """
        report = SyncReport(
            cycle_id=format_datetime(now),
            started=now,
            dry_run=dry_run,
            full=full,
            targeted=targets is not None,
            limit=self.options.report_limit,
        )
        started = time.monotonic()
        state = self._state
        state.match_seconds = 0.0
        await self._indexer.prepare(
            report, full=full, index="targeted" if targets is not None else "cycle"
        )
        ready = state.ready()
        selected = self._select_users(report, ready, users)
        if targets is not None:
            snapshots = await self._collector.collect_targets(report, selected, targets)
        else:
            snapshots = await self._collector.collect_full(
                report, selected, now=now, full=full
            )
        report.users = sorted({s.user.key for s in snapshots})
        match = await state.matched()
        if targets is None and not dry_run:
            await self._adopt_upgrades(ready, snapshots, match)
        report.durations["match"] = state.match_seconds
        report.durations["collect"] = time.monotonic() - started - state.match_seconds
        self._report_match(report, match)
        plan = await self._plan(
            report, snapshots, match, ready, now=now, approve_held=approve_held
        )
        if not dry_run:
            await self._apply(report, plan, now)
        report.durations["total"] = time.monotonic() - started
        return report

    def _select_users(
        self,
        report: SyncReport,
        ready: Mapping[str, ServerState],
        users: Collection[str] | None,
    ) -> list[MatchedUser]:
        """The users of this cycle: matched across the servers that answered.

        Only those named in ``users`` when given; with ``primary_wins``, not those
        whose first sync needs the primary server while it is down.
        """
        user_match = match_users(
            {sid: s.users for sid, s in ready.items()}, self.options
        )
        report.users_skipped = list(user_match.skipped)
        wanted = {u.casefold() for u in users} if users is not None else None
        selected = [u for u in user_match.users if wanted is None or u.key in wanted]
        primary = self._state.servers.get(self.options.primary_server or "")
        if (
            self.options.first_sync is FirstSyncPolicy.PRIMARY_WINS
            and primary is not None
            and not primary.ready
        ):
            # The primary's users are unknown while it is down: whoever has not had
            # a first sync with it waits (the plan handles a primary that answered).
            waiting = [
                u
                for u in selected
                if primary.server_id not in self.baseline.user(u.key).servers
            ]
            report.users_skipped.extend(_waiting(u.key for u in waiting))
            selected = [u for u in selected if u not in waiting]
        return selected

    async def _plan(
        self,
        report: SyncReport,
        snapshots: list[UserSnapshot],
        match: ItemMatch,
        ready: Mapping[str, ServerState],
        *,
        now: datetime,
        approve_held: bool,
    ) -> SyncPlan:
        """Plan the cycle's writes from the snapshots and report the plan."""
        mark = time.monotonic()
        caps = {
            sid: s.capabilities
            for sid, s in ready.items()
            if s.capabilities is not None
        }
        plan = await drive(
            plan_steps(
                snapshots,
                match,
                self.baseline,
                self.options,
                caps,
                now=now,
                approve_held=approve_held,
            )
        )
        report.durations["plan"] = time.monotonic() - mark
        self._report_plan(report, plan)
        return plan

    async def _apply(self, report: SyncReport, plan: SyncPlan, now: datetime) -> None:
        """Send the plan's writes, record them and move the baseline on."""
        mark = time.monotonic()
        self._applied = plan.writes
        if plan.writes and self.checkpoint is not None:
            # Stored before writing: a stop mid-apply leaves a record of what
            # may have reached the servers (see ``Baseline.applying``).
            self.baseline.applying = {
                (w.server_id, w.user_key, w.identity): Applying(w.fields, w.desired)
                for w in plan.writes
            }
            await self.checkpoint()
        confirmed = await self._applier.apply(report, plan.writes)
        report.durations["apply"] = time.monotonic() - mark
        await self._applier.record_history(report, plan, confirmed, now)
        await drive(advance_steps(self.baseline, plan, confirmed))
        self.baseline.applying = {}

    # ---------------------------------------------------------------- upgrade

    async def _adopt_upgrades(
        self,
        ready: Mapping[str, ServerState],
        snapshots: list[UserSnapshot],
        match: ItemMatch,
    ) -> None:
        """Adopt the title states of the servers just upgraded to 12.0 (once)."""
        for server in ready.values():
            if server.upgraded:
                await self._adopt(server.server_id, snapshots, match)
                server.upgraded = False

    async def _adopt(
        self, server_id: str, snapshots: list[UserSnapshot], match: ItemMatch
    ) -> None:
        """After an upgrade to 12.0, take the server's title states as confirmed.

        The upgrade makes one title of several files: its reads merge the versions'
        playback but never their play counts, and its primary may be another file
        (API-NOTES §9.2). Those differences are the upgrade's, not a user's: like a
        rescan, they are held. The server's current state becomes its confirmed
        state, so nothing is sent from it or to it for that reason; changes made
        afterwards sync as usual.
        """
        for snapshot in snapshots:
            states = snapshot.data.get(server_id)
            stored = self.baseline.users.get(snapshot.user.key)
            if states is None or stored is None:
                continue
            unresolved = [key for key in stored.items if match.resolve(key) is None]
            if unresolved:
                await drive(build_aliases(match, unresolved))
            for key, entry in list(stored.items.items()):
                index = match.resolve(key)
                if index is None or server_id not in entry.confirmed:
                    continue
                item_id = match.items[index].members.get(server_id)
                if item_id is None:
                    continue
                current = states.get(item_id, fx.DEFAULT)
                if current != entry.confirmed[server_id]:
                    confirmed = {**entry.confirmed, server_id: current}
                    stored.items[key] = BaselineEntry(entry.agreed, confirmed)

    # ------------------------------------------------------------------- undo

    def matches(
        self, *, limit: int = 100, method: MatchMethod | None = None
    ) -> list[dict[str, Any]]:
        """The first matched items of the last cycle (to check matches by hand).

        Each entry names the identity, how it was matched and the item id on every
        server; ``method`` keeps only one kind (e.g. the weaker path matches).
        """
        if self._state.match is None:
            return []
        found: list[dict[str, Any]] = []
        for item in self._state.match.items:
            if method is not None and item.method is not method:
                continue
            if len(found) >= limit:
                break
            found.append(
                {
                    "identity": item.identity,
                    "method": item.method.value,
                    "items": dict(sorted(item.members.items())),
                }
            )
        return found

    @property
    def undoable(self) -> list[str]:
        """Ids of the cycles that can be undone, oldest first."""
        return [c.cycle_id for c in self.baseline.history]

    async def undo(
        self, *, now: datetime, cycle_id: str | None = None, dry_run: bool = False
    ) -> SyncReport:
        """Bring every server back to the values from before a cycle.

        The cycle is the newest recorded one by default. Every server holding the
        item returns to the agreed values from before the cycle, the one where the
        change started included (for a change held and then approved, the values
        the written servers had). A value changed by a user since the cycle is
        kept on that server (counted as ``kept``) and reaches the others with the
        next cycle. The agreed state goes back too, so the next cycle neither
        re-applies nor re-holds what was undone. A server that is down (or a
        write that fails) keeps what the cycle left as its confirmed state, so
        the next cycle that reaches it restores it (counted as ``waiting``). An
        item the cycle synced for the first time has no earlier agreed state:
        each written server gets its own value back and the next cycle merges
        them again. The cycle leaves the history: undoing the same ``cycle_id``
        again writes nothing.

        Args:
            now: Time of the undo (report only).
            cycle_id: The cycle to undo (see :attr:`undoable`); the newest if ``None``.
            dry_run: Report the writes without making them.
        """
        return await self._undoer.undo(now=now, cycle_id=cycle_id, dry_run=dry_run)

    # ----------------------------------------------------------------- report

    def _report_match(self, report: SyncReport, match: ItemMatch) -> None:
        """Fill the report's match figures (by method, unmatched, ambiguous)."""
        report.matches_by_method = {m.value: n for m, n in match.by_method.items()}
        report.unmatched = dict(match.unmatched)
        report.unmatched_examples = {
            server_id: ids[: report.limit]
            for server_id, ids in sorted(match.unmatched_examples.items())
        }
        report.ambiguous = len(match.ambiguous)
        report.ambiguous_examples = [
            {"server": a.server_id, "key": a.key, "items": list(a.item_ids)}
            for a in match.ambiguous[: report.limit]
        ]
        report.match_conflicts = match.conflicts

    def _report_plan(self, report: SyncReport, plan: SyncPlan) -> None:
        """Fill the report's plan figures (writes, held, conflicts, guard)."""
        report.items_compared = plan.compared
        report.users_skipped.extend(_waiting(plan.waiting))
        report.writes_planned = len(plan.writes)
        report.held = len(plan.held)
        for w in plan.held:
            report.server(w.server_id).held += 1
        for s in plan.skipped:
            report.server(s.server_id).unsupported += 1
        report.unsupported = len(plan.skipped)
        rules: dict[str, int] = defaultdict(int)
        for c in plan.conflicts:
            rules[c.decision.rule.value] += 1
        report.conflicts_by_rule = dict(rules)
        report.guard = [
            {"user": user, "server": server, "resets": resets, "items_with_data": items}
            for (user, server), (resets, items) in sorted(plan.guard.items())
        ]
        report.fill_lists(
            planned=plan.writes,
            held=plan.held,
            conflicts=plan.conflicts,
            unsupported=plan.skipped,
        )
