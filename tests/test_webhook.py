"""Near-real-time sync through the Jellyfin Webhook plugin, end to end.

The simulated servers post their ``UserDataSaved`` notifications (the documented
template) to Home Assistant's test HTTP server; the group's webhook debounces them
and runs targeted cycles that read the real server state.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
import json
import logging
from typing import Any
import uuid

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jellyfin_sync.const import (
    CONF_PROGRESS_DELAY,
    CONF_WEBHOOK_ID,
    DOMAIN,
    EVENT_COMPLETED,
    LOGGER,
)
from custom_components.jellyfin_sync.coordinator import JellyfinSyncCoordinator
from custom_components.jellyfin_sync.webhook import WEBHOOK_TEMPLATE, WebhookSync
from tests import ha_common
from tests.ha_common import make_entry, matchable_movies, setup_entry
from tests.simulator import LibrarySpec, SimulatedServer
from tests.simulator.server import DEFAULT_WEBHOOK_TEMPLATE

fast_client_retries = ha_common.fast_client_retries
group = ha_common.group

TICKS_PER_SECOND = 10_000_000


def writes(server: SimulatedServer) -> int:
    """User-data writes a server received over HTTP."""
    return sum(
        counter.requests
        for route, counter in server.counters.routes.items()
        if route.startswith(("POST ", "DELETE "))
    )


async def until(check: Callable[[], bool], *, steps: int = 500) -> None:
    """Let the loop run until ``check`` holds (at most ``steps`` short sleeps)."""
    for _ in range(steps):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def deliver(server: SimulatedServer) -> None:
    """Wait until every queued notification of a server was posted.

    ``Webhooks.drain`` can spin without yielding when a post task is done but its
    clean-up callback has not run yet (``asyncio.gather`` completes eagerly);
    ``asyncio.wait`` always yields.
    """
    while True:
        await asyncio.sleep(0)
        tasks = set(server.webhooks._tasks)
        if not tasks:
            return
        await asyncio.wait(tasks)


async def settle(hass: HomeAssistant, *servers: SimulatedServer) -> None:
    """Deliver every notification and finish every debounced cycle."""
    for _ in range(3):
        for server in servers:
            await deliver(server)
        webhook = _webhook(hass)
        await until(lambda w=webhook: w.pending == 0 and not w.flushing)
        await hass.async_block_till_done(wait_background_tasks=True)


def _webhook(hass: HomeAssistant) -> WebhookSync:
    entry = hass.config_entries.async_entries("jellyfin_sync")[0]
    coordinator: JellyfinSyncCoordinator = entry.runtime_data
    assert coordinator.webhook is not None
    return coordinator.webhook


async def start_group(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    servers: tuple[SimulatedServer, SimulatedServer],
    **options: Any,
) -> tuple[WebhookSync, str]:
    """Set a group up and point both servers' Webhook plugins at it.

    Returns the group's webhook and its path on Home Assistant's HTTP server.
    """
    entry = make_entry(hass, list(servers), {CONF_PROGRESS_DELAY: 0.3, **options})
    await setup_entry(hass, entry)
    # The webhook integration (a dependency) set up Home Assistant's HTTP app.
    client = await hass_client_no_auth()
    path = f"/api/webhook/{entry.data[CONF_WEBHOOK_ID]}"
    for server in servers:
        server.reset_counters()
        server.webhooks.add(str(client.make_url(path)))
    return _webhook(hass), path


def test_documented_template_is_the_simulated_plugins() -> None:
    assert WEBHOOK_TEMPLATE == DEFAULT_WEBHOOK_TEMPLATE


async def test_change_reaches_other_server_through_webhook(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    webhook, _url = await start_group(hass, hass_client_no_auth, group)
    movie = matchable_movies(home)[0]
    twin = cabin.item_by_key(movie.identity)
    events = async_capture_events(hass, EVENT_COMPLETED)

    assert cabin.user_data("alice", twin.id)["Played"] is False
    home.act("alice").mark_played(movie.id)
    await until(lambda: cabin.user_data("alice", twin.id)["Played"] is True)

    await settle(hass, home, cabin)
    # A targeted cycle did it (the poll interval is 30 minutes), with one write.
    assert webhook.stats["cycles"] == 1
    assert [e.data["applied"] for e in events] == [1]
    assert writes(cabin) == 1
    assert writes(home) == 0


async def test_a_webhook_cycle_after_a_failed_update_marks_the_data_fresh(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A targeted cycle publishes like a scheduled one: the update succeeded."""
    home, cabin = group
    await start_group(hass, hass_client_no_auth, group)
    coordinator = hass.config_entries.async_entries(DOMAIN)[0].runtime_data
    run_cycle = coordinator.group.run_cycle

    async def broken(**kwargs: Any) -> Any:
        raise RuntimeError("storage broke")

    monkeypatch.setattr(coordinator.group, "run_cycle", broken)
    await coordinator.async_refresh()
    assert coordinator.last_update_success is False
    monkeypatch.setattr(coordinator.group, "run_cycle", run_cycle)

    movie = matchable_movies(home)[1]
    twin = cabin.item_by_key(movie.identity)
    home.act("alice").mark_played(movie.id)
    await until(lambda: cabin.user_data("alice", twin.id)["Played"] is True)
    await settle(hass, home, cabin)
    assert coordinator.last_update_success is True
    assert coordinator.data.last_cycle is not None
    assert coordinator.data.last_cycle.outcome == "ok"


