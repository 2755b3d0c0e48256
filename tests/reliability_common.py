"""Helpers of the reliability tests: a standard scenario, fault traps and checks.

The scenario: two small servers (Home and Cabin) synced once, then users change
data on both. A fault hits one server before or in the middle of the next cycle;
the checks then prove nothing was lost or reset and that the group converges.
"""

from collections.abc import Callable
from dataclasses import dataclass
import logging
import traceback
from typing import Any

from homeassistant.core import HomeAssistant
import pytest

from tests.ha_common import matchable_movies
from tests.simulator import SimItem, SimulatedServer

FIELDS = (
    "Played",
    "PlayCount",
    "PlaybackPositionTicks",
    "LastPlayedDate",
    "IsFavorite",
    "Rating",
)
DEFAULT: dict[str, Any] = {
    "Played": False,
    "PlayCount": 0,
    "PlaybackPositionTicks": 0,
    "LastPlayedDate": None,
    "IsFavorite": False,
    "Rating": None,
}
USERS = ("alice", "bob")

type Dump = dict[str, dict[str, dict[str, Any]]]


def view(server: SimulatedServer, identities: list[str]) -> Dump:
    """Every field of the given items per user (defaults filled in)."""
    dump = server.dump_user_data()
    return {
        user: {
            identity: {**DEFAULT, **dump.get(user, {}).get(identity, {})}
            for identity in identities
        }
        for user in USERS
    }


@dataclass(slots=True)
class Scenario:
    """The standard data: seeds synced before the fault, changes made after."""

    home: SimulatedServer
    cabin: SimulatedServer
    movies: list[SimItem]
    """Home's matchable movies; ``cabin_id(movie)`` finds the same one on Cabin."""

    @property
    def identities(self) -> list[str]:
        """The identity keys of the movies the scenario touches."""
        return [m.identity for m in self.movies[:8]]

    def cabin_id(self, index: int) -> str:
        """Cabin's id of Home's movie ``index``."""
        return self.cabin.item_by_key(self.movies[index].identity).id

    def seed(self) -> None:
        """Data the first cycle syncs (the baseline knows it afterwards)."""
        m = self.movies
        self.home.act("alice").mark_played(m[0].id)
        self.home.act("alice").favorite(m[6].id)
        self.cabin.act("bob").favorite(self.cabin_id(1))
        self.cabin.act("bob").rate(self.cabin_id(7), 6.0)

    def change(self) -> None:
        """User changes on both servers after the baseline (incl. resets)."""
        m = self.movies
        runtime = m[2].runtime_ticks or 60 * 60 * 10**7
        self.home.act("alice").progress(m[2].id, runtime // 4)
        self.home.act("alice").rate(m[3].id, 8.0)
        self.home.act("alice").favorite(m[6].id, False)  # a reset
        self.cabin.act("alice").mark_played(self.cabin_id(4))
        self.cabin.act("bob").favorite(self.cabin_id(5))
        self.cabin.act("alice").mark_unplayed(self.cabin_id(0))  # a reset
        self.cabin.act("bob").rate(self.cabin_id(7), None)  # a reset

    def assert_changes_everywhere(self) -> None:
        """Every change of :meth:`change` holds on both servers."""
        ids = self.identities
        for server in (self.home, self.cabin):
            data = view(server, ids)
            alice, bob = data["alice"], data["bob"]
            assert alice[ids[2]]["PlaybackPositionTicks"] > 0, server.name
            assert alice[ids[3]]["Rating"] == 8.0, server.name
            assert alice[ids[6]]["IsFavorite"] is False, server.name
            assert alice[ids[4]]["Played"] is True, server.name
            assert bob[ids[5]]["IsFavorite"] is True, server.name
            assert alice[ids[0]]["Played"] is False, server.name
            assert bob[ids[7]]["Rating"] is None, server.name
            # Seeds nobody touched since stay.
            assert bob[ids[1]]["IsFavorite"] is True, server.name

    def assert_converged(self) -> None:
        """Both servers hold identical data for the scenario's items."""
        assert view(self.home, self.identities) == view(self.cabin, self.identities)


def scenario(home: SimulatedServer, cabin: SimulatedServer) -> Scenario:
    """The standard scenario over a group's two servers."""
    return Scenario(home, cabin, matchable_movies(home))


def assert_nothing_invented(
    before: tuple[Dump, Dump], after: tuple[Dump, Dump]
) -> None:
    """After a faulty cycle every field holds its own or the other server's value.

    A fault may stop a change from spreading, but it must never reset a field to a
    default nobody set, nor produce a value neither server had.
    """
    for index, server_after in enumerate(after):
        for user, items in server_after.items():
            for identity, fields in items.items():
                for name, value in fields.items():
                    allowed = {
                        repr(before[0][user][identity][name]),
                        repr(before[1][user][identity][name]),
                    }
                    assert repr(value) in allowed, (index, user, identity, name, value)


class Trap:
    """Runs an action the first time a server handles a read or a write.

    ``reads`` counts user-data listings (``GET /Items``), which only the engine's
    collect phase sends (the per-cycle check reads system info and users);
    ``writes`` counts stored user-data rows, so the action runs right after the
    first write of the cycle reached the server (its answer may then be lost).
    """

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        server: SimulatedServer,
        phase: str,
        action: Callable[[], object],
        *,
        after: int = 1,
    ) -> None:
        """Install the trap (``phase`` is ``reads`` or ``writes``)."""
        self.fired = False
        self._count = 0
        self._after = after
        self._action = action
        name = "_select" if phase == "reads" else "save"
        original = getattr(server, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            self._count += 1
            if not self.fired and self._count >= self._after:
                self.fired = True
                self._action()
            return result

        monkeypatch.setattr(server, name, wrapped)


#: Loggers of the code under test (the simulator's own aiohttp server logs the
#: connection resets it injects; those are the fake server's, not ours).
OUR_LOGGERS = ("custom_components.jellyfin_sync", "homeassistant")


#: What Home Assistant's loop exception handler logs when the simulator closes its
#: listening socket while accepting a connection (the fake server's, not ours).
SIMULATOR_ACCEPT_RACE = "Error on transport creation for incoming connection"


def ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records logged by the integration and Home Assistant."""
    return [
        r
        for r in caplog.records
        if r.name.startswith(OUR_LOGGERS)
        and SIMULATOR_ACCEPT_RACE not in r.getMessage()
    ]


def assert_clean_logs(caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    """No stack trace and no secret in what the integration logged.

    Home Assistant's own code may log through our loggers (2026.x's coordinator adds
    "Full error:" with a traceback at debug level on an authentication failure);
    its lines are not ours to shape, but they must not carry a secret either.
    """
    for record in ours(caplog):
        message = record.getMessage()
        text = message
        if record.exc_info is not None:
            text += "".join(traceback.format_exception(*record.exc_info))
        for secret in secrets:
            assert secret not in text
        if "/homeassistant/" in record.pathname.replace("\\", "/"):
            continue
        assert record.exc_info is None, message
        assert "Traceback" not in message


async def refresh(hass: HomeAssistant, coordinator: Any) -> None:
    """One scheduled cycle, as Home Assistant runs it, and its state writes."""
    await coordinator.async_refresh()
    await hass.async_block_till_done()
