"""Tables that keep user data as plain tuples (snapshots, plan outcomes, baseline).

They behave like the mappings and lists they replace, and what they store is
untracked by Python's cyclic garbage collector: that is why they exist (a full
collector pass over tens of thousands of tracked objects stops the event loop).
"""

from collections.abc import Iterator
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime
import gc

import pytest

from custom_components.jellyfin_sync.jellyfin.models import UserData
from custom_components.jellyfin_sync.sync import (
    BaselineEntry,
    MatchMethod,
    Outcome,
    fields as fx,
)
from custom_components.jellyfin_sync.sync.baseline import EntryTable
from custom_components.jellyfin_sync.sync.matching import MatchedItems
from custom_components.jellyfin_sync.sync.merge import Participant
from custom_components.jellyfin_sync.sync.plan import OutcomeList

WHEN = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
WATCHED = UserData(played=True, play_count=3, last_played_date=WHEN, rating=8.0)
HALF = UserData(playback_position_ticks=12_345, last_played_date=WHEN)


def _untracked_after_collection(*objects: object) -> bool:
    """Whether one young collection untracks the objects.

    The tables are built with the collector paused (``paused_gc``), so the objects
    are still in the youngest generation: one pass over it must be enough. A record
    of nested tuples would need a pass per level and could reach the old
    generation, which only full passes scan, still tracked.
    """
    gc.collect(0)
    return not any(gc.is_tracked(o) for o in objects)


@pytest.fixture(autouse=True)
def paused_gc() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_pack_round_trips_every_field() -> None:
    for data in (fx.DEFAULT, WATCHED, HALF, UserData(is_favorite=True, rating=0.0)):
        assert fx.unpack(fx.pack(data)) == data
    assert fx.unpack(fx.pack(UserData())) is fx.DEFAULT
    assert _untracked_after_collection(fx.pack(WATCHED))


def test_state_table_is_a_mapping_of_user_data() -> None:
    table = fx.StateTable({"a": WATCHED})
    table["b"] = HALF
    assert table["a"] == WATCHED
    assert table.get("c") is None
    assert "b" in table
    assert "c" not in table
    assert list(table) == ["a", "b"]
    assert len(table) == 2
    assert table == {"a": WATCHED, "b": HALF}
    table.update(fx.StateTable({"c": fx.DEFAULT}))
    del table["a"]
    assert dict(table) == {"b": HALF, "c": fx.DEFAULT}
    assert repr(fx.StateTable({"x": fx.DEFAULT})) == (
        f"StateTable({{'x': {fx.DEFAULT!r}}})"
    )
    assert _untracked_after_collection(*table._packed.values())


def test_entry_table_stores_entries_as_values() -> None:
    table = EntryTable()
    entry = BaselineEntry(WATCHED, {"b": WATCHED, "a": HALF, "c": WATCHED})
    table["movie:imdb:tt1"] = entry
    assert table["movie:imdb:tt1"] == entry
    assert list(table["movie:imdb:tt1"].confirmed) == ["a", "b", "c"]
    # A state equal to the agreed one is stored once and read back as that object.
    read = table["movie:imdb:tt1"]
    assert read.confirmed["b"] is read.agreed is read.confirmed["c"]
    assert read.confirmed["a"] == HALF
    assert table.servers() == {"a", "b", "c"}
    assert "movie:imdb:tt1" in table
    assert len(table) == 1
    assert table == EntryTable({"movie:imdb:tt1": entry})
    assert table == {"movie:imdb:tt1": entry}
    assert table != EntryTable({"movie:imdb:tt1": BaselineEntry(WATCHED, {})})
    assert repr(table).startswith("EntryTable({'movie:imdb:tt1': BaselineEntry(")
    assert _untracked_after_collection(*table._packed.values())
    del table["movie:imdb:tt1"]
    assert not table
    assert table.get("movie:imdb:tt1") is None


def test_baseline_entries_cannot_be_changed_in_place() -> None:
    # Reading a table makes new objects: changing one would be lost silently.
    entry = BaselineEntry(WATCHED, {"a": WATCHED})
    with pytest.raises(FrozenInstanceError):
        entry.agreed = HALF  # type: ignore[misc]


def test_outcome_list_reads_back_what_was_added() -> None:
    outcome = Outcome(
        user_key="alice",
        identity="movie:imdb:tt1",
        stored_key=None,
        target=WATCHED,
        participants={
            "a": Participant(server_id="a", item_id="1", current=WATCHED, base=None),
            "b": Participant(server_id="b", item_id="2", current=HALF, base=HALF),
        },
    )
    outcomes = OutcomeList([outcome])
    assert len(outcomes) == 1
    assert outcomes[0] == outcome
    assert list(outcomes) == [outcome]
    assert outcomes == OutcomeList([outcome])
    assert outcomes != OutcomeList()
    assert outcomes != [outcome]
    assert repr(outcomes) == f"OutcomeList([{outcome!r}])"
    assert _untracked_after_collection(*outcomes._packed)


def test_matched_items_are_untracked_once_frozen() -> None:
    items = MatchedItems()
    items.add("movie:imdb:tt1", MatchMethod.PROVIDER, [("a", "1"), ("b", "2")])
    items.freeze()
    assert _untracked_after_collection(items._identities, items._members)
    # Adding after freezing still works (tests build matches by hand).
    items.add("path:movie:x.mkv", MatchMethod.PATH, [("a", "3"), ("b", "4")])
    assert [i.identity for i in items] == ["movie:imdb:tt1", "path:movie:x.mkv"]
    assert items[1].method is MatchMethod.PATH


