"""Undo at the group's level: which cycle, whether it was undone already, counts.

The engine writes the values back (``SyncEngine.undo``); the group decides which
cycle an undo means, keeps undo idempotent, and counts what happened per server for
the action's answer, the event and the diagnostics.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custom_components.jellyfin_sync.sync import SyncEngine, SyncReport

from .errors import NothingToUndoError, UnknownCycleError
from .store import StoredState


@dataclass(frozen=True, slots=True)
class UndoResult:
    """The answer of one undo."""

    response: dict[str, Any]
    """The action's answer."""
    summary: dict[str, Any] | None
    """What the undo did (event and diagnostics); ``None``: nothing was undone."""
    failed: int = 0
    """Values that could not be written back now (the next cycle does it)."""
    failed_servers: tuple[str, ...] = ()
    """Names of the servers those values belong on."""


def _counts(report: SyncReport, names: Mapping[str, str]) -> dict[str, Any]:
    """Per server (by name) and in total: values restored, kept, waiting."""
    servers = {
        names.get(sid, sid): {
            "restored": entry.restored,
            "kept": entry.kept,
            "waiting": entry.waiting,
        }
        for sid, entry in sorted(report.servers.items())
    }
    return {
        "restored": sum(s["restored"] for s in servers.values()),
        "kept": sum(s["kept"] for s in servers.values()),
        "waiting": sum(s["waiting"] for s in servers.values()),
        "by_server": servers,
    }


def _already_undone(cycle_id: str | None, undoable: list[str]) -> UndoResult:
    """The answer of an undo that has nothing left to do."""
    return UndoResult(
        {
            "cycle": cycle_id,
            "already_undone": True,
            "writes_planned": 0,
            "writes_done": 0,
            "ok": True,
            "undoable": undoable,
        },
        None,
    )


def _target(
    cycle_id: str | None, undoable: list[str], done: str | None
) -> str | UndoResult:
    """The cycle an undo means, or the answer when there is nothing to do.

    Raises:
        NothingToUndoError: no applied cycle and none undone.
        UnknownCycleError: ``cycle_id`` names no recorded cycle.
    """
    target = cycle_id if cycle_id is not None else next(reversed(undoable), None)
    if target is None or target not in undoable:
        if cycle_id is None and done is None:
            raise NothingToUndoError
        if cycle_id is not None and (done is None or cycle_id > done):
            raise UnknownCycleError(cycle_id)
        return _already_undone(cycle_id or done, undoable)
    if cycle_id is None and done is not None and target < done:
        # The newest sync was undone already; older ones need their id.
        return _already_undone(done, undoable)
    return target


async def undo(
    engine: SyncEngine,
    stored: StoredState,
    names: Mapping[str, str],
    *,
    now: Callable[[], datetime],
    dry_run: bool,
    cycle_id: str | None,
) -> UndoResult:
    """Write back what a cycle overwrote: ``cycle_id``, else the newest sync.

    Idempotent: once a cycle is undone, undoing it again (by id, or without an id
    while no newer sync ran) writes nothing and says so. What a server that is down
    (or a failed write) did not get back, the next cycle that reaches it restores;
    the answer counts it as ``waiting``.

    Raises:
        NothingToUndoError: there is no applied cycle to undo.
        UnknownCycleError: ``cycle_id`` names no recorded cycle.
    """
    done = stored.last_undone
    target = _target(cycle_id, engine.undoable, done)
    if isinstance(target, UndoResult):
        return target
    report = await engine.undo(now=now(), cycle_id=target, dry_run=dry_run)
    counts = _counts(report, names)
    summary = {
        "undo": True,
        "cycle_id": report.cycle_id,
        "at": now().isoformat(),
        "dry_run": report.dry_run,
        "planned": report.writes_planned,
        "applied": report.writes_done,
        "failed": report.writes_failed,
        **counts,
    }
    if not dry_run:
        if target not in engine.undoable:
            stored.last_undone = max(target, done or target)
        stored.undo_history.append(summary)
        await stored.save()
    response = report.to_dict()
    response["already_undone"] = False
    response["undoable"] = engine.undoable
    response.update(counts)
    failed_servers = tuple(
        sorted(
            {names.get(e.server_id, e.server_id) for e in report.errors}
            | {names.get(s, s) for s, r in report.servers.items() if r.failed}
        )
    )
    return UndoResult(response, summary, report.writes_failed, failed_servers)
