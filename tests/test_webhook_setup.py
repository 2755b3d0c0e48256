"""The group's webhook: its id, registration, instructions in the flows, polling."""

from datetime import timedelta
import json
from pathlib import Path
import re
from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jellyfin_sync.const import (
    CONF_PROGRESS_DELAY,
    CONF_USER_MAP,
    CONF_USER_MODE,
    CONF_USERS,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_REMOTE,
    DOMAIN,
    EVENT_COMPLETED,
)
from custom_components.jellyfin_sync.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.jellyfin_sync.flow_common import async_webhook_placeholders
from custom_components.jellyfin_sync.webhook import (
    WEBHOOK_TEMPLATE,
    WebhookEvent,
    parse_event,
    webhook_url,
)
from tests import ha_common
from tests.ha_common import make_entry, matchable_movies, setup_entry
from tests.simulator import SimulatedServer
from tests.test_webhook import settle, start_group, until

fast_client_retries = ha_common.fast_client_retries
group = ha_common.group

_ID = re.compile(r"[0-9a-f]{64}")


_handlers = ha_common.registered_webhooks


async def test_user_flow_creates_webhook_and_shows_instructions(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    hass_ws_client: Any,
) -> None:
    home, cabin = group
    result: dict[str, Any] = dict(
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USER}
        )
    )
    for server in (home, cabin):
        result = dict(
            await hass.config_entries.flow.async_configure(
                result["flow_id"],
                {"url": server.url, "api_key": server.api_key, "verify_ssl": True},
            )
        )
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "finish"}
        )
    )
    assert result["step_id"] == "finish"
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], {}))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    webhook_id = result["result"].data[CONF_WEBHOOK_ID]
    assert _ID.fullmatch(webhook_id)
    placeholders = result["description_placeholders"]
    assert placeholders["webhook_url"].endswith(f"/api/webhook/{webhook_id}")
    assert placeholders["template"] == WEBHOOK_TEMPLATE
    await hass.async_block_till_done(wait_background_tasks=True)
    # The created group registered exactly that webhook, local network only.
    assert (await _handlers(hass, hass_ws_client))[webhook_id]["local_only"] is True


async def test_setup_gives_older_groups_a_webhook_and_unload_removes_it(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    hass_ws_client: Any,
) -> None:
    entry = make_entry(hass, list(group))
    assert CONF_WEBHOOK_ID not in entry.data
    await setup_entry(hass, entry)
    webhook_id = entry.data[CONF_WEBHOOK_ID]
    assert _ID.fullmatch(webhook_id)
    handler = (await _handlers(hass, hass_ws_client))[webhook_id]
    assert handler["domain"] == DOMAIN
    assert handler["allowed_methods"] == ["POST"]
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert webhook_id not in await _handlers(hass, hass_ws_client)
    # Set up again: the same id (the plugin's configuration stays valid).
    await setup_entry(hass, entry)
    assert entry.data[CONF_WEBHOOK_ID] == webhook_id
    assert webhook_id in await _handlers(hass, hass_ws_client)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_options_show_url_and_allow_remote_calls(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    hass_ws_client: Any,
) -> None:
    entry = make_entry(hass, list(group))
    await setup_entry(hass, entry)
    webhook_id = entry.data[CONF_WEBHOOK_ID]
    result = dict(await hass.config_entries.options.async_init(entry.entry_id))
    assert result["step_id"] == "init"
    placeholders = result["description_placeholders"]
    assert placeholders["webhook_url"].endswith(f"/api/webhook/{webhook_id}")
    assert placeholders["template"] == WEBHOOK_TEMPLATE
    general = {
        key: entry.options[key]
        for key in (
            "scan_interval",
            "fields",
            "primary_server",
            "direction",
            "first_sync",
            "max_changes",
            "max_change_percent",
            "dry_run",
        )
    }
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {**general, CONF_PROGRESS_DELAY: 45.0, CONF_WEBHOOK_REMOTE: True},
        )
    )
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {CONF_USER_MODE: "all", CONF_USERS: [], CONF_USER_MAP: ""},
        )
    )
    assert result["step_id"] == "libraries"
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"], {"kinds": ["films", "shows"], "library_mode": "all"}
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_PROGRESS_DELAY] == 45
    assert entry.options[CONF_WEBHOOK_REMOTE] is True
    await hass.async_block_till_done(wait_background_tasks=True)
    # The reloaded group accepts calls from anywhere, with the new delay.
    assert (await _handlers(hass, hass_ws_client))[webhook_id]["local_only"] is False
    assert entry.runtime_data.webhook.progress_delay == 45
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_webhook_cycles_do_not_postpone_polling(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    webhook, _path = await start_group(hass, hass_client_no_auth, group)
    coordinator = hass.config_entries.async_entries(DOMAIN)[0].runtime_data
    poll = coordinator._unsub_refresh
    assert poll is not None
    events = async_capture_events(hass, EVENT_COMPLETED)
    movie = matchable_movies(home)[6]
    twin = cabin.item_by_key(movie.identity)
    home.act("alice").mark_played(movie.id)
    await until(lambda: cabin.user_data("alice", twin.id)["Played"] is True)
    await settle(hass, home, cabin)
    assert len(events) == 1
    assert coordinator.last_report["targeted"] is True
    # The next poll is still the one planned before the webhook's cycle ...
    assert coordinator._unsub_refresh is poll
    # ... and it runs at its time, as a normal (not targeted) cycle.
    # (``_unsub_refresh`` is the ``cancel`` method of the poll's TimerHandle.)
    due = poll.__self__.when() - hass.loop.time() + 0.1
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=due))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(events) == 2
    assert coordinator.last_report["targeted"] is False
    assert webhook.stats["cycles"] == 1


