"""The report of one cycle (or undo): counts plus bounded lists, JSON-safe."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from custom_components.jellyfin_sync.jellyfin.exceptions import (
    ErrorReason,
    JellyfinError,
)
from custom_components.jellyfin_sync.jellyfin.models import format_datetime


class Stage(StrEnum):
    """Which step of a cycle (or undo) an error happened in."""

    READ_SERVER = "read_server"
    """Reading the server itself: users, libraries, item index."""
    READ_USER = "read_user"
    """Reading one user's watch data."""
    LOOKUP_VANISHED = "lookup_vanished"
    """Looking up items that left the listings."""
    READ_TARGET = "read_target"
    """Reading the items a webhook call named."""
    WRITE = "write"
    UNDO_READ = "undo_read"
    """Reading what an undo would overwrite."""


class SkipReason(StrEnum):
    """Why a user takes no part in a cycle."""

    DISABLED = "disabled"
    HIDDEN = "hidden"
    MAPPED_USER_NOT_FOUND = "mapped_user_not_found"
    """A line of the explicit mapping names no (or more than one) user there."""
    NAME_NOT_UNIQUE = "name_not_unique"
    ONLY_ON_ONE_SERVER = "only_on_one_server"
    WAITS_FOR_PRIMARY = "waits_for_primary"
    """First sync with ``primary_wins``: the primary server was not read."""


@dataclass(frozen=True, slots=True, order=True)
class SkippedUser:
    """A user (on one server, or everywhere) a cycle leaves out, and why."""

    user: str
    reason: SkipReason
    server_id: str = ""
    """The server concerned (empty: the user as a whole)."""

    def to_dict(self) -> dict[str, str]:
        """JSON-safe form (action responses, diagnostics)."""
        return {
            "user": self.user,
            "reason": self.reason.value,
            "server": self.server_id,
        }


@dataclass(frozen=True, slots=True)
class SyncError:
    """One failure of a cycle, as data: the Home Assistant layer words it.

    ``subject`` names what failed (a user's name, an item's identity); ``detail``
    is the client's message, for logs and diagnostics (never a secret).
    """

    server_id: str
    stage: Stage
    reason: ErrorReason
    subject: str = ""
    detail: str = ""

    @classmethod
    def of(
        cls, server_id: str, stage: Stage, err: JellyfinError, subject: str = ""
    ) -> "SyncError":
        """The error a client exception stands for."""
        return cls(server_id, stage, err.reason, subject, str(err))

    def to_dict(self) -> dict[str, str]:
        """JSON-safe form (action responses, diagnostics)."""
        return {
            "server": self.server_id,
            "stage": self.stage.value,
            "reason": self.reason.value,
            "subject": self.subject,
            "detail": self.detail,
        }

    def __str__(self) -> str:
        """One line for logs."""
        subject = f" {self.subject}" if self.subject else ""
        return f"{self.server_id}: {self.stage}{subject}: {self.reason}: {self.detail}"


