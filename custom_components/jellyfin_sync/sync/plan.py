"""Turn snapshots + baseline into a plan of minimal writes, and advance the baseline.

Pure: no I/O, no clock (``now`` is passed in). :func:`plan_steps` is a generator that
yields every few dozen items so the engine can keep the event loop responsive;
:func:`build_plan` runs it in one go. The records a plan is made of live in
:mod:`.plan_records` (re-exported here).
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from custom_components.jellyfin_sync.jellyfin.models import (
    Capabilities,
    SyncField,
    UserData,
)

from . import fields as fx
from .baseline import Applying, ApplyingKey, Baseline, BaselineEntry
from .matching import ItemMatch, MatchedItem, MatchedUser, Steps, build_aliases, run
from .merge import Participant, resolve
from .options import FirstSyncPolicy, SyncOptions
from .plan_records import (
    Conflict,
    Outcome,
    OutcomeList,
    OutcomeRecord,
    PlannedWrite,
    Skipped,
    SyncPlan,
)

__all__ = [
    "STEP_ITEMS",
    "Conflict",
    "Outcome",
    "OutcomeList",
    "OutcomeRecord",
    "PlannedWrite",
    "Skipped",
    "SyncPlan",
    "UserSnapshot",
    "advance_baseline",
    "advance_steps",
    "build_plan",
    "plan_steps",
]

#: Items between two steps of the step generators that get no options.
STEP_ITEMS = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class UserSnapshot:
    """What was read for one user in this cycle."""

    user: MatchedUser
    readable: frozenset[str]
    """Servers read completely for this user; only they take part."""
    data: Mapping[str, Mapping[str, UserData]]
    """Server id -> item id -> state. In a full cycle an absent item is untouched
    (default state); in a targeted cycle an absent item was not read."""
    vanished: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Server id -> item ids that no longer exist (rescan, deletion)."""
    scope: frozenset[int] | None = None
    """Targeted cycle: only these matched items (indexes into the match)."""


def _interesting(
    snapshot: UserSnapshot, match: ItemMatch, stored: Mapping[str, BaselineEntry]
) -> Steps[tuple[list[int], dict[int, str]]]:
    """Matched items worth comparing (non-default somewhere or in the baseline).

    Also returns, per item, the key under which the baseline stores it; an item
    whose identity changed since (new provider ids, another server) is found
    through its other keys.
    """
    stored_key: dict[int, str] = {}
    unresolved: list[str] = []
    for count, key in enumerate(stored, 1):
        index = match.resolve(key)
        if index is None:
            unresolved.append(key)
        elif index not in stored_key or key == match.items.identity(index):
            stored_key[index] = key
        if count % STEP_ITEMS == 0:
            yield
    if unresolved:
        yield from build_aliases(match, unresolved)
        for key in unresolved:
            index = match.resolve(key)
            if index is not None and index not in stored_key:
                stored_key[index] = key
    if snapshot.scope is not None:
        return sorted(snapshot.scope), stored_key
    found: set[int] = set(stored_key)
    count = 0
    for server_id in sorted(snapshot.readable):
        for item_id in snapshot.data.get(server_id, {}):
            index = match.index_of(server_id, item_id)
            if index is not None:
                found.add(index)
            count += 1
            if count % STEP_ITEMS == 0:
                yield
    return sorted(found), stored_key


_FIELD_TUPLES: dict[tuple[SyncField, ...], tuple[SyncField, ...]] = {}


def _shared(fields: tuple[SyncField, ...]) -> tuple[SyncField, ...]:
    """One shared tuple per field combination.

    Thousands of writes share a few tuples (a tuple of enum members stays tracked
    by the garbage collector, so one per write would lengthen its passes).
    """
    return _FIELD_TUPLES.setdefault(fields, fields)


