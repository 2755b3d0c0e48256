"""Three-way merge of one item's user data across servers (pure).

Each participating server brings its current state and its *base*: the state last
confirmed on it (``None`` when the server never took part for this item and user).
A field whose current value differs from the server's base was changed there since
the last sync. The rules, as the README explains them to users:

* one server changed a field: the change goes everywhere (also un-watching,
  un-favouriting and clearing a rating);
* several servers changed the playback group (played, position, last played)
  differently: the server with the newest last-played date wins the whole group,
  then the priority order (a change without a date ranks below dated ones);
* plays made on different servers add up in the play count; when a play count went
  down on one server (un-watch) and up on another, the playback winner decides;
* favourite or rating changed differently: the priority order decides;
* servers without a base (first sync, or a server newly added) are combined with the
  result by the first-sync policy: ``merge`` (watched anywhere, highest play count,
  newest position and date, favourite anywhere, rating by priority) or
  ``primary_wins``;
* a played item without a last-played date gets the newest date any server knows,
  else the time of the sync.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from custom_components.jellyfin_sync.jellyfin.models import SyncField, UserData

from . import fields as fx
from .options import PLAYBACK_GROUP, FirstSyncPolicy, SyncOptions

_OLDEST = datetime.min.replace(tzinfo=UTC)
#: Stands for the agreed result in a first-sync combination (ranks before servers).
AGREED = ""


class Rule(StrEnum):
    """The rule that settled a conflict."""

    NEWEST_LAST_PLAYED = "newest_last_played"
    PRIORITY = "priority"
    PLAYS_ADD_UP = "plays_add_up"
    FIRST_SYNC_MERGE = "first_sync_merge"
    PRIMARY_SERVER = "primary_server"
    PLAYED_WITHOUT_DATE = "played_without_date"


@dataclass(frozen=True, slots=True, kw_only=True)
class Participant:
    """One server's side of an item."""

    server_id: str
    item_id: str
    current: UserData
    base: UserData | None
    """Last confirmed state on this server; ``None`` when it has none yet."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """How a conflict (or a special case) was settled for some fields."""

    fields: tuple[SyncField, ...]
    servers: tuple[str, ...]
    winner: str | None
    rule: Rule

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "fields": [f.value for f in self.fields],
            "servers": list(self.servers),
            "winner": self.winner,
            "rule": self.rule.value,
        }


def _playback_key(
    options: SyncOptions, server_id: str, data: UserData
) -> tuple[Any, ...]:
    """Sort key: newest last-played date first, then priority."""
    date = data.last_played_date or _OLDEST
    rank = (-1, "") if server_id == AGREED else options.rank(server_id)
    return (-date.timestamp(), rank)


class _Merge:
    """State of one item's merge."""

    def __init__(self, options: SyncOptions, now: datetime) -> None:
        self.options = options
        self.now = now
        self.decisions: list[Decision] = []

    def reads(self, server_id: str, sync_field: SyncField) -> bool:
        if server_id == AGREED:
            return True
        return self.options.direction(server_id, sync_field).reads

    def changed(self, p: Participant, sync_field: SyncField) -> bool:
        return self.reads(p.server_id, sync_field) and not fx.same(
            sync_field, p.current, p.base or fx.DEFAULT
        )

    def ranked(self, parts: Sequence[Participant]) -> list[Participant]:
        return sorted(parts, key=lambda p: self.options.rank(p.server_id))

    # -- three-way over servers with a base -------------------------------

    def three_way(self, parts: Sequence[Participant], ref: UserData) -> UserData:
        values: dict[SyncField, Any] = {}
        winner = self._playback(parts, ref, values)
        if SyncField.PLAY_COUNT in self.options.fields:
            values[SyncField.PLAY_COUNT] = self._play_count(parts, ref, winner)
        for sync_field in (SyncField.FAVORITE, SyncField.RATING):
            if sync_field in self.options.fields:
                values[sync_field] = self._by_priority(parts, ref, sync_field)
        return fx.with_values(ref, values)

    def _playback(
        self, parts: Sequence[Participant], ref: UserData, values: dict[SyncField, Any]
    ) -> Participant | None:
        group = [f for f in PLAYBACK_GROUP if f in self.options.fields]
        changes = {p.server_id: [f for f in group if self.changed(p, f)] for p in parts}
        changers = [p for p in parts if changes[p.server_id]]
        if not changers:
            return None
        agree = all(
            len({fx.get(p.current, f) for p in changers if f in changes[p.server_id]})
            <= 1
            for f in group
            if f is not SyncField.LAST_PLAYED
        ) and _dates_agree(
            [
                p.current
                for p in changers
                if SyncField.LAST_PLAYED in changes[p.server_id]
            ]
        )
        if len(changers) == 1 or agree:
            for f in group:
                source = next((p for p in changers if f in changes[p.server_id]), None)
                if source is not None:
                    values[f] = fx.get(source.current, f)
            return changers[0] if len(changers) == 1 else None
        order = sorted(
            changers, key=lambda p: _playback_key(self.options, p.server_id, p.current)
        )
        winner = order[0]
        for f in group:
            source = winner if self.reads(winner.server_id, f) else None
            if source is None:
                source = next((p for p in order if f in changes[p.server_id]), None)
            values[f] = (
                fx.get(source.current, f) if source is not None else fx.get(ref, f)
            )
        tie = fx.same(SyncField.LAST_PLAYED, winner.current, order[1].current)
        self.decisions.append(
            Decision(
                fields=tuple(group),
                servers=tuple(sorted(p.server_id for p in changers)),
                winner=winner.server_id,
                rule=Rule.PRIORITY if tie else Rule.NEWEST_LAST_PLAYED,
            )
        )
        return winner

    def _play_count(
        self, parts: Sequence[Participant], ref: UserData, winner: Participant | None
    ) -> int:
        field_ = SyncField.PLAY_COUNT
        changers = [p for p in parts if self.changed(p, field_)]
        if not changers:
            return ref.play_count
        deltas = {
            p.server_id: p.current.play_count - (p.base or ref).play_count
            for p in changers
        }
        gained = sum(d for d in deltas.values() if d > 0)
        if all(d > 0 for d in deltas.values()):
            if len(changers) > 1:
                self.decisions.append(
                    Decision(
                        fields=(field_,),
                        servers=tuple(sorted(deltas)),
                        winner=None,
                        rule=Rule.PLAYS_ADD_UP,
                    )
                )
            return ref.play_count + gained
        if len(changers) == 1:
            return changers[0].current.play_count
        decider = winner if winner in changers else None
        rule = Rule.NEWEST_LAST_PLAYED
        if decider is None:
            decider = min(
                changers,
                key=lambda p: _playback_key(self.options, p.server_id, p.current),
            )
        self.decisions.append(
            Decision(
                fields=(field_,),
                servers=tuple(sorted(deltas)),
                winner=decider.server_id,
                rule=rule,
            )
        )
        if deltas[decider.server_id] > 0:
            return ref.play_count + gained
        return decider.current.play_count

    def _by_priority(
        self, parts: Sequence[Participant], ref: UserData, sync_field: SyncField
    ) -> Any:
        changers = self.ranked([p for p in parts if self.changed(p, sync_field)])
        if not changers:
            return fx.get(ref, sync_field)
        first = fx.get(changers[0].current, sync_field)
        if any(fx.get(p.current, sync_field) != first for p in changers[1:]):
            self.decisions.append(
                Decision(
                    fields=(sync_field,),
                    servers=tuple(sorted(p.server_id for p in changers)),
                    winner=changers[0].server_id,
                    rule=Rule.PRIORITY,
                )
            )
        return first

    # -- first sync ---------------------------------------------------------

    def combine(
        self, entries: Sequence[tuple[str, UserData]], ref: UserData
    ) -> UserData:
        """First-sync policy over ``(server id or AGREED, state)`` entries."""
        options = self.options
        source = options.primary_server
        if options.first_sync is FirstSyncPolicy.PRIMARY_WINS and source is not None:
            for server_id, data in entries:
                if server_id == source:
                    target = fx.copy_fields(
                        ref,
                        data,
                        [f for f in options.fields if self.reads(server_id, f)],
                    )
                    self._note_combined(entries, target, Rule.PRIMARY_SERVER, source)
                    return target
            agreed = [data for server_id, data in entries if server_id == AGREED]
            if agreed:
                # The source takes part through the agreed result: it stays the truth.
                return agreed[0]
        values: dict[SyncField, Any] = {}

        def readers(sync_field: SyncField) -> list[tuple[str, UserData]]:
            return [(s, d) for s, d in entries if self.reads(s, sync_field)]

        fields = options.fields
        if SyncField.PLAYED in fields and (found := readers(SyncField.PLAYED)):
            values[SyncField.PLAYED] = any(d.played for _, d in found)
        if SyncField.PLAY_COUNT in fields and (found := readers(SyncField.PLAY_COUNT)):
            values[SyncField.PLAY_COUNT] = max(d.play_count for _, d in found)
        for sync_field in (SyncField.POSITION, SyncField.LAST_PLAYED):
            if sync_field in fields and (found := readers(sync_field)):
                # Newest date first; among equal dates (often none at all: a
                # resume point can come without one) a value beats no value, so
                # a server that lacks the item never resets the others.
                def order(
                    entry: tuple[str, UserData], f: SyncField = sync_field
                ) -> tuple[Any, ...]:
                    date, *rank = _playback_key(options, entry[0], entry[1])
                    return (date, fx.same(f, entry[1], fx.DEFAULT), *rank)

                newest = min(found, key=order)
                values[sync_field] = fx.get(newest[1], sync_field)
        if SyncField.FAVORITE in fields and (found := readers(SyncField.FAVORITE)):
            values[SyncField.FAVORITE] = any(d.is_favorite for _, d in found)
        if SyncField.RATING in fields and (found := readers(SyncField.RATING)):
            rated = [
                e
                for e in sorted(
                    found,
                    key=lambda e: (-1, "") if e[0] == AGREED else options.rank(e[0]),
                )
                if e[1].rating is not None
            ]
            values[SyncField.RATING] = rated[0][1].rating if rated else None
        target = fx.with_values(ref, values)
        self._note_combined(entries, target, Rule.FIRST_SYNC_MERGE, None)
        return target

    def _note_combined(
        self,
        entries: Sequence[tuple[str, UserData]],
        target: UserData,
        rule: Rule,
        winner: str | None,
    ) -> None:
        # A conflict is a non-default value somewhere that the result does not keep.
        differing = [
            f
            for f in fx.FIELD_ORDER
            if f in self.options.fields
            and any(
                not fx.same(f, d, fx.DEFAULT) and not fx.same(f, d, target)
                for _, d in entries
            )
        ]
        if differing:
            self.decisions.append(
                Decision(
                    fields=tuple(differing),
                    servers=tuple(sorted(s for s, _ in entries if s != AGREED)),
                    winner=winner,
                    rule=rule,
                )
            )


