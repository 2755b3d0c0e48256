"""HTTP-level tests of the Jellyfin client against a scripted aiohttp server.

The scripted server gives exact control where the simulator does not: duplicate items
across pages, Retry-After values, hanging answers, wrong shapes. Behaviour against a
Jellyfin-like server per version is in test_client_simulator.py.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass
import json
import re
import socket
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.jellyfin_sync.jellyfin import (
    CLIENT_VERSION,
    Item,
    JellyfinAuthError,
    JellyfinClient,
    JellyfinConnectionError,
    JellyfinError,
    JellyfinNotFoundError,
    JellyfinRequestError,
    JellyfinResponseError,
    JellyfinServerError,
    JellyfinStartingError,
    JellyfinTimeoutError,
    JellyfinUnsupportedError,
    JellyfinVerificationError,
    SyncField,
    UserData,
    normalize_url,
)
from custom_components.jellyfin_sync.jellyfin.client import parse_retry_after

API_KEY = "0123456789abcdef0123456789abcdef"
SERVER_ID = "f" * 32
USER = "a" * 32
ITEM = "b" * 32
D1 = "2025-01-02T03:04:05.0000000Z"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    """One request the scripted server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    raw_url: str


def reply(
    status: int = 200,
    payload: Any = None,
    *,
    text: str | None = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Handler:
    """A handler answering with fixed content."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = text if text is not None else json.dumps(payload)
        return web.Response(
            status=status, text=body, content_type=content_type, headers=headers
        )

    return handler


def user_data_json(**overrides: Any) -> dict[str, Any]:
    data = {
        "PlaybackPositionTicks": 0,
        "PlayCount": 0,
        "IsFavorite": False,
        "Played": False,
        "Key": "603",
    }
    data.update(overrides)
    return data


def item_json(item_id: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "Id": item_id,
        "Name": f"item {item_id[:4]}",
        "Type": "Movie",
        "UserData": user_data_json(),
    }
    data.update(overrides)
    return data


def info_json(version: str) -> dict[str, Any]:
    return {
        "Id": SERVER_ID,
        "ServerName": "scripted",
        "Version": version,
        "ProductName": "Jellyfin Server",
        "StartupWizardCompleted": True,
    }


class ScriptedServer:
    """An aiohttp server whose answers each test scripts per route."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.routes: dict[tuple[str, str], list[Handler]] = {}
        self.url = ""
        self.in_flight = 0
        self.max_in_flight = 0

    def route(self, method: str, path: str, *handlers: Handler) -> None:
        """Answer with the handlers in turn; the last one repeats."""
        self.routes[(method, path)] = list(handlers)

    def version(self, version: str) -> None:
        self.route("GET", "/System/Info", reply(payload=info_json(version)))

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            Seen(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                await request.read(),
                str(request.url),
            )
        )
        handlers = self.routes.get((request.method, request.path))
        if not handlers:
            return web.Response(status=404, text="no route")
        handler = handlers.pop(0) if len(handlers) > 1 else handlers[0]
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1


@contextlib.asynccontextmanager
async def scripted_server() -> AsyncIterator[ScriptedServer]:
    scripted = ScriptedServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", scripted.dispatch)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    scripted.url = f"http://127.0.0.1:{port}"
    try:
        yield scripted
    finally:
        await runner.cleanup()


@pytest.fixture
async def server(socket_enabled: None) -> AsyncIterator[ScriptedServer]:
    async with scripted_server() as scripted:
        yield scripted


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def make_client(
    server: ScriptedServer, session: aiohttp.ClientSession, **kwargs: Any
) -> tuple[JellyfinClient, list[float]]:
    """A client whose backoff sleeps are recorded instead of waited."""
    kwargs.setdefault("retry_backoff", 1.0)
    client = JellyfinClient(server.url, API_KEY, session, **kwargs)
    slept: list[float] = []

    async def record(delay: float) -> None:
        slept.append(delay)

    client._sleep = record  # type: ignore[method-assign]
    return client, slept


