"""What a sync group keeps between restarts, and where it keeps it.

The group's state is one document: the engine's baseline (with the undo history),
the last cycle summaries and report, and the undo bookkeeping. The Home Assistant
layer supplies the storage (its ``Store``); the baseline is serialized in a worker
thread, since a large library makes that real CPU work.
"""

from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
import logging
from typing import Any, Protocol

from custom_components.jellyfin_sync.sync import Baseline, SyncReport

from .data import CycleSummary, Status

_LOGGER = logging.getLogger(__package__.rpartition(".")[0])

REPORT_HISTORY = 5
"""How many cycle summaries are kept for diagnostics."""
UNDO_HISTORY = 10
"""How many undo summaries are kept for diagnostics."""


class GroupStorage(Protocol):
    """Where a group's state is kept (Home Assistant's ``Store`` in practice)."""

    async def load(self) -> Mapping[str, Any] | None:
        """The stored document, if any."""

    async def save(self, data: dict[str, Any]) -> None:
        """Replace the stored document."""

    async def run_job[T](self, job: Callable[[], T]) -> T:
        """Run CPU work off the event loop."""


def _snapshot(baseline: Baseline) -> tuple[dict[str, Any], dict[str, int]]:
    """Serialized baseline and, per server, the items with user data it tracks."""
    counts: dict[str, int] = {}
    for user in baseline.users.values():
        for entry in user.items.values():
            for server_id, state in entry.confirmed.items():
                if not state.is_default:
                    counts[server_id] = counts.get(server_id, 0) + 1
    return baseline.to_dict(), counts


class StoredState:
    """The group's state that outlives a restart, loaded and saved as one."""

    def __init__(self, storage: GroupStorage) -> None:
        """Start empty; :meth:`load` reads what was stored."""
        self._storage = storage
        self.baseline = Baseline()
        self.history: deque[dict[str, Any]] = deque(maxlen=REPORT_HISTORY)
        self.last_report: dict[str, Any] | None = None
        self.tracked: dict[str, int] = {}
        self.held = 0
        self.last_success: datetime | None = None
        self.last_undone: str | None = None
        """The newest cycle an undo restored completely: undo without a cycle id
        stops there, so calling it twice does not step back a second sync."""
        self.undo_history: deque[dict[str, Any]] = deque(maxlen=UNDO_HISTORY)
        """The last undos: cycle ids and counts per server, no item data."""
        self._raw_baseline: dict[str, Any] | None = None

    async def load(self, title: str) -> None:
        """Read the stored state (once, before the first cycle)."""
        stored = await self._storage.load()
        if not stored:
            return
        raw = stored.get("baseline")
        if raw:
            try:
                self.baseline = await self._storage.run_job(
                    lambda: Baseline.from_dict(raw)
                )
                self._raw_baseline = raw
            except ValueError as err:
                _LOGGER.warning(
                    "Stored sync state of %s cannot be read (%s); starting afresh",
                    title,
                    err,
                )
        self.history.extend(stored.get("history", []))
        self.tracked = dict(stored.get("tracked", {}))
        if self.history:
            self.held = int(self.history[-1].get("held", 0))
        self.last_undone = stored.get("last_undone")
        self.undo_history.extend(stored.get("undo_history", []))
        last_success = stored.get("last_success")
        if last_success:
            self.last_success = datetime.fromisoformat(last_success)

    async def finish_cycle(
        self,
        summary: CycleSummary,
        report_dict: dict[str, Any],
        report: SyncReport | None,
    ) -> None:
        """Keep a cycle's summary and report, and store them.

        The baseline is stored too when the cycle may have changed it.
        """
        changed = report is not None and not summary.dry_run
        if summary.outcome in (Status.OK, Status.HELD) and not summary.dry_run:
            self.last_success = summary.finished_at
        if changed and report is not None:
            self.held = report.held
        self.last_report = report_dict
        self.history.append(summary.as_dict())
        if changed:
            await self.save()
        else:
            await self.save_history()

    async def save(self) -> None:
        """Store the baseline (serialized off the event loop) and the rest."""
        baseline = self.baseline
        self._raw_baseline, self.tracked = await self._storage.run_job(
            lambda: _snapshot(baseline)
        )
        await self.save_history()

    async def save_history(self) -> None:
        """Store everything but a new baseline (the last stored one stays)."""
        await self._storage.save(
            {
                "baseline": self._raw_baseline,
                "history": list(self.history),
                "tracked": self.tracked,
                "last_undone": self.last_undone,
                "undo_history": list(self.undo_history),
                "last_success": self.last_success.isoformat()
                if self.last_success
                else None,
            }
        )
