"""Bad input: every wrong value gets a clear, translated error and changes nothing.

The config flow's form errors, the actions' validation and the webhook's
rejections each have detailed tests next to their code (``test_config_flow.py``,
``test_ha_services.py``, ``test_webhook.py``); these tests add the hostile cases and
check the "changes nothing" half: no entry, no stored change, no server write.
"""

import asyncio
from collections.abc import AsyncIterator
import json
from pathlib import Path
import socket
from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_API_KEY, CONF_URL, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jellyfin_sync.const import CONF_WEBHOOK_ID, DOMAIN
from tests import ha_common
from tests.ha_common import make_entry, matchable_movies, setup_entry
from tests.simulator import SimulatedServer

fast_client_retries = ha_common.fast_client_retries
group = ha_common.group
not_jellyfin = ha_common.not_jellyfin

TRANSLATED_FORM_ERRORS = {
    "invalid_url",
    "invalid_scheme",
    "url_has_credentials",
    "cannot_connect",
    "not_jellyfin",
    "invalid_auth",
    "not_admin",
    "empty_api_key",
    "already_added",
}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _strings() -> dict[str, Any]:
    path = Path("custom_components/jellyfin_sync/translations/en.json")
    return dict(json.loads(path.read_text(encoding="utf-8")))


async def test_hostile_server_forms_change_nothing(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    not_jellyfin: str,
) -> None:
    home, _cabin = group
    errors = _strings()["config"]["error"]
    assert errors.keys() >= TRANSLATED_FORM_ERRORS
    cases: list[tuple[dict[str, Any], str]] = [
        ({CONF_URL: "javascript:alert(1)"}, "invalid_url"),
        ({CONF_URL: "file:///etc/passwd"}, "invalid_scheme"),
        ({CONF_URL: "ws://127.0.0.1:8096"}, "invalid_scheme"),
        ({CONF_URL: f"http://{home.api_key}@127.0.0.1:1"}, "url_has_credentials"),
        ({CONF_URL: "http://127.0.0.1:8096/#frag"}, "invalid_url"),
        ({CONF_URL: f"http://127.0.0.1:{_closed_port()}"}, "cannot_connect"),
        ({CONF_URL: not_jellyfin}, "not_jellyfin"),
        ({CONF_URL: f"{home.url}/web/index.html"}, "not_jellyfin"),
        ({CONF_API_KEY: ""}, "empty_api_key"),
        ({CONF_API_KEY: "x' OR '1'='1"}, "invalid_auth"),
        ({CONF_API_KEY: home.user_token("bob")}, "not_admin"),
    ]
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    flow_id = result["flow_id"]
    for overrides, error in cases:
        data = {CONF_URL: home.url, CONF_API_KEY: home.api_key, CONF_VERIFY_SSL: True}
        data.update(overrides)
        result = await hass.config_entries.flow.async_configure(flow_id, data)
        assert result["errors"] == {"base": error}, overrides
        assert result["step_id"] == "user"
        # The key the user typed is never echoed back.
        assert home.api_key not in repr(result)
    # The same server twice in one group.
    good = {CONF_URL: home.url, CONF_API_KEY: home.api_key, CONF_VERIFY_SSL: True}
    result = await hass.config_entries.flow.async_configure(flow_id, good)
    assert result["step_id"] == "add_server"
    result = await hass.config_entries.flow.async_configure(
        flow_id, {**good, CONF_URL: home.url + "/"}
    )
    assert result["errors"] == {"base": "already_added"}
    hass.config_entries.flow.async_abort(flow_id)
    assert hass.config_entries.async_entries(DOMAIN) == []
    assert home.dump_user_data() == {"alice": {}, "bob": {}}


@pytest.mark.parametrize(
    "data",
    [
        {"config_entry_id": "other"},
        {"config_entry_id": ["a", "b"]},
        {"config_entry_id": None},
        {"users": {"alice": True}},
        {"users": ["alice", 7]},
        {"dry_run": "perhaps"},
    ],
)
async def test_actions_with_wrong_input_change_nothing(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    data: dict[str, Any],
) -> None:
    home, cabin = group
    other = MockConfigEntry(domain="other_domain", entry_id="other")
    other.add_to_hass(hass)
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    home.act("alice").mark_played(matchable_movies(home)[0].id)
    before = (home.dump_user_data(), cabin.dump_user_data())
    history = entry.runtime_data.group.history
    for service in ("run", "undo"):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN, service, data, blocking=True, return_response=True
            )
        assert err.value.translation_domain == DOMAIN
        assert err.value.translation_key in _strings()["exceptions"]
    assert (home.dump_user_data(), cabin.dump_user_data()) == before
    assert entry.runtime_data.group.history == history


async def _chunks(total: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * 8192
        sent += 8192


async def test_webhook_hostile_calls_change_nothing(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    """A streamed oversized body, a wrong id and a forged item: nothing happens."""
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    sync = entry.runtime_data.webhook
    assert sync is not None
    before = (home.dump_user_data(), cabin.dump_user_data())
    client = await hass_client_no_auth()
    url = f"/api/webhook/{entry.data[CONF_WEBHOOK_ID]}"

    # Oversized without a Content-Length (chunked): cut off, not buffered.
    response = await client.post(url, data=_chunks(1024 * 1024))
    assert response.status == 413
    # A guessed webhook id: Home Assistant answers 200 and nothing runs.
    response = await client.post("/api/webhook/" + "0" * 64, data=b"{}")
    assert response.status == 200
    # A call naming an item id that does not exist on that server.
    forged = json.dumps(
        {
            "NotificationType": "UserDataSaved",
            "ServerId": home.server_id,
            "UserId": home.users["alice"],
            "ItemId": "f" * 32,
            "SaveReason": "TogglePlayed",
        }
    )
    response = await client.post(url, data=forged)
    assert response.status == 200
    assert sync.pending == 1
    for _ in range(200):
        if sync.pending == 0 and not sync.flushing:
            break
        await asyncio.sleep(0.02)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert sync.pending == 0
    assert sync.stats["cycles"] == 1
    assert sync.stats["rejected"] == 1
    assert (home.dump_user_data(), cabin.dump_user_data()) == before
