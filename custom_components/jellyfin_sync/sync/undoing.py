"""Undo of a recorded cycle: read the servers again, restore, settle the baseline.

The rules (what each server goes back to, what a user changed since, what the
baseline becomes) are in :mod:`.undo`; this module reads, writes and keeps count
(see :meth:`.engine.SyncEngine.undo` for the behaviour).
"""

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
import time

from custom_components.jellyfin_sync.jellyfin.exceptions import JellyfinError
from custom_components.jellyfin_sync.jellyfin.models import (
    SyncField,
    UserData,
    format_datetime,
)

from . import fields as fx
from .applying import Applier
from .baseline import HistoryCycle, HistoryWrite
from .indexing import Indexer
from .matching import match_users
from .plan import PlannedWrite
from .reading import Reader
from .report import Stage, SyncError, SyncReport
from .state import EngineState
from .undo import UndoItem, make_undo_item, restore_baseline

#: (Server id, user key, identity) of an item on a server.
type _Key = tuple[str, str, str]


@dataclass(slots=True)
class _Restoring:
    """What an undo does to each item on each server."""

    writes: list[PlannedWrite] = field(default_factory=list)
    """The writes that restore the servers."""
    settled: dict[_Key, UserData] = field(default_factory=dict)
    """States that need no write: the baseline takes them as they are."""
    changed: dict[_Key, tuple[SyncField, ...]] = field(default_factory=dict)
    """Fields a user changed since the cycle, kept on that server."""


