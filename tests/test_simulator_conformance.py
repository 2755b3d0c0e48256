"""OpenAPI conformance: drive every route of every version, success and error answers.

The middleware validates each request/response; these tests assert that a full sweep
records zero violations, and that the checker itself catches broken traffic.
"""

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import ClientSession
import pytest

from tests.simulator import LibrarySpec, conformance
from tests.simulator.http import RawClient
from tests.simulator.plugins import WEBHOOK_PLUGIN_ID

pytestmark = pytest.mark.conformance

VERSIONS = ["10.8.13", "10.9.11", "10.10.7", "10.11.11", "12.0.0"]
SPEC = LibrarySpec(seed=4, movies=25, series=2, seasons_per_series=2)


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[ClientSession]:
    async with ClientSession() as client_session:
        yield client_session


def _fill(path: str, user_id: str, item_id: str) -> str:
    # {pluginId}: the Webhook plugin (tests/test_simulator_plugins.py covers the rest).
    return (
        path.replace("{userId}", user_id)
        .replace("{itemId}", item_id)
        .replace("{pluginId}", WEBHOOK_PLUGIN_ID)
    )


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_route_conforms(jellyfin_server_factory, session, version) -> None:
    """Every served route answers (success and errors) within its documented shape."""
    server = await jellyfin_server_factory(
        name="Sweep", version=version, library=SPEC, users=["alice", "bob"]
    )
    raw = RawClient(session, server)
    bob = RawClient(session, server, token=server.user_token("bob"))
    nobody = RawClient(session, server, token="")
    alice = RawClient(session, server, token=server.user_token("alice"))
    uid = server.users["alice"]
    movie = server.find_item(type="Movie")
    series = server.find_item(type="Series")
    modern = version != "10.8.13"
    before = len(conformance.VIOLATIONS)
    routes = sorted(server._routes)
    assert len(routes) >= (26 if modern else 14)
    for method, path in routes:
        needs_user_query = (
            modern
            and "{userId}" not in path
            and path.startswith(
                ("/UserPlayedItems", "/UserFavoriteItems", "/UserItems", "/UserViews")
            )
        )
        params: dict[str, object] = {"userId": uid} if needs_user_query else {}
        if path == "/Items/{itemId}":
            params = {"userId": uid}
        if path in {"/Items", "/Users/{userId}/Items"}:
            params.update(
                {
                    "recursive": True,
                    "fields": "ProviderIds,Path,DateCreated",
                    "includeItemTypes": "Movie,Series,Season,Episode",
                    "sortBy": "DateCreated,SortName",
                    "sortOrder": "Ascending",
                    "enableImages": False,
                    "enableTotalRecordCount": True,
                    "limit": 50,
                }
            )
            if path == "/Items":
                params["userId"] = uid
        body = None
        if method == "POST" and path.endswith("/UserData"):
            body = {
                "PlaybackPositionTicks": 600_000_000,
                "PlayCount": 2,
                "IsFavorite": True,
                "Played": True,
                "LastPlayedDate": "2024-05-01T10:00:00.0000000Z",
                "Rating": 7.5,
            }
        if path.endswith("/Rating") and method == "POST":
            params["likes"] = True
        if path.startswith("/Sessions/Playing"):
            body = {"ItemId": movie.id, "PositionTicks": 600_000_000}
        if path.startswith("/Plugins/") and method == "POST":
            body = server.webhook_config
        target = _fill(path, uid, movie.id)
        caller = alice if path.startswith(("/Users/Me", "/Sessions")) else raw
        reply = await caller.request(method, target, params=params, json_body=body)
        expected = (
            204
            if path.startswith("/Sessions/")
            or (path.startswith("/Plugins/") and method == "POST")
            else 200
        )
        assert reply.status == expected, (method, path, reply.status, reply.text)
        # Folder variant: series user data carries derived fields.
        if "{itemId}" in path and method == "GET":
            folder = await raw.request(
                method, _fill(path, uid, series.id), params=params
            )
            assert folder.status == 200
        # Error variants the notes document.
        if path not in {"/System/Info/Public", "/System/Ping"}:
            unauth = await nobody.request(method, target, params=params, json_body=body)
            assert unauth.status == 401, (method, path)
        if "{itemId}" in path:
            missing = await raw.request(
                method, _fill(path, uid, "4" * 32), params=params, json_body=body
            )
            assert missing.status in {404, 500}, (method, path, missing.status)
    # Cross-user and API-key-without-user errors (10.9+ semantics).
    if modern:
        forbidden = await bob.get(
            f"/UserItems/{movie.id}/UserData", params={"userId": uid}
        )
        assert forbidden.status == 403
        no_user = await raw.get(f"/UserItems/{movie.id}/UserData")
        assert no_user.status == 400
        bad_rating = await raw.update("alice", movie.id, {"Rating": 42})
        assert bad_rating.status == 400
    assert (await raw.get("/Users/Me")).status == 400
    assert (await bob.get("/Users")).status == 200
    assert (await raw.get(f"/Users/{'5' * 32}")).status == 404
    recorded = conformance.VIOLATIONS[before:]
    assert recorded == [], "\n".join(str(v) for v in recorded)
    hit = {route.split(" ", 1)[1] for route in server.counters.routes}
    assert {path for _, path in routes} <= hit


