"""Security: API keys and the webhook id stay secret; TLS and the webhook are safe.

One full scenario runs at debug level (config flow, cycles, an outage, server
errors, a revoked key with reauthentication, a held mass change with its repair,
undo, diagnostics, webhook calls) and every log line, exception, repair text,
entity attribute, diagnostics field and request URL is searched for the keys.
"""

import json
import logging
from typing import Any
from unittest.mock import MagicMock

from aiohttp.test_utils import make_mocked_request
from homeassistant.components import webhook
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_API_KEY, CONF_URL, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jellyfin_sync.const import (
    CONF_MAX_CHANGE_PERCENT,
    CONF_MAX_CHANGES,
    CONF_SERVERS,
    CONF_WEBHOOK_ID,
    DOMAIN,
)
from tests import ha_common
from tests.ha_common import make_entry, matchable_movies, server_conf, setup_entry
from tests.reliability_common import refresh
from tests.simulator import SimulatedServer

fast_client_retries = ha_common.fast_client_retries
group = ha_common.group
tls_proxy = ha_common.tls_proxy

#: The test harness's in-memory storage logs every write with its content, and
#: the config entries (where keys belong) are such a write. Home Assistant's real
#: storage logs no content, so this logger is the only one left out.
HARNESS_STORAGE_LOGGER = "pytest_homeassistant_custom_component.common"


class UrlRecorder:
    """Records the URL (path and query) of every request a simulator handles."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, server: SimulatedServer):
        """Wrap the server's caller lookup, which every authenticated route runs."""
        self.urls: list[str] = []
        original = server._caller

        def caller(request: Any) -> Any:
            self.urls.append(str(request.rel_url))
            return original(request)

        monkeypatch.setattr(server, "_caller", caller)


def _all_logged(caplog: pytest.LogCaptureFixture) -> str:
    lines = []
    for record in caplog.records:
        if record.name == HARNESS_STORAGE_LOGGER:
            continue
        lines.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            lines.append(repr(record.exc_info[1]))
    return "\n".join(lines)


def _issue_texts(issue_registry: ir.IssueRegistry) -> list[str]:
    """Placeholders and data of the integration's open repair issues."""
    return [
        repr(issue.translation_placeholders) + repr(issue.data)
        for (domain, _), issue in issue_registry.issues.items()
        if domain == DOMAIN
    ]


