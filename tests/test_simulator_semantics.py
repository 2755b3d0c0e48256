"""Semantic tests: one test per API-NOTES rule, per version where the rule differs.

Each test cites the rule (section of shared/jellyfin/API-NOTES.md) it pins. All
requests go through real HTTP, so the OpenAPI conformance middleware checks them too.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import ClientSession
import pytest

from tests.simulator import LibrarySpec, SimulatedServer
from tests.simulator.http import RawClient
from tests.simulator.userdata import parse_date

pytestmark = pytest.mark.conformance

ALL = ["10.8.13", "10.9.11", "10.10.7", "10.11.11"]
MODERN = ALL[1:]
SPEC = LibrarySpec(
    seed=11,
    movies=12,
    series=2,
    seasons_per_series=2,
    episodes_per_season=3,
    missing_provider_ids=0.0,
    duplicate_provider_ids=0.0,
    multi_episode_files=0.0,
)


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[ClientSession]:
    async with ClientSession() as client_session:
        yield client_session


async def make(factory, version: str, **kwargs) -> SimulatedServer:
    kwargs.setdefault("library", SPEC)
    return await factory(name=f"S{version}", version=version, **kwargs)


def movie(server: SimulatedServer, index: int = 0):
    return [i for i in server.items if i.type == "Movie"][index]


# §1.1 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL)
async def test_1_1_legacy_token_sources_accepted_by_default(
    jellyfin_server_factory, session, version
) -> None:
    """§1.1: X-Emby-Token, X-Emby-Authorization, Emby scheme, api_key work by default."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server, token="")
    key = server.api_key
    forms = [
        {"headers": {"X-Emby-Token": key}},
        {"headers": {"X-MediaBrowser-Token": key}},
        {"headers": {"X-Emby-Authorization": f'MediaBrowser Token="{key}"'}},
        {"headers": {"Authorization": f'Emby Token="{key}"'}},
        {"params": {"api_key": key}},
        {"params": {"ApiKey": key}},
        {"headers": {"Authorization": f'MediaBrowser Token="{key}"'}},
    ]
    for form in forms:
        reply = await raw.get("/System/Info", **form)
        assert reply.status == 200, form


async def test_1_1_legacy_auth_off_accepts_only_authorization_and_apikey(
    jellyfin_server_factory, session
) -> None:
    """§1.1 (10.11 switch, 12.0 default): only ``MediaBrowser Token`` and ?ApiKey."""
    server = await make(jellyfin_server_factory, "10.11.11", legacy_auth=False)
    raw = RawClient(session, server, token="")
    key = server.api_key
    rejected = [
        {"headers": {"X-Emby-Token": key}},
        {"headers": {"X-MediaBrowser-Token": key}},
        {"headers": {"X-Emby-Authorization": f'MediaBrowser Token="{key}"'}},
        {"headers": {"Authorization": f'Emby Token="{key}"'}},
        {"params": {"api_key": key}},
    ]
    for form in rejected:
        assert (await raw.get("/System/Info", **form)).status == 401, form
    accepted = [
        {"headers": {"Authorization": f'MediaBrowser Token="{key}"'}},
        {"params": {"ApiKey": key}},
        {"params": {"apikey": key}},
    ]
    for form in accepted:
        assert (await raw.get("/System/Info", **form)).status == 200, form


def test_1_1_legacy_switch_only_exists_from_10_11() -> None:
    """§1.1: EnableLegacyAuthorization was added in 10.11 (PR #13306)."""
    with pytest.raises(ValueError, match=r"10\.11"):
        SimulatedServer(version="10.10.7", legacy_auth=False)


@pytest.mark.parametrize("version", ALL)
async def test_1_1_missing_or_invalid_token_is_401_anonymous_routes_work(
    jellyfin_server_factory, session, version
) -> None:
    """§1.1/§6: no or invalid token -> 401 on [Authorize]; anonymous routes answer."""
    server = await make(jellyfin_server_factory, version)
    anonymous = RawClient(session, server, token="")
    assert (await anonymous.get("/System/Info")).status == 401
    assert (await anonymous.get("/Items")).status == 401
    assert (await anonymous.get("/System/Info/Public")).status == 200
    ping = await anonymous.get("/System/Ping")
    assert ping.json() == "Jellyfin Server"
    wrong = RawClient(session, server, token="0" * 32)
    assert (await wrong.get("/Users")).status == 401


