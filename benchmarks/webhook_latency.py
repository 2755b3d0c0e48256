"""Benchmark: webhook-to-synced latency of near-real-time sync.

Run ``.venv/bin/python -m benchmarks.webhook_latency [--changes 50]``. It starts two
simulated Jellyfin 10.11 servers (same media, different roots) and a Home Assistant
test instance with its HTTP server on 127.0.0.1, sets up a sync group with the
default options and points both servers' Webhook plugins at the group's webhook.
Then, one after the other, it makes ``--changes`` changes on the first server (mark
played, favourite, rating, mark unplayed; on different movies, for alternating
users) and measures, for each, the time from the save on the source server to the
save of the synced value on the other server. Prints every latency's median and
worst, and the count of cycles, writes and recognised echoes.

The latency includes the 0.5 s coalescing window (``WEBHOOK_COALESCE``), one
server check per cycle, reading the item on both servers and the write.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
import statistics
import time
from typing import Any

from aiohttp.test_utils import TestServer
from homeassistant import loader
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.jellyfin_sync.const import (
    CONF_NAME,
    CONF_SERVER_ID,
    CONF_SERVERS,
    CONF_WEBHOOK_ID,
    DOMAIN,
)
from custom_components.jellyfin_sync.options import default_options
from tests.simulator import LibrarySpec, SimulatedServer

#: Every movie matchable by provider id (ambiguous ones are never synced).
LIBRARY = LibrarySpec(
    seed=11,
    movies=200,
    series=4,
    seasons_per_series=2,
    episodes_per_season=6,
    missing_provider_ids=0.0,
    duplicate_provider_ids=0.0,
)
USERS = ("alice", "bob")


async def _deliver(server: SimulatedServer) -> None:
    """Wait until every queued notification of a server was posted.

    ``Webhooks.drain`` can spin without yielding when a post task is done but its
    clean-up callback has not run yet (``asyncio.gather`` completes eagerly).
    """
    while True:
        await asyncio.sleep(0)
        tasks = set(server.webhooks._tasks)  # noqa: SLF001
        if not tasks:
            return
        await asyncio.wait(tasks)


def _changes(home: SimulatedServer, count: int) -> list[tuple[str, str, str]]:
    """(user, movie id, action) for every change, on distinct movies."""
    movies = [i for i in home.items if i.type == "Movie" and i.provider_ids]
    actions = ("mark_played", "favorite", "rate", "mark_unplayed")
    return [
        (USERS[n % len(USERS)], movies[n % len(movies)].id, actions[n % len(actions)])
        for n in range(count)
    ]


def _apply(server: SimulatedServer, user: str, item_id: str, action: str) -> None:
    actor = server.act(user)
    if action == "mark_played":
        actor.mark_played(item_id)
    elif action == "favorite":
        actor.favorite(item_id, True)
    elif action == "rate":
        actor.rate(item_id, 8.0)
    else:
        # Un-watch needs a watch first: made here and synced before timing.
        actor.mark_unplayed(item_id)


async def _until(check: Callable[[], bool], limit: float = 30.0) -> None:
    deadline = time.perf_counter() + limit
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("the change was not synced")
        await asyncio.sleep(0.002)


async def _run(hass: HomeAssistant, count: int) -> dict[str, Any]:
    hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
    http: TestServer | None = None
    servers: list[SimulatedServer] = []
    for name, root, server_id in (
        ("Home", "/media/home", "a0000000000000000000000000000001"),
        ("Cabin", "/mnt/cabin", "b0000000000000000000000000000002"),
    ):
        server = SimulatedServer(
            name=name,
            version="10.11.11",
            server_id=server_id,
            media_root=root,
            library=LIBRARY,
            users=list(USERS),
        )
        await server.start()
        servers.append(server)
    home, cabin = servers
    try:
        confs = [
            {
                CONF_SERVER_ID: s.server_id,
                CONF_NAME: s.name,
                "url": s.url,
                "api_key": s.api_key,
                "verify_ssl": True,
            }
            for s in servers
        ]
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Home & Cabin",
            data={CONF_SERVERS: confs},
            options=default_options(confs),
            version=1,
            minor_version=1,
        )
        entry.add_to_hass(hass)
        if not await hass.config_entries.async_setup(entry.entry_id):
            raise RuntimeError("the sync group did not set up")
        await hass.async_block_till_done(wait_background_tasks=True)
        # Home Assistant's own HTTP app (set up as the webhook's dependency),
        # served on 127.0.0.1 like in the tests; started once every route exists.
        http = TestServer(hass.http.app, host="127.0.0.1")
        await http.start_server()
        url = str(http.make_url(f"/api/webhook/{entry.data[CONF_WEBHOOK_ID]}"))
        stamps: dict[str, float] = {}
        original_save = cabin.save

        def timed_save(user: Any, item: Any, row: Any, reason: str) -> None:
            original_save(user, item, row, reason)
            stamps[f"{user.name}/{item.id}"] = time.perf_counter()

        cabin.save = timed_save  # type: ignore[method-assign]
        for server in servers:
            server.webhooks.add(url)
        latencies: list[float] = []
        webhook = entry.runtime_data.webhook
        for user, item_id, action in _changes(home, count):
            twin = cabin.item_by_key(home.require_item(item_id).identity).id
            if action == "mark_unplayed":
                _apply(home, user, item_id, "mark_played")
                await _until(lambda u=user, t=twin: cabin.user_data(u, t)["Played"])
                await _settle(hass, webhook, servers)
            key = f"{user}/{twin}"
            stamps.pop(key, None)
            started = time.perf_counter()
            _apply(home, user, item_id, action)
            await _until(lambda k=key: k in stamps)
            latencies.append(stamps[key] - started)
            await _settle(hass, webhook, servers)
        stats = dict(webhook.stats)
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        for server in servers:
            await server.stop()
        if http is not None:
            await http.close()
    return {"latencies": latencies, **stats}


async def _settle(
    hass: HomeAssistant, webhook: Any, servers: list[SimulatedServer]
) -> None:
    """Let echoes arrive and be handled, so changes are measured one at a time."""
    for _ in range(2):
        for server in servers:
            await _deliver(server)
        await _until(lambda: webhook.pending == 0 and not webhook.flushing)
        await hass.async_block_till_done(wait_background_tasks=True)


async def main(count: int) -> None:
    """Measure and print."""
    async with async_test_home_assistant() as hass:
        result = await _run(hass, count)
        await hass.async_stop(force=True)
    latencies = sorted(result["latencies"])
    print(f"webhook-to-synced latency over {len(latencies)} changes:")
    print(f"  median {statistics.median(latencies) * 1000:.0f} ms")
    print(f"  worst  {latencies[-1] * 1000:.0f} ms")
    print(f"  best   {latencies[0] * 1000:.0f} ms")
    print(
        f"webhook calls received {result['received']}, targeted cycles "
        f"{result['cycles']}, echoes recognised {result['echoes']}, "
        f"rejected {result['rejected']}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.changes))
