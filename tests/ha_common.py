"""Shared helpers of the Home Assistant tests (config flow, setup, entities, actions).

Everything runs against the Jellyfin simulator on 127.0.0.1; nothing here mocks
the client or the engine.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import datetime as dt
import ipaddress
from pathlib import Path
import ssl
from typing import Any

from aiohttp import ClientSession, web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from homeassistant.const import CONF_API_KEY, CONF_URL, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.jellyfin_sync import helpers
from custom_components.jellyfin_sync.const import (
    CONF_NAME,
    CONF_SERVER_ID,
    CONF_SERVERS,
    DOMAIN,
)
from custom_components.jellyfin_sync.helpers import group_title, group_unique_id
from custom_components.jellyfin_sync.options import default_options
from tests.simulator import LibrarySpec, SimItem, SimulatedServer

ServerFactory = Callable[..., Awaitable[SimulatedServer]]

SMALL_LIBRARY = LibrarySpec(
    seed=7, movies=12, series=2, seasons_per_series=1, episodes_per_season=3
)


@pytest.fixture(autouse=True)
def fast_client_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the client's retries but without real back-off sleeps."""
    monkeypatch.setattr(helpers, "CLIENT_RETRY_BACKOFF", 0.0)


def server_conf(server: SimulatedServer, **overrides: Any) -> dict[str, Any]:
    """The stored form of a simulated server in ``entry.data``."""
    conf = {
        CONF_SERVER_ID: server.server_id,
        CONF_NAME: server.name,
        CONF_URL: server.url,
        CONF_API_KEY: server.api_key,
        CONF_VERIFY_SSL: True,
    }
    conf.update(overrides)
    return conf


ENTRY_ID = "01JSYNCGROUPTEST000000000000"


def make_entry(
    hass: HomeAssistant,
    servers: list[SimulatedServer],
    options: dict[str, Any] | None = None,
    *,
    entry_id: str = ENTRY_ID,
) -> MockConfigEntry:
    """A config entry for a group of simulated servers, added to hass."""
    confs = [server_conf(s) for s in servers]
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id=entry_id,
        title=group_title(s.name for s in servers),
        unique_id=group_unique_id(s.server_id for s in servers),
        data={CONF_SERVERS: confs},
        options={**default_options(confs), **(options or {})},
        version=1,
        minor_version=1,
    )
    entry.add_to_hass(hass)
    return entry


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set an entry up and wait for its first cycle (a background task)."""
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
async def group(
    jellyfin_server_factory: ServerFactory,
) -> tuple[SimulatedServer, SimulatedServer]:
    """Two small 10.11 servers with the same media under different roots."""
    first = await jellyfin_server_factory(
        name="Home",
        version="10.11.11",
        server_id="a0000000000000000000000000000001",
        media_root="/media/home",
        library=SMALL_LIBRARY,
        users=["alice", "bob"],
    )
    second = await jellyfin_server_factory(
        name="Cabin",
        version="10.11.11",
        server_id="b0000000000000000000000000000002",
        media_root="/mnt/cabin",
        library=SMALL_LIBRARY,
        users=["alice", "bob"],
    )
    return first, second


def _self_signed(tmp: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp / "cert.pem"
    key_path = tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


@pytest.fixture
async def tls_proxy(
    tmp_path: Path,
) -> AsyncIterator[Callable[[SimulatedServer], Awaitable[str]]]:
    """Start an https reverse proxy with a self-signed certificate before a server."""
    runners: list[web.AppRunner] = []
    sessions: list[ClientSession] = []
    context = _self_signed(tmp_path)
    # A client refusing the certificate resets the handshake; in debug mode asyncio
    # reports that server-side reset to the loop's exception handler, which the
    # test harness counts as a failure. It is the expected outcome here.
    loop = asyncio.get_running_loop()
    debug = loop.get_debug()
    loop.set_debug(False)

    async def start(target: SimulatedServer) -> str:
        session = ClientSession()
        sessions.append(session)

        async def forward(request: web.Request) -> web.Response:
            async with session.request(
                request.method,
                f"{target.url}{request.rel_url}",
                headers={
                    k: v for k, v in request.headers.items() if k.lower() != "host"
                },
                data=await request.read(),
            ) as upstream:
                return web.Response(
                    status=upstream.status,
                    body=await upstream.read(),
                    content_type=upstream.content_type,
                )

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"https://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()
    for session in sessions:
        await session.close()
    loop.set_debug(debug)


@pytest.fixture
async def not_jellyfin() -> AsyncIterator[str]:
    """An HTTP server that answers like a router's web page, not like Jellyfin."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(
            text="<html><body>Router login</body></html>", content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def matchable_movies(server: SimulatedServer) -> list[SimItem]:
    """Movies other servers can match (by provider id; roots differ per server)."""
    return [i for i in server.items if i.type == "Movie" and i.provider_ids]


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Syrupy with Home Assistant's serializer, stored in ``tests/snapshots/``."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


async def registered_webhooks(
    hass: HomeAssistant, hass_ws_client: Any
) -> dict[str, dict[str, Any]]:
    """Webhooks Home Assistant has registered, through its public ``webhook/list``.

    The registry's own storage changed shape in Home Assistant 2026.x; the websocket
    command answers the same on every supported release.
    """
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "webhook/list"})
    reply = await client.receive_json()
    assert reply["success"], reply
    return {hook["webhook_id"]: hook for hook in reply["result"]}


def device_of(
    registry: dr.DeviceRegistry, identifier: tuple[str, str], entry_id: str
) -> dr.DeviceEntry | None:
    """The entry's device with an identifier, on every supported Home Assistant.

    2026.x looks devices up per config entry (``async_get_device_by_identifier``)
    and deprecates ``async_get_device``, which 2025.x offers alone.
    """
    lookup = getattr(registry, "async_get_device_by_identifier", None)
    if lookup is not None:
        found: dr.DeviceEntry | None = lookup(identifier, entry_id)
        return found
    return registry.async_get_device(identifiers={identifier})