def _writes_for(
    options: SyncOptions,
    capabilities: Mapping[str, Capabilities],
    user: MatchedUser,
    item: MatchedItem,
    part: Participant,
    target: UserData,
) -> tuple[PlannedWrite | None, Skipped | None]:
    caps = capabilities[part.server_id]
    current = part.current
    values: dict[SyncField, Any] = {}
    unsupported: list[SyncField] = []
    for sync_field in fx.FIELD_ORDER:
        if sync_field not in options.fields or fx.same(sync_field, current, target):
            continue
        if not options.direction(part.server_id, sync_field).writes:
            continue
        if sync_field is SyncField.RATING and not caps.set_numeric_rating:
            # Likes-only server: write like/dislike/clear when the meaning differs.
            if current.likes != target.likes:
                values[sync_field] = fx.likes_rating(target.rating)
            else:  # same meaning, other number: 10.8 cannot store it
                unsupported.append(sync_field)
            continue
        if sync_field not in caps.writable_fields:
            unsupported.append(sync_field)
            continue
        values[sync_field] = fx.get(target, sync_field)
    skipped = (
        Skipped(
            server_id=part.server_id,
            user_key=user.key,
            identity=item.identity,
            item_id=part.item_id,
            fields=tuple(unsupported),
        )
        if unsupported
        else None
    )
    if not values:
        return None, skipped
    desired = fx.with_values(current, values)
    written = _shared(tuple(values))
    return (
        PlannedWrite(
            server_id=part.server_id,
            user_key=user.key,
            user_id=user.ids[part.server_id],
            item_id=part.item_id,
            identity=item.identity,
            fields=written,
            current=current,
            desired=desired,
            resets=_shared(
                tuple(f for f in written if fx.is_reset(f, current, desired))
            ),
        ),
        skipped,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Planning:
    """What every step of one :func:`plan_steps` run shares."""

    plan: SyncPlan
    match: ItemMatch
    baseline: Baseline
    options: SyncOptions
    capabilities: Mapping[str, Capabilities]
    now: datetime
    approve_held: bool


def plan_steps(
    snapshots: Sequence[UserSnapshot],
    match: ItemMatch,
    baseline: Baseline,
    options: SyncOptions,
    capabilities: Mapping[str, Capabilities],
    *,
    now: datetime,
    approve_held: bool = False,
) -> Steps[SyncPlan]:
    """Plan a cycle (step generator; see :func:`build_plan` for the arguments)."""
    planning = _Planning(
        plan=SyncPlan(scope_key=options.scope_key),
        match=match,
        baseline=baseline,
        options=options,
        capabilities=capabilities,
        now=now,
        approve_held=approve_held,
    )
    for snapshot in sorted(snapshots, key=lambda s: s.user.key):
        yield from _plan_user(planning, snapshot)
    return planning.plan


def _plan_user(planning: _Planning, snapshot: UserSnapshot) -> Steps[None]:
    """Plan the items of one user."""
    plan, options = planning.plan, planning.options
    user = snapshot.user
    stored = planning.baseline.users.get(user.key)
    stored_items = stored.items if stored is not None else {}
    synced = stored.servers if stored is not None else set()
    if stored is None or stored.scope != options.scope_key:
        # Kinds or libraries came into scope: their items have no earlier
        # state anywhere (a first sync for them, not changes from nothing).
        synced = set()
    source = options.primary_server
    if (
        options.first_sync is FirstSyncPolicy.PRIMARY_WINS
        and source in user.ids
        and source not in snapshot.readable
        and source not in synced
    ):
        # Without the source, a first sync would merge instead of copying it.
        plan.waiting.append(user.key)
        return
    if snapshot.scope is None:
        plan.readable[user.key] = snapshot.readable
        if snapshot.readable >= set(user.ids):
            plan.scoped.add(user.key)
    indexes, stored_key = yield from _interesting(
        snapshot, planning.match, stored_items
    )
    user_writes: list[PlannedWrite] = []
    for index in indexes:
        item = planning.match.items[index]
        key = stored_key.get(index)
        entry = stored_items[key] if key is not None else None
        parts = _participants(snapshot, item, entry, synced, planning.baseline.applying)
        if len(parts) < 2:
            continue
        plan.compared += 1
        _plan_item(planning, user, item, key, entry, parts, user_writes)
        if plan.compared % options.yield_every == 0:
            yield
    _guard(plan, snapshot, user_writes, options, approve_held=planning.approve_held)


def _participants(
    snapshot: UserSnapshot,
    item: MatchedItem,
    entry: BaselineEntry | None,
    synced: set[str],
    applying: Mapping[ApplyingKey, Applying],
) -> dict[str, Participant]:
    """The servers that take part in an item, with their states and bases."""
    user = snapshot.user
    parts: dict[str, Participant] = {}
    for server_id in sorted(item.members):
        item_id = item.members[server_id]
        if (
            server_id not in user.ids
            or server_id not in snapshot.readable
            or item_id in snapshot.vanished.get(server_id, ())
        ):
            continue
        server_data = snapshot.data.get(server_id, {})
        current = server_data.get(item_id)
        if current is None:
            if snapshot.scope is not None:
                continue
            current = fx.DEFAULT
        if entry is not None:
            base = entry.confirmed.get(server_id)
        else:
            base = fx.DEFAULT if server_id in synced else None
        started = applying.get((server_id, user.key, item.identity))
        if base is not None and started is not None and started.landed(current):
            # A write of a stopped cycle reached this server: it is the
            # sync's own value, not a change made there.
            base = fx.copy_fields(base, started.desired, started.fields)
        parts[server_id] = Participant(
            server_id=server_id, item_id=item_id, current=current, base=base
        )
    return parts


def _plan_item(
    planning: _Planning,
    user: MatchedUser,
    item: MatchedItem,
    key: str | None,
    entry: BaselineEntry | None,
    parts: dict[str, Participant],
    user_writes: list[PlannedWrite],
) -> None:
    """Merge one item and plan its writes (added to ``user_writes``)."""
    plan = planning.plan
    target, decisions = resolve(
        list(parts.values()),
        entry.agreed if entry is not None else None,
        planning.options,
        now=planning.now,
    )
    plan.conflicts.extend(
        Conflict(user_key=user.key, identity=item.identity, decision=d)
        for d in decisions
    )
    plan.outcomes.append(
        Outcome(
            user_key=user.key,
            identity=item.identity,
            stored_key=key,
            target=target,
            participants=parts,
        )
    )
    for part in parts.values():
        write, skipped = _writes_for(
            planning.options, planning.capabilities, user, item, part, target
        )
        if skipped is not None:
            plan.skipped.append(skipped)
        if write is not None:
            user_writes.append(write)


def _guard(
    plan: SyncPlan,
    snapshot: UserSnapshot,
    writes: list[PlannedWrite],
    options: SyncOptions,
    *,
    approve_held: bool,
) -> None:
    """Hold a user's resets on servers where they exceed the guard limits."""
    resets: dict[str, int] = defaultdict(int)
    for write in writes:
        if write.resets:
            resets[write.server_id] += 1
    tripped: set[str] = set()
    for server_id, count in sorted(resets.items()):
        with_data = len(snapshot.data.get(server_id, {}))
        if options.guard.exceeded(count, with_data):
            plan.guard[(snapshot.user.key, server_id)] = (count, with_data)
            tripped.add(server_id)
    for write in writes:
        if write.resets and write.server_id in tripped and not approve_held:
            plan.held.append(write)
        else:
            plan.writes.append(write)


def build_plan(
    snapshots: Sequence[UserSnapshot],
    match: ItemMatch,
    baseline: Baseline,
    options: SyncOptions,
    capabilities: Mapping[str, Capabilities],
    *,
    now: datetime,
    approve_held: bool = False,
) -> SyncPlan:
    """Plan a cycle: which fields to write where, what to hold and skip.

    Args:
        snapshots: Per user, what was read from each server.
        match: The matched items of all servers.
        baseline: The state of the last sync (not modified).
        options: Rules, directions and guard limits.
        capabilities: Server id -> what its version can write.
        now: The cycle's time (for played items without a date).
        approve_held: Apply resets even where the mass-change guard trips.
    """
    return run(
        plan_steps(
            snapshots,
            match,
            baseline,
            options,
            capabilities,
            now=now,
            approve_held=approve_held,
        )
    )


def advance_baseline(
    baseline: Baseline,
    plan: SyncPlan,
    confirmed: Mapping[tuple[str, str, str], UserData],
) -> None:
    """Record the plan's outcome in ``baseline`` (in place).

    Args:
        baseline: The baseline to update.
        plan: The plan that was (partly) applied.
        confirmed: ``(server, user, identity)`` -> state confirmed after a successful
            write. Servers without an entry keep the state they were read with, so a
            failed or held write is planned again next cycle.
    """
    run(advance_steps(baseline, plan, confirmed))


def advance_steps(
    baseline: Baseline,
    plan: SyncPlan,
    confirmed: Mapping[tuple[str, str, str], UserData],
) -> Steps[None]:
    """:func:`advance_baseline` as a step generator."""
    for user_key, readable in plan.readable.items():
        baseline.user(user_key).servers.update(readable)
    for user_key in plan.scoped:
        baseline.user(user_key).scope = plan.scope_key
    for count, outcome in enumerate(plan.outcomes, 1):
        if count % STEP_ITEMS == 0:
            yield
        user = baseline.user(outcome.user_key)
        old = None
        if outcome.stored_key is not None:
            old = user.items.pop(outcome.stored_key, None)
        states: dict[str, UserData] = {}
        if old is not None:
            states.update(old.confirmed)
        for server_id, part in outcome.participants.items():
            state = confirmed.get(
                (server_id, outcome.user_key, outcome.identity), part.current
            )
            # Share the agreed object: storage tells "confirmed == agreed" quickly.
            states[server_id] = outcome.target if state == outcome.target else state
        entry = BaselineEntry(outcome.target, states)
        if not entry.is_default:
            user.items[outcome.identity] = entry