async def test_progress_stream_is_debounced_and_ends_at_final_position(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    webhook, _url = await start_group(hass, hass_client_no_auth, group)
    movie = matchable_movies(home)[1]
    twin = cabin.item_by_key(movie.identity)
    actor = home.act("alice")
    actor.start(movie.id)
    positions = [(60 + 10 * n) * TICKS_PER_SECOND for n in range(60)]
    for position in positions:
        actor.progress(movie.id, position)
        await asyncio.sleep(0)
    await deliver(home)
    final = home.user_data("alice", movie.id)["PlaybackPositionTicks"]
    assert final == positions[-1]
    await until(
        lambda: cabin.user_data("alice", twin.id)["PlaybackPositionTicks"] == final
    )
    await settle(hass, home, cabin)

    assert cabin.user_data("alice", twin.id)["PlaybackPositionTicks"] == final
    assert webhook.stats["accepted"] >= 61
    # 61 saves on the home server: a few cycles, a few writes.
    assert webhook.stats["cycles"] <= 3
    assert 1 <= writes(cabin) <= 3
    assert writes(home) == 0


async def test_echo_of_own_write_causes_no_second_round(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    webhook, _url = await start_group(hass, hass_client_no_auth, group)
    movie = matchable_movies(home)[2]
    twin = cabin.item_by_key(movie.identity)
    home.act("alice").favorite(movie.id, True)
    await until(lambda: cabin.user_data("alice", twin.id)["IsFavorite"] is True)
    await settle(hass, home, cabin)

    # The cabin's own notification of the write came back and was recognised.
    assert cabin.webhooks.sent >= 1
    assert webhook.stats["echoes"] >= 1
    assert webhook.stats["cycles"] == 1
    assert writes(cabin) == 1
    assert writes(home) == 0


async def test_echo_with_a_real_change_is_synced(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    webhook, _url = await start_group(hass, hass_client_no_auth, group)
    movie = matchable_movies(home)[3]
    twin = cabin.item_by_key(movie.identity)
    home.act("alice").mark_played(movie.id)
    await until(lambda: cabin.user_data("alice", twin.id)["Played"] is True)
    await settle(hass, home, cabin)
    # Within the echo window, the cabin's user changes the same item.
    cabin.act("alice").favorite(twin.id, True)
    await until(lambda: home.user_data("alice", movie.id)["IsFavorite"] is True)
    await settle(hass, home, cabin)
    assert webhook.stats["cycles"] == 2
    assert writes(home) == 1


async def test_burst_coalesces_into_one_cycle(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    webhook, _url = await start_group(hass, hass_client_no_auth, group)
    movies = matchable_movies(home)[:8]
    for movie in movies:
        home.act("bob").mark_played(movie.id)
    await deliver(home)
    await settle(hass, home, cabin)
    for movie in movies:
        twin = cabin.item_by_key(movie.identity)
        assert cabin.user_data("bob", twin.id)["Played"] is True
    assert webhook.stats["accepted"] >= len(movies)
    assert webhook.stats["cycles"] == 1
    # The cabin's notifications of the eight writes were recognised as echoes.
    assert webhook.stats["echoes"] == len(movies)
    assert writes(cabin) == len(movies)


HOME = "a0000000000000000000000000000001"
ID = "00000000000000000000000000000001"


def _json(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"not json", 400, "not JSON"),
        (b"\xff\xfe", 400, "not JSON"),
        (b"[1, 2]", 400, "not a JSON object"),
        (_json(NotificationType=5), 400, "NotificationType"),
        (_json(NotificationType="UserDataSaved"), 400, "ServerId is missing"),
        (_json(ServerId=HOME, UserId="x", ItemId=ID), 400, "UserId is not a"),
        (_json(ServerId=HOME, UserId=ID), 400, "ItemId is missing"),
        (
            _json(ServerId="c0000000000000000000000000000003", UserId=ID, ItemId=ID),
            404,
            "not in this sync group",
        ),
        (
            _json(ServerId=str(uuid.UUID(HOME)), UserId=ID, ItemId=ID, SaveReason=4),
            400,
            "SaveReason",
        ),
        (_json(ServerId=HOME, UserId=ID, ItemId=ID), 404, "user is not on that"),
        (b"{" + b" " * (64 * 1024) + b"}", 413, "too large"),
    ],
)
async def test_malformed_or_unknown_calls_change_nothing(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    status: int,
    reason: str,
) -> None:
    home, cabin = group
    webhook, url = await start_group(hass, hass_client_no_auth, group)
    before = (home.dump_user_data(), cabin.dump_user_data())
    client = await hass_client_no_auth()
    with caplog.at_level(logging.WARNING):
        response = await client.post(url, data=body)
        assert response.status == status
        assert reason in await response.text()
        # The second identical call is logged at debug level only.
        await client.post(url, data=body)
    await settle(hass, home, cabin)
    assert webhook.stats["rejected"] == 2
    assert webhook.stats["cycles"] == 0
    assert webhook.pending == 0
    assert (home.dump_user_data(), cabin.dump_user_data()) == before
    assert writes(home) == writes(cabin) == 0
    ours = [r.getMessage() for r in caplog.records if r.name == LOGGER.name]
    assert len([m for m in ours if reason in m]) == 1
    # The webhook id is a secret: never in the integration's logs.
    webhook_id = url.rsplit("/", 1)[1]
    assert not [m for m in ours if webhook_id in m]


async def test_values_in_the_call_are_never_written(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    webhook, url = await start_group(hass, hass_client_no_auth, group)
    movie = matchable_movies(home)[4]
    alice = home.users["alice"]
    client = await hass_client_no_auth()
    # A forged call claims alice watched the movie on the home server; she did not.
    body = _json(
        NotificationType="UserDataSaved",
        ServerId=home.server_id,
        # Dashed Guids, as the plugin renders them.
        UserId=str(uuid.UUID(alice)),
        ItemId=str(uuid.UUID(movie.id)),
        SaveReason="TogglePlayed",
        Played="True",
        PlayCount="9",
    )
    response = await client.post(url, data=body)
    assert response.status == 200
    await settle(hass, home, cabin)
    assert webhook.stats["cycles"] == 1
    twin = cabin.item_by_key(movie.identity)
    assert cabin.user_data("alice", twin.id)["Played"] is False
    assert home.user_data("alice", movie.id)["Played"] is False
    assert writes(home) == writes(cabin) == 0


async def test_other_notification_types_are_ignored(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    webhook, url = await start_group(hass, hass_client_no_auth, group)
    client = await hass_client_no_auth()
    response = await client.post(
        url,
        data=f'{{"NotificationType":"PlaybackStart","ServerId":"{home.server_id}"}}',
    )
    assert response.status == 200
    assert "ignored" in await response.text()
    await settle(hass, home, cabin)
    assert webhook.stats["ignored"] == 1
    assert webhook.stats["cycles"] == 0


async def test_unload_unregisters_the_webhook(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    webhook, _url = await start_group(hass, hass_client_no_auth, group)
    entry = hass.config_entries.async_entries("jellyfin_sync")[0]
    movie = matchable_movies(home)[5]
    # A progress save is waiting when the group unloads: it is dropped.
    home.act("alice").progress(movie.id, 600 * TICKS_PER_SECOND)
    await deliver(home)
    assert webhook.pending == 1
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert webhook.pending == 0
    home.act("alice").mark_played(movie.id)
    await deliver(home)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert webhook.stats["received"] == 1
    assert writes(cabin) == 0


async def test_server_down_during_webhook_cycles_counts_no_failures(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    webhook, _path = await start_group(hass, hass_client_no_auth, group)
    coordinator = hass.config_entries.async_entries("jellyfin_sync")[0].runtime_data
    movies = matchable_movies(home)[:4]
    cabin.faults.down()
    for movie in movies:
        home.act("alice").mark_played(movie.id)
        await settle(hass, home, cabin)
    assert webhook.stats["cycles"] == len(movies)
    state = coordinator.data.servers[cabin.server_id]
    assert state.online is False
    # Four webhook cycles found the cabin down: not four failed cycles.
    assert state.failures == 0
    assert not ir.async_get(hass).issues
    cabin.faults.up()
    await cabin.wait_up()
    # The next poll catches what the webhook cycles could not sync.
    await coordinator.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    for movie in movies:
        twin = cabin.item_by_key(movie.identity)
        assert cabin.user_data("alice", twin.id)["Played"] is True
    assert coordinator.data.servers[cabin.server_id].online is True


async def test_revoked_key_found_by_a_webhook_cycle_starts_reauth(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    webhook, _path = await start_group(hass, hass_client_no_auth, group)
    cabin.faults.revoke_key()
    home.act("alice").favorite(matchable_movies(home)[7].id, True)
    await settle(hass, home, cabin)
    assert webhook.stats["cycles"] == 1
    flows = hass.config_entries.flow.async_progress()
    assert [f["context"]["source"] for f in flows] == ["reauth"]
    assert writes(cabin) == 0
    cabin.faults.restore_key()


async def test_start_of_playback_is_synced_without_the_progress_delay(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    # Progress alone would wait ten minutes here.
    webhook, _path = await start_group(
        hass, hass_client_no_auth, group, **{CONF_PROGRESS_DELAY: 600}
    )
    movie = matchable_movies(home)[8]
    twin = cabin.item_by_key(movie.identity)
    actor = home.act("alice")
    actor.start(movie.id)  # PlaybackStart: play count and last played date
    actor.progress(movie.id, 1200 * TICKS_PER_SECOND)
    actor.favorite(movie.id, True)
    actor.progress(movie.id, 1300 * TICKS_PER_SECOND)
    assert home.user_data("alice", movie.id)["PlaybackPositionTicks"] > 0
    await settle(hass, home, cabin)
    # One quick cycle took every save of the item along, with the latest position.
    assert webhook.stats["cycles"] == 1
    assert webhook.pending == 0
    synced = cabin.user_data("alice", twin.id)
    assert synced["PlayCount"] == 1
    assert synced["IsFavorite"] is True
    assert synced["PlaybackPositionTicks"] == 1300 * TICKS_PER_SECOND


async def test_oversized_chunked_body_is_rejected_unread(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    webhook, path = await start_group(hass, hass_client_no_auth, group)
    client = await hass_client_no_auth()

    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * (16 * 1024)

    # No Content-Length: the limit is enforced while reading.
    response = await client.post(path, data=body())
    assert response.status == 413
    assert webhook.stats["rejected"] == 1
    await settle(hass, *group)


@pytest.fixture
async def versions_group(
    jellyfin_server_factory: Any,
) -> tuple[SimulatedServer, SimulatedServer]:
    """Home on 12.0 with a second (2160p) file for every title; cabin on 10.11."""
    spec = LibrarySpec(
        seed=7,
        movies=6,
        series=1,
        seasons_per_series=1,
        episodes_per_season=2,
        duplicate_provider_ids=0.0,
        missing_provider_ids=0.0,
        versions=1.0,
    )
    home = await jellyfin_server_factory(
        name="Home",
        version="12.0.0",
        server_id="a0000000000000000000000000000001",
        media_root="/media/home",
        library=spec,
        users=["alice", "bob"],
    )
    cabin = await jellyfin_server_factory(
        name="Cabin",
        version="10.11.11",
        server_id="b0000000000000000000000000000002",
        media_root="/mnt/cabin",
        library=replace(spec, versions=0.0),
        users=["alice", "bob"],
    )
    return home, cabin


async def test_a_webhook_naming_an_alternate_reaches_the_title(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    versions_group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    """12.0 reports a version's own id, which no listing shows (API-NOTES §9.2).

    The group resolves it to its title: a position saved on the 2160p version
    reaches cabin within 2 s, without a poll.
    """
    home, cabin = versions_group
    webhook, _path = await start_group(hass, hass_client_no_auth, versions_group)
    await settle(hass, home, cabin)
    movie = next(i for i in home.items if i.type == "Movie" and i.primary_id is None)
    alt = home.versions_of(movie)[1]
    twin = cabin.item_by_key(movie.identity)
    ticks = (alt.runtime_ticks or 0) // 4
    cycles = webhook.stats["cycles"]
    started = asyncio.get_running_loop().time()
    home.act("alice").progress(movie.id, ticks, media_source_id=alt.id)
    assert [e.item_id for e in home.events[-1:]] == [alt.id]
    await until(
        lambda: cabin.user_data("alice", twin.id)["PlaybackPositionTicks"] == ticks,
        steps=100,
    )
    assert asyncio.get_running_loop().time() - started <= 2.0
    await settle(hass, home, cabin)
    assert webhook.stats["cycles"] > cycles
    assert writes(home) == 0
