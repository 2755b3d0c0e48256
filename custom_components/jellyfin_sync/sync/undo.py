"""What an undo puts back where, and the stored state it leaves (pure).

:meth:`~.engine.SyncEngine.undo` reads the servers and writes; the rules are here:

* every server of an item returns to the values from before the cycle (for a change
  held and then approved, what the written servers held before it), the server
  where the change started included;
* an item the cycle synced for the first time had no agreed state before it: each
  written server gets its own value back, the others keep theirs;
* a value a user changed on a server since the cycle is kept there (a playback
  field keeps the whole playback unit);
* the stored state afterwards makes the next cycle quiet, except that it takes a
  kept change everywhere and restores a server that was not reached.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from custom_components.jellyfin_sync.jellyfin.models import SyncField, UserData

from . import fields as fx
from .baseline import Baseline, BaselineEntry, HistoryWrite

#: Played, play count, position and date change together when someone plays: a
#: newer change of one of them keeps them all on that server in an undo.
PLAYBACK_UNIT = frozenset(
    {
        SyncField.PLAYED,
        SyncField.PLAY_COUNT,
        SyncField.POSITION,
        SyncField.LAST_PLAYED,
    }
)


@dataclass(frozen=True, slots=True)
class Written:
    """What a cycle wrote to one server of an item."""

    fields: tuple[SyncField, ...]
    before: UserData
    after: UserData


@dataclass(frozen=True, slots=True)
class UndoItem:
    """One item of an undone cycle: what goes back where."""

    user_key: str
    identity: str
    fields: tuple[SyncField, ...]
    """Every field the cycle wrote to the item, on any server."""
    written: dict[str, Written]
    """Server id -> what the cycle wrote there."""
    group: UserData
    """The values from before the cycle (in :attr:`fields`): what every server
    returns to, and the agreed state afterwards."""
    first: bool
    """The cycle was the item's first sync: there was no agreed state before it,
    so each written server gets back its own value and the others keep theirs."""
    members: dict[str, tuple[str, str]]
    """Server id -> (user id, item id)."""
    absent: tuple[str, ...] = ()
    """Servers that hold the item but cannot be reached for it now (down): the
    next cycle that reaches them restores them."""

    def target(self, server_id: str) -> tuple[tuple[SyncField, ...], UserData] | None:
        """The fields a server gets back and their values (``None``: nothing)."""
        own = self.written.get(server_id)
        if self.first:
            return (own.fields, own.before) if own is not None else None
        return self.fields, self.group

    def left(self, server_id: str) -> UserData:
        """What the cycle left on a server (for the fields it wrote)."""
        own = self.written.get(server_id)
        return own.after if own is not None else next(iter(self.written.values())).after

    def changed_since(self, server_id: str, state: UserData) -> tuple[SyncField, ...]:
        """The fields a user changed on a server since the cycle.

        A written server is compared with what it confirmed then; another server
        with what any written server confirmed (servers store some values their
        own way: 10.8 dates a played item itself and keeps ratings as 10 or 1).
        A change of a playback field keeps the whole playback unit.
        """
        own = self.written.get(server_id)
        if own is not None:
            moved = {f for f in own.fields if not fx.same(f, state, own.after)}
        else:
            moved = {
                f
                for f in self.fields
                if not any(
                    fx.same(f, state, w.after)
                    for w in self.written.values()
                    if f in w.fields
                )
            }
        if moved & PLAYBACK_UNIT:
            moved |= PLAYBACK_UNIT & set(self.fields)
        return tuple(f for f in self.fields if f in moved)


def make_undo_item(
    writes: Sequence[HistoryWrite],
    members: dict[str, tuple[str, str]],
    *,
    absent: tuple[str, ...],
    rank: Callable[[str], Any],
) -> UndoItem:
    """What goes back for one item (the writes of one user and identity).

    ``rank`` orders servers by priority: the highest-ranked written server's
    values settle fields the written servers disagree on.
    """
    first = writes[0]
    fields = tuple(f for f in fx.FIELD_ORDER if any(f in w.fields for w in writes))
    ranked = sorted(writes, key=lambda w: rank(w.server_id))
    group: dict[SyncField, Any] = {}
    for f in fields:
        holder = next(w for w in ranked if f in w.fields)
        # The agreed value from before the cycle; when the cycle agreed on
        # nothing new (a change held, then approved), what the written servers
        # held before it.
        if fx.same(f, holder.agreed_before, holder.after):
            group[f] = fx.get(holder.before, f)
        else:
            group[f] = fx.get(holder.agreed_before, f)
    return UndoItem(
        user_key=first.user_key,
        identity=first.identity,
        fields=fields,
        written={
            w.server_id: Written(fields=w.fields, before=w.before, after=w.after)
            for w in writes
        },
        group=fx.with_values(fx.DEFAULT, group),
        first=any(w.first for w in writes),
        members=members,
        absent=absent,
    )


def restore_baseline(
    baseline: Baseline,
    item: UndoItem,
    settled: Mapping[tuple[str, str, str], UserData],
    changed: Mapping[tuple[str, str, str], tuple[SyncField, ...]],
) -> None:
    """Store an undone item's state so the next cycle is quiet.

    Only the cycle's fields are touched. A settled server confirms what it holds;
    one not reached confirms what the cycle left there (so the next cycle that
    reaches it restores it); one a user changed since confirms the restored
    values in the changed fields (so the change reads as one and spreads).
    ``settled`` and ``changed`` are keyed by (server id, user key, identity).
    """
    user = baseline.user(item.user_key)
    if item.first:
        # No earlier agreed state: the next cycle merges the servers again.
        user.items.pop(item.identity, None)
        return
    stored = user.items.get(item.identity) or BaselineEntry(fx.DEFAULT, {})
    states = dict(stored.confirmed)
    for server_id in item.members:
        key = (server_id, item.user_key, item.identity)
        base = states.get(server_id, stored.agreed)
        state = settled.get(key)
        source = state if state is not None else item.left(server_id)
        states[server_id] = fx.copy_fields(base, source, item.fields)
        newer = changed.get(key)
        if newer:
            states[server_id] = fx.copy_fields(states[server_id], item.group, newer)
    agreed = fx.copy_fields(stored.agreed, item.group, item.fields)
    restored = BaselineEntry(agreed, states)
    if restored.is_default:
        user.items.pop(item.identity, None)
    else:
        user.items[item.identity] = restored
