"""Planned writes sent to the servers, and the history of what a cycle wrote.

Writes run at most ``max_concurrent_requests`` at a time per server. A write counts
as done when the server's answer shows every field took; the state it answered is
what the baseline records as confirmed.
"""

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from custom_components.jellyfin_sync.jellyfin.exceptions import (
    ErrorReason,
    JellyfinError,
    JellyfinNotFoundError,
)
from custom_components.jellyfin_sync.jellyfin.models import SyncField, UserData
from custom_components.jellyfin_sync.jellyfin.write_errors import (
    JellyfinUnsupportedError,
    JellyfinVerificationError,
)

from . import fields as fx
from .baseline import HistoryCycle, HistoryWrite
from .kinds import own_data, own_fields
from .matching import Slot
from .plan import PlannedWrite, SyncPlan
from .report import ServerReport, Stage, SyncError, SyncReport
from .state import EngineState, ServerState

#: (Server id, user key, identity) of a write -> the state the server confirmed.
type Confirmed = dict[tuple[str, str, str], UserData]


class Applier:
    """Sends planned writes and records them in the baseline's history."""

    def __init__(self, state: EngineState) -> None:
        """Work on the engine's shared state."""
        self.state = state

    # ------------------------------------------------------------------ apply

    async def apply(self, report: SyncReport, writes: list[PlannedWrite]) -> Confirmed:
        """Send the writes; return the state each server confirmed, by write.

        A write that failed has no confirmed state unless the server answered one
        (a verification that found other values).
        """
        confirmed: Confirmed = {}

        async def write(w: PlannedWrite) -> None:
            await self._write_one(report, confirmed, w)

        await self._bounded(writes, write)
        return confirmed

    async def _write_one(
        self, report: SyncReport, confirmed: Confirmed, w: PlannedWrite
    ) -> None:
        """Send one write and count its outcome in the report."""
        server = self.state.servers[w.server_id]
        entry = report.server(w.server_id)
        try:
            async with server.semaphore:
                result = await self._write_title(server, w)
        except JellyfinVerificationError as err:
            result = err.actual
        except JellyfinUnsupportedError as err:
            entry.unsupported += 1
            self._failed(
                report, entry, SyncError.of(w.server_id, Stage.WRITE, err, w.identity)
            )
            return
        except JellyfinNotFoundError:
            self._failed(report, entry, None)
            report.vanished += 1
            self.state.forget(server, (w.item_id,))
            return
        except JellyfinError as err:
            self._failed(
                report, entry, SyncError.of(w.server_id, Stage.WRITE, err, w.identity)
            )
            return
        confirmed[(w.server_id, w.user_key, w.identity)] = result
        missed = [f for f in w.fields if not fx.same(f, result, w.desired)]
        if missed:
            names = ", ".join(f.value for f in missed)
            self._failed(
                report,
                entry,
                SyncError(
                    w.server_id,
                    Stage.WRITE,
                    ErrorReason.NOT_VERIFIED,
                    w.identity,
                    f"{names} did not take",
                ),
            )
            return
        report.writes_done += 1
        entry.writes += 1
        for sync_field in w.fields:
            entry.writes_by_field[sync_field.value] = (
                entry.writes_by_field.get(sync_field.value, 0) + 1
            )

    @staticmethod
    def _failed(
        report: SyncReport, entry: ServerReport, error: SyncError | None
    ) -> None:
        """Count a failed write (and report its error, if it has one)."""
        entry.failed += 1
        report.writes_failed += 1
        if error is not None:
            report.error(error)

    async def _write_title(self, server: ServerState, w: PlannedWrite) -> UserData:
        """Send one planned write; on 12.0 a title's fields may go to two versions.

        Returns the title's state afterwards as the next read will show it: the
        primary's answer, with the position (and date) of the version the user
        would resume when those went there (:meth:`Versions.route`).
        """
        caps = server.capabilities
        verify = bool(caps and caps.verify_writes)
        entry = (server.index or {}).get(w.item_id)
        kind = entry[Slot.TYPE] if entry is not None else ""
        # A folder's played state is its children's: never written (the plan has
        # no such write, as folders are read without it; this keeps it so).
        fields = frozenset(w.fields) & own_fields(kind)
        if not fields:
            return own_data(kind, w.current or UserData())
        routes: list[tuple[str, frozenset[SyncField], UserData | None]]
        routes = [(w.item_id, fields, None)]
        if caps is not None and caps.versions:
            routes = server.versions.route(w.user_id, w.item_id, w.desired, fields)
        result = w.current or UserData()
        for item_id, part, state in routes:
            if item_id == w.item_id:
                result = await server.client.set_user_data(
                    w.user_id,
                    item_id,
                    w.desired,
                    part,
                    current=w.current,
                    verify=verify,
                )
                continue
            played = await server.client.set_user_data(
                w.user_id, item_id, w.desired, part, current=state, verify=verify
            )
            result = replace(
                result,
                playback_position_ticks=played.playback_position_ticks,
                last_played_date=(
                    played.last_played_date
                    if SyncField.LAST_PLAYED in part
                    else result.last_played_date
                ),
            )
        return own_data(kind, result)

    async def _bounded(
        self,
        writes: list[PlannedWrite],
        action: Callable[[PlannedWrite], Awaitable[None]],
    ) -> None:
        """Run ``action`` for every write, at most N at a time per server."""
        per_server: dict[str, list[PlannedWrite]] = defaultdict(list)
        for w in writes:
            per_server[w.server_id].append(w)

        async def worker(queue: Iterator[PlannedWrite]) -> None:
            for w in queue:
                await action(w)
                # A client answering from a cache must not starve the loop.
                await asyncio.sleep(0)

        workers: list[Awaitable[None]] = []
        for server_id in sorted(per_server):
            queue = iter(per_server[server_id])
            workers.extend(
                worker(queue)
                for _ in range(max(1, self.state.options.max_concurrent_requests))
            )
        await asyncio.gather(*workers)

    # ---------------------------------------------------------------- history

    async def record_history(
        self,
        report: SyncReport,
        plan: SyncPlan,
        confirmed: Mapping[tuple[str, str, str], UserData],
        now: datetime,
    ) -> None:
        """Add the cycle's confirmed writes to the history (what undo works from).

        The history keeps ``history_cycles`` cycles and ``history_max_writes``
        writes at most; the oldest cycles leave first.
        """
        written = {
            (w.user_key, w.identity)
            for w in plan.writes
            if (w.server_id, w.user_key, w.identity) in confirmed
        }
        if not written:
            return
        first, agreed_before = await self._agreed_before(plan, written)
        rows = await self._history_rows(plan, confirmed, first, agreed_before)
        options = self.state.options
        limit = options.history_max_writes
        if len(rows) > limit:
            report.history_dropped = len(rows) - limit
            rows = rows[:limit]
        history = self.state.baseline.history
        history.append(
            HistoryCycle.from_rows(cycle_id=report.cycle_id, at=now, rows=rows)
        )
        while len(history) > max(1, options.history_cycles) or (
            sum(c.write_count for c in history) > limit
        ):
            history.pop(0)

    async def _agreed_before(
        self, plan: SyncPlan, written: set[tuple[str, str]]
    ) -> tuple[set[tuple[str, str]], dict[tuple[str, str], UserData]]:
        """The agreed states before the cycle, of the items written to only.

        Also the items synced for the first time (some server had no base).
        """
        agreed_before: dict[tuple[str, str], UserData] = {}
        first: set[tuple[str, str]] = set()
        yield_every = self.state.options.yield_every
        for count, (user_key, identity, stored_key) in enumerate(plan.outcomes.keys()):
            if (count + 1) % yield_every == 0:
                await asyncio.sleep(0)
            if (user_key, identity) not in written:
                continue
            if any(p.base is None for p in plan.outcomes[count].participants.values()):
                first.add((user_key, identity))
            stored = self.state.baseline.users.get(user_key)
            entry = (
                stored.items.get(stored_key)
                if stored is not None and stored_key is not None
                else None
            )
            agreed_before[(user_key, identity)] = (
                entry.agreed if entry is not None else fx.DEFAULT
            )
        return first, agreed_before

    async def _history_rows(
        self,
        plan: SyncPlan,
        confirmed: Mapping[tuple[str, str, str], UserData],
        first: set[tuple[str, str]],
        agreed_before: Mapping[tuple[str, str], UserData],
    ) -> list[tuple[Any, ...]]:
        """One history row per confirmed write, in the plan's order."""
        rows: list[tuple[Any, ...]] = []
        yield_every = self.state.options.yield_every
        for count, w in enumerate(plan.writes, 1):
            if count % yield_every == 0:
                await asyncio.sleep(0)
            after = confirmed.get((w.server_id, w.user_key, w.identity))
            if after is None:
                continue
            rows.append(
                HistoryCycle.row(
                    HistoryWrite(
                        server_id=w.server_id,
                        user_key=w.user_key,
                        user_id=w.user_id,
                        item_id=w.item_id,
                        identity=w.identity,
                        fields=w.fields,
                        before=w.current,
                        after=after,
                        agreed_before=agreed_before[(w.user_key, w.identity)],
                        first=(w.user_key, w.identity) in first,
                    )
                )
            )
        return rows