# §1.2 / §1.3 ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL)
async def test_1_3_users_me_is_400_for_api_key(
    jellyfin_server_factory, session, version
) -> None:
    """§1.3: /Users/Me answers 400 for an API key (no user), 200 for a user token."""
    server = await make(jellyfin_server_factory, version)
    assert (await RawClient(session, server).get("/Users/Me")).status == 400
    as_bob = RawClient(session, server, token=server.user_token("bob"))
    me = await as_bob.get("/Users/Me")
    assert me.status == 200
    assert me.json()["Id"] == server.users["bob"]


@pytest.mark.parametrize("version", ALL)
async def test_1_3_users_list_sorted_and_unknown_user_404(
    jellyfin_server_factory, session, version
) -> None:
    """§1.3: /Users ordered by name (API key works); unknown /Users/{id} -> 404."""
    server = await make(
        jellyfin_server_factory, version, users=["zoe", "alice", "Mike"]
    )
    raw = RawClient(session, server)
    names = [u["Name"] for u in (await raw.get("/Users")).json()]
    assert names == ["alice", "Mike", "zoe"]
    assert (await raw.get(f"/Users/{'1' * 32}")).status == 404
    one = await raw.get(f"/Users/{server.users['zoe']}")
    assert one.json()["Policy"]["IsAdministrator"] is True