@dataclass(slots=True, kw_only=True)
class ServerReport:
    """How one server fared in a cycle."""

    server_id: str
    name: str = ""
    version: str = ""
    readable: bool = False
    """Read completely (index and users); per-user failures are in ``errors``."""
    read_failures: int = 0
    """Reads of watch data the server failed to answer (down, 5xx, broken answer)
    after it was found readable; the users concerned sat the cycle out there."""
    index_items: int = 0
    index_refreshed: bool = False
    full_listings: int = 0
    """Users whose whole library was listed this cycle (see
    ``SyncOptions.full_listing_hours``)."""
    writes: int = 0
    writes_by_field: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    held: int = 0
    unsupported: int = 0
    restored: int = 0
    """Undo: items given back their values from before the cycle."""
    kept: int = 0
    """Undo: items left as they are because a user changed them since the cycle."""
    waiting: int = 0
    """Undo: items to restore once the server answers (the next cycle does it)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "server": self.server_id,
            "name": self.name,
            "version": self.version,
            "readable": self.readable,
            "read_failures": self.read_failures,
            "index_items": self.index_items,
            "index_refreshed": self.index_refreshed,
            "full_listings": self.full_listings,
            "writes": self.writes,
            "writes_by_field": dict(sorted(self.writes_by_field.items())),
            "failed": self.failed,
            "held": self.held,
            "unsupported": self.unsupported,
            "restored": self.restored,
            "kept": self.kept,
            "waiting": self.waiting,
        }


def _bounded(entries: Sequence[Any], limit: int) -> list[Any]:
    return [e.to_dict() if hasattr(e, "to_dict") else e for e in entries[:limit]]


@dataclass(slots=True, kw_only=True)
class SyncReport:
    """Everything a user needs to see about a cycle before trusting it."""

    cycle_id: str
    started: datetime
    dry_run: bool = False
    full: bool = False
    targeted: bool = False
    undo: bool = False
    servers: dict[str, ServerReport] = field(default_factory=dict)
    users: list[str] = field(default_factory=list)
    users_skipped: list[SkippedUser] = field(default_factory=list)
    items_compared: int = 0
    matches_by_method: dict[str, int] = field(default_factory=dict)
    unmatched: dict[str, int] = field(default_factory=dict)
    unmatched_examples: dict[str, list[str]] = field(default_factory=dict)
    """Server id -> the first item ids found on that server only."""
    ambiguous: int = 0
    ambiguous_examples: list[dict[str, Any]] = field(default_factory=list)
    match_conflicts: int = 0
    writes_planned: int = 0
    writes_done: int = 0
    writes_failed: int = 0
    conflicts_by_rule: dict[str, int] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    held: int = 0
    held_writes: list[dict[str, Any]] = field(default_factory=list)
    guard: list[dict[str, Any]] = field(default_factory=list)
    unsupported: int = 0
    unsupported_examples: list[dict[str, Any]] = field(default_factory=list)
    vanished: int = 0
    history_dropped: int = 0
    """Writes of this cycle beyond ``history_max_writes``: they cannot be undone."""
    planned: list[dict[str, Any]] = field(default_factory=list)
    """The first planned writes (all of them up to the report limit)."""
    errors: list[SyncError] = field(default_factory=list)
    errors_total: int = 0
    durations: dict[str, float] = field(default_factory=dict)
    limit: int = 50

    def server(self, server_id: str) -> ServerReport:
        """The report of one server (created when missing)."""
        found = self.servers.get(server_id)
        if found is None:
            found = self.servers[server_id] = ServerReport(server_id=server_id)
        return found

    def error(self, error: SyncError) -> None:
        """Add an error (bounded list, complete count)."""
        self.errors_total += 1
        if len(self.errors) < self.limit:
            self.errors.append(error)

    @property
    def ok(self) -> bool:
        """Whether every server was read and every write succeeded."""
        return self.errors_total == 0 and all(s.readable for s in self.servers.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for action responses and diagnostics."""
        return {
            "cycle": self.cycle_id,
            "started": format_datetime(self.started),
            "dry_run": self.dry_run,
            "full": self.full,
            "targeted": self.targeted,
            "undo": self.undo,
            "ok": self.ok,
            "servers": [self.servers[s].to_dict() for s in sorted(self.servers)],
            "users": list(self.users),
            "users_skipped": [u.to_dict() for u in self.users_skipped],
            "items_compared": self.items_compared,
            "matches_by_method": dict(sorted(self.matches_by_method.items())),
            "unmatched": dict(sorted(self.unmatched.items())),
            "unmatched_examples": {
                k: list(v) for k, v in self.unmatched_examples.items()
            },
            "ambiguous": self.ambiguous,
            "ambiguous_examples": list(self.ambiguous_examples),
            "match_conflicts": self.match_conflicts,
            "writes_planned": self.writes_planned,
            "writes_done": self.writes_done,
            "writes_failed": self.writes_failed,
            "conflicts_by_rule": dict(sorted(self.conflicts_by_rule.items())),
            "conflicts": list(self.conflicts),
            "held": self.held,
            "held_writes": list(self.held_writes),
            "guard": list(self.guard),
            "unsupported": self.unsupported,
            "unsupported_examples": list(self.unsupported_examples),
            "vanished": self.vanished,
            "history_dropped": self.history_dropped,
            "planned": list(self.planned),
            "errors": [e.to_dict() for e in self.errors],
            "errors_total": self.errors_total,
            "durations": {k: round(v, 4) for k, v in sorted(self.durations.items())},
        }

    def fill_lists(
        self,
        *,
        planned: Sequence[Any],
        held: Sequence[Any],
        conflicts: Sequence[Any],
        unsupported: Sequence[Any],
    ) -> None:
        """Set the bounded example lists from complete sequences."""
        self.planned = _bounded(planned, self.limit)
        self.held_writes = _bounded(held, self.limit)
        self.conflicts = _bounded(conflicts, self.limit)
        self.unsupported_examples = _bounded(unsupported, self.limit)
