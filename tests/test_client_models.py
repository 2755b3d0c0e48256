"""Tests of the client's typed models: wire shapes in, typed values out."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from custom_components.jellyfin_sync.jellyfin import (
    JellyfinResponseError,
    ServerInfo,
    User,
    UserData,
    format_datetime,
    parse_datetime,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("2025-01-01T12:00:00.1234567Z", datetime(2025, 1, 1, 12, 0, 0, 123456, UTC)),
        # System.Text.Json without Z for non-UTC kinds: Jellyfin stores UTC.
        ("2025-01-01T12:00:00.5", datetime(2025, 1, 1, 12, 0, 0, 500000, UTC)),
        ("2025-01-01T14:00:00+02:00", datetime(2025, 1, 1, 12, 0, tzinfo=UTC)),
        ("2025-01-01T12:00:00z", datetime(2025, 1, 1, 12, 0, tzinfo=UTC)),
    ],
)
def test_parse_datetime(raw: str | None, expected: datetime | None) -> None:
    assert parse_datetime(raw) == expected


@pytest.mark.parametrize("raw", [12, "yesterday", "2025-13-01T00:00:00Z"])
def test_parse_datetime_rejects(raw: object) -> None:
    with pytest.raises(JellyfinResponseError):
        parse_datetime(raw)


def test_format_datetime_round_trips() -> None:
    value = datetime(2025, 2, 3, 4, 5, 6, 789000, tzinfo=timezone(timedelta(hours=1)))
    text = format_datetime(value)
    assert text == "2025-02-03T03:05:06.7890000Z"
    assert parse_datetime(text) == value
    # A naive datetime is taken as UTC.
    assert format_datetime(datetime(2025, 1, 1)) == "2025-01-01T00:00:00.0000000Z"  # noqa: DTZ001


def test_server_info() -> None:
    info = ServerInfo.from_json(
        {"Id": "ABCD-ef", "ServerName": "Home", "Version": "10.11.0-rc4"}
    )
    assert info.id == "abcdef"
    assert info.version_tuple == (10, 11, 0)
    assert info.product_name == "Jellyfin Server"
    assert info.startup_wizard_completed
    with pytest.raises(JellyfinResponseError, match="without Id or Version"):
        ServerInfo.from_json({"Id": "", "Version": "10.8.13"})
    with pytest.raises(JellyfinResponseError, match="missing field 'Version'"):
        ServerInfo.from_json({"Id": "x"})


def test_user_policy_flags() -> None:
    user = User.from_json(
        {
            "Id": "AA-BB",
            "Name": "alice",
            "Policy": {"IsAdministrator": True, "IsHidden": True},
        }
    )
    assert user == User(id="aabb", name="alice", is_administrator=True, is_hidden=True)
    assert not User.from_json({"Id": "x", "Name": "bob"}).is_disabled
    with pytest.raises(JellyfinResponseError, match="user policy"):
        User.from_json({"Id": "x", "Name": "bob", "Policy": ["admin"]})


def test_user_data_types_are_checked() -> None:
    with pytest.raises(JellyfinResponseError, match="type bool, expected a number"):
        UserData.from_json({"PlayCount": True})
    with pytest.raises(JellyfinResponseError, match="'Rating' has type str"):
        UserData.from_json({"Rating": "7"})
    data = UserData.from_json({"Rating": 7, "Played": True, "PlayCount": 2})
    assert data.rating == 7.0
    assert data.likes is True
    assert UserData(rating=6.4).likes is False
    assert UserData().likes is None
    assert UserData().is_default
    assert not data.is_default
