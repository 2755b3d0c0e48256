"""What a sync group publishes after each cycle (immutable, small).

Entities read these; item-level details stay in the engine's report, which only the
``run`` action response and diagnostics expose. Reasons are keys, never English:
the Home Assistant layer words them through its translations.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from custom_components.jellyfin_sync.jellyfin.exceptions import ErrorReason
from custom_components.jellyfin_sync.jellyfin.models import ServerInfo
from custom_components.jellyfin_sync.sync import SyncReport


class Status(StrEnum):
    """The group's status (the status sensor's states)."""

    IDLE = "idle"
    SYNCING = "syncing"
    OK = "ok"
    DRY_RUN = "dry_run"
    HELD = "held"
    ERROR = "error"


class ServerProblem(StrEnum):
    """Why a server could not take part in a cycle.

    The first values are the client's :class:`ErrorReason` of the failed check; the
    last two are the group's own findings.
    """

    ERROR = ErrorReason.ERROR.value
    CANNOT_CONNECT = ErrorReason.CANNOT_CONNECT.value
    TIMEOUT = ErrorReason.TIMEOUT.value
    SERVER_ERROR = ErrorReason.SERVER_ERROR.value
    STARTING = ErrorReason.STARTING.value
    REQUEST_REJECTED = ErrorReason.REQUEST_REJECTED.value
    NOT_JELLYFIN = ErrorReason.NOT_JELLYFIN.value
    NOT_FOUND = ErrorReason.NOT_FOUND.value
    UNSUPPORTED_VERSION = "unsupported_version"
    """The server runs a Jellyfin older than the oldest supported one."""
    READ_FAILED = "read_failed"
    """The server answered the check but reading its watch data failed."""

    @classmethod
    def of(cls, reason: ErrorReason) -> "ServerProblem":
        """The problem a failed check stands for."""
        try:
            return cls(reason.value)
        except ValueError:
            return cls.ERROR


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerState:
    """One server as seen by the last cycle."""

    server_id: str
    name: str
    online: bool
    info: ServerInfo | None = None
    tracked_items: int | None = None
    """Items with user data the last cycle read from this server (``None``: unknown)."""
    error: ServerProblem | None = None
    """Why the server was not usable (never a secret)."""
    failures: int = 0
    """Consecutive cycles this server could not be used."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleSummary:
    """Counts of one sync cycle, as published in events and sensors."""

    started_at: datetime
    finished_at: datetime
    outcome: Status
    """``ok``, ``dry_run``, ``held`` or ``error``."""
    dry_run: bool = False
    full: bool = False
    planned: int = 0
    applied: int = 0
    failed: int = 0
    conflicts: int = 0
    unmatched: int = 0
    held: int = 0
    servers: tuple[str, ...] = ()
    """Server ids that took part."""
    errors: int = 0
    """Failures of the cycle (the report lists them)."""
    error: str | None = None
    """Why the cycle is not ``ok``, as a key: ``too_few_servers_online`` or
    ``sync_errors`` (see ``errors`` and the report)."""

    @classmethod
    def of(
        cls, report: SyncReport, *, started: datetime, finished: datetime
    ) -> "CycleSummary":
        """Counts of an engine report."""
        if report.held:
            outcome = Status.HELD
        elif not report.ok:
            outcome = Status.ERROR
        elif report.dry_run:
            outcome = Status.DRY_RUN
        else:
            outcome = Status.OK
        return cls(
            started_at=started,
            finished_at=finished,
            outcome=outcome,
            dry_run=report.dry_run,
            full=report.full,
            planned=report.writes_planned,
            applied=report.writes_done,
            failed=report.writes_failed,
            conflicts=sum(report.conflicts_by_rule.values()),
            unmatched=sum(report.unmatched.values()),
            held=report.held,
            servers=tuple(sorted(s for s, r in report.servers.items() if r.readable)),
            errors=report.errors_total,
            error=None if report.ok else "sync_errors",
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (event data, stored history, diagnostics)."""
        return {
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "outcome": self.outcome.value,
            "dry_run": self.dry_run,
            "full": self.full,
            "planned": self.planned,
            "applied": self.applied,
            "failed": self.failed,
            "conflicts": self.conflicts,
            "unmatched": self.unmatched,
            "held": self.held,
            "servers": list(self.servers),
            "errors": self.errors,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncGroupData:
    """What the group publishes: server states and the last cycle."""

    servers: Mapping[str, ServerState] = field(default_factory=dict)
    last_cycle: CycleSummary | None = None
    last_success: datetime | None = None
    held: int = 0
    """Changes waiting for approval (the mass-change guard held them)."""