async def _flow_creates_group(
    hass: HomeAssistant, home: SimulatedServer, cabin: SimulatedServer
) -> Any:
    """The user adds both servers through the config flow (a wrong key first)."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    flow_id = result["flow_id"]
    wrong = {CONF_URL: home.url, CONF_API_KEY: "f" * 32, CONF_VERIFY_SSL: True}
    results = [await hass.config_entries.flow.async_configure(flow_id, wrong)]
    assert results[0]["errors"] == {"base": "invalid_auth"}
    for server in (home, cabin):
        results.append(
            await hass.config_entries.flow.async_configure(
                flow_id,
                {
                    CONF_URL: server.url,
                    CONF_API_KEY: server.api_key,
                    CONF_VERIFY_SSL: True,
                },
            )
        )
    # The forms the user saw on the way (the created entry holds the keys).
    for shown in results:
        for secret in ("f" * 32, home.api_key, cabin.api_key):
            assert secret not in repr(shown)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "finish"}
    )
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    entry = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


async def test_no_secret_anywhere_in_a_full_scenario(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
    entity_registry: er.EntityRegistry,
    issue_registry: ir.IssueRegistry,
) -> None:
    home, cabin = group
    caplog.set_level(logging.DEBUG)
    # Before any HTTP client starts the app (its router is frozen then).
    assert await async_setup_component(hass, "diagnostics", {})
    urls = [UrlRecorder(monkeypatch, s) for s in (home, cabin)]
    movies = matchable_movies(home)
    for movie in movies:
        home.act("alice").mark_played(movie.id)

    entry = await _flow_creates_group(hass, home, cabin)
    hass.config_entries.async_update_entry(
        entry,
        options={**entry.options, CONF_MAX_CHANGES: 2, CONF_MAX_CHANGE_PERCENT: 0},
    )
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    coordinator = entry.runtime_data
    webhook_id = entry.data[CONF_WEBHOOK_ID]
    errors: list[str] = []

    # Outage, server errors, an HTML page: three failed cycles raise a repair.
    cabin.faults.down()
    await refresh(hass, coordinator)
    cabin.faults.up()
    await cabin.wait_up()
    cabin.faults.fail_next(100, 500)
    await refresh(hass, coordinator)
    cabin.faults.clear()
    cabin.faults.html_next(100)
    await refresh(hass, coordinator)
    cabin.faults.clear()
    assert issue_registry.async_get_issue(
        DOMAIN, f"persistent_failure_{cabin.server_id}"
    )
    issues = _issue_texts(issue_registry)

    # A mass un-watch is held: a fixable repair issue.
    for movie in movies[:4]:
        home.act("alice").mark_unplayed(movie.id)
    await refresh(hass, coordinator)
    assert coordinator.data.held > 0
    assert issue_registry.async_get_issue(DOMAIN, f"held_changes_{entry.entry_id}")
    issues.extend(_issue_texts(issue_registry))

    # Undo with a server down fails with a translated error.
    home.act("bob").favorite(movies[5].id)
    await coordinator.async_run_cycle(approve_held=True)
    cabin.faults.down()
    try:
        await hass.services.async_call(
            DOMAIN, "undo", {"config_entry_id": entry.entry_id}, blocking=True
        )
    except HomeAssistantError as err:
        errors.append(str(err))
        errors.append(repr(err.translation_placeholders))
    cabin.faults.up()
    await cabin.wait_up()

    # A revoked key: the run action fails, reauthentication starts.
    home.faults.revoke_key()
    with pytest.raises(HomeAssistantError) as failed:
        await hass.services.async_call(
            DOMAIN,
            "run",
            {"config_entry_id": entry.entry_id},
            blocking=True,
            return_response=True,
        )
    errors.append(str(failed.value))
    errors.append(repr(failed.value.translation_placeholders))
    await refresh(hass, coordinator)
    home.faults.restore_key()
    await hass.async_block_till_done()

    # Webhook calls: one good, one malformed.
    client = await hass_client_no_auth()
    good = json.dumps(
        {
            "NotificationType": "UserDataSaved",
            "ServerId": home.server_id,
            "UserId": home.users["alice"],
            "ItemId": movies[6].id,
            "SaveReason": "TogglePlayed",
        }
    )
    assert (await client.post(f"/api/webhook/{webhook_id}", data=good)).status == 200
    assert (await client.post(f"/api/webhook/{webhook_id}", data=b"{")).status == 400

    # Diagnostics, entity states and attributes, repair issues.
    diagnostics = json.dumps(
        await get_diagnostics_for_config_entry(hass, hass_client, entry)
    )
    states = [
        repr(hass.states.get(e.entity_id))
        for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    ]
    issues.extend(_issue_texts(issue_registry))
    assert len(issues) >= 2
    flows = [
        repr(f) for f in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    ]
    assert any("reauth" in f for f in flows)
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    logged = _all_logged(caplog)
    assert "Jellyfin server Cabin is unavailable" in logged
    places = {
        "logs": logged,
        "errors": "\n".join(errors),
        "diagnostics": diagnostics,
        "states": "\n".join(states),
        "issues": "\n".join(issues),
        "flows": "\n".join(flows),
        "urls": "\n".join(u for r in urls for u in r.urls),
    }
    assert places["urls"]
    assert errors
    for place, text in places.items():
        for secret in (home.api_key, cabin.api_key):
            assert secret not in text, place
    # The webhook id is in its URL by design, and Home Assistant's own webhook and
    # HTTP components log that URL at debug level; the integration never does.
    ours = "\n".join(
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("custom_components.jellyfin_sync")
    )
    assert ours
    for place in ("errors", "diagnostics", "states", "issues", "flows"):
        assert webhook_id not in places[place], place
    assert webhook_id not in ours
    # Keys live in the config entry, and only there.
    assert {s[CONF_API_KEY] for s in entry.data[CONF_SERVERS]} == {
        home.api_key,
        cabin.api_key,
    }


async def test_tls_verification_is_on_by_default_and_off_per_server(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    tls_proxy: Any,
) -> None:
    """A self-signed server fails to sync until verification is off for it alone."""
    home, cabin = group
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    schema = result["data_schema"].schema
    defaults = {
        str(key): key.default()
        for key in schema
        if callable(getattr(key, "default", None))
    }
    assert defaults.get(CONF_VERIFY_SSL) is True
    hass.config_entries.flow.async_abort(result["flow_id"])

    https_url = await tls_proxy(home)
    home.act("alice").mark_played(matchable_movies(home)[0].id)
    entry = make_entry(hass, [home, cabin])
    hass.config_entries.async_update_entry(
        entry,
        data={
            **entry.data,
            CONF_SERVERS: [server_conf(home, url=https_url), server_conf(cabin)],
        },
    )
    await setup_entry(hass, entry)
    state = entry.runtime_data.data.servers[home.server_id]
    assert state.online is False
    assert state.error == "cannot_connect"
    assert entry.runtime_data.data.servers[cabin.server_id].online is True

    hass.config_entries.async_update_entry(
        entry,
        data={
            **entry.data,
            CONF_SERVERS: [
                server_conf(home, url=https_url, verify_ssl=False),
                server_conf(cabin),
            ],
        },
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.data.servers[home.server_id].online is True
    identity = matchable_movies(home)[0].identity
    assert cabin.dump_user_data()["alice"][identity]["Played"] is True
    # Only that server's verification is off.
    assert [s[CONF_VERIFY_SSL] for s in entry.data[CONF_SERVERS]] == [False, True]


async def test_webhook_is_local_only_random_and_never_writes_its_payload(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    jellyfin_server_factory: ha_common.ServerFactory,
    hass_ws_client: Any,
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    webhook_id = entry.data[CONF_WEBHOOK_ID]
    # Random, long, and different per group.
    assert len(webhook_id) >= 32
    other_a = await jellyfin_server_factory(
        name="Attic", library=ha_common.SMALL_LIBRARY
    )
    other_b = await jellyfin_server_factory(
        name="Barn", library=ha_common.SMALL_LIBRARY
    )
    second = make_entry(
        hass, [other_a, other_b], entry_id="01JSYNCGROUPTEST000000000002"
    )
    await setup_entry(hass, second)
    assert second.data[CONF_WEBHOOK_ID] != webhook_id
    registered = (await ha_common.registered_webhooks(hass, hass_ws_client))[webhook_id]
    assert registered["local_only"] is True
    assert set(registered["allowed_methods"]) == {"POST"}

    # A call from the internet is dropped before the group sees it.
    sync = entry.runtime_data.webhook
    assert sync is not None
    movie = matchable_movies(home)[0]
    body = json.dumps(
        {
            "NotificationType": "UserDataSaved",
            "ServerId": home.server_id,
            "UserId": home.users["alice"],
            "ItemId": movie.id,
            "SaveReason": "TogglePlayed",
            "Played": "True",
        }
    ).encode()
    transport = MagicMock()
    transport.get_extra_info.return_value = ("203.0.113.7", 40000)
    payload = MagicMock()
    payload.read.return_value = body
    request = make_mocked_request(
        "POST",
        f"/api/webhook/{webhook_id}",
        headers={"Content-Type": "application/json"},
        transport=transport,
        payload=payload,
    )
    response = await webhook.async_handle_webhook(hass, webhook_id, request)
    assert response.status == 200  # Home Assistant never tells whether it exists.
    assert sync.stats["received"] == 0
    assert sync.pending == 0
    await hass.async_block_till_done(wait_background_tasks=True)
    twin = cabin.item_by_key(movie.identity)
    assert cabin.user_data("alice", twin.id)["Played"] is False
    assert home.user_data("alice", movie.id)["Played"] is False
