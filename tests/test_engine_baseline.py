"""Baseline storage: JSON-safe, compact, versioned (``sync/baseline.py``)."""

from datetime import UTC, datetime
import json
from typing import Any

import pytest

from custom_components.jellyfin_sync.jellyfin.models import SyncField, UserData
from custom_components.jellyfin_sync.sync import (
    BASELINE_VERSION,
    Baseline,
    BaselineEntry,
    HistoryCycle,
    HistoryWrite,
    UserBaseline,
    baseline as baseline_module,
    fields as fx,
)

WHEN = datetime(2026, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)
WATCHED = UserData(played=True, play_count=2, last_played_date=WHEN, rating=7.5)


def sample() -> Baseline:
    user = UserBaseline(servers={"srv-a", "srv-b"})
    user.items["movie:imdb:tt1"] = BaselineEntry(
        WATCHED, {"srv-a": WATCHED, "srv-b": WATCHED}
    )
    # A pending write: srv-b still holds the old state.
    user.items["movie:imdb:tt2"] = BaselineEntry(
        UserData(is_favorite=True),
        {
            "srv-a": UserData(is_favorite=True),
            "srv-b": UserData(),
            "srv-c": UserData(rating=1.0),
        },
    )
    user.items["movie:imdb:tt3"] = BaselineEntry(UserData(), {"srv-a": UserData()})
    history = [
        HistoryCycle(
            cycle_id="c1",
            at=WHEN,
            writes=(
                HistoryWrite(
                    server_id="srv-b",
                    user_key="alice",
                    user_id="u" * 32,
                    item_id="i" * 32,
                    identity="movie:imdb:tt1",
                    fields=(SyncField.PLAYED, SyncField.RATING),
                    before=UserData(),
                    after=WATCHED,
                    agreed_before=UserData(),
                ),
            ),
        )
    ]
    return Baseline({"alice": user}, history)


def test_round_trip_through_json() -> None:
    original = sample()
    data = json.loads(json.dumps(original.to_dict()))
    restored = Baseline.from_dict(data)
    # The all-default entry is not stored.
    del original.users["alice"].items["movie:imdb:tt3"]
    assert restored == original
    assert restored.item_count == 2


def test_stored_form_is_compact() -> None:
    data = sample().to_dict()
    user = data["users"]["alice"]
    assert data["version"] == BASELINE_VERSION
    assert user["servers"] == ["srv-a", "srv-b", "srv-c"]
    assert user["synced"] == [0, 1]
    assert user["items"]["movie:imdb:tt1"] == {
        "a": {"p": 1, "n": 2, "d": "2026-02-03T04:05:06.7890000Z", "r": 7.5},
        "m": 0b11,
    }
    assert user["items"]["movie:imdb:tt2"] == {
        "a": {"f": 1},
        "m": 0b001,
        "c": {"1": {}, "2": {"r": 1.0}},
    }
    assert "movie:imdb:tt3" not in user["items"]


def test_baseline_equality_and_user_creation() -> None:
    assert Baseline() == Baseline()
    assert Baseline() != sample()
    assert Baseline().__eq__(object()) is NotImplemented
    empty = Baseline()
    assert empty.user("bob") is empty.user("bob")
    assert empty.item_count == 0


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"users": {}}, ValueError),
        ({"version": BASELINE_VERSION + 1, "users": {}}, ValueError),
        ({"version": "1", "users": {}}, ValueError),
        ({"version": 1, "users": {"a": {"servers": []}}}, ValueError),
        (
            {"version": 1, "users": {"a": {"servers": [], "synced": [3], "items": {}}}},
            ValueError,
        ),
        (
            {
                "version": 1,
                "users": {
                    "a": {
                        "servers": ["s"],
                        "synced": [],
                        "items": {"k": {"a": {"n": "x"}, "m": 1}},
                    }
                },
            },
            ValueError,
        ),
        (
            {
                "version": 1,
                "users": {
                    "a": {
                        "servers": ["s"],
                        "synced": [],
                        "items": {"k": {"a": {"d": "never"}, "m": 1}},
                    }
                },
            },
            ValueError,
        ),
        (
            {
                "version": 1,
                "users": {},
                "history": [{"cycle": "c", "at": None, "writes": []}],
            },
            ValueError,
        ),
        (["not", "a", "mapping"], TypeError),
    ],
)
def test_invalid_data_is_refused(data: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        Baseline.from_dict(data)


def test_load_refuses_non_objects() -> None:
    with pytest.raises(TypeError):
        fx.load(["p"])  # type: ignore[arg-type]


def test_migrations_run_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def to_two(data: Any) -> Any:
        calls.append(1)
        return {**data, "version": 2, "users": {}}

    stored_v1 = sample().to_dict()
    monkeypatch.setattr(baseline_module, "BASELINE_VERSION", 2)
    monkeypatch.setitem(baseline_module.MIGRATIONS, 1, to_two)
    restored = Baseline.from_dict(stored_v1)
    assert calls == [1]
    assert restored.users == {}
    assert restored.history == sample().history


def test_history_round_trip() -> None:
    cycle = sample().history[0]
    assert HistoryCycle.from_dict(cycle.to_dict()) == cycle
    assert cycle.to_dict()["writes"][0]["fields"] == ["played", "rating"]
