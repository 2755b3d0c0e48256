"""The sync group: one owner for a group's servers, engine, state and cycles.

No Home Assistant here: the coordinator schedules the group's cycles and presents
what they return; the webhook asks it for targeted runs.
"""

from .core import CycleResult, GroupSettings, ItemsRun, SyncGroup
from .data import CycleSummary, ServerProblem, ServerState, Status, SyncGroupData
from .echoes import ItemKey, RecentWrites
from .errors import (
    GroupError,
    NoServerOnlineError,
    NothingToUndoError,
    ServerAuthError,
    UnknownCycleError,
    UnknownUserError,
)
from .store import REPORT_HISTORY, UNDO_HISTORY, GroupStorage
from .undoing import UndoResult

__all__ = [
    "REPORT_HISTORY",
    "UNDO_HISTORY",
    "CycleResult",
    "CycleSummary",
    "GroupError",
    "GroupSettings",
    "GroupStorage",
    "ItemKey",
    "ItemsRun",
    "NoServerOnlineError",
    "NothingToUndoError",
    "RecentWrites",
    "ServerAuthError",
    "ServerProblem",
    "ServerState",
    "Status",
    "SyncGroup",
    "SyncGroupData",
    "UndoResult",
    "UnknownCycleError",
    "UnknownUserError",
]
