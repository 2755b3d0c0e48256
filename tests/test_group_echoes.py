"""Echo detection: the sync's own writes are recognised when Jellyfin announces them.

Pure group code (``group/echoes.py``): no Home Assistant, no simulator.
"""

from custom_components.jellyfin_sync.group.echoes import RecentWrites, drop_echoes
from custom_components.jellyfin_sync.jellyfin.exceptions import (
    JellyfinConnectionError,
)
from custom_components.jellyfin_sync.jellyfin.models import Item, SyncField, UserData
from custom_components.jellyfin_sync.sync.plan import PlannedWrite

WRITTEN = UserData(played=True, play_count=1)
WRITE = PlannedWrite(
    server_id="s",
    user_key="alice",
    user_id="u",
    item_id="i",
    identity="movie:x",
    fields=(SyncField.PLAYED,),
    current=UserData(),
    desired=WRITTEN,
    resets=(),
)


def test_recent_writes_expire_and_can_be_forgotten() -> None:
    recent = RecentWrites(window=10.0)
    desired = WRITTEN
    write = WRITE
    recent.record([write], now=100.0)
    assert recent.candidate(("s", "u", "i"), 105.0) == desired
    assert recent.candidate(("s", "u", "other"), 105.0) is None
    assert recent.candidate(("s", "u", "i"), 110.0) is None
    # Expired writes are dropped when the next cycle records its own.
    recent.record([], now=111.0)
    assert len(recent) == 0
    recent.record([write], now=200.0)
    recent.forget(("s", "u", "i"))
    assert recent.candidate(("s", "u", "i"), 201.0) is None


class _Client:
    """Answers the echo check's read (or fails it)."""

    def __init__(self, data: UserData | None, error: bool = False) -> None:
        self.data = data
        self.error = error
        self.reads = 0

    async def get_items(
        self, user_id: str, ids: list[str], *, fields: tuple[str, ...]
    ) -> list[Item]:
        self.reads += 1
        if self.error:
            raise JellyfinConnectionError("down")
        if self.data is None:
            return []
        return [Item(id=ids[0], type="Movie", name="", user_data=self.data)]


async def test_echo_check_keeps_items_it_cannot_confirm() -> None:
    recent = RecentWrites()
    fields = frozenset(SyncField)
    key = ("s", "u", "i")
    other = ("s", "u", "other")
    for client, kept, echoes in (
        (_Client(WRITTEN), [], 1),  # the echo: nothing to do
        (_Client(UserData(played=True, play_count=1, is_favorite=True)), [key], 0),
        (_Client(None), [key], 0),  # the item is gone: let the cycle tell
        (_Client(None, error=True), [key], 0),  # cannot read: let the cycle try
    ):
        recent.record([WRITE], 0.0)
        found = await drop_echoes(
            recent,
            {"s": client},  # type: ignore[dict-item]
            fields,
            [key, other],
            1.0,
        )
        assert (sorted(found[0]), found[1]) == (sorted([*kept, other]), echoes)
        assert client.reads == 1
    # A real change seen: later saves of that item are no longer echo candidates.
    changed = _Client(UserData(played=False))
    assert await drop_echoes(recent, {"s": changed}, fields, [key], 2.0) == (  # type: ignore[dict-item]
        [key],
        0,
    )
    assert recent.candidate(key, 2.0) is None
    assert await drop_echoes(recent, {"s": changed}, fields, [key], 2.0) == (  # type: ignore[dict-item]
        [key],
        0,
    )
    assert changed.reads == 1
