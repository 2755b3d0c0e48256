"""The simulator's ``/Plugins`` routes and Webhook plugin, rule by rule.

Sources: Jellyfin ``[vX] PC`` = ``Jellyfin.Api/Controllers/PluginsController.cs``;
the Webhook plugin ``[plugin vN] <path>`` under ``Jellyfin.Plugin.Webhook/``
(``jellyfin/jellyfin-plugin-webhook``). Each test names the lines it checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
from typing import Any

from aiohttp import ClientSession, web
import pytest

from tests.simulator import DEFAULT_WEBHOOK_TEMPLATE, LibrarySpec, conformance
from tests.simulator.http import RawClient
from tests.simulator.plugins import (
    WEBHOOK_PLUGIN_ID,
    decode_template,
    encode_template,
)

VERSIONS = ["10.8.13", "10.9.11", "10.10.7", "10.11.11", "12.0.0"]
#: Plugin release installed per version ([plugin vN] build.yaml targetAbi).
RELEASES = {
    "10.8.13": "11.0.0.0",
    "10.9.11": "15.0.0.0",
    "10.10.7": "17.0.0.0",
    "10.11.11": "21.0.0.0",
    "12.0.0": "21.0.0.0",
}
SPEC = LibrarySpec(
    seed=9,
    movies=4,
    series=1,
    seasons_per_series=1,
    episodes_per_season=2,
    home_videos=1,
    audiobooks=1,
    music_artists=1,
    albums_per_artist=1,
    tracks_per_album=2,
    boxsets=1,
)
CONFIG = f"/Plugins/{WEBHOOK_PLUGIN_ID}/Configuration"


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[ClientSession]:
    async with ClientSession() as client_session:
        yield client_session


class Receiver:
    """A local HTTP endpoint recording what the plugin posts."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        async def receive(request: web.Request) -> web.Response:
            self.calls.append(
                (request.path, await request.text(), dict(request.headers))
            )
            status = 500 if request.path == "/broken" else 200
            return web.Response(status=status, text="ok")

        app = web.Application()
        app.router.add_post("/{name}", receive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def url(self, name: str = "hook") -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def bodies(self, name: str = "hook") -> list[str]:
        return [body for path, body, _ in self.calls if path == f"/{name}"]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receiver(socket_enabled: None) -> AsyncIterator[Receiver]:
    hooks = Receiver()
    await hooks.start()
    try:
        yield hooks
    finally:
        await hooks.stop()


@pytest.fixture
def no_violations() -> Any:
    before = len(conformance.VIOLATIONS)
    yield
    recorded = conformance.VIOLATIONS[before:]
    assert recorded == [], "\n".join(str(v) for v in recorded)


# ------------------------------------------------------------------ /Plugins


@pytest.mark.parametrize("version", VERSIONS)
async def test_plugin_list_with_and_without_webhook(
    jellyfin_server_factory, session, no_violations, version
) -> None:
    """The listing has the bundled providers, plus the Webhook plugin when installed.

    ``[v10.10.7] PC:51-58`` ordered by name; ``LocalPlugin.cs:108-114``;
    bundled providers with the server version ([v10.10.7] PluginManager.cs:555-575);
    ``[plugin v21] WebhookPlugin.cs:38-41``, ``build.yaml:2``.
    """
    server = await jellyfin_server_factory(name="P", version=version, library=SPEC)
    raw = RawClient(session, server)
    listed = (await raw.get("/Plugins")).json()
    names = [p["Name"] for p in listed]
    assert names == sorted(names, key=str.casefold)
    webhook = next(p for p in listed if p["Id"] == WEBHOOK_PLUGIN_ID)
    assert webhook == {
        "Name": "Webhook",
        "Version": RELEASES[version],
        "ConfigurationFileName": "Jellyfin.Plugin.Webhook.xml",
        "Description": "Sends notifications to various services via webhooks.",
        "Id": WEBHOOK_PLUGIN_ID,
        "CanUninstall": True,
        "HasImage": True,
        "Status": "Active",
    }
    tmdb = next(p for p in listed if p["Name"] == "TMDb")
    assert tmdb["Version"] == version
    assert tmdb["CanUninstall"] is False
    assert ("ListenBrainz Similarity Provider" in names) == version.startswith("12")

    bare = await jellyfin_server_factory(
        name="Q", version=version, library=SPEC, webhook_plugin=False
    )
    listed = (await RawClient(session, bare).get("/Plugins")).json()
    assert WEBHOOK_PLUGIN_ID not in {p["Id"] for p in listed}
    assert bare.webhook_config is None


@pytest.mark.parametrize("version", VERSIONS)
async def test_plugin_routes_need_elevation_from_10_9(
    jellyfin_server_factory, session, no_violations, version
) -> None:
    """Who may use the plugin routes, per version.

    10.8: ``DefaultAuthorization`` on the controller ([v10.8.13] PC:24, 167-194):
    any user reads and replaces a configuration. 10.9+: ``RequiresElevation``
    ([v10.9.11] PC:25): 403 for a non-administrator; the API key is an admin.
    """
    server = await jellyfin_server_factory(name="A", version=version, library=SPEC)
    bob = RawClient(session, server, token=server.user_token("bob"))
    alice = RawClient(session, server, token=server.user_token("alice"))
    expected = 200 if version == "10.8.13" else 403
    assert (await bob.get("/Plugins")).status == expected
    assert (await bob.get(CONFIG)).status == expected
    posted = await bob.request("POST", CONFIG, json_body=server.webhook_config)
    assert posted.status == (204 if version == "10.8.13" else 403)
    assert (await alice.get(CONFIG)).status == 200
    nobody = RawClient(session, server, token="")
    assert (await nobody.get(CONFIG)).status == 401


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize("version", VERSIONS)
async def test_fresh_configuration_shape(
    jellyfin_server_factory, session, no_violations, version
) -> None:
    """A fresh install: empty ServerUrl, every destination array empty.

    ``[plugin v21] Configuration/PluginConfiguration.cs:23-35``: ServerUrl empty,
    every destination array empty; ``MqttOptions`` does not exist in v11
    ([plugin v11] same file).
    """
    server = await jellyfin_server_factory(name="F", version=version, library=SPEC)
    got = (await RawClient(session, server).get(CONFIG)).json()
    arrays = [
        "DiscordOptions",
        "GenericOptions",
        "GenericFormOptions",
        "GotifyOptions",
        "PushbulletOptions",
        "PushoverOptions",
        "SlackOptions",
        "SmtpOptions",
    ]
    if version != "10.8.13":
        arrays.append("MqttOptions")
    assert got == {"ServerUrl": "", **{name: [] for name in arrays}}
    assert got == server.webhook_config


@pytest.mark.parametrize("version", VERSIONS)
async def test_configuration_round_trip(
    jellyfin_server_factory, session, no_violations, version
) -> None:
    """POST replaces the configuration, GET returns it normalised.

    POST replaces the configuration, 204 ([v10.10.7] PC:188-208); GET returns
    it with the defaults of missing properties ([plugin v21] Destinations/
    BaseOption.cs:20-98, Generic/GenericOption.cs:13-27) and nulls omitted
    (``JsonDefaults.cs``: ``WhenWritingNull``); the template stays base64.
    """
    server = await jellyfin_server_factory(name="R", version=version, library=SPEC)
    raw = RawClient(session, server)
    template = '{"Item":"{{ItemId}}"}'
    sent = {
        "ServerUrl": "http://jf.local:8096",
        "GenericOptions": [
            {
                "WebhookName": "HA",
                "WebhookUri": "http://ha.local:8123/api/webhook/x",
                "NotificationTypes": ["UserDataSaved"],
                "EnableMovies": True,
                "Template": encode_template(template),
                "UserFilter": [server.users["alice"]],
                "Headers": [{"Key": "X-Token", "Value": "s3cret"}],
            }
        ],
    }
    assert (await raw.request("POST", CONFIG, json_body=sent)).status == 204
    got = (await raw.get(CONFIG)).json()
    option = got["GenericOptions"][0]
    assert option["WebhookUri"] == "http://ha.local:8123/api/webhook/x"
    assert option["NotificationTypes"] == ["UserDataSaved"]
    assert option["UserFilter"] == [server.users["alice"]]  # "N" format
    assert decode_template(option["Template"]) == template
    assert option["Fields"] == []
    assert option["EnableEpisodes"] is False
    assert option["SendAllProperties"] is False
    assert ("EnableWebhook" in option) == (version not in {"10.8.13", "10.9.11"})
    assert ("EnableVideos" in option) == (version not in {"10.8.13", "10.9.11"})
    assert ("TrimWhitespace" in option) == (version != "10.8.13")
    assert got["DiscordOptions"] == []
    assert server.webhook_config is not None
    assert server.webhook_config["ServerUrl"] == "http://jf.local:8096"
    # A destination without name or template: the nulls are omitted on output.
    bare = {"GenericOptions": [{"WebhookUri": "http://x/"}]}
    assert (await raw.request("POST", CONFIG, json_body=bare)).status == 204
    option = (await raw.get(CONFIG)).json()["GenericOptions"][0]
    assert "WebhookName" not in option
    assert "Template" not in option
    assert (await raw.get(CONFIG)).json()["ServerUrl"] == ""  # replaced, not merged


async def test_configuration_bodies_that_do_not_deserialise(
    jellyfin_server_factory, session
) -> None:
    """Bodies that do not deserialise: 500 and nothing changes.

    ``JsonSerializer.DeserializeAsync`` throws ``JsonException`` (not an
    ArgumentException): 500 "Error processing request." ([v10.10.7] PC:199,
    Middleware/ExceptionMiddleware.cs:123-136); nothing changes. A ``null`` body
    is no configuration: 204, nothing changes (PC:202-207). Names are matched
    case-sensitively (no ``PropertyNameCaseInsensitive`` in JsonDefaults.cs), so a
    camelCase body replaces the configuration with the defaults.
    """
    server = await jellyfin_server_factory(name="B", library=SPEC)
    raw = RawClient(session, server)
    server.webhooks.add("http://ha.local/hook")
    before = json.dumps(server.webhook_config, sort_keys=True)
    with conformance.allow_violations() as caught:
        for body in (
            b"{",
            b"",
            b"[]",
            b'{"GenericOptions": [{"EnableMovies": "yes"}]}',
        ):
            reply = await _post_raw(session, server, body)
            assert (reply.status, reply.text) == (500, "Error processing request.")
        assert json.dumps(server.webhook_config, sort_keys=True) == before
        reply = await _post_raw(
            session, server, b'{"GenericOptions": [{"UserFilter": ["x"]}]}'
        )
        assert reply.status == 500
        assert (await _post_raw(session, server, b"null")).status == 204
        assert json.dumps(server.webhook_config, sort_keys=True) == before
        camel = {"genericOptions": [{"webhookUri": "http://x/"}]}
        assert (await raw.request("POST", CONFIG, json_body=camel)).status == 204
    assert server.webhook_config is not None
    assert server.webhook_config["GenericOptions"] == []
    # The checker flags what the server silently drops.
    assert any("genericOptions" in v.message for v in caught)


async def _post_raw(session: ClientSession, server: Any, body: bytes) -> Any:
    async with session.post(
        server.url + CONFIG,
        data=body,
        headers={
            "Authorization": f'MediaBrowser Token="{server.api_key}"',
            "Content-Type": "application/json",
        },
    ) as resp:
        return type("Reply", (), {"status": resp.status, "text": await resp.text()})


@pytest.mark.parametrize("version", ["10.8.13", "12.0.0"])
async def test_unknown_or_uninstalled_plugin(
    jellyfin_server_factory, session, no_violations, version
) -> None:
    """Unknown or uninstalled plugins: 404; a non-Guid id: 400.

    ``GetPlugin(id)?.Instance is not IHasPluginConfiguration`` -> ``NotFound()``:
    404 ProblemDetails ([v10.10.7] PC:167-176, 191-197); a route value that is not
    a Guid fails model binding: 400. Uninstalling keeps the XML configuration
    (PluginManager.cs:649-654 deletes the plugin folder only).
    """
    server = await jellyfin_server_factory(name="U", version=version, library=SPEC)
    raw = RawClient(session, server)
    unknown = f"/Plugins/{'7' * 32}/Configuration"
    for method in ("GET", "POST"):
        reply = await raw.request(
            method, unknown, json_body={} if method == "POST" else None
        )
        assert reply.status == 404
        assert reply.content_type == "application/problem+json"
    assert (await raw.get("/Plugins/not-a-guid/Configuration")).status == 400
    server.webhooks.add("http://ha.local/hook")
    server.uninstall_webhook_plugin()
    assert (await raw.get(CONFIG)).status == 404
    assert (await raw.request("POST", CONFIG, json_body={})).status == 404
    server.install_webhook_plugin()
    assert [t.url for t in server.webhooks.targets] == ["http://ha.local/hook"]
    # Dashed or braced ids bind too (Guid route value).
    dashed = "/Plugins/71552A5A-5C5C-4350-A2AE-EBE451A30173/Configuration"
    assert (await raw.get(dashed)).status == 200


async def test_configuration_route_failure_changes_nothing(
    jellyfin_server_factory, session, no_violations
) -> None:
    """An injected failure of the configuration route leaves it as it was.

    ``faults.fail_route``: the handler does not run, 500 text (the exception
    middleware's answer), the stored configuration is untouched; the next POST
    works.
    """
    server = await jellyfin_server_factory(name="X", library=SPEC)
    raw = RawClient(session, server)
    server.faults.fail_route("POST", "/Plugins/{pluginId}/Configuration", status=500)
    new = {"GenericOptions": [{"WebhookUri": "http://x/", "NotificationTypes": []}]}
    reply = await raw.request("POST", CONFIG, json_body=new)
    assert (reply.status, reply.text) == (500, "Error processing request.")
    assert server.webhook_config is not None
    assert server.webhook_config["GenericOptions"] == []
    assert (await raw.get(CONFIG)).status == 200  # other routes unaffected
    assert (await raw.request("POST", CONFIG, json_body=new)).status == 204
    assert len(server.webhook_config["GenericOptions"]) == 1
    server.faults.fail_route("GET", "/Plugins", status=503, times=None)
    assert (await raw.get("/Plugins")).status == 503
    assert (await raw.get("/Plugins")).status == 503
    server.faults.clear()
    assert (await raw.get("/Plugins")).status == 200


# ------------------------------------------------------------------ sending


async def _save(server: Any, user: str, item_type: str) -> None:
    server.act(user).favorite(server.find_item(type=item_type).id, True)
    await server.webhooks.drain()


@pytest.mark.parametrize("version", VERSIONS)
async def test_add_keeps_the_old_behaviour(
    jellyfin_server_factory, receiver, no_violations, version
) -> None:
    """``webhooks.add`` configures a destination that behaves as before.

    ``webhooks.add``: an enabled Generic destination for ``UserDataSaved``
    (``[plugin v21] Destinations/NotificationType.cs:126``) with every flag on,
    the template base64 (BaseOption.cs:104-107), ``Content-Type`` header
    (GenericClient.cs:63-83).
    """
    server = await jellyfin_server_factory(name="O", version=version, library=SPEC)
    option = server.webhooks.add(receiver.url())
    assert decode_template(option["Template"]) == DEFAULT_WEBHOOK_TEMPLATE
    assert option["NotificationTypes"] == ["UserDataSaved"]
    assert option["UserFilter"] == []
    await _save(server, "alice", "Movie")
    (body,) = receiver.bodies()
    assert json.loads(body)["NotificationType"] == "UserDataSaved"
    (delivery,) = server.webhooks.deliveries
    assert delivery.headers["Content-Type"] == "application/json; charset=utf-8"
    assert delivery.status == 200
    assert server.webhooks.sent == 1
    server.webhooks.clear()
    await _save(server, "alice", "Episode")
    assert len(receiver.calls) == 1


@pytest.mark.parametrize("version", VERSIONS)
async def test_enable_webhook(
    jellyfin_server_factory, receiver, no_violations, version
) -> None:
    """Disabled destinations are skipped where the plugin knows the switch.

    ``option.EnableWebhook && NotifyOnItem`` ([plugin v21] WebhookSender.cs:185);
    the property exists from plugin v16: v11 and v15 ignore it and send.
    """
    server = await jellyfin_server_factory(name="E", version=version, library=SPEC)
    server.webhooks.add(receiver.url("off"))
    server.webhooks.add(receiver.url("on"))
    assert server.webhook_config is not None
    server.webhook_config["GenericOptions"][0]["EnableWebhook"] = False
    await _save(server, "alice", "Movie")
    assert len(receiver.bodies("on")) == 1
    old = version in {"10.8.13", "10.9.11"}
    assert len(receiver.bodies("off")) == (1 if old else 0)


async def test_notification_type_filter(
    jellyfin_server_factory, receiver, no_violations
) -> None:
    """Only destinations subscribed to ``UserDataSaved`` get a request.

    ``GenericOptions.Where(o => o.NotificationTypes.Contains(type))``
    ([plugin v21] WebhookSender.cs:87-91): only ``UserDataSaved`` destinations.
    """
    server = await jellyfin_server_factory(name="N", library=SPEC)
    server.webhooks.add(receiver.url("playback"), NotificationTypes=["PlaybackStart"])
    server.webhooks.add(receiver.url("none"), NotificationTypes=[])
    server.webhooks.add(
        receiver.url("saved"), NotificationTypes=["ItemAdded", "UserDataSaved"]
    )
    await _save(server, "alice", "Movie")
    assert [path for path, _, _ in receiver.calls] == ["/saved"]


@pytest.mark.parametrize("version", ["10.8.13", "10.10.7", "12.0.0"])
async def test_item_type_flags(
    jellyfin_server_factory, receiver, no_violations, version
) -> None:
    """Which item types notify, per flag and plugin release.

    ``NotifyOnItem`` compares the exact runtime type ([plugin v21]
    WebhookSender.cs:136-180): Movie/Episode/Series/Season/MusicAlbum/Audio/Video
    with EnableMovies/-Episodes/-Series/-Seasons/-Albums/-Songs/-Videos; AudioBook,
    BoxSet, MusicArtist, never; Video only from plugin v16 (EnableVideos).
    """
    server = await jellyfin_server_factory(name="T", version=version, library=SPEC)
    server.webhooks.add(receiver.url("all"))
    server.webhooks.add(receiver.url("movies"), EnableEpisodes=False, EnableSongs=False)
    sent_for = {}
    for item_type in (
        "Movie",
        "Episode",
        "Series",
        "Season",
        "Audio",
        "MusicAlbum",
        "Video",
        "AudioBook",
        "BoxSet",
        "MusicArtist",
    ):
        before = len(receiver.calls)
        await _save(server, "alice", item_type)
        sent_for[item_type] = sorted(p for p, _, _ in receiver.calls[before:])
    video = [] if version == "10.8.13" else ["/all", "/movies"]
    assert sent_for == {
        "Movie": ["/all", "/movies"],
        "Episode": ["/all"],
        "Series": ["/all", "/movies"],
        "Season": ["/all", "/movies"],
        "Audio": ["/all"],
        "MusicAlbum": ["/all", "/movies"],
        "Video": video,
        "AudioBook": [],
        "BoxSet": [],
        "MusicArtist": [],
    }


async def test_user_filter(jellyfin_server_factory, receiver, no_violations) -> None:
    """The user filter limits a destination to the listed users.

    ``BaseClient.SendWebhook``: an empty filter sends for everyone, otherwise
    only the listed user ids ([plugin v21] Destinations/BaseClient.cs:19-38).
    """
    server = await jellyfin_server_factory(name="U2", library=SPEC)
    server.webhooks.add(receiver.url("alice"), UserFilter=[server.users["alice"]])
    server.webhooks.add(receiver.url("all"))
    await _save(server, "bob", "Movie")
    await _save(server, "alice", "Episode")
    assert len(receiver.bodies("all")) == 2
    (only,) = receiver.bodies("alice")
    assert json.loads(only)["NotificationUsername"] == "alice"


async def test_headers_fields_and_body_options(
    jellyfin_server_factory, receiver, no_violations
) -> None:
    """Headers, fields and the body options shape the request.

    GenericClient.cs:45-83: empty keys/values skipped; ``Content-Type`` sets the
    content type (``text/plain`` otherwise), others sent as headers; ``Fields``
    enter the shared data object (later destinations see them). BaseOption.cs:
    114-121: ``SendAllProperties`` ignores the template and serialises the data
    (Guids "N"); ``TrimWhitespace``; BaseClient.cs:47-59 ``SkipEmptyMessageBody``.
    """
    server = await jellyfin_server_factory(name="H", library=SPEC)
    server.webhooks.add(
        receiver.url("plain"),
        template="  {{Name}} {{Extra}}  ",
        headers={"X-Token": "abc", "X-Empty": ""},
        Fields=[{"Key": "Extra", "Value": "field!"}],
        TrimWhitespace=True,
    )
    server.webhooks.add(receiver.url("all"), SendAllProperties=True)
    server.webhooks.add(
        receiver.url("empty"), template="   ", SkipEmptyMessageBody=True
    )
    server.webhooks.add(receiver.url("blank"), template="   ")
    await _save(server, "alice", "Movie")
    movie = server.find_item(type="Movie")
    (plain,) = [c for c in receiver.calls if c[0] == "/plain"]
    assert plain[1] == f"{movie.name} field!"
    assert plain[2]["X-Token"] == "abc"
    assert "X-Empty" not in plain[2]
    assert plain[2]["Content-Type"] == "text/plain; charset=utf-8"
    everything = json.loads(receiver.bodies("all")[0])
    assert everything["UserId"] == server.users["alice"]
    assert everything["ItemId"] == movie.id
    assert everything["Favorite"] is True
    assert everything["Extra"] == "field!"  # from the first destination's Fields
    assert receiver.bodies("empty") == []
    assert receiver.bodies("blank") == ["   "]


async def test_a_failing_destination_does_not_stop_the_others(
    jellyfin_server_factory, receiver, no_violations
) -> None:
    """A failing destination does not stop the others.

    Errors are caught per destination and logged, no retry ([plugin v21]
    WebhookSender.cs:185-196, GenericClient.cs:90-93); a non-2xx answer is only
    logged (Extensions/HttpResponseMessageExtensions.cs:18-39).
    """
    server = await jellyfin_server_factory(name="D", library=SPEC)
    server.webhooks.add("http://127.0.0.1:9/nothing-listens")
    server.webhooks.add(receiver.url("broken"))
    server.webhooks.add("not a url")
    server.webhooks.add(receiver.url("hook"))
    await _save(server, "alice", "Movie")
    assert len(receiver.bodies("hook")) == 1
    assert len(receiver.bodies("broken")) == 1
    assert server.webhooks.failed == 2
    assert server.webhooks.sent == 2
    statuses = [d.status for d in server.webhooks.deliveries]
    assert statuses == [None, 500, 200]


async def test_no_plugin_no_notifications(
    jellyfin_server_factory, receiver, no_violations
) -> None:
    """Without the plugin nothing listens to ``UserDataSaved``; ``add`` refuses."""
    server = await jellyfin_server_factory(name="Z", library=SPEC, webhook_plugin=False)
    with pytest.raises(RuntimeError):
        server.webhooks.add(receiver.url())
    server.install_webhook_plugin()
    server.webhooks.add(receiver.url())
    server.uninstall_webhook_plugin()
    await _save(server, "alice", "Movie")
    await asyncio.sleep(0)
    assert receiver.calls == []
