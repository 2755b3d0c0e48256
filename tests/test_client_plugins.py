"""Our Generic destination in the Webhook plugin's configuration.

The pure rules, and the client's /Plugins calls against the simulator.
"""

import base64
import copy
from typing import Any

import aiohttp
import pytest

from custom_components.jellyfin_sync.jellyfin import JellyfinClient
from custom_components.jellyfin_sync.jellyfin.exceptions import (
    JellyfinNotFoundError,
    JellyfinResponseError,
    JellyfinServerError,
)
from custom_components.jellyfin_sync.jellyfin.plugins import (
    ITEM_FLAGS,
    WEBHOOK_PLUGIN_ID,
    Plugin,
    destination,
    has_destination,
    with_destination,
    without_destination,
)
from tests.simulator import SimulatedServer

NAME = "Jellyfin Sync: Home & Cabin (Home Assistant)"
PATH = "/api/webhook/" + "ab" * 32
URL = "http://192.0.2.9:8123" + PATH


def config(*options: dict[str, Any]) -> dict[str, Any]:
    return {"ServerUrl": "", "GenericOptions": list(options), "SlackOptions": []}


def test_an_older_release_is_not_sent_what_it_does_not_know() -> None:
    # [plugin v11] Destinations/BaseOption.cs has no TrimWhitespace,
    # SkipEmptyMessageBody, EnableVideos or EnableWebhook (10.8's release).
    old = destination(NAME, URL, "t", 11)
    assert not {"TrimWhitespace", "EnableVideos", "EnableWebhook"} & set(old)
    assert "EnableWebhook" in destination(NAME, URL, "t", 21)
    assert Plugin.from_json({"Id": "x", "Version": "11.0.0.0"}).release == 11
    assert Plugin.from_json({"Id": "x", "Version": ""}).release is None


def test_destination_asks_for_user_data_saves_of_every_item_type() -> None:
    option = destination(NAME, URL, '{"a":"{{ItemId}}"}')
    assert option["NotificationTypes"] == ["UserDataSaved"]
    assert all(option[flag] is True for flag in ITEM_FLAGS)
    assert option["UserFilter"] == []
    assert base64.b64decode(option["Template"]).decode() == '{"a":"{{ItemId}}"}'


def test_adding_keeps_every_other_destination_and_setting() -> None:
    theirs = {"WebhookName": "Mine", "WebhookUri": "http://x/hook", "Template": "e30="}
    original = config(theirs)
    original["SlackOptions"] = [{"WebhookName": "slack"}]
    before = copy.deepcopy(original)
    updated = with_destination(original, destination(NAME, URL, "t"), PATH)
    assert updated is not None
    assert original == before  # not modified in place
    assert updated["GenericOptions"][0] == theirs
    assert updated["SlackOptions"] == [{"WebhookName": "slack"}]
    assert has_destination(updated, PATH)
    # Idempotent: the same wish again needs no write.
    assert with_destination(updated, destination(NAME, URL, "t"), PATH) is None


def test_our_duplicates_become_one_and_a_new_address_replaces_the_old() -> None:
    old = {**destination(NAME, "http://old:8123" + PATH, "t"), "Future": 1}
    updated = with_destination(
        config(old, dict(old)), destination(NAME, URL, "t"), PATH
    )
    assert updated is not None
    (ours,) = updated["GenericOptions"]
    assert ours["WebhookUri"] == URL
    assert ours["Future"] == 1  # what a newer plugin added is kept


def test_a_manual_destination_for_the_group_becomes_ours() -> None:
    """Recognised by the group's webhook path (its secret id), not its name."""
    manual = {"WebhookName": "Home Assistant sync", "WebhookUri": URL}
    assert has_destination(config(manual), PATH)
    updated = with_destination(config(manual), destination(NAME, URL, "t"), PATH)
    assert updated is not None
    (ours,) = updated["GenericOptions"]
    assert ours["WebhookName"] == NAME
    renamed = destination("Jellyfin Sync: New name (Home Assistant)", URL, "t")
    again = with_destination(updated, renamed, PATH)
    assert again is not None
    assert [o["WebhookName"] for o in again["GenericOptions"]] == [
        renamed["WebhookName"]
    ]


def test_removing_takes_only_ours() -> None:
    theirs = {"WebhookName": "Mine", "WebhookUri": "http://x/hook"}
    updated = without_destination(config(theirs, destination(NAME, URL, "t")), PATH)
    assert updated is not None
    assert updated["GenericOptions"] == [theirs]
    assert without_destination(updated, PATH) is None


@pytest.mark.parametrize("bad", [[], {"GenericOptions": {}}, {"GenericOptions": "x"}])
def test_a_configuration_that_is_not_the_plugins_is_refused(bad: Any) -> None:
    with pytest.raises(JellyfinResponseError):
        with_destination(bad, destination(NAME, URL, "t"), PATH)


@pytest.mark.parametrize("bad", ["x", {"Name": "no id"}, {"Id": 5}])
def test_plugin_info_refuses_what_jellyfin_does_not_send(bad: Any) -> None:
    with pytest.raises(JellyfinResponseError):
        Plugin.from_json(bad)


@pytest.mark.parametrize("version", ["10.8.13", "10.10.7", "10.11.11", "12.0.0"])
async def test_client_reads_and_replaces_the_configuration(
    jellyfin_server_factory: Any, version: str
) -> None:
    server: SimulatedServer = await jellyfin_server_factory(
        name="Home", version=version
    )
    async with aiohttp.ClientSession() as session:
        client = JellyfinClient(server.url, server.api_key, session, retries=0)
        plugins = await client.get_plugins()
        webhook = next(p for p in plugins if p.id == WEBHOOK_PLUGIN_ID)
        assert webhook.active
        current = await client.get_plugin_configuration(WEBHOOK_PLUGIN_ID)
        wanted = destination(NAME, URL, "t", webhook.release)
        updated = with_destination(current, wanted, PATH)
        assert updated is not None
        await client.set_plugin_configuration(WEBHOOK_PLUGIN_ID, updated)
        assert has_destination(server.webhook_config or {}, PATH)

        server.faults.fail_route("POST", "/Plugins/{pluginId}/Configuration", 500)
        before = copy.deepcopy(server.webhook_config)
        removed = without_destination(updated, PATH)
        assert removed is not None
        with pytest.raises(JellyfinServerError):
            await client.set_plugin_configuration(WEBHOOK_PLUGIN_ID, removed)
        assert server.webhook_config == before  # nothing half-written

        server.uninstall_webhook_plugin()
        assert all(p.id != WEBHOOK_PLUGIN_ID for p in await client.get_plugins())
        with pytest.raises(JellyfinNotFoundError):
            await client.get_plugin_configuration(WEBHOOK_PLUGIN_ID)
