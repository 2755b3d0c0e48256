"""Sync engine: match users and items across servers, three-way merge, safe apply.

Plain async Python without Home Assistant imports; it talks to servers only through
:class:`ServerClient` (the Jellyfin client). Typical use::

    engine = SyncEngine(clients, SyncOptions(), Baseline.from_dict(stored))
    report = await engine.run_cycle(now=datetime.now(UTC), dry_run=True)
    stored = engine.baseline.to_dict()
"""

from .baseline import (
    BASELINE_VERSION,
    Baseline,
    BaselineEntry,
    HistoryCycle,
    HistoryWrite,
    UserBaseline,
)
from .client import ServerClient
from .engine import SyncEngine
from .matching import (
    Ambiguity,
    ItemMatch,
    MatchedItem,
    MatchedUser,
    UserMatch,
    match_items,
    match_users,
    run,
)
from .merge import Decision, Participant, Rule, resolve
from .options import (
    ALL_FIELDS,
    Direction,
    FirstSyncPolicy,
    GuardLimits,
    MatchMethod,
    ServerOptions,
    SyncOptions,
)
from .plan import (
    Conflict,
    Outcome,
    PlannedWrite,
    Skipped,
    SyncPlan,
    UserSnapshot,
    advance_baseline,
    build_plan,
)
from .report import (
    ServerReport,
    SkippedUser,
    SkipReason,
    Stage,
    SyncError,
    SyncReport,
)

__all__ = [
    "ALL_FIELDS",
    "BASELINE_VERSION",
    "Ambiguity",
    "Baseline",
    "BaselineEntry",
    "Conflict",
    "Decision",
    "Direction",
    "FirstSyncPolicy",
    "GuardLimits",
    "HistoryCycle",
    "HistoryWrite",
    "ItemMatch",
    "MatchMethod",
    "MatchedItem",
    "MatchedUser",
    "Outcome",
    "Participant",
    "PlannedWrite",
    "Rule",
    "ServerClient",
    "ServerOptions",
    "ServerReport",
    "SkipReason",
    "Skipped",
    "SkippedUser",
    "Stage",
    "SyncEngine",
    "SyncError",
    "SyncOptions",
    "SyncPlan",
    "SyncReport",
    "UserBaseline",
    "UserMatch",
    "UserSnapshot",
    "advance_baseline",
    "build_plan",
    "match_items",
    "match_users",
    "resolve",
    "run",
]
