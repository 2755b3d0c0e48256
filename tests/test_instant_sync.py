"""Instant sync in one click: Home Assistant configures the Webhook plugin itself.

Against simulated servers whose Webhook plugin is configured through
``/Plugins/{id}/Configuration`` and posts only what its configuration asks for
(tests/test_simulator_plugins.py cites the plugin source for each rule).
"""

import logging
from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jellyfin_sync.const import (
    CONF_INSTANT_SYNC,
    CONF_WEBHOOK_ID,
    DOMAIN,
)
from custom_components.jellyfin_sync.coordinator import JellyfinSyncCoordinator
from custom_components.jellyfin_sync.instant import (
    InstantStatus,
    destination_name,
)
from tests import ha_common
from tests.ha_common import ENTRY_ID, make_entry, matchable_movies, setup_entry
from tests.simulator import SimulatedServer
from tests.test_webhook import settle, until

fast_client_retries = ha_common.fast_client_retries
group = ha_common.group

CONFIG_ROUTE = "/Plugins/{pluginId}/Configuration"


async def reachable(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """Start Home Assistant's HTTP app and make its address the internal URL."""
    assert await async_setup_component(hass, "webhook", {})
    client = await hass_client_no_auth()
    await async_process_ha_core_config(
        hass, {"internal_url": str(client.make_url("/")).rstrip("/")}
    )


def ours(server: SimulatedServer, title: str = "Home & Cabin") -> list[dict[str, Any]]:
    """Our destinations in a server's Webhook plugin configuration."""
    config = server.webhook_config or {}
    return [
        o
        for o in config.get("GenericOptions") or []
        if o.get("WebhookName") == destination_name(title)
    ]


def coordinator_of(hass: HomeAssistant) -> JellyfinSyncCoordinator:
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    assert entry is not None
    coordinator: JellyfinSyncCoordinator = entry.runtime_data
    return coordinator


def config_posts(server: SimulatedServer) -> int:
    return sum(
        1
        for e in server.request_log
        if e.method == "POST" and e.path.endswith("/Configuration")
    )


async def test_set_up_on_two_servers_then_a_change_arrives_without_a_poll(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    await reachable(hass, hass_client_no_auth)
    entry = make_entry(hass, [home, cabin], {CONF_INSTANT_SYNC: True})
    await setup_entry(hass, entry)

    for server in (home, cabin):
        (destination,) = ours(server)
        assert destination["EnableWebhook"] is True
        assert destination["NotificationTypes"] == ["UserDataSaved"]
        assert destination["WebhookUri"].endswith(
            f"/api/webhook/{entry.data[CONF_WEBHOOK_ID]}"
        )
    state = hass.states.get("sensor.home_instant_sync")
    assert state is not None
    assert state.state == InstantStatus.WAITING  # configured, no call yet

    coordinator = coordinator_of(hass)
    movie = matchable_movies(home)[0]
    twin = cabin.item_by_key(movie.identity)
    with patch.object(
        coordinator, "_async_update_data", side_effect=AssertionError("polled")
    ):
        home.act("alice").favorite(movie.id)
        await until(lambda: cabin.user_data("alice", twin.id)["IsFavorite"] is True)
        await settle(hass, home, cabin)
    assert coordinator.webhook is not None
    assert coordinator.webhook.stats["cycles"] == 1
    coordinator.async_update_listeners()
    assert hass.states.get("sensor.home_instant_sync").state == InstantStatus.ACTIVE


async def test_set_up_twice_keeps_one_destination_and_others_untouched(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    home.webhooks.add("http://192.0.2.1/notify", WebhookName="Someone else's")
    others = [
        o
        for o in home.webhook_config["GenericOptions"]
        if o["WebhookName"] == "Someone else's"
    ]
    await reachable(hass, hass_client_no_auth)
    entry = make_entry(hass, [home, cabin], {CONF_INSTANT_SYNC: True})
    await setup_entry(hass, entry)
    assert len(ours(home)) == 1
    posts = config_posts(home)

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert len(ours(home)) == len(ours(cabin)) == 1
    assert config_posts(home) == posts  # nothing to change: nothing written
    kept = [
        o
        for o in home.webhook_config["GenericOptions"]
        if o["WebhookName"] == "Someone else's"
    ]
    assert kept == others


async def test_a_server_without_the_plugin_gets_a_repair_then_finishes(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
    issue_registry: ir.IssueRegistry,
) -> None:
    home, cabin = group
    cabin.uninstall_webhook_plugin()
    await reachable(hass, hass_client_no_auth)
    entry = make_entry(hass, [home, cabin], {CONF_INSTANT_SYNC: True})
    await setup_entry(hass, entry)
    issue_id = f"webhook_plugin_missing_{ENTRY_ID}_{cabin.server_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {"server": "Cabin"}
    assert hass.states.get("sensor.cabin_instant_sync").state == "plugin_missing"
    assert len(ours(home)) == 1

    cabin.install_webhook_plugin()
    await coordinator_of(hass).async_refresh()
    await hass.async_block_till_done()

    assert len(ours(cabin)) == 1
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert hass.states.get("sensor.cabin_instant_sync").state == "waiting"


async def test_the_configuration_route_failing_writes_nothing_and_is_retried(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    home, cabin = group
    before = dict(cabin.webhook_config or {})
    cabin.faults.fail_route("POST", CONFIG_ROUTE, status=500, times=None)
    await reachable(hass, hass_client_no_auth)
    entry = make_entry(hass, [home, cabin], {CONF_INSTANT_SYNC: True})
    await setup_entry(hass, entry)

    assert cabin.webhook_config == before  # nothing half-written
    state = hass.states.get("sensor.cabin_instant_sync")
    assert state.state == "error"
    assert state.attributes["error"] == "server_error"
    assert cabin.api_key not in str(state.attributes)

    cabin.faults.route_failures.clear()
    await coordinator_of(hass).async_refresh()
    await hass.async_block_till_done()
    assert len(ours(cabin)) == 1
    assert hass.states.get("sensor.cabin_instant_sync").state == "waiting"
    # The webhook id (a secret: it is in the URL given to the servers) and the
    # API keys never reach the log, the failure's included.
    assert "Could not set up instant sync on Jellyfin server Cabin" in caplog.text
    for secret in (entry.data[CONF_WEBHOOK_ID], home.api_key, cabin.api_key):
        assert secret not in caplog.text


async def test_no_address_jellyfin_can_reach_is_a_repair_not_a_guess(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    issue_registry: ir.IssueRegistry,
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin], {CONF_INSTANT_SYNC: True})
    with patch(
        "homeassistant.components.webhook.async_generate_url",
        side_effect=NoURLAvailableError,
    ):
        await setup_entry(hass, entry)
    issue = issue_registry.async_get_issue(DOMAIN, f"instant_sync_url_{ENTRY_ID}")
    assert issue is not None
    assert issue.translation_placeholders["servers"] == "Home, Cabin"
    assert ours(home) == ours(cabin) == []
    assert hass.states.get("sensor.home_instant_sync").state == "no_url"


@pytest.mark.parametrize(
    ("ha_url", "server_url", "usable"),
    [
        ("http://127.0.0.1:8123", "http://127.0.0.1:8096", True),  # one machine
        ("http://localhost:8123", "http://jellyfin.lan:8096", False),
        ("http://127.0.0.1:8123", "http://192.0.2.5:8096", False),
        ("http://192.0.2.9:8123", "http://192.0.2.5:8096", True),
    ],
)
async def test_a_loopback_address_is_only_given_to_a_server_on_the_same_machine(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    ha_url: str,
    server_url: str,
    usable: bool,
) -> None:
    entry = make_entry(hass, list(group))
    await setup_entry(hass, entry)
    instant = coordinator_of(hass).instant
    assert instant is not None
    with patch(
        "homeassistant.components.webhook.async_generate_url",
        return_value=f"{ha_url}/api/webhook/x",
    ):
        assert (instant.url_for(server_url) is not None) is usable


async def test_turning_the_option_off_removes_it_a_down_server_at_its_next_contact(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    await reachable(hass, hass_client_no_auth)
    entry = make_entry(hass, [home, cabin], {CONF_INSTANT_SYNC: True})
    await setup_entry(hass, entry)
    assert len(ours(home)) == len(ours(cabin)) == 1

    cabin.faults.down()
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_INSTANT_SYNC: False}
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert ours(home) == []
    assert hass.states.get("sensor.home_instant_sync").state == "off"

    cabin.faults.up()
    await cabin.wait_up()
    await coordinator_of(hass).async_refresh()
    await hass.async_block_till_done()
    assert ours(cabin) == []


async def test_deleting_the_group_removes_it_and_names_a_server_left_behind(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
    issue_registry: ir.IssueRegistry,
) -> None:
    home, cabin = group
    home.webhooks.add("http://192.0.2.1/notify", WebhookName="Someone else's")
    await reachable(hass, hass_client_no_auth)
    entry = make_entry(hass, [home, cabin], {CONF_INSTANT_SYNC: True})
    await setup_entry(hass, entry)
    cabin.faults.down()

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()

    assert ours(home) == []
    assert [o["WebhookName"] for o in home.webhook_config["GenericOptions"]] == [
        "Someone else's"
    ]
    issue = issue_registry.async_get_issue(
        DOMAIN, f"instant_sync_left_behind_{ENTRY_ID}_{cabin.server_id}"
    )
    assert issue is not None
    assert issue.translation_placeholders["server"] == "Cabin"
    cabin.faults.up()
    assert len(ours(cabin)) == 1  # what the issue asks the user to delete