def _dates_agree(states: Sequence[UserData]) -> bool:
    return all(fx.same(SyncField.LAST_PLAYED, states[0], s) for s in states[1:])


def resolve(
    parts: Sequence[Participant],
    agreed: UserData | None,
    options: SyncOptions,
    *,
    now: datetime,
) -> tuple[UserData, list[Decision]]:
    """The state every server should hold for one item, and how it was decided.

    Args:
        parts: The servers taking part, each with current state and base.
        agreed: The agreed state of the last sync (``None``: never synced).
        options: Rules and directions.
        now: The cycle's time, used for a played item without a date.
    """
    merge = _Merge(options, now)
    ref = agreed if agreed is not None else fx.DEFAULT
    known = [p for p in parts if p.base is not None]
    unknown = [p for p in parts if p.base is None]
    if known:
        target = merge.three_way(known, ref)
        if unknown:
            target = merge.combine(
                [(AGREED, target), *((p.server_id, p.current) for p in unknown)], target
            )
    else:
        # Servers new to this item still meet what the others agreed on before:
        # a server that joins empty must not un-watch what the group knows.
        entries = [(p.server_id, p.current) for p in unknown]
        if agreed is not None:
            entries.insert(0, (AGREED, agreed))
        target = merge.combine(entries, ref)
    if (
        SyncField.LAST_PLAYED in options.fields
        and target.played
        and target.last_played_date is None
    ):
        dates = [
            p.current.last_played_date for p in parts if p.current.last_played_date
        ]
        stamp = max(dates) if dates else now
        target = fx.with_values(target, {SyncField.LAST_PLAYED: stamp})
        merge.decisions.append(
            Decision(
                fields=(SyncField.LAST_PLAYED,),
                servers=tuple(sorted(p.server_id for p in parts)),
                winner=None,
                rule=Rule.PLAYED_WITHOUT_DATE,
            )
        )
    return target, merge.decisions