@pytest.mark.parametrize("version", MODERN)
async def test_1_2_api_key_without_user_id_is_400(
    jellyfin_server_factory, session, version
) -> None:
    """§1.2 (10.9+): user-scoped endpoint with API key and no userId -> 400."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    item = movie(server)
    assert (await raw.post(f"/UserPlayedItems/{item.id}")).status == 400
    assert (await raw.get(f"/UserItems/{item.id}/UserData")).status == 400


@pytest.mark.parametrize("version", ALL)
async def test_1_2_non_admin_acting_for_another_user(
    jellyfin_server_factory, session, version
) -> None:
    """§1.2/§6: 10.8 has no ownership check (#13982); 10.9+ answers 403."""
    server = await make(jellyfin_server_factory, version)
    bob = RawClient(session, server, token=server.user_token("bob"))
    item = movie(server)
    reply = await bob.played("alice", item.id)
    if version.startswith("10.8"):
        assert reply.status == 200
        assert server.user_data("alice", item.id)["Played"] is True
    else:
        assert reply.status == 403
        assert server.user_data("alice", item.id)["Played"] is False


@pytest.mark.parametrize("version", ALL)
async def test_1_2_unknown_user_on_write(
    jellyfin_server_factory, session, version
) -> None:
    """§1.2/§6: unknown userId -> 404 on 10.9+, 500 (null user) on 10.8 routes."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    item = movie(server)
    if version.startswith("10.8"):
        reply = await raw.post(f"/Users/{'2' * 32}/PlayedItems/{item.id}")
        assert reply.status == 500
        assert reply.text == "Error processing request."
    else:
        reply = await raw.post(
            f"/UserPlayedItems/{item.id}", params={"userId": "2" * 32}
        )
        assert reply.status == 404


@pytest.mark.parametrize("version", ALL)
async def test_1_2_items_with_api_key_and_no_user_have_no_user_data(
    jellyfin_server_factory, session, version
) -> None:
    """§1.2/§2.1: /Items with an API key and no userId returns items without UserData."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    reply = await raw.get("/Items", params={"recursive": True, "limit": 5})
    assert reply.status == 200
    items = reply.json()["Items"]
    assert items
    assert all("UserData" not in i for i in items)
    with_user = (await raw.items("alice", recursive=True, limit=5)).json()["Items"]
    assert all("UserData" in i for i in with_user)


@pytest.mark.parametrize("version", ALL)
async def test_1_2_legacy_alias_routes(
    jellyfin_server_factory, session, version
) -> None:
    """§1.2: /Users/{userId}/... aliases work on 10.9+; .../UserData only on 10.9+."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    uid = server.users["alice"]
    item = movie(server)
    assert (await raw.post(f"/Users/{uid}/PlayedItems/{item.id}")).status == 200
    assert (await raw.post(f"/Users/{uid}/FavoriteItems/{item.id}")).status == 200
    listed = await raw.get(f"/Users/{uid}/Items", params={"ids": item.id})
    assert listed.json()["Items"][0]["UserData"]["IsFavorite"] is True
    alias = await raw.get(f"/Users/{uid}/Items/{item.id}/UserData")
    if version.startswith("10.8"):
        assert alias.status == 404
        assert (await raw.get(f"/UserPlayedItems/{item.id}")).status == 404
    else:
        assert alias.status == 200
        assert alias.json()["Played"] is True


# §1.4 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL)
async def test_1_4_public_info_and_system_info(
    jellyfin_server_factory, session, version
) -> None:
    """§1.4: public info anonymous with Id = SystemId; OperatingSystem empty on 10.11."""
    server = await make(jellyfin_server_factory, version)
    public = (
        await RawClient(session, server, token="").get("/System/Info/Public")
    ).json()
    assert public["Id"] == server.server_id
    assert public["ProductName"] == "Jellyfin Server"
    assert public["Version"] == version
    assert (public["OperatingSystem"] == "") is version.startswith("10.11")
    info = (await RawClient(session, server).get("/System/Info")).json()
    assert info["Id"] == server.server_id
    assert info["HasPendingRestart"] is False


@pytest.mark.parametrize("version", ["10.10.7", "10.11.11"])
async def test_1_4_starting_server(jellyfin_server_factory, session, version) -> None:
    """§1.4/§6: while starting, 503 HTML; ping answers; 10.11 setup server info."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    server.faults.starting(True)
    items = await raw.get("/Items")
    assert items.status == 503
    assert items.content_type == "text/html"
    assert (await raw.get("/System/Ping")).status == 200
    public = await raw.get("/System/Info/Public")
    if version.startswith("10.11"):
        assert items.headers.get("Retry-After")
        assert public.status == 200
        assert public.json()["StartupWizardCompleted"] is False
    else:
        assert public.status == 503
    server.faults.starting(False)
    assert (await raw.get("/Items")).status == 200


# §2 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL)
async def test_2_1_recursive_required(
    jellyfin_server_factory, session, version
) -> None:
    """§2.1: without recursive/parentId/ids only the user's top-level views come back."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    top = (await raw.items("alice")).json()["Items"]
    assert {i["Type"] for i in top} == {"CollectionFolder"}
    everything = (await raw.items("alice", recursive=True)).json()
    assert everything["TotalRecordCount"] == len(server.items) - 2


@pytest.mark.parametrize("version", ALL)
async def test_2_1_fields_only_when_asked(
    jellyfin_server_factory, session, version
) -> None:
    """§2.1: ProviderIds and Path only with fields=; single-item GET has all fields."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    bare = (await raw.items("alice", recursive=True, limit=3)).json()["Items"]
    assert all("ProviderIds" not in i and "Path" not in i for i in bare)
    full = (
        await raw.items("alice", recursive=True, limit=3, fields="ProviderIds,Path")
    ).json()["Items"]
    assert all("ProviderIds" in i and "Path" in i for i in full)
    item = movie(server)
    uid = server.users["alice"]
    if version.startswith("10.8"):
        single = await raw.get(f"/Users/{uid}/Items/{item.id}")
    else:
        single = await raw.get(f"/Items/{item.id}", params={"userId": uid})
    assert single.json()["ProviderIds"] == item.provider_ids
    assert single.json()["Path"] == item.path


@pytest.mark.parametrize("version", ALL)
async def test_2_1_unknown_item_types_silently_dropped(
    jellyfin_server_factory, session, version
) -> None:
    """§2.1: includeItemTypes=Episodes (plural) is dropped, leaving no type filter."""
    from tests.simulator.conformance import allow_violations

    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    with allow_violations() as caught:
        plural = await raw.items("alice", recursive=True, includeItemTypes="Episodes")
    assert caught, "the off-spec enum value must be reported as a request violation"
    assert plural.status == 200
    assert plural.json()["TotalRecordCount"] == len(server.items) - 2
    episodes = await raw.items("alice", recursive=True, includeItemTypes="Episode")
    assert {i["Type"] for i in episodes.json()["Items"]} == {"Episode"}


@pytest.mark.parametrize("version", ALL)
async def test_2_2_default_order_and_paging(
    jellyfin_server_factory, session, version
) -> None:
    """§2.2: no ORDER BY before 10.11, SortName on 10.11; startIndex/limit page."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    names = [
        i["Name"]
        for i in (
            await raw.items("alice", recursive=True, includeItemTypes="Movie")
        ).json()["Items"]
    ]
    sort_names = [i.sort_name for i in server.items if i.type == "Movie"]
    by_sort_name = sorted(sort_names)
    got_sort_names = [
        next(i.sort_name for i in server.items if i.name == n) for n in names
    ]
    if version.startswith("10.11"):
        assert got_sort_names == by_sort_name
    else:
        assert got_sort_names == sort_names
        assert got_sort_names != by_sort_name
    page = (
        await raw.items(
            "alice", recursive=True, includeItemTypes="Movie", startIndex=3, limit=4
        )
    ).json()
    assert [i["Name"] for i in page["Items"]] == names[3:7]
    assert page["StartIndex"] == 3
    assert page["TotalRecordCount"] == len(names)


@pytest.mark.parametrize("version", ALL)
async def test_2_1_enable_total_record_count_false(
    jellyfin_server_factory, session, version
) -> None:
    """enableTotalRecordCount=false: TotalRecordCount is the page's size, every version.

    ``GetItemsResult`` returns ``new QueryResult<BaseItem>(query.StartIndex, null,
    GetItemList(query))`` and ``QueryResult`` sets ``totalRecordCount ?? items.Count``
    ([v10.11.11] Emby.Server.Implementations/Library/LibraryManager.cs:1662-1670,
    MediaBrowser.Model/Querying/QueryResult.cs:36-39; [v10.10.7] LibraryManager.cs:
    1467-1492). API-NOTES §2.1/§9.8 say 0 on 10.11 and 12.0; the source says otherwise.
    """
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    reply = (
        await raw.items("alice", recursive=True, limit=4, enableTotalRecordCount=False)
    ).json()
    assert reply["TotalRecordCount"] == len(reply["Items"]) == 4


@pytest.mark.parametrize("version", ALL)
async def test_2_3_filters(jellyfin_server_factory, session, version) -> None:
    """§2.3: isPlayed, isFavorite, IsResumable, Likes (>= 6.5), sort DatePlayed, ids."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    alice = server.act("alice")
    m = [i for i in server.items if i.type == "Movie"]
    alice.mark_played(m[0].id, datetime(2024, 1, 1, tzinfo=UTC))
    alice.mark_played(m[1].id, datetime(2024, 6, 1, tzinfo=UTC))
    alice.favorite(m[2].id, True)
    alice.set_user_data(m[3].id, PlaybackPositionTicks=5_000)
    alice.rate(m[4].id, 6.5)
    alice.rate(m[5].id, 6.4)

    async def ids(**params) -> list[str]:
        reply = await raw.items("alice", recursive=True, **params)
        return [i["Id"] for i in reply.json()["Items"]]

    assert set(await ids(isPlayed=True)) == {m[0].id, m[1].id}
    assert set(await ids(isFavorite=True)) == {m[2].id}
    assert set(await ids(filters="IsResumable")) == {m[3].id}
    assert set(await ids(filters="Likes")) == {m[4].id}
    # Dislikes and IsFavoriteOrLikes differ per version: test_simulator_filters.py.
    by_date = await ids(sortBy="DatePlayed", sortOrder="Descending", limit=2)
    assert by_date == [m[1].id, m[0].id]
    assert set(await ids(ids=f"{m[0].id},{m[3].id}")) == {m[0].id, m[3].id}


# §3 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL)
async def test_3_1_mark_played_rules(jellyfin_server_factory, session, version) -> None:
    """§3.1: MarkPlayed: count++ only with a date, >= 1; position reset; date rules."""
    server = await make(jellyfin_server_factory, version)
    fixed = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    server.clock = lambda: fixed
    raw = RawClient(session, server)
    item = movie(server)
    server.act("alice").progress(item.id, (item.runtime_ticks or 0) // 2)
    first = (await raw.played("alice", item.id)).json()
    assert first["PlayCount"] == 1
    assert first["PlaybackPositionTicks"] == 0
    assert first["Played"] is True
    assert parse_date(first["LastPlayedDate"]) == fixed
    again = (await raw.played("alice", item.id)).json()
    assert again["PlayCount"] == 1
    dated = (await raw.played("alice", item.id, date="2023-05-06T07:08:09Z")).json()
    assert dated["PlayCount"] == 2
    assert parse_date(dated["LastPlayedDate"]) == datetime(
        2023, 5, 6, 7, 8, 9, tzinfo=UTC
    )
    legacy_format = (await raw.played("alice", item.id, date="20220102030405")).json()
    assert parse_date(legacy_format["LastPlayedDate"]) == datetime(
        2022, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    # Without a date: 10.8 takes "now", 10.9+ keeps the existing date.
    later = datetime(2025, 9, 9, tzinfo=UTC)
    server.clock = lambda: later
    undated = (await raw.played("alice", item.id)).json()
    expected = later if version.startswith("10.8") else legacy_format_date()
    assert parse_date(undated["LastPlayedDate"]) == expected


def legacy_format_date() -> datetime:
    return datetime(2022, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("version", ALL)
async def test_3_1_mark_unplayed_resets(
    jellyfin_server_factory, session, version
) -> None:
    """§3.1: MarkUnplayed: PlayCount 0, position 0, LastPlayedDate null, Played false."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    item = movie(server)
    server.act("alice").watch(item.id)
    server.act("alice").favorite(item.id, True)
    data = (await raw.played("alice", item.id, on=False)).json()
    assert data["PlayCount"] == 0
    assert data["PlaybackPositionTicks"] == 0
    assert "LastPlayedDate" not in data
    assert data["Played"] is False
    assert data["IsFavorite"] is True


@pytest.mark.parametrize("version", ALL)
async def test_3_1_folder_mark_played_recurses(
    jellyfin_server_factory, session, version
) -> None:
    """§3.1: MarkPlayed on a Series marks every episode; folder Played is derived."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    series = server.find_item(type="Series")
    data = (await raw.played("alice", series.id)).json()
    assert data["Played"] is True
    assert data["UnplayedItemCount"] == 0
    episodes = [i for i in server.items if i.series_id == series.id and not i.is_folder]
    assert all(server.user_data("alice", e.id)["Played"] for e in episodes)
    server.act("alice").mark_unplayed(episodes[0].id)
    again = server.user_data("alice", series.id)
    assert again["Played"] is False
    assert again["UnplayedItemCount"] == 1


@pytest.mark.parametrize("version", ALL)
async def test_3_1_missing_item(jellyfin_server_factory, session, version) -> None:
    """§3.1/§6: missing item -> 500 (NullReference) on 10.8, 404 on 10.9+."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    reply = await raw.played("alice", "3" * 32)
    assert reply.status == (500 if version.startswith("10.8") else 404)
    malformed = await raw.played("alice", "not-a-guid")
    assert malformed.status == 400


@pytest.mark.parametrize("version", ALL)
async def test_3_2_favorite_touches_only_is_favorite(
    jellyfin_server_factory, session, version
) -> None:
    """§3.2: favourite routes set only IsFavorite (reason UpdateUserRating)."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    item = movie(server)
    before = server.user_data("alice", item.id)
    on = (await raw.favorite("alice", item.id)).json()
    assert on["IsFavorite"] is True
    assert {k: v for k, v in on.items() if k != "IsFavorite"} == {
        k: v for k, v in before.items() if k != "IsFavorite"
    }
    assert server.events[-1].reason == "UpdateUserRating"
    off = (await raw.favorite("alice", item.id, on=False)).json()
    assert off["IsFavorite"] is False


@pytest.mark.parametrize("version", ALL)
async def test_3_3_likes_are_rating_10_1_null(
    jellyfin_server_factory, session, version
) -> None:
    """§3.3: likes=true -> Rating 10, false -> 1, DELETE or no likes -> no rating."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    item = movie(server)
    liked = (await raw.likes("alice", item.id, True)).json()
    assert (liked["Rating"], liked["Likes"]) == (10, True)
    disliked = (await raw.likes("alice", item.id, False)).json()
    assert (disliked["Rating"], disliked["Likes"]) == (1, False)
    cleared = (await raw.likes("alice", item.id, None)).json()
    assert "Rating" not in cleared
    assert "Likes" not in cleared
    await raw.likes("alice", item.id, True)
    uid = server.users["alice"]
    path = (
        f"/Users/{uid}/Items/{item.id}/Rating"
        if version.startswith("10.8")
        else f"/UserItems/{item.id}/Rating"
    )
    params = {} if version.startswith("10.8") else {"userId": uid}
    omitted = (await raw.post(path, params=params)).json()
    assert "Rating" not in omitted


@pytest.mark.parametrize("version", MODERN)
async def test_3_4_generic_update_semantics(
    jellyfin_server_factory, session, version
) -> None:
    """§3.4: only non-null fields copied; Rating after Likes; no side effects."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    item = movie(server)
    server.act("alice").mark_played(item.id, datetime(2024, 2, 2, tzinfo=UTC))
    reply = await raw.update(
        "alice",
        item.id,
        {"PlaybackPositionTicks": 1234, "Likes": True, "Rating": 3, "Played": None},
    )
    data = reply.json()
    assert data["PlaybackPositionTicks"] == 1234
    assert data["Rating"] == 3
    assert data["Likes"] is False
    assert data["Played"] is True
    assert data["PlayCount"] == 1
    played = (await raw.update("alice", item.id, {"Played": False})).json()
    assert played["Played"] is False
    assert played["PlayCount"] == 1
    assert parse_date(played["LastPlayedDate"]) == datetime(2024, 2, 2, tzinfo=UTC)
    replayed = (await raw.update("alice", item.id, {"Played": True})).json()
    assert replayed["PlayCount"] == 1
    assert replayed["PlaybackPositionTicks"] == 1234
    assert server.events[-1].reason == "UpdateUserData"


@pytest.mark.parametrize("version", MODERN)
async def test_3_4_generic_update_binding(
    jellyfin_server_factory, session, version
) -> None:
    """§3.4: property names case-insensitive, numbers may be strings; rating 0-10."""
    from tests.simulator.conformance import allow_violations

    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    item = movie(server)
    with allow_violations():
        data = (
            await raw.update(
                "alice", item.id, {"playcount": "7", "isfavorite": True, "rating": 8}
            )
        ).json()
    assert (data["PlayCount"], data["IsFavorite"], data["Rating"]) == (7, True, 8)
    out_of_range = await raw.update("alice", item.id, {"Rating": 11})
    assert out_of_range.status == 400
    assert server.user_data("alice", item.id)["Rating"] == 8


@pytest.mark.parametrize("version", MODERN)
async def test_3_4_permissions(jellyfin_server_factory, session, version) -> None:
    """§3.4: a non-admin may update only themselves, with EnableUserPreferenceAccess."""
    server = await make(jellyfin_server_factory, version)
    bob = RawClient(session, server, token=server.user_token("bob"))
    item = movie(server)
    assert (await bob.update("bob", item.id, {"PlayCount": 2})).status == 200
    assert (await bob.update("alice", item.id, {"PlayCount": 2})).status == 403
    server.set_user_preference_access("bob", False)
    denied = await bob.update("bob", item.id, {"PlayCount": 3})
    assert denied.status == 403
    assert server.user_data("bob", item.id)["PlayCount"] == 2


async def test_3_4_generic_update_absent_on_10_8(
    jellyfin_server_factory, session
) -> None:
    """§3.4: the generic endpoint (and its alias) do not exist on 10.8."""
    server = await make(jellyfin_server_factory, "10.8.13")
    raw = RawClient(session, server)
    item = movie(server)
    uid = server.users["alice"]
    assert (await raw.update("alice", item.id, {"PlayCount": 1})).status == 404
    alias = await raw.post(
        f"/Users/{uid}/Items/{item.id}/UserData", json_body={"PlayCount": 1}
    )
    assert alias.status == 404


@pytest.mark.parametrize("version", ALL)
async def test_3_user_data_shared_by_key_before_10_11(
    jellyfin_server_factory, session, version
) -> None:
    """§3: 10.8-10.10 read/write by keys[0], so same-TMDb copies share user data."""
    spec = LibrarySpec(seed=5, movies=40, series=0, duplicate_provider_ids=0.5)
    server = await make(jellyfin_server_factory, version, library=spec)
    movies = [i for i in server.items if i.type == "Movie" and i.provider_ids]
    first, twin = next(
        (a, b)
        for a in movies
        for b in movies
        if a is not b and a.provider_ids["Tmdb"] == b.provider_ids["Tmdb"]
    )
    raw = RawClient(session, server)
    await raw.favorite("alice", first.id)
    shared = server.user_data("alice", twin.id)["IsFavorite"]
    assert shared is (not version.startswith("10.11"))


@pytest.mark.parametrize("version", ALL)
async def test_3_5_playback_progress_thresholds(
    jellyfin_server_factory, version
) -> None:
    """§3.5: <5 % -> position 0; >90 % -> played, position 0, no LastPlayedDate."""
    server = await make(jellyfin_server_factory, version)
    item = movie(server)
    runtime = item.runtime_ticks or 0
    alice = server.act("alice")
    assert alice.progress(item.id, runtime // 50)["PlaybackPositionTicks"] == 0
    mid = alice.progress(item.id, runtime // 2)
    assert mid["PlaybackPositionTicks"] == runtime // 2
    assert mid["Played"] is False
    done = alice.progress(item.id, runtime * 95 // 100)
    assert done["Played"] is True
    assert done["PlaybackPositionTicks"] == 0
    assert "LastPlayedDate" not in done  # the "played without a date" quirk
    assert server.events[-1].reason == "PlaybackProgress"


@pytest.mark.parametrize("version", ALL)
async def test_3_7_save_reasons(jellyfin_server_factory, version) -> None:
    """§3.7: every save raises UserDataSaved with the documented reason."""
    server = await make(jellyfin_server_factory, version)
    item = movie(server)
    alice = server.act("alice")
    alice.watch(item.id)
    alice.mark_unplayed(item.id)
    alice.like(item.id, True)
    reasons = [e.reason for e in server.events]
    assert reasons == [
        "PlaybackStart",
        "PlaybackFinished",
        "TogglePlayed",
        "UpdateUserRating",
    ]


# §5 and §6 ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL)
async def test_6_user_item_data_item_id_per_version(
    jellyfin_server_factory, session, version
) -> None:
    """§6: UserItemDataDto.ItemId omitted (10.8/10.9), zeros (10.10), set (10.11)."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    item = movie(server)
    data = (await raw.favorite("alice", item.id)).json()
    expected = {
        "10.8.13": None,
        "10.9.11": None,
        "10.10.7": "0" * 32,
        "10.11.11": item.id,
    }[version]
    assert data.get("ItemId") == expected
    assert data["Key"] == item.provider_ids["Tmdb"]


@pytest.mark.parametrize("version", ALL)
async def test_6_dates_have_seven_digits_and_z(
    jellyfin_server_factory, session, version
) -> None:
    """§6: 7 digits + Z when milliseconds are 0, else STJ's trimmed ISO form."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    item = movie(server)
    data = (await raw.played("alice", item.id, date="2024-01-02T03:04:05Z")).json()
    assert data["LastPlayedDate"] == "2024-01-02T03:04:05.0000000Z"
    data = (await raw.played("alice", item.id, date="2024-01-02T03:04:05.120Z")).json()
    assert data["LastPlayedDate"] == "2024-01-02T03:04:05.12Z"


@pytest.mark.parametrize("version", ["10.10.7", "10.11.11"])
async def test_5_deleted_and_readded_item_gets_new_id(
    jellyfin_server_factory, session, version
) -> None:
    """§5/§3: a re-added file has a new id; provider-keyed user data comes back."""
    spec = LibrarySpec(seed=2, movies=6, series=0, missing_provider_ids=0.0)
    server = await make(jellyfin_server_factory, version, library=spec)
    raw = RawClient(session, server)
    item = movie(server)
    server.act("alice").watch(item.id)
    server.delete_item(item.id)
    gone = await raw.items("alice", recursive=True, ids=item.id)
    assert gone.json()["Items"] == []
    back = server.readd_item(item.identity)
    assert back.id != item.id
    assert back.identity == item.identity
    assert server.user_data("alice", back.id)["Played"] is True


async def test_5_item_without_provider_ids_loses_data_on_readd(
    jellyfin_server_factory,
) -> None:
    """§5: without provider ids the user-data key is the item id, which changes."""
    spec = LibrarySpec(seed=2, movies=6, series=0, missing_provider_ids=1.0)
    server = await make(jellyfin_server_factory, "10.11.11", library=spec)
    item = movie(server)
    server.act("alice").watch(item.id)
    server.delete_item(item.id)
    back = server.readd_item(item.identity)
    assert server.user_data("alice", back.id)["Played"] is False


@pytest.mark.parametrize("version", ["10.8.13", "10.11.11"])
async def test_rescan_items_briefly_vanish(
    jellyfin_server_factory, session, version
) -> None:
    """Quirk: during a library scan items briefly vanish from listings."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    gone = server.rescan(vanish_seconds=3600, fraction=0.5, seed=1)
    assert gone
    listed = await raw.items("alice", recursive=True, filters="IsNotFolder")
    ids = {i["Id"] for i in listed.json()["Items"]}
    assert ids.isdisjoint(gone)
    server.end_rescan()
    listed = await raw.items("alice", recursive=True, filters="IsNotFolder")
    assert set(gone) <= {i["Id"] for i in listed.json()["Items"]}


@pytest.mark.parametrize("version", ALL)
async def test_1_1_header_precedence(jellyfin_server_factory, session, version) -> None:
    """§1.1: X-Emby-Authorization wins before 10.11; 10.11 reads Authorization first."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server, token="")
    headers = {
        "Authorization": f'MediaBrowser Token="{server.api_key}"',
        "X-Emby-Authorization": 'MediaBrowser Token="ffffffffffffffffffffffffffffffff"',
    }
    reply = await raw.get("/System/Info", headers=headers)
    assert reply.status == (200 if version.startswith("10.11") else 401)


@pytest.mark.parametrize("version", ALL)
async def test_2_1_user_token_without_user_id(
    jellyfin_server_factory, session, version
) -> None:
    """§1.2/§2.1: 10.9+ falls back to the caller; 10.8's empty userId means no user."""
    server = await make(jellyfin_server_factory, version)
    bob = RawClient(session, server, token=server.user_token("bob"))
    reply = await bob.get("/Items", params={"recursive": True, "limit": 2})
    items = reply.json()["Items"]
    assert items
    has_user_data = all("UserData" in i for i in items)
    assert has_user_data is (not version.startswith("10.8"))


@pytest.mark.parametrize("version", ["10.8.13", "10.11.11"])
async def test_6_doubles_written_like_system_text_json(
    jellyfin_server_factory, session, version
) -> None:
    """§6: a rating of 10 is written as ``10`` (System.Text.Json), not ``10.0``."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    reply = await raw.likes("alice", movie(server).id, True)
    assert '"Rating":10,' in reply.text


@pytest.mark.parametrize("version", ALL)
async def test_6_library_not_permitted(
    jellyfin_server_factory, session, version
) -> None:
    """§6: parentId of a hidden library -> 401 text; hidden items 404 on 10.9+ only."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    server.restrict_library("bob", "Movies")
    library = server.find_item(type="CollectionFolder", name="Movies")
    denied = await raw.items("bob", recursive=True, parentId=library.id)
    assert denied.status == 401
    assert denied.text == "bob is not permitted to access Library Movies."
    listed = (await raw.items("bob", recursive=True)).json()["Items"]
    assert {i["Type"] for i in listed} == {"Series", "Season", "Episode"}
    write = await raw.favorite("bob", movie(server).id)
    assert write.status == (200 if version.startswith("10.8") else 404)


async def test_12_0_turns_legacy_auth_off(jellyfin_server_factory, session) -> None:
    """§1.1: 12.0 defaults EnableLegacyAuthorization to false."""
    server = await make(jellyfin_server_factory, "12.0.0")
    raw = RawClient(session, server, token="")
    legacy = await raw.get("/System/Info", headers={"X-Emby-Token": server.api_key})
    assert legacy.status == 401
    assert (
        await raw.get("/System/Info", params={"ApiKey": server.api_key})
    ).status == 200


@pytest.mark.parametrize("version", ALL)
async def test_3_5_playback_reporting_needs_a_user_session(
    jellyfin_server_factory, session, version
) -> None:
    """§3.5: API-key playback reports change nothing; a user's own token does."""
    server = await make(jellyfin_server_factory, version)
    item = movie(server)
    runtime = item.runtime_ticks or 0
    key = RawClient(session, server)
    for route in ("/Sessions/Playing", "/Sessions/Playing/Stopped"):
        reply = await key.post(route, json_body={"ItemId": item.id})
        assert reply.status == 204
    assert server.user_data("alice", item.id)["PlayCount"] == 0
    alice = RawClient(session, server, token=server.user_token("alice"))
    await alice.post("/Sessions/Playing", json_body={"ItemId": item.id})
    started = server.user_data("alice", item.id)
    assert started["PlayCount"] == 1
    assert "LastPlayedDate" in started
    await alice.post(
        "/Sessions/Playing/Progress",
        json_body={"ItemId": item.id, "PositionTicks": runtime // 3},
    )
    assert server.user_data("alice", item.id)["PlaybackPositionTicks"] == runtime // 3
    await alice.post("/Sessions/Playing/Stopped", json_body={"ItemId": item.id})
    stopped = server.user_data("alice", item.id)
    assert (stopped["PlayCount"], stopped["Played"]) == (2, True)
    assert server.user_data("bob", item.id)["PlayCount"] == 0


@pytest.mark.parametrize(("version", "stale"), [("10.11.5", True), ("10.11.11", False)])
async def test_3_4_stale_instance_rows_before_10_11_10(
    jellyfin_server_factory, session, version, stale
) -> None:
    """§3.4 (#14981): on 10.11.0-10.11.9 a progress save can wipe a favourite."""
    server = await make(jellyfin_server_factory, version)
    raw = RawClient(session, server)
    item = movie(server)
    runtime = item.runtime_ticks or 0
    alice = server.act("alice")
    alice.progress(item.id, runtime // 4)
    await raw.favorite("alice", item.id)
    alice.progress(item.id, runtime // 3)
    assert server.user_data("alice", item.id)["IsFavorite"] is (not stale)
