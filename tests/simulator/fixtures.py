"""Pytest plugin: simulator fixtures and the session-wide OpenAPI conformance gate.

Registered from ``tests/conftest.py`` with ``pytest_plugins``. Fixtures:

* ``jellyfin_server_factory``: ``server = await jellyfin_server_factory(name=...,
  version=..., **kwargs)`` starts a :class:`SimulatedServer` in the test's event loop
  and stops it at teardown;
  (it enables sockets for the test through pytest-socket's ``socket_enabled``);
* ``jellyfin_pair``: two started 10.11.11 servers with different media roots and the
  users alice and bob.

Any OpenAPI violation recorded during the session fails the run (exit status 1) and
is printed in the terminal summary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from . import conformance
from .library import LibrarySpec
from .server import SimulatedServer

ServerFactory = Callable[..., Awaitable[SimulatedServer]]


@pytest.fixture
async def jellyfin_server_factory(socket_enabled: None) -> AsyncIterator[ServerFactory]:
    """Start simulated servers on demand; stop them all at teardown.

    Requests pytest-socket's ``socket_enabled`` (servers bind 127.0.0.1 only).
    """
    started: list[SimulatedServer] = []

    async def factory(**kwargs: Any) -> SimulatedServer:
        server = SimulatedServer(**kwargs)
        await server.start(host="127.0.0.1", port=0)
        started.append(server)
        return server

    yield factory
    for server in reversed(started):
        await server.stop()


@pytest.fixture
async def jellyfin_pair(
    jellyfin_server_factory: ServerFactory,
) -> tuple[SimulatedServer, SimulatedServer]:
    """Two 10.11.11 servers, same media under different roots, users alice and bob."""
    spec = LibrarySpec(
        seed=7, movies=30, series=3, seasons_per_series=2, episodes_per_season=4
    )
    first = await jellyfin_server_factory(
        name="Home",
        version="10.11.11",
        media_root="/media/home",
        library=spec,
        users=["alice", "bob"],
    )
    second = await jellyfin_server_factory(
        name="Cabin",
        version="10.11.11",
        media_root="/mnt/cabin",
        library=spec,
        users=["alice", "bob"],
    )
    return first, second


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when any simulator response or request broke the spec."""
    if conformance.VIOLATIONS and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the recorded OpenAPI violations."""
    if not conformance.VIOLATIONS:
        return
    terminalreporter.section("Jellyfin simulator OpenAPI violations", red=True)
    for violation in conformance.VIOLATIONS[:200]:
        terminalreporter.line(str(violation))
    terminalreporter.line(f"{len(conformance.VIOLATIONS)} violation(s) in total")