def test_sorted_steps_sorts_long_lists_stably_in_steps() -> None:
    from custom_components.jellyfin_sync.sync.matching import (
        SORT_RUN,
        run,
        sorted_steps,
    )

    values = [(n * 7919) % 1000 for n in range(3 * SORT_RUN + 5)]
    steps = sorted_steps(enumerate(values), key=lambda pair: pair[1])
    yields = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            result = done.value
            break
        yields += 1
    # The same order as sorted() (stable: equal values keep their input order).
    assert result == sorted(enumerate(values), key=lambda pair: pair[1])
    assert yields >= 4  # one per sorted run at least
    assert run(sorted_steps(["b", "a"])) == ["a", "b"]  # short lists in one go


async def test_index_comparison_over_many_entries() -> None:
    from custom_components.jellyfin_sync.sync.pacing import differs

    old = {f"{n:032x}": (n,) for n in range(12_000)}
    assert not await differs(dict(old), old)
    assert await differs({**old, f"{5:032x}": (-1,)}, old)
    assert await differs(old, None)
    assert await differs({"a": (1,)}, old)


def test_history_cycle_reads_back_its_writes() -> None:
    from custom_components.jellyfin_sync.jellyfin.models import (
        SyncField,
    )
    from custom_components.jellyfin_sync.sync import (
        HistoryCycle,
        HistoryWrite,
    )

    write = HistoryWrite(
        server_id="a",
        user_key="alice",
        user_id="u1",
        item_id="i1",
        identity="movie:imdb:tt1",
        fields=(SyncField.PLAYED, SyncField.RATING),
        before=HALF,
        after=WATCHED,
        agreed_before=fx.DEFAULT,
    )
    cycle = HistoryCycle(cycle_id="c1", at=WHEN, writes=[write])
    assert cycle.writes == (write,)
    assert cycle.write_count == 1
    assert cycle == HistoryCycle.from_rows(
        cycle_id="c1", at=WHEN, rows=[HistoryCycle.row(write)]
    )
    assert cycle != "c1"
    assert repr(cycle).startswith("HistoryCycle(cycle_id='c1', at=")
    assert _untracked_after_collection(*cycle._packed)


def test_outcome_keys_without_making_outcomes() -> None:
    outcome = Outcome(
        user_key="bob",
        identity="movie:imdb:tt2",
        stored_key="path:movie:x.mkv",
        target=HALF,
        participants={},
    )
    assert list(OutcomeList([outcome]).keys()) == [
        ("bob", "movie:imdb:tt2", "path:movie:x.mkv")
    ]


def test_record_helpers_name_the_slots_their_pack_fills() -> None:
    from custom_components.jellyfin_sync.jellyfin.models import SyncField
    from custom_components.jellyfin_sync.sync.baseline import (
        EntryRecord,
        HistoryRow,
        HistoryWrite,
    )
    from custom_components.jellyfin_sync.sync.plan import OutcomeRecord

    write = HistoryWrite(
        server_id="a",
        user_key="alice",
        user_id="u1",
        item_id="i1",
        identity="movie:imdb:tt1",
        fields=(SyncField.PLAYED,),
        before=HALF,
        after=WATCHED,
        agreed_before=fx.DEFAULT,
        first=True,
    )
    row = HistoryRow.pack(write)
    assert len(row) == HistoryRow.FIRST + 1
    assert (row[HistoryRow.IDENTITY], row[HistoryRow.FIRST]) == (write.identity, True)
    assert fx.unpack_at(row, HistoryRow.AFTER) == WATCHED
    assert HistoryRow.unpack(row) == write
    # A row without the first-sync flag reads as not a first sync.
    assert HistoryRow.unpack(row[: HistoryRow.FIRST]).first is False

    outcome = Outcome(
        user_key="alice",
        identity="movie:imdb:tt1",
        stored_key="old",
        target=WATCHED,
        participants={
            "a": Participant(server_id="a", item_id="1", current=HALF, base=None),
            "b": Participant(server_id="b", item_id="2", current=WATCHED, base=HALF),
        },
    )
    packed = OutcomeRecord.pack(outcome)
    size = OutcomeRecord.PARTICIPANT_SIZE
    assert len(packed) == OutcomeRecord.PARTICIPANTS + 2 * size
    assert packed[OutcomeRecord.KEY] == ("alice", "movie:imdb:tt1", "old")
    second = OutcomeRecord.PARTICIPANTS + size
    assert packed[second + OutcomeRecord.ITEM_ID] == "2"
    assert fx.unpack_at(packed, second + OutcomeRecord.BASE) == HALF
    assert OutcomeRecord.unpack(packed) == outcome

    entry = BaselineEntry(WATCHED, {"a": HALF, "b": WATCHED})
    stored = EntryRecord.pack(entry)
    first_state = EntryRecord.SERVERS + EntryRecord.STATE
    assert list(EntryRecord.confirmed(stored)) == [("a", first_state), ("b", None)]
    assert EntryRecord.unpack(stored) == entry

    records = (row, packed, stored)
    assert all(type(record) is tuple for record in records)
    assert _untracked_after_collection(*records)