class Undoer:
    """Brings the servers back to the values from before a recorded cycle."""

    def __init__(
        self,
        state: EngineState,
        indexer: Indexer,
        reader: Reader,
        applier: Applier,
    ) -> None:
        """Work on the engine's shared state through its other parts."""
        self.state = state
        self.indexer = indexer
        self.reader = reader
        self.applier = applier

    async def undo(
        self, *, now: datetime, cycle_id: str | None, dry_run: bool
    ) -> SyncReport:
        """Undo a cycle (the newest when ``cycle_id`` is ``None``); see the engine."""
        report = SyncReport(
            cycle_id=format_datetime(now),
            started=now,
            dry_run=dry_run,
            undo=True,
            limit=self.state.options.report_limit,
        )
        started = time.monotonic()
        history = self.state.baseline.history
        position = (
            len(history) - 1
            if cycle_id is None
            else next((i for i, c in enumerate(history) if c.cycle_id == cycle_id), -1)
        )
        if position >= 0:
            cycle = history[position]
            report.cycle_id = cycle.cycle_id
            await self.indexer.prepare(report, full=False, index="targeted")
            items = await self._targets(cycle)
            restoring = await self._plan(report, items)
            if dry_run:
                for w in restoring.writes:
                    report.server(w.server_id).restored += 1
            else:
                await self._restore(report, items, restoring)
                del history[position]
        report.durations["total"] = time.monotonic() - started
        return report

    async def _plan(self, report: SyncReport, items: list[UndoItem]) -> _Restoring:
        """Read the items again and decide, server by server, what to restore."""
        current, unreadable = await self._read(report, items)
        restoring = _Restoring()
        for undo_item in items:
            for server_id in undo_item.absent:
                report.server(server_id).waiting += 1
            for server_id, (user_id, item_id) in sorted(undo_item.members.items()):
                entry = report.server(server_id)
                if (server_id, user_id) in unreadable:
                    entry.waiting += 1
                    continue
                state = current.get((server_id, item_id))
                if state is None:
                    report.vanished += 1
                    continue
                key = (server_id, undo_item.user_key, undo_item.identity)
                kept = undo_item.changed_since(server_id, state)
                if kept:
                    entry.kept += 1
                    restoring.changed[key] = kept
                write = self._write(undo_item, server_id, user_id, item_id, state)
                if write is None:
                    if not kept:
                        restoring.settled[key] = state
                    continue
                restoring.writes.append(write)
        report.writes_planned = len(restoring.writes)
        report.planned = [p.to_dict() for p in restoring.writes[: report.limit]]
        return restoring

    async def _restore(
        self, report: SyncReport, items: list[UndoItem], restoring: _Restoring
    ) -> None:
        """Send the restoring writes, then take the results into the baseline."""
        confirmed = await self.applier.apply(report, restoring.writes)
        for w in restoring.writes:
            key = (w.server_id, w.user_key, w.identity)
            if key in confirmed:
                report.server(w.server_id).restored += 1
                restoring.settled[key] = confirmed[key]
            else:
                report.server(w.server_id).waiting += 1
        for undo_item in items:
            restore_baseline(
                self.state.baseline, undo_item, restoring.settled, restoring.changed
            )

    async def _read(
        self, report: SyncReport, items: list[UndoItem]
    ) -> tuple[dict[tuple[str, str], UserData], set[tuple[str, str]]]:
        """Current states of the items on every server.

        Also the (server, user) pairs that could not be read.
        """
        current: dict[tuple[str, str], UserData] = {}
        unreadable: set[tuple[str, str]] = set()
        groups: dict[tuple[str, str], set[str]] = defaultdict(set)
        for undo_item in items:
            for server_id, (user_id, item_id) in undo_item.members.items():
                groups[(server_id, user_id)].add(item_id)

        async def read(server_id: str, user_id: str, ids: set[str]) -> None:
            server = self.state.servers.get(server_id)
            if server is None or not server.ready:
                unreadable.add((server_id, user_id))
                return
            try:
                found = await self.reader.fetch(server, user_id, ids)
            except JellyfinError as err:
                report.error(SyncError.of(server_id, Stage.UNDO_READ, err))
                unreadable.add((server_id, user_id))
                return
            for item_id, state in found.items():
                current[(server_id, item_id)] = state

        await asyncio.gather(
            *(read(s, u, ids) for (s, u), ids in sorted(groups.items()))
        )
        return current, unreadable

    async def _targets(self, cycle: HistoryCycle) -> list[UndoItem]:
        """The items a cycle wrote, with every server that holds each of them.

        The servers the cycle wrote come from its history; the others (where the
        change started) from the current match.
        """
        per_item: dict[tuple[str, str], list[HistoryWrite]] = defaultdict(list)
        for w in cycle.writes:
            per_item[(w.user_key, w.identity)].append(w)
        servers = self.state.servers
        # Users as last read from every server, a server down now included: a
        # user matched across servers is found even when only one answers.
        users = {
            u.key: u
            for u in match_users(
                {sid: s.users for sid, s in servers.items() if s.users},
                self.state.options,
            ).users
        }
        match = await self.state.matched() if self.state.ready() else None
        found: list[UndoItem] = []
        for (user_key, identity), writes in sorted(per_item.items()):
            members = {w.server_id: (w.user_id, w.item_id) for w in writes}
            user = users.get(user_key)
            index = match.resolve(identity) if match is not None else None
            if user is not None and match is not None and index is not None:
                for server_id, item_id in match.items[index].members.items():
                    if server_id in user.ids and server_id not in members:
                        members[server_id] = (user.ids[server_id], item_id)
            stored = self.state.baseline.user(user_key).items.get(identity)
            absent = tuple(
                sid
                for sid in sorted(stored.confirmed if stored is not None else ())
                if sid not in members and sid in servers and not servers[sid].ready
            )
            found.append(
                make_undo_item(
                    writes, members, absent=absent, rank=self.state.options.rank
                )
            )
        return found

    def _write(
        self,
        item: UndoItem,
        server_id: str,
        user_id: str,
        item_id: str,
        state: UserData,
    ) -> PlannedWrite | None:
        """The write that restores one server, if any.

        Fields changed since the cycle are kept, and so are fields the server
        may not be written.
        """
        target = item.target(server_id)
        if target is None:
            return None
        wanted, values = target
        kept = item.changed_since(server_id, state)
        caps = self.state.servers[server_id].capabilities
        writable = set(caps.writable_fields if caps is not None else SyncField)
        if caps is not None and not caps.set_numeric_rating:
            # 10.8 takes likes, dislikes or none: the restored rating as one.
            values = replace(values, rating=fx.likes_rating(values.rating))
            if state.likes != values.likes:
                writable.add(SyncField.RATING)
        fields = tuple(
            f
            for f in wanted
            if f not in kept
            and f in writable
            and self.state.options.direction(server_id, f).writes
            and not fx.same(f, state, values)
        )
        if not fields:
            return None
        desired = fx.copy_fields(state, values, fields)
        return PlannedWrite(
            server_id=server_id,
            user_key=item.user_key,
            user_id=user_id,
            item_id=item_id,
            identity=item.identity,
            fields=fields,
            current=state,
            desired=desired,
            resets=tuple(f for f in fields if fx.is_reset(f, state, desired)),
        )