async def test_fault_answers_conform(jellyfin_server_factory, session) -> None:
    """Injected failures use documented statuses; broken bodies are marked."""
    server = await jellyfin_server_factory(name="Faulty", library=SPEC)
    raw = RawClient(session, server)
    before = len(conformance.VIOLATIONS)
    server.faults.fail_next(1, status=503)
    assert (await raw.get("/Users")).status == 503
    server.faults.fail_next(1, status=429)  # undocumented, but a deliberate fault
    assert (await raw.get("/Users")).status == 429
    server.faults.html_next(1)
    html = await raw.get("/Users")
    assert (html.status, html.content_type) == (200, "text/html")
    server.faults.invalid_json_next(1)
    broken = await raw.get("/Users")
    assert broken.status == 200
    with pytest.raises(ValueError, match=r"Expecting|Unterminated|Extra"):
        broken.json()
    server.faults.revoke_key()
    assert (await raw.get("/Users")).status == 401
    server.faults.clear()
    assert (await raw.get("/Users")).status == 200
    assert conformance.VIOLATIONS[before:] == []


def test_checker_rejects_a_bad_response() -> None:
    """A body that breaks the schema (wrong type, unknown property) is reported."""
    bad = conformance.check_response(
        server="t",
        doc="10.11.11",
        doc_path="/UserItems/{itemId}/UserData",
        method="GET",
        status=200,
        content_type="application/json",
        payload={"Played": "yes", "Surprise": 1},
        has_payload=True,
        mangled=False,
    )
    messages = " ".join(v.message for v in bad)
    assert "Played" in messages
    assert "Surprise" in messages
    undocumented = conformance.check_response(
        server="t",
        doc="10.8.13",
        doc_path="/System/Info/Public",
        method="GET",
        status=201,
        content_type="application/json",
        payload={},
        has_payload=True,
        mangled=False,
    )
    assert undocumented
    assert "not documented" in undocumented[0].message


def test_checker_rejects_a_bad_request() -> None:
    """Undocumented parameters, wrong types and bad bodies are reported."""
    found = conformance.check_request(
        server="t",
        doc="10.11.11",
        doc_path="/UserItems/{itemId}/UserData",
        method="POST",
        query=[("userId", "x"), ("limit", "1")],
        path_params={"itemId": "a" * 32},
        body=b'{"PlayCount": "many"}',
        content_type="application/json",
    )
    text = " ".join(v.message for v in found)
    assert "limit" in text
    assert "PlayCount" in text or "many" in text


def test_legacy_routes_validate_against_10_8_document() -> None:
    """10.9+ legacy aliases are absent from their own document but in 10.8's."""
    assert (
        conformance.operation(
            "10.11.11", "/Users/{userId}/PlayedItems/{itemId}", "POST"
        )
        is None
    )
    assert (
        conformance.operation("10.8.13", "/Users/{userId}/PlayedItems/{itemId}", "POST")
        is not None
    )


def test_missing_documents_fail_loudly(monkeypatch, tmp_path: Path) -> None:
    """Without the OpenAPI documents validation raises instead of passing."""
    monkeypatch.setenv("JELLYFIN_OPENAPI_DIR", str(tmp_path))
    assert conformance.openapi_dir() == tmp_path
    with pytest.raises(conformance.OpenApiDocumentsMissingError):
        conformance.load_document("0.0.0")
