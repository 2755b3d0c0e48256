"""Tests of the simulator's control surface: faults, counters, webhooks, dumps, CLI."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
import json

from aiohttp import ClientConnectionError, ClientPayloadError, ClientSession, web
import pytest

from tests.simulator import DEFAULT_WEBHOOK_TEMPLATE, LibrarySpec
from tests.simulator.__main__ import build_servers, parse_args
from tests.simulator.http import RawClient

SPEC = LibrarySpec(seed=9, movies=10, series=1, seasons_per_series=1)


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[ClientSession]:
    async with ClientSession() as client_session:
        yield client_session


async def test_down_refuses_connections_and_up_relistens(
    jellyfin_server_factory, session
) -> None:
    server = await jellyfin_server_factory(name="Flaky", library=SPEC)
    raw = RawClient(session, server)
    assert (await raw.get("/System/Info/Public")).status == 200
    port = server.port
    server.faults.down()
    with pytest.raises(ClientConnectionError):
        await raw.get("/System/Info/Public")
    # A fresh session: no pooled connection can hide the refusal.
    async with ClientSession() as fresh:
        with pytest.raises(ClientConnectionError):
            await RawClient(fresh, server).get("/System/Info/Public")
    server.faults.up()
    await server.wait_up()
    assert server.port == port
    assert (await raw.get("/System/Info/Public")).status == 200


async def test_truncated_body_breaks_the_payload(
    jellyfin_server_factory, session
) -> None:
    server = await jellyfin_server_factory(name="Cut", library=SPEC)
    raw = RawClient(session, server)
    server.faults.truncate_next(1)
    with pytest.raises(ClientPayloadError):
        await raw.get("/Users")
    assert (await raw.get("/Users")).status == 200


async def test_fail_fraction_and_latency(jellyfin_server_factory, session) -> None:
    server = await jellyfin_server_factory(name="Lossy", library=SPEC)
    raw = RawClient(session, server)
    server.faults.fail_fraction(0.5, status=502, seed=3)
    statuses = [(await raw.get("/System/Ping")).status for _ in range(40)]
    assert set(statuses) == {200, 502}
    server.faults.clear()
    server.faults.latency(0.01)
    assert (await raw.get("/System/Ping")).status == 200
    assert server.faults.delay == 0.01


async def test_counters_per_route(jellyfin_server_factory, session) -> None:
    server = await jellyfin_server_factory(name="Counted", library=SPEC)
    raw = RawClient(session, server)
    await raw.items("alice", recursive=True)
    await raw.items("alice", recursive=True, limit=1)
    item = server.find_item(type="Movie")
    await raw.update("alice", item.id, {"PlayCount": 1})
    items = server.counters["GET /Items"]
    assert items.requests == 2
    assert items.bytes_out > 0
    post = server.counters["POST /UserItems/{itemId}/UserData"]
    assert post.requests == 1
    assert post.bytes_in == len(json.dumps({"PlayCount": 1}))
    assert server.counters.requests == 3
    server.reset_counters()
    assert server.counters.requests == 0


async def test_webhook_posts_user_data_saved(
    jellyfin_server_factory, socket_enabled
) -> None:
    received: list[dict] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(json.loads(await request.text()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        server = await jellyfin_server_factory(name="Hooked", library=SPEC)
        server.webhooks.add(f"http://127.0.0.1:{port}/hook")
        item = server.find_item(type="Movie")
        server.act("bob").mark_played(item.id, datetime(2024, 1, 1, tzinfo=UTC))
        await server.webhooks.drain()
    finally:
        await runner.cleanup()
    assert len(received) == 1
    payload = received[0]
    assert payload["NotificationType"] == "UserDataSaved"
    assert payload["SaveReason"] == "TogglePlayed"
    assert payload["ServerId"] == server.server_id
    assert payload["UserId"].replace("-", "") == server.users["bob"]
    assert payload["ItemId"].replace("-", "") == item.id
    assert payload["Played"] == "True"
    assert payload["NotificationUsername"] == "bob"
    assert "{{" in DEFAULT_WEBHOOK_TEMPLATE


async def test_dump_user_data_is_keyed_by_identity(jellyfin_pair) -> None:
    home, cabin = jellyfin_pair
    item = home.find_item(type="Episode")
    home.act("alice").watch(item.id, date=datetime(2024, 3, 3, tzinfo=UTC))
    cabin.act("alice").favorite(cabin.item_by_key(item.identity).id, True)
    dump = home.dump_user_data()
    assert dump["bob"] == {}
    entry = dump["alice"][item.identity]
    assert entry["Played"] is True
    assert entry["PlayCount"] == 1
    assert entry["LastPlayedDate"] == "2024-03-03T00:00:00.0000000Z"
    assert cabin.dump_user_data()["alice"][item.identity]["IsFavorite"] is True


def test_library_generation_is_deterministic_and_shaped() -> None:
    from tests.simulator import SimulatedServer

    spec = LibrarySpec(
        seed=21,
        movies=300,
        series=6,
        seasons_per_series=2,
        episodes_per_season=10,
        missing_provider_ids=0.1,
        duplicate_provider_ids=0.05,
        multi_episode_files=0.2,
    )
    one = SimulatedServer(name="One", media_root="/a", library=spec)
    again = SimulatedServer(name="One", media_root="/a", library=spec)
    assert [i.id for i in one.items] == [i.id for i in again.items]
    movies = [i for i in one.items if i.type == "Movie"]
    assert any(not m.provider_ids for m in movies)
    tmdb = [m.provider_ids["Tmdb"] for m in movies if m.provider_ids]
    assert len(tmdb) > len(set(tmdb))
    assert any(i.index_number_end for i in one.items if i.type == "Episode")
    other = SimulatedServer(
        name="Two", media_root="/b", library=spec, drop_items=0.2, extra_items=5
    )
    keys_one = {i.identity for i in one.items}
    keys_two = {i.identity for i in other.items}
    assert keys_one - keys_two
    assert len(keys_two - keys_one) == 5


def test_cli_builds_servers() -> None:
    args = parse_args(
        [
            "serve",
            "--servers",
            "2",
            "--items",
            "300",
            "--users",
            "alice,bob",
            "--different-roots",
            "--history",
        ]
    )
    servers = build_servers(args)
    assert [s.name for s in servers] == ["Jellyfin 1", "Jellyfin 2"]
    assert (
        servers[0].items[5].id
        != servers[1].item_by_key(servers[0].items[5].identity).id
    )
    assert any(servers[0].dump_user_data()["alice"].values())
    assert 250 <= len(servers[0].items) <= 350


async def test_webhook_failures_are_counted(jellyfin_server_factory) -> None:
    server = await jellyfin_server_factory(name="Lonely", library=SPEC)
    server.webhooks.add("http://127.0.0.1:9/nothing-listens")
    server.act("alice").favorite(server.find_item(type="Movie").id, True)
    await server.webhooks.drain()
    assert server.webhooks.failed == 1
    await asyncio.sleep(0)
