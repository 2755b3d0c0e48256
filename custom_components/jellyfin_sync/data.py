"""What the coordinator publishes after each cycle (immutable, small).

Entities read these; item-level details stay in the engine's report, which only the
``run`` action response and diagnostics expose.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .jellyfin.models import ServerInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerState:
    """One server as seen by the last cycle."""

    server_id: str
    name: str
    online: bool
    info: ServerInfo | None = None
    tracked_items: int | None = None
    """Items with user data the last cycle read from this server (``None``: unknown)."""
    error: str | None = None
    """Why the server was not usable (an error class name, never a secret)."""
    failures: int = 0
    """Consecutive cycles this server could not be used."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleSummary:
    """Counts of one sync cycle, as published in events and sensors."""

    started_at: datetime
    finished_at: datetime
    outcome: str
    """``ok``, ``dry_run``, ``held`` or ``error`` (see ``const.STATUSES``)."""
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
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (event data, stored history, diagnostics)."""
        return {
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "outcome": self.outcome,
            "dry_run": self.dry_run,
            "full": self.full,
            "planned": self.planned,
            "applied": self.applied,
            "failed": self.failed,
            "conflicts": self.conflicts,
            "unmatched": self.unmatched,
            "held": self.held,
            "servers": list(self.servers),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncGroupData:
    """The coordinator's data: server states and the last cycle."""

    servers: Mapping[str, ServerState] = field(default_factory=dict)
    last_cycle: CycleSummary | None = None
    last_success: datetime | None = None
    held: int = 0
    """Changes waiting for approval (the mass-change guard held them)."""