def test_parse_event_accepts_the_plugins_rendering() -> None:
    body = (
        WEBHOOK_TEMPLATE.replace("{{NotificationType}}", "UserDataSaved")
        .replace("{{ServerId}}", "A0000000000000000000000000000001")
        .replace("{{UserId}}", "4f1e2c3b-0000-4000-8000-0123456789ab")
        .replace("{{ItemId}}", "9b2d8c1e-1111-4111-8111-abcdefabcdef")
        .replace("{{SaveReason}}", "PlaybackProgress")
    )
    event = parse_event(body.encode(), {"a0000000000000000000000000000001"})
    assert event == WebhookEvent(
        server_id="a0000000000000000000000000000001",
        user_id="4f1e2c3b0000400080000123456789ab",
        item_id="9b2d8c1e111141118111abcdefabcdef",
        reason="PlaybackProgress",
    )
    assert event.progress


def test_documented_template_is_the_one_the_flows_show() -> None:
    docs = (Path(__file__).parents[1] / "README.md").read_text()
    assert f"\n{WEBHOOK_TEMPLATE}\n" in docs
    assert json.loads(WEBHOOK_TEMPLATE.replace("{{", "").replace("}}", "")).keys() >= {
        "NotificationType",
        "ServerId",
        "UserId",
        "ItemId",
        "SaveReason",
    }


async def test_url_without_a_known_home_assistant_address(hass: HomeAssistant) -> None:
    assert webhook_url(hass, "abc") == "http://<home-assistant>:8123/api/webhook/abc"


async def test_webhook_id_is_not_in_diagnostics(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    webhook, path = await start_group(hass, hass_client_no_auth, group)
    home.act("alice").mark_played(matchable_movies(home)[9].id)
    await settle(hass, home, cabin)
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["webhook"]["cycles"] == webhook.stats["cycles"] == 1
    assert diagnostics["webhook"]["accepted"] >= 1
    text = json.dumps(diagnostics, default=str)
    assert entry.data[CONF_WEBHOOK_ID] not in text
    assert path.rsplit("/", 1)[1] == entry.data[CONF_WEBHOOK_ID]


async def test_webhook_url_before_the_group_exists_is_a_translated_text(
    hass: HomeAssistant,
) -> None:
    """Without a webhook id yet, the form says when the URL appears.

    The words come from the translations, not from code.
    """
    placeholders = await async_webhook_placeholders(hass, None)
    assert placeholders["webhook_url"] == "(shown once the group has been set up)"
    assert placeholders["template"] == WEBHOOK_TEMPLATE