# ----------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://jf:8096", "http://jf:8096"),
        ("http://jf:8096/", "http://jf:8096"),
        (" jf.local:8096/jellyfin/ ", "http://jf.local:8096/jellyfin"),
        ("https://jf.example.com/?x=1#frag", "https://jf.example.com"),
        ("HTTPS://JF.example.com", "https://jf.example.com"),
    ],
)
def test_normalize_url(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


@pytest.mark.parametrize("raw", ["ftp://jf", "http://", "http://jf:99999", "   "])
def test_normalize_url_rejects(raw: str) -> None:
    with pytest.raises(JellyfinConnectionError, match="invalid server URL"):
        normalize_url(raw)


def test_parse_retry_after() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("nan") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT") > 1e9


async def test_constructor_validates(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError, match="API key"):
        JellyfinClient("http://jf", " ", session)
    with pytest.raises(ValueError, match="positive"):
        JellyfinClient("http://jf", API_KEY, session, page_size=0)
    with pytest.raises(ValueError, match="negative"):
        JellyfinClient("http://jf", API_KEY, session, retries=-1)
    client = JellyfinClient("http://jf:8096/", API_KEY, session)
    assert client.url == "http://jf:8096"
    assert API_KEY not in repr(client)
    async with client as entered:
        assert entered is client
    assert not session.closed


def test_client_version_matches_manifest() -> None:
    manifest = json.loads(
        open("custom_components/jellyfin_sync/manifest.json", encoding="utf-8").read()  # noqa: PTH123, SIM115
    )
    assert manifest["version"] == CLIENT_VERSION


# ------------------------------------------------------------ auth and identity

AUTH = re.compile(
    r'^MediaBrowser Token="(?P<token>[^"]*)", Client="(?P<client>[^"]*)", '
    r'Device="(?P<device>[^"]*)", DeviceId="(?P<device_id>[^"]*)", '
    r'Version="(?P<version>[^"]*)"$'
)


async def test_authorization_header_only(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    client, _ = make_client(server, session)
    await client.get_system_info()
    await JellyfinClient(server.url, API_KEY, session).get_system_info()
    first, second = server.seen
    match = AUTH.match(first.headers["Authorization"])
    assert match is not None
    assert match["token"] == API_KEY
    assert match["client"] == "Jellyfin%20Sync"
    assert match["device"] == "Home%20Assistant"
    assert match["version"] == CLIENT_VERSION
    assert match["device_id"] == client.device_id
    # Stable: a new client for the same server sends the same DeviceId.
    assert second.headers["Authorization"] == first.headers["Authorization"]
    other = JellyfinClient("http://elsewhere:8096", API_KEY, session)
    assert other.device_id != client.device_id
    # No legacy headers, no key in the URL.
    for seen in server.seen:
        assert not {h.lower() for h in seen.headers} & {
            "x-emby-token",
            "x-emby-authorization",
            "x-mediabrowser-token",
        }
        assert API_KEY not in seen.raw_url


async def test_custom_identity_is_url_encoded(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    client, _ = make_client(
        server,
        session,
        device_id="dev-1",
        client_name='HA "sync", one',
        client_version="2.0",
    )
    await client.get_system_info()
    match = AUTH.match(server.seen[0].headers["Authorization"])
    assert match is not None
    assert match["client"] == "HA%20%22sync%22%2C%20one"
    assert match["device_id"] == "dev-1"
    assert match["version"] == "2.0"


async def test_public_info_is_anonymous_and_cached(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.route("GET", "/System/Info/Public", reply(payload=info_json("10.9.11")))
    client, _ = make_client(server, session)
    assert client.server_info is None
    with pytest.raises(JellyfinError, match="version unknown"):
        _ = client.capabilities
    info = await client.get_public_info()
    assert info.id == SERVER_ID
    assert info.version_tuple == (10, 9, 11)
    assert client.server_info == info
    assert client.capabilities.generic_user_data
    header = server.seen[0].headers["Authorization"]
    assert "Token=" not in header
    assert API_KEY not in header
    assert header.startswith('MediaBrowser Client="Jellyfin%20Sync"')


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (
            reply(payload=info_json("4.9.0") | {"ProductName": "Emby Server"}),
            "not a Jellyfin server",
        ),
        (
            reply(text="<html><body>Login</body></html>", content_type="text/html"),
            "HTML page",
        ),
        (reply(payload={"ServerName": "x"}), "missing field 'Id'"),
        (reply(payload=["not", "an", "object"]), "not a JSON object"),
        (
            reply(text='{"Id": "abc", "Vers', content_type="application/json"),
            "not valid JSON",
        ),
    ],
)
async def test_public_info_rejects_what_jellyfin_does_not_send(
    server: ScriptedServer,
    session: aiohttp.ClientSession,
    handler: Handler,
    message: str,
) -> None:
    server.route("GET", "/System/Info/Public", handler)
    client, _ = make_client(server, session)
    with pytest.raises(JellyfinResponseError, match=message) as info:
        await client.get_public_info()
    assert "/System/Info/Public" in str(info.value)
    assert client.server_info is None


async def test_old_versions_are_unsupported(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.7.7")
    client, _ = make_client(server, session)
    with pytest.raises(JellyfinUnsupportedError, match=r"10\.7\.7 is not supported"):
        await client.get_user_data(USER, ITEM)


async def test_validate_admin_key(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.11.11")
    server.route(
        "GET",
        "/Users/Me",
        reply(400, {"title": "Guid can't be empty"}),
        reply(payload={"Id": USER, "Name": "alice"}),
    )
    client, slept = make_client(server, session)
    info = await client.validate_admin_key()
    assert info.version == "10.11.11"
    assert slept == []  # the 400 was not retried
    with pytest.raises(JellyfinAuthError, match="not an API key"):
        await client.validate_admin_key()


async def test_bad_key_is_an_auth_error(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.route("GET", "/System/Info", reply(401, text="", content_type="text/plain"))
    client, slept = make_client(server, session)
    with pytest.raises(JellyfinAuthError, match="rejected the API key") as info:
        await client.validate_admin_key()
    assert slept == []
    assert API_KEY not in str(info.value)
    assert len(server.seen) == 1


async def test_get_users_filters(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    users = [
        {"Id": "1" * 32, "Name": "alice", "Policy": {"IsAdministrator": True}},
        {"Id": "2" * 32, "Name": "bob", "Policy": {"IsHidden": True}},
        {"Id": "3" * 32, "Name": "carol", "Policy": {"IsDisabled": True}},
    ]
    server.route("GET", "/Users", reply(payload=users))
    client, _ = make_client(server, session)
    default = await client.get_users()
    assert [u.name for u in default] == ["alice", "bob"]
    assert default[0].is_administrator
    assert [u.name for u in await client.get_users(include_hidden=False)] == ["alice"]
    assert len(await client.get_users(include_disabled=True)) == 3
    server.route("GET", "/Users", reply(payload={"Items": users}))
    with pytest.raises(JellyfinResponseError, match="not a JSON list"):
        await client.get_users()
    server.route("GET", "/Users", reply(payload=[{"Name": "no id"}]))
    with pytest.raises(JellyfinResponseError, match=r"GET /Users: missing field 'Id'"):
        await client.get_users()


# ---------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, JellyfinRequestError),
        (401, JellyfinAuthError),
        (403, JellyfinAuthError),
        (404, JellyfinNotFoundError),
        (405, JellyfinRequestError),
        (500, JellyfinServerError),
        (501, JellyfinServerError),
        (502, JellyfinServerError),
        (503, JellyfinStartingError),
        (504, JellyfinServerError),
    ],
)
async def test_status_mapping(
    server: ScriptedServer,
    session: aiohttp.ClientSession,
    status: int,
    error: type[JellyfinError],
) -> None:
    server.version("10.10.7")
    path = f"/UserItems/{ITEM}/UserData"
    server.route(
        "GET",
        path,
        reply(status, text="Error processing request.", content_type="text/plain"),
    )
    client, _ = make_client(server, session, retries=0)
    with pytest.raises(error) as info:
        await client.get_user_data(USER, ITEM)
    assert type(info.value) is error
    assert f"HTTP {status}" in str(info.value)
    assert f"GET {path}" in str(info.value)
    if isinstance(info.value, JellyfinServerError):
        assert info.value.status == status


async def test_retries_and_their_limit(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    path = f"/UserItems/{ITEM}/UserData"
    server.route("GET", path, reply(500, text="boom", content_type="text/plain"))
    client, slept = make_client(server, session, retries=3, retry_backoff=0.5)
    with pytest.raises(JellyfinServerError):
        await client.get_user_data(USER, ITEM)
    assert len(server.calls("GET", path)) == 4
    assert slept == [0.5, 1.0, 2.0]
    stats = client.request_stats
    assert stats.retries == 3
    assert stats.requests == 5  # System/Info + 4 attempts


async def test_retry_recovers(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    path = f"/UserItems/{ITEM}/UserData"
    server.route(
        "GET",
        path,
        reply(502, text="bad gateway", content_type="text/plain"),
        reply(payload=user_data_json(Played=True, PlayCount=2)),
    )
    client, slept = make_client(server, session)
    data = await client.get_user_data(USER, ITEM)
    assert data == UserData(played=True, play_count=2)
    assert slept == [1.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 501])
async def test_never_retries_4xx_or_unknown_5xx(
    server: ScriptedServer, session: aiohttp.ClientSession, status: int
) -> None:
    server.version("10.10.7")
    path = f"/UserItems/{ITEM}/UserData"
    server.route("GET", path, reply(status, text="no", content_type="text/plain"))
    client, slept = make_client(server, session, retries=5)
    with pytest.raises(JellyfinError):
        await client.get_user_data(USER, ITEM)
    assert len(server.calls("GET", path)) == 1
    assert slept == []


async def test_honours_retry_after(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.route(
        "GET",
        "/System/Info",
        reply(
            503,
            text="<html>starting</html>",
            content_type="text/html",
            headers={"Retry-After": "7"},
        ),
        reply(503, text="<html>starting</html>", content_type="text/html"),
        reply(payload=info_json("10.11.11")),
    )
    client, slept = make_client(server, session, retry_backoff=0.25)
    info = await client.get_system_info()
    assert info.version == "10.11.11"
    # The hint wins over the shorter backoff; without a hint the backoff applies.
    assert slept == [7.0, 0.5]


async def test_too_long_retry_after_is_raised_at_once(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.route(
        "GET",
        "/System/Info",
        reply(503, text="", content_type="text/html", headers={"Retry-After": "600"}),
    )
    client, slept = make_client(server, session, max_retry_after=60)
    with pytest.raises(JellyfinStartingError) as info:
        await client.get_system_info()
    assert info.value.retry_after == 600.0
    assert slept == []
    assert len(server.seen) == 1


async def test_timeout(server: ScriptedServer, session: aiohttp.ClientSession) -> None:
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.StreamResponse:
        await never.wait()
        return web.Response(status=200)

    server.route("GET", "/System/Info", hang)
    client, slept = make_client(server, session, request_timeout=0.05, retries=1)
    with pytest.raises(JellyfinTimeoutError, match=r"no answer within 0\.05 s"):
        await client.get_system_info()
    assert len(server.seen) == 2
    assert slept == [1.0]
    never.set()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused(session: aiohttp.ClientSession) -> None:
    client = JellyfinClient(
        f"http://127.0.0.1:{free_port()}", API_KEY, session, retries=2
    )
    slept: list[float] = []

    async def record(delay: float) -> None:
        slept.append(delay)

    client._sleep = record  # type: ignore[method-assign]
    with pytest.raises(
        JellyfinConnectionError, match="cannot reach the server"
    ) as info:
        await client.get_public_info()
    assert not isinstance(info.value, JellyfinTimeoutError)
    assert slept == [1.0, 2.0]
    assert client.request_stats.requests == 3
    assert API_KEY not in str(info.value)


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (reply(payload={"Items": "nope"}), "no Items list"),
        (reply(payload=[]), "no Items list"),
        (
            reply(payload={"Items": [{"Name": "x", "Type": "Movie"}]}),
            "missing field 'Id'",
        ),
        (
            reply(payload={"Items": [item_json(ITEM, UserData={"Played": "yes"})]}),
            "field 'Played' has type str",
        ),
        (
            reply(
                payload={
                    "Items": [
                        item_json(
                            ITEM, UserData=user_data_json(LastPlayedDate="last week")
                        )
                    ]
                }
            ),
            "invalid date",
        ),
        (
            reply(text='{"Items": [{"Id": "bbbb', content_type="application/json"),
            "not valid JSON",
        ),
        (
            reply(
                text="<!doctype html><title>Sign in</title>", content_type="text/html"
            ),
            "HTML page",
        ),
    ],
)
async def test_bad_pages_raise_response_errors(
    server: ScriptedServer,
    session: aiohttp.ClientSession,
    handler: Handler,
    message: str,
) -> None:
    server.version("10.10.7")
    server.route("GET", "/Items", handler)
    client, slept = make_client(server, session)
    with pytest.raises(JellyfinResponseError, match=message) as info:
        async for _ in client.iter_items(USER):
            pass
    assert "GET /Items" in str(info.value)
    assert slept == []  # a malformed answer is not retried


# ------------------------------------------------------------------------ paging


def ids(n: int) -> list[str]:
    return [f"{i:032x}" for i in range(n)]


async def test_paging_deduplicates_and_streams(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    every = ids(7)
    # Page 2 repeats two items of page 1 (the server's order shifted between
    # requests); the empty fourth page is short and ends the listing.
    answers = iter([every[0:3], [every[1], every[2], every[3]], every[4:7], []])

    async def items(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"Items": [item_json(i) for i in next(answers)], "TotalRecordCount": 7}
        )

    server.route("GET", "/Items", items)
    client, _ = make_client(server, session, page_size=3)
    seen_pages = [[item.id for item in page] async for page in client.iter_items(USER)]
    assert seen_pages == [every[0:3], [every[3]], every[4:7]]
    calls = server.calls("GET", "/Items")
    assert [c.query["startIndex"] for c in calls] == ["0", "3", "6", "9"]
    assert [c.query["enableTotalRecordCount"] for c in calls] == [
        "true",
        "false",
        "false",
        "false",
    ]
    first = calls[0].query
    assert first["userId"] == USER
    assert first["limit"] == "3"
    assert first["recursive"] == "true"
    assert first["enableImages"] == "false"
    assert first["enableUserData"] == "true"
    assert first["includeItemTypes"] == "Movie,Episode"
    assert first["fields"] == "ProviderIds,Path"
    assert first["sortBy"] == "DateCreated,SortName"
    assert first["excludeLocationTypes"] == "Virtual"
    assert first["collapseBoxSetItems"] == "false"


async def test_paging_second_pass_finds_items_skipped_by_unstable_order(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    every = ids(4)
    answers = iter(
        [
            # First pass: item 2 slid from page 2 to page 1 while paging, so
            # item 1 is repeated and item 2 never shows.
            (every[0:2], 4),
            ([every[1], every[3]], 4),
            ([], 4),
            # Second pass sees the settled order.
            (every[0:2], 4),
            (every[2:4], 4),
        ]
    )

    async def items(request: web.Request) -> web.StreamResponse:
        page, total = next(answers)
        return web.json_response(
            {"Items": [item_json(i) for i in page], "TotalRecordCount": total}
        )

    server.route("GET", "/Items", items)
    client, _ = make_client(server, session, page_size=2)
    result = [item.id async for page in client.iter_items(USER) for item in page]
    assert sorted(result) == every
    assert len(result) == len(set(result))
    # The second pass stops as soon as the total is reached.
    assert len(server.calls("GET", "/Items")) == 5


async def test_paging_stops_when_the_server_does_not_advance(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    every = ids(2)
    server.route(
        "GET",
        "/Items",
        reply(payload={"Items": [item_json(i) for i in every], "TotalRecordCount": 2}),
    )
    client, _ = make_client(server, session, page_size=2)
    pages = [page async for page in client.iter_items(USER)]
    assert [[i.id for i in p] for p in pages] == [every]
    assert len(server.calls("GET", "/Items")) == 2


async def test_paging_filters_and_route_on_10_8(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.8.13")
    path = f"/Users/{USER}/Items"
    server.route("GET", path, reply(payload={"Items": [], "TotalRecordCount": 0}))
    client, _ = make_client(server, session)
    pages = [
        page
        async for page in client.iter_items(
            USER,
            item_types=("Series",),
            fields=("ProviderIds",),
            is_played=True,
            is_favorite=False,
            filters=("IsResumable", "Likes"),
            parent_id="c" * 32,
            page_size=50,
        )
    ]
    assert pages == []
    (call,) = server.calls("GET", path)
    assert "userId" not in call.query
    assert call.query["isPlayed"] == "true"
    assert call.query["isFavorite"] == "false"
    assert call.query["filters"] == "IsResumable,Likes"
    assert call.query["parentId"] == "c" * 32
    assert call.query["includeItemTypes"] == "Series"
    assert call.query["limit"] == "50"


async def test_listing_without_user_needs_no_version(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.route("GET", "/Items", reply(payload={"Items": [item_json(ITEM)]}))
    client, _ = make_client(server, session)
    pages = [p async for p in client.iter_items(None, enable_user_data=False)]
    assert [i.id for p in pages for i in p] == [ITEM]
    assert [s.path for s in server.seen] == ["/Items"]
    with pytest.raises(ValueError, match="need a user"):
        async for _ in client.iter_items(None, is_played=True):
            pass
    with pytest.raises(ValueError, match="invalid item id"):
        async for _ in client.iter_items(USER, ids=["../System"]):
            pass
    # No ids means no items, not the whole library; nothing is requested.
    assert [p async for p in client.iter_items(USER, ids=[])] == []
    assert await client.get_items(USER, []) == []
    assert [s.path for s in server.seen] == ["/Items"]


async def test_get_items_chunks_long_id_lists(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    wanted = ids(250)

    async def items(request: web.Request) -> web.StreamResponse:
        asked = request.query["ids"].split(",")
        # Unknown ids are simply missing from Jellyfin's answer.
        found = [i for i in asked if i != wanted[5]]
        return web.json_response({"Items": [item_json(i) for i in found]})

    server.route("GET", "/Items", items)
    client, _ = make_client(server, session, max_concurrency=2)
    result = await client.get_items(USER, [*wanted, wanted[0]], fields=("Path",))
    assert {i.id for i in result} == set(wanted) - {wanted[5]}
    assert len(result) == 249
    calls = server.calls("GET", "/Items")
    assert sorted(len(c.query["ids"].split(",")) for c in calls) == [50, 100, 100]
    assert all("includeItemTypes" not in c.query for c in calls)
    assert all("excludeLocationTypes" not in c.query for c in calls)
    assert all(c.query["fields"] == "Path" for c in calls)
    assert server.max_in_flight <= 2


async def test_concurrency_is_bounded(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    release = asyncio.Event()
    three_in = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        if server.in_flight >= 3:
            three_in.set()
        async with asyncio.timeout(5):
            await release.wait()
        return web.json_response(user_data_json())

    server.route("GET", f"/UserItems/{ITEM}/UserData", held)
    client, _ = make_client(server, session, max_concurrency=3)
    await client.get_system_info()
    reads = asyncio.gather(*(client.get_user_data(USER, ITEM) for _ in range(12)))
    async with asyncio.timeout(5):
        await three_in.wait()
    # Give requests beyond the limit every chance to arrive before releasing.
    await asyncio.sleep(0.05)
    assert server.in_flight == 3
    release.set()
    assert len(await reads) == 12
    assert server.max_in_flight == 3


# -------------------------------------------------------------------- user data


async def test_get_user_data_on_10_8_lists_by_id(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.8.13")
    path = f"/Users/{USER}/Items"
    server.route(
        "GET",
        path,
        reply(
            payload={
                "Items": [item_json(ITEM, UserData=user_data_json(IsFavorite=True))]
            }
        ),
        reply(payload={"Items": []}),
    )
    client, _ = make_client(server, session)
    assert await client.get_user_data(USER, ITEM) == UserData(is_favorite=True)
    assert server.calls("GET", path)[0].query["ids"] == ITEM
    with pytest.raises(JellyfinNotFoundError):
        await client.get_user_data(USER, ITEM)


async def test_set_user_data_10_9_one_generic_update(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.9.11")
    answer = user_data_json(
        Played=True,
        PlayCount=2,
        PlaybackPositionTicks=7,
        LastPlayedDate=D1,
        IsFavorite=True,
        Rating=7.5,
    )
    server.route("POST", f"/UserItems/{ITEM}/UserData", reply(payload=answer))
    client, _ = make_client(server, session)
    desired = UserData.from_json(answer)
    result = await client.set_user_data(USER, ITEM, desired, list(SyncField))
    assert result == desired
    (call,) = server.calls("POST", f"/UserItems/{ITEM}/UserData")
    assert call.query == {"userId": USER}
    assert call.headers["Content-Type"] == "application/json"
    assert json.loads(call.body) == {
        "Played": True,
        "PlayCount": 2,
        "PlaybackPositionTicks": 7,
        "LastPlayedDate": D1,
        "IsFavorite": True,
        "Rating": 7.5,
    }
    assert client.request_stats.bytes_out == len(call.body)
    # The System/Info and POST were the only requests: no read-back needed.
    assert len(server.seen) == 2


async def test_set_user_data_10_10_clears_with_delete_routes(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    current = UserData(
        played=True,
        play_count=3,
        playback_position_ticks=0,
        last_played_date=None,
        rating=8.0,
    )
    cleared = user_data_json(Played=True, PlayCount=3)
    server.route("DELETE", f"/UserItems/{ITEM}/Rating", reply(payload=cleared))
    server.route("POST", f"/UserItems/{ITEM}/UserData", reply(payload=cleared))
    client, _ = make_client(server, session)
    result = await client.set_user_data(
        USER, ITEM, UserData(rating=None), {SyncField.RATING}, current=current
    )
    assert result.rating is None
    assert [(s.method, s.path) for s in server.seen[1:]] == [
        ("DELETE", f"/UserItems/{ITEM}/Rating")
    ]
    assert server.seen[1].query == {"userId": USER}


async def test_set_user_data_clearing_last_played_reads_current_first(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    before = user_data_json(
        Played=True, PlayCount=4, LastPlayedDate=D1, IsFavorite=True
    )
    after = user_data_json(Played=True, PlayCount=4, IsFavorite=True)
    server.route("GET", f"/UserItems/{ITEM}/UserData", reply(payload=before))
    server.route(
        "DELETE",
        f"/UserPlayedItems/{ITEM}",
        reply(payload=user_data_json(IsFavorite=True)),
    )
    server.route("POST", f"/UserItems/{ITEM}/UserData", reply(payload=after))
    client, _ = make_client(server, session)
    result = await client.set_user_data(USER, ITEM, UserData(), {SyncField.LAST_PLAYED})
    assert result == UserData(played=True, play_count=4, is_favorite=True)
    assert [(s.method, s.path) for s in server.seen[1:]] == [
        ("GET", f"/UserItems/{ITEM}/UserData"),
        ("DELETE", f"/UserPlayedItems/{ITEM}"),
        ("POST", f"/UserItems/{ITEM}/UserData"),
    ]
    # The position is already 0 after MarkUnplayed: not sent again.
    assert json.loads(server.seen[3].body) == {"Played": True, "PlayCount": 4}


async def test_set_user_data_10_8_routes(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.8.13")
    base = f"/Users/{USER}"
    played = user_data_json(Played=True, PlayCount=1, LastPlayedDate=D1)
    server.route("POST", f"{base}/PlayedItems/{ITEM}", reply(payload=played))
    server.route(
        "POST",
        f"{base}/FavoriteItems/{ITEM}",
        reply(payload=played | {"IsFavorite": True}),
    )
    final = played | {"IsFavorite": True, "Rating": 10.0, "Likes": True}
    server.route("POST", f"{base}/Items/{ITEM}/Rating", reply(payload=final))
    client, _ = make_client(server, session)
    desired = UserData(
        played=True,
        play_count=1,
        last_played_date=UserData.from_json(played).last_played_date,
        is_favorite=True,
        rating=8.0,
    )
    fields = set(SyncField) - {SyncField.POSITION}
    result = await client.set_user_data(USER, ITEM, desired, fields, current=UserData())
    assert result == UserData.from_json(final)
    writes = server.seen[1:]
    assert [(s.method, s.path) for s in writes] == [
        ("POST", f"{base}/PlayedItems/{ITEM}"),
        ("POST", f"{base}/FavoriteItems/{ITEM}"),
        ("POST", f"{base}/Items/{ITEM}/Rating"),
    ]
    assert writes[0].query == {"datePlayed": D1}
    assert writes[1].query == {}
    assert writes[2].query == {"likes": "true"}


async def test_set_user_data_10_8_refuses_position_without_writing(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.8.13")
    client, _ = make_client(server, session)
    with pytest.raises(JellyfinUnsupportedError, match="playback_position") as info:
        await client.set_user_data(
            USER,
            ITEM,
            UserData(playback_position_ticks=10),
            {SyncField.POSITION, SyncField.FAVORITE},
            current=UserData(),
        )
    assert info.value.fields == {SyncField.POSITION}
    assert [s.path for s in server.seen] == ["/System/Info"]


async def test_mark_played_with_date_is_not_retried_after_a_500(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.8.13")
    path = f"/Users/{USER}/PlayedItems/{ITEM}"
    server.route("POST", path, reply(500, text="x", content_type="text/plain"))
    client, slept = make_client(server, session)
    desired = UserData(
        played=True,
        play_count=1,
        last_played_date=UserData.from_json(
            user_data_json(LastPlayedDate=D1)
        ).last_played_date,
    )
    with pytest.raises(JellyfinServerError):
        await client.set_user_data(
            USER,
            ITEM,
            desired,
            {SyncField.PLAYED, SyncField.LAST_PLAYED},
            current=UserData(),
        )
    assert len(server.calls("POST", path)) == 1
    assert slept == []
    # 503 means Jellyfin did not run the request: safe to send again.
    server.route(
        "POST",
        path,
        reply(503, text="", content_type="text/html"),
        reply(payload=user_data_json(Played=True, PlayCount=1, LastPlayedDate=D1)),
    )
    result = await client.set_user_data(
        USER,
        ITEM,
        desired,
        {SyncField.PLAYED, SyncField.LAST_PLAYED},
        current=UserData(),
    )
    assert result.played
    assert slept == [1.0]


async def test_absolute_writes_are_retried(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.8.13")
    path = f"/Users/{USER}/FavoriteItems/{ITEM}"
    server.route(
        "POST",
        path,
        reply(500, text="x", content_type="text/plain"),
        reply(payload=user_data_json(IsFavorite=True)),
    )
    client, slept = make_client(server, session)
    result = await client.set_user_data(
        USER, ITEM, UserData(is_favorite=True), {SyncField.FAVORITE}
    )
    assert result.is_favorite
    assert len(server.calls("POST", path)) == 2
    assert slept == [1.0]


async def test_verification_on_buggy_10_11(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.11.5")
    written = user_data_json(IsFavorite=True, PlaybackPositionTicks=50)
    stale = user_data_json(IsFavorite=False, PlaybackPositionTicks=50)
    server.route("POST", f"/UserItems/{ITEM}/UserData", reply(payload=written))
    server.route("GET", f"/UserItems/{ITEM}/UserData", reply(payload=stale))
    client, _ = make_client(server, session)
    desired = UserData(is_favorite=True, playback_position_ticks=50)
    with pytest.raises(JellyfinVerificationError) as info:
        await client.set_user_data(
            USER, ITEM, desired, {SyncField.FAVORITE, SyncField.POSITION}
        )
    assert info.value.fields == {SyncField.FAVORITE}
    assert info.value.actual == UserData.from_json(stale)
    assert info.value.expected.is_favorite
    # Without the bug, verification is opt-in and passes when values stick.
    server.version("10.11.11")
    client, _ = make_client(server, session)
    server.route("GET", f"/UserItems/{ITEM}/UserData", reply(payload=written))
    result = await client.set_user_data(
        USER, ITEM, desired, {SyncField.FAVORITE, SyncField.POSITION}, verify=True
    )
    assert result == desired


async def test_no_op_write_sends_nothing(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    client, _ = make_client(server, session)
    current = UserData(played=True, play_count=1)
    result = await client.set_user_data(
        USER, ITEM, current, list(SyncField), current=current
    )
    assert result == current
    assert [s.path for s in server.seen] == ["/System/Info"]
    with pytest.raises(ValueError, match="invalid user id"):
        await client.set_user_data("a b", ITEM, current, [SyncField.PLAYED])
    with pytest.raises(ValueError, match="between 0 and 10"):
        await client.set_user_data(USER, ITEM, UserData(rating=-1.0), [])
    with pytest.raises(ValueError, match="invalid item id"):
        await client.get_user_data(USER, "")
    assert [s.path for s in server.seen] == ["/System/Info"]


async def test_secret_never_leaks(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    for status in (400, 401, 403, 404, 500, 503):
        server.route(
            "GET",
            f"/UserItems/{ITEM}/UserData",
            reply(status, text=f"token {API_KEY}?", content_type="text/plain"),
        )
        client, _ = make_client(server, session, retries=0)
        with pytest.raises(JellyfinError) as info:
            await client.get_user_data(USER, ITEM)
        assert API_KEY not in str(info.value)
        assert API_KEY not in repr(info.value)
    for seen in server.seen:
        assert API_KEY not in seen.raw_url


async def test_request_stats_count_bytes(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    payload = info_json("10.10.7")
    server.route("GET", "/System/Info", reply(payload=payload))
    client, _ = make_client(server, session)
    await client.get_system_info()
    stats = client.request_stats
    assert stats.requests == 1
    assert stats.bytes_in == len(json.dumps(payload).encode())
    assert stats.bytes_out == 0
    assert stats.retries == 0


def test_item_parsing_keeps_identity_fields() -> None:
    item = Item.from_json(
        item_json(
            ITEM,
            Type="Episode",
            ProviderIds={"Tvdb": "123", "IMDB": "TT1", "Empty": ""},
            SeriesId="C" * 32,
            ParentIndexNumber=1,
            IndexNumber=2,
            IndexNumberEnd=3,
            ProductionYear=2020,
            Path="/media/show/s01e02-e03.mkv",
        )
    )
    assert item.provider_ids == {"tvdb": "123", "imdb": "tt1"}
    assert item.series_id == "c" * 32
    assert (item.season_number, item.episode_number, item.episode_number_end) == (
        1,
        2,
        3,
    )
    assert item.production_year == 2020
    assert item.path == "/media/show/s01e02-e03.mkv"
    assert item.user_data == UserData()


async def test_write_answer_without_body_is_read_back(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    path = f"/UserItems/{ITEM}/UserData"
    server.route("POST", path, reply(204, text="", content_type="text/plain"))
    server.route("GET", path, reply(payload=user_data_json(IsFavorite=True)))
    client, _ = make_client(server, session)
    result = await client.set_user_data(
        USER, ITEM, UserData(is_favorite=True), {SyncField.FAVORITE}
    )
    assert result == UserData(is_favorite=True)
    assert [s.method for s in server.seen[1:]] == ["POST", "GET"]


async def test_redirected_write_is_not_followed(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    path = f"/UserItems/{ITEM}/Rating"
    server.route(
        "DELETE",
        path,
        reply(307, text="", content_type="text/plain", headers={"Location": "/x"}),
    )
    client, _ = make_client(server, session)
    with pytest.raises(JellyfinResponseError, match="unexpected HTTP 307"):
        await client.set_user_data(USER, ITEM, UserData(), {SyncField.RATING})
    assert [s.path for s in server.seen] == ["/System/Info", path]


async def test_real_backoff_sleep(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.route(
        "GET",
        "/System/Info",
        reply(500, text="x", content_type="text/plain"),
        reply(payload=info_json("10.9.11")),
    )
    client = JellyfinClient(server.url, API_KEY, session, retry_backoff=0.0)
    info = await client.get_system_info()
    assert info.version == "10.9.11"
    assert client.request_stats.retries == 1


async def test_cross_origin_redirect_is_reported(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    async with scripted_server() as elsewhere:
        # Another port is another origin (as http -> https would be).
        elsewhere.route("GET", "/moved", reply(payload=info_json("10.10.7")))
        server.route(
            "GET",
            "/System/Info",
            reply(
                302,
                text="",
                content_type="text/plain",
                headers={"Location": f"{elsewhere.url}/moved"},
            ),
        )
        client, _ = make_client(server, session)
        with pytest.raises(
            JellyfinResponseError, match=f"redirects to {elsewhere.url}"
        ):
            await client.get_system_info()
        # aiohttp did not forward the key to the other origin.
        assert API_KEY not in str(elsewhere.seen[0].headers)
    # A redirect within the same origin is followed.
    server.route("GET", "/moved", reply(payload=info_json("10.10.7")))
    server.route(
        "GET",
        "/System/Info/Public",
        reply(302, text="", content_type="text/plain", headers={"Location": "/moved"}),
    )
    assert (await client.get_public_info()).version == "10.10.7"


async def test_tls_failure_is_not_retried(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    client = JellyfinClient(
        server.url.replace("http://", "https://"), API_KEY, session, retries=3
    )
    slept: list[float] = []

    async def record(delay: float) -> None:
        slept.append(delay)

    client._sleep = record  # type: ignore[method-assign]
    with pytest.raises(JellyfinConnectionError) as info:
        await client.get_system_info()
    assert isinstance(info.value.__cause__, aiohttp.ClientSSLError)
    assert slept == []
    assert client.request_stats.requests == 1


async def test_get_items_failure_is_a_plain_jellyfin_error(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.10.7")
    wanted = ids(250)

    async def items(request: web.Request) -> web.StreamResponse:
        if wanted[150] in request.query["ids"].split(","):
            return web.Response(status=500, text="Error processing request.")
        return web.json_response({"Items": []})

    server.route("GET", "/Items", items)
    client, _ = make_client(server, session, retries=0)
    with pytest.raises(JellyfinServerError, match="HTTP 500"):
        await client.get_items(USER, wanted)


async def test_base_path_is_kept(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.route("GET", "/jellyfin/System/Info", reply(payload=info_json("10.9.11")))
    client = JellyfinClient(f"{server.url}/jellyfin/", API_KEY, session)
    assert client.url == f"{server.url}/jellyfin"
    assert (await client.get_system_info()).version == "10.9.11"
    assert [s.path for s in server.seen] == ["/jellyfin/System/Info"]


# ------------------------------------------------------------------ libraries


async def test_libraries_and_views_per_version(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("10.8.13")
    server.route(
        "GET",
        "/Library/VirtualFolders",
        reply(
            payload=[
                {"Name": "Films", "ItemId": "F" * 32, "CollectionType": "Movies"},
                {"Name": "Mixed", "ItemId": "e" * 32},
            ]
        ),
    )
    server.route(
        "GET",
        f"/Users/{USER}/Views",
        reply(payload={"Items": [{"Name": "Films", "Id": "f" * 32}]}),
    )
    client, _ = make_client(server, session)
    libraries = await client.get_libraries()
    # 10.8 writes collection types in PascalCase; mixed content has none.
    assert [(lib.id, lib.collection_type) for lib in libraries] == [
        ("f" * 32, "movies"),
        ("e" * 32, None),
    ]
    (view,) = await client.get_views(USER)
    assert view.id == "f" * 32
    # Hidden from "My Media" is not "cannot open": those libraries count too.
    (call,) = server.calls("GET", f"/Users/{USER}/Views")
    assert call.query["includeHidden"] == "true"


@pytest.mark.parametrize(
    "payload",
    [{"Items": []}, [{"Name": "No id"}], ["text"], [{"ItemId": 5}]],
)
async def test_libraries_refuse_what_jellyfin_does_not_send(
    server: ScriptedServer, session: aiohttp.ClientSession, payload: Any
) -> None:
    server.route("GET", "/Library/VirtualFolders", reply(payload=payload))
    client, _ = make_client(server, session)
    with pytest.raises(JellyfinResponseError, match="VirtualFolders"):
        await client.get_libraries()


async def test_resume_list_below_a_library(
    server: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    server.version("12.0.0")
    server.route("GET", "/UserItems/Resume", reply(payload={"Items": []}))
    client, _ = make_client(server, session)
    assert (
        await client.get_resume(USER, item_types=("Video",), parent_id="a" * 32) == []
    )
    (call,) = server.calls("GET", "/UserItems/Resume")
    assert call.query["parentId"] == "a" * 32
    assert call.query["includeItemTypes"] == "Video"
