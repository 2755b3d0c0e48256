"""Config, reauth, reconfigure and options flows against the Jellyfin simulator."""

from collections.abc import AsyncIterator
import socket
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_API_KEY, CONF_URL, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.jellyfin_sync.const import (
    CONF_DIRECTION,
    CONF_DRY_RUN,
    CONF_FIELDS,
    CONF_FIRST_SYNC,
    CONF_KINDS,
    CONF_LIBRARIES,
    CONF_LIBRARY_MAP,
    CONF_LIBRARY_MODE,
    CONF_MAX_CHANGE_PERCENT,
    CONF_MAX_CHANGES,
    CONF_PRIMARY_SERVER,
    CONF_SCAN_INTERVAL,
    CONF_SERVER_ID,
    CONF_SERVERS,
    CONF_USER_MAP,
    CONF_USER_MODE,
    CONF_USERS,
    DOMAIN,
)
from custom_components.jellyfin_sync.helpers import group_unique_id
from tests import ha_common
from tests.ha_common import SMALL_LIBRARY, ServerFactory, make_entry, server_conf
from tests.simulator import SimulatedServer

# Fixtures shared by the Home Assistant tests.
fast_client_retries = ha_common.fast_client_retries
group = ha_common.group
not_jellyfin = ha_common.not_jellyfin
tls_proxy = ha_common.tls_proxy


@pytest.fixture(autouse=True)
async def no_setup(hass: HomeAssistant) -> AsyncIterator[None]:
    """Flows only: don't run sync cycles when an entry is created or reloaded."""
    with (
        patch("custom_components.jellyfin_sync.async_setup_entry", return_value=True),
        patch("custom_components.jellyfin_sync.async_unload_entry", return_value=True),
    ):
        yield
        await hass.async_block_till_done()
        for entry in hass.config_entries.async_entries(DOMAIN):
            await hass.config_entries.async_unload(entry.entry_id)


def _form(server: SimulatedServer, **overrides: Any) -> dict[str, Any]:
    data = {CONF_URL: server.url, CONF_API_KEY: server.api_key, CONF_VERIFY_SSL: True}
    data.update(overrides)
    return data


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _start(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    return dict(result)


async def _configure(
    hass: HomeAssistant, flow_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    return dict(await hass.config_entries.flow.async_configure(flow_id, data))


async def test_user_flow_two_servers(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    result = await _start(hass)
    result = await _configure(hass, result["flow_id"], _form(home))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "add_server"
    assert result["description_placeholders"]["servers"] == "Home"
    result = await _configure(hass, result["flow_id"], _form(cabin))
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "server_added"
    assert result["menu_options"] == ["add_server", "finish"]
    result = await _configure(hass, result["flow_id"], {"next_step_id": "finish"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "finish"
    assert result["description_placeholders"]["servers"] == "Home & Cabin"
    result = await _configure(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Home & Cabin"
    entry = result["result"]
    assert entry.unique_id == group_unique_id([home.server_id, cabin.server_id])
    servers = entry.data[CONF_SERVERS]
    assert [s[CONF_SERVER_ID] for s in servers] == [home.server_id, cabin.server_id]
    assert servers[0][CONF_URL] == home.url
    assert servers[0][CONF_API_KEY] == home.api_key
    assert servers[1][CONF_VERIFY_SSL] is True
    assert entry.options[CONF_PRIMARY_SERVER] == home.server_id
    assert entry.options[CONF_DRY_RUN] is False
    assert entry.options["instant_sync"] is False


async def test_user_flow_three_servers(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    jellyfin_server_factory: ServerFactory,
) -> None:
    home, cabin = group
    attic = await jellyfin_server_factory(name="Attic", library=SMALL_LIBRARY)
    result = await _start(hass)
    result = await _configure(hass, result["flow_id"], _form(home))
    result = await _configure(hass, result["flow_id"], _form(cabin))
    result = await _configure(hass, result["flow_id"], {"next_step_id": "add_server"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "add_server"
    result = await _configure(hass, result["flow_id"], _form(attic))
    result = await _configure(hass, result["flow_id"], {"next_step_id": "finish"})
    result = await _configure(hass, result["flow_id"], {"instant_sync": False})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Home, Cabin & Attic"
    assert len(result["data"][CONF_SERVERS]) == 3


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("not a url at all", "invalid_url"),
        ("", "invalid_url"),
        ("http://", "invalid_url"),
        ("http://127.0.0.1:8096/?x=1", "invalid_url"),
        ("http://[::1", "invalid_url"),
        ("ftp://127.0.0.1:21", "invalid_scheme"),
        ("http://admin:secret@127.0.0.1:8096", "url_has_credentials"),
    ],
)
async def test_user_flow_bad_urls(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    url: str,
    error: str,
) -> None:
    home, _cabin = group
    result = await _start(hass)
    result = await _configure(hass, result["flow_id"], _form(home, url=url))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": error}
    # The user fixes the address and goes on.
    result = await _configure(hass, result["flow_id"], _form(home))
    assert result["step_id"] == "add_server"
    assert result["errors"] == {}


async def test_user_flow_server_errors(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    not_jellyfin: str,
) -> None:
    """Every server-side failure gets its own message and the flow recovers."""
    home, _cabin = group
    result = await _start(hass)
    flow_id = result["flow_id"]
    cases: list[tuple[dict[str, Any], str]] = [
        (_form(home, url=f"http://127.0.0.1:{_closed_port()}"), "cannot_connect"),
        (_form(home, url=not_jellyfin), "not_jellyfin"),
        (_form(home, url=f"{home.url}/no/jellyfin/here"), "not_jellyfin"),
        (_form(home, api_key="0" * 32), "invalid_auth"),
        (_form(home, api_key=home.user_token("alice")), "not_admin"),
        (_form(home, api_key="   "), "empty_api_key"),
    ]
    for data, error in cases:
        result = await _configure(hass, flow_id, data)
        assert result["errors"] == {"base": error}, error
        assert result["step_id"] == "user"
    home.faults.starting()
    result = await _configure(hass, flow_id, _form(home))
    assert result["errors"] == {"base": "server_error"}
    home.faults.clear()
    result = await _configure(hass, flow_id, _form(home))
    assert result["step_id"] == "add_server"


async def test_api_key_never_in_form_results(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, _cabin = group
    result = await _start(hass)
    result = await _configure(hass, result["flow_id"], _form(home, api_key="0" * 32))
    assert result["errors"] == {"base": "invalid_auth"}
    assert "0" * 32 not in repr(result)
    assert home.api_key not in repr(result)


async def test_tls_self_signed(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    tls_proxy: Any,
) -> None:
    """Verification is on by default; off only when the user asks for it."""
    home, cabin = group
    https_url = await tls_proxy(home)
    result = await _start(hass)
    result = await _configure(hass, result["flow_id"], _form(home, url=https_url))
    assert result["errors"] == {"base": "ssl_error"}
    result = await _configure(
        hass, result["flow_id"], _form(home, url=https_url, verify_ssl=False)
    )
    assert result["step_id"] == "add_server"
    result = await _configure(hass, result["flow_id"], _form(cabin))
    result = await _configure(hass, result["flow_id"], {"next_step_id": "finish"})
    result = await _configure(hass, result["flow_id"], {})
    servers = result["data"][CONF_SERVERS]
    assert servers[0][CONF_URL] == https_url
    assert servers[0][CONF_VERIFY_SSL] is False
    assert servers[1][CONF_VERIFY_SSL] is True


async def test_same_server_twice_by_id(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    jellyfin_server_factory: ServerFactory,
) -> None:
    """A second address of the same server (same server id) is refused."""
    home, cabin = group
    alias = await jellyfin_server_factory(
        name="Home",
        server_id=home.server_id,
        api_key=home.api_key,
        library=SMALL_LIBRARY,
    )
    assert alias.url != home.url
    result = await _start(hass)
    result = await _configure(hass, result["flow_id"], _form(home))
    result = await _configure(hass, result["flow_id"], _form(alias))
    assert result["errors"] == {"base": "already_added"}
    result = await _configure(hass, result["flow_id"], _form(cabin))
    assert result["type"] is FlowResultType.MENU


async def test_server_already_in_another_group(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    jellyfin_server_factory: ServerFactory,
) -> None:
    home, cabin = group
    make_entry(hass, [home, cabin])
    result = await _start(hass)
    result = await _configure(hass, result["flow_id"], _form(cabin))
    assert result["errors"] == {"base": "already_in_group"}


async def test_same_group_twice_aborts(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    MockConfigEntry(
        domain=DOMAIN,
        unique_id=group_unique_id([home.server_id, cabin.server_id]),
        data={CONF_SERVERS: []},
    ).add_to_hass(hass)
    result = await _start(hass)
    result = await _configure(hass, result["flow_id"], _form(home))
    result = await _configure(hass, result["flow_id"], _form(cabin))
    result = await _configure(hass, result["flow_id"], {"next_step_id": "finish"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


# ---- reauth -----------------------------------------------------------------------


async def test_reauth(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    cabin.faults.revoke_key()
    result = dict(await entry.start_reauth_flow(hass))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    # The server that rejects its key is preselected.
    schema = result["data_schema"].schema
    server_key = next(k for k in schema if k == "server")
    assert server_key.default() == cabin.server_id

    result = await _configure(
        hass, result["flow_id"], {"server": cabin.server_id, CONF_API_KEY: "f" * 32}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    cabin.faults.restore_key()
    cabin.api_key = "a" * 32
    result = await _configure(
        hass, result["flow_id"], {"server": cabin.server_id, CONF_API_KEY: "a" * 32}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    stored = {s[CONF_SERVER_ID]: s for s in entry.data[CONF_SERVERS]}
    assert stored[cabin.server_id][CONF_API_KEY] == "a" * 32
    assert stored[home.server_id][CONF_API_KEY] == home.api_key


async def test_reauth_with_a_server_down(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    """A server that cannot be reached is not taken for the one with a bad key."""
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    home.faults.down()
    result = dict(await entry.start_reauth_flow(hass))
    schema = result["data_schema"].schema
    assert next(k for k in schema if k == "server").default() == home.server_id
    result = await _configure(
        hass, result["flow_id"], {"server": home.server_id, CONF_API_KEY: "b" * 32}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    home.faults.up()


async def test_reauth_wrong_server(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    """The stored address now answers as another server: the key is not taken."""
    home, cabin = group
    confs = [server_conf(home), server_conf(cabin, url=home.url)]
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=group_unique_id([home.server_id, cabin.server_id]),
        data={CONF_SERVERS: confs},
    )
    entry.add_to_hass(hass)
    result = dict(await entry.start_reauth_flow(hass))
    # Cabin's stored address answers as Home, which rejects Cabin's key.
    schema = result["data_schema"].schema
    assert next(k for k in schema if k == "server").default() == cabin.server_id
    result = await _configure(
        hass, result["flow_id"], {"server": cabin.server_id, CONF_API_KEY: home.api_key}
    )
    assert result["errors"] == {"base": "wrong_server"}


# ---- reconfigure --------------------------------------------------------------------


async def test_reconfigure_menu(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    entry = make_entry(hass, list(group))
    result = dict(await entry.start_reconfigure_flow(hass))
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["edit_server", "add_server", "remove_server"]


async def test_reconfigure_edit_server_url(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    jellyfin_server_factory: ServerFactory,
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    moved = await jellyfin_server_factory(
        name="Cabin", server_id=cabin.server_id, api_key=cabin.api_key
    )
    result = dict(await entry.start_reconfigure_flow(hass))
    result = await _configure(hass, result["flow_id"], {"next_step_id": "edit_server"})
    assert result["step_id"] == "edit_server"
    result = await _configure(hass, result["flow_id"], {"server": cabin.server_id})
    assert result["step_id"] == "edit_server_details"
    # Another server at the new address: refused.
    result = await _configure(
        hass,
        result["flow_id"],
        {CONF_URL: home.url, CONF_API_KEY: home.api_key, CONF_VERIFY_SSL: True},
    )
    assert result["errors"] == {"base": "wrong_server"}
    result = await _configure(
        hass, result["flow_id"], {CONF_URL: "gopher://x", CONF_VERIFY_SSL: True}
    )
    assert result["errors"] == {"base": "invalid_scheme"}
    # Empty key field keeps the stored key.
    result = await _configure(
        hass, result["flow_id"], {CONF_URL: moved.url, CONF_VERIFY_SSL: True}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    stored = {s[CONF_SERVER_ID]: s for s in entry.data[CONF_SERVERS]}
    assert stored[cabin.server_id][CONF_URL] == moved.url
    assert stored[cabin.server_id][CONF_API_KEY] == cabin.api_key
    assert entry.title == "Home & Cabin"


async def test_reconfigure_add_and_remove_server(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    jellyfin_server_factory: ServerFactory,
) -> None:
    home, cabin = group
    attic = await jellyfin_server_factory(name="Attic", library=SMALL_LIBRARY)
    entry = make_entry(hass, [home, cabin])

    result = dict(await entry.start_reconfigure_flow(hass))
    result = await _configure(
        hass, result["flow_id"], {"next_step_id": "remove_server"}
    )
    result = await _configure(hass, result["flow_id"], {"server": cabin.server_id})
    assert result["errors"] == {"base": "too_few_servers"}

    result = dict(await entry.start_reconfigure_flow(hass))
    result = await _configure(hass, result["flow_id"], {"next_step_id": "add_server"})
    assert result["step_id"] == "add_server"
    result = await _configure(hass, result["flow_id"], _form(cabin))
    assert result["errors"] == {"base": "already_added"}
    result = await _configure(hass, result["flow_id"], _form(attic))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.title == "Home, Cabin & Attic"
    assert entry.unique_id == group_unique_id(
        [home.server_id, cabin.server_id, attic.server_id]
    )

    result = dict(await entry.start_reconfigure_flow(hass))
    result = await _configure(
        hass, result["flow_id"], {"next_step_id": "remove_server"}
    )
    result = await _configure(hass, result["flow_id"], {"server": home.server_id})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert [s[CONF_SERVER_ID] for s in entry.data[CONF_SERVERS]] == [
        cabin.server_id,
        attic.server_id,
    ]
    assert entry.title == "Cabin & Attic"
    assert entry.unique_id == group_unique_id([cabin.server_id, attic.server_id])


# ---- options ------------------------------------------------------------------------


def _libraries(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        CONF_KINDS: ["films", "shows", "collections", "music", "books", "home_videos"],
        CONF_LIBRARY_MODE: "all",
        CONF_LIBRARIES: [],
        CONF_LIBRARY_MAP: "",
    }
    data.update(overrides)
    return data


def _general(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        CONF_SCAN_INTERVAL: 15,
        CONF_FIELDS: ["played", "favorite"],
        CONF_DIRECTION: "one_way",
        CONF_FIRST_SYNC: "primary_wins",
        CONF_MAX_CHANGES: 50,
        CONF_MAX_CHANGE_PERCENT: 10,
        CONF_DRY_RUN: True,
    }
    data.update(overrides)
    return data


async def test_options_flow(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    result = dict(await hass.config_entries.options.async_init(entry.entry_id))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"], _general(**{CONF_FIELDS: []})
        )
    )
    assert result["errors"] == {CONF_FIELDS: "no_fields"}
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"], _general(**{CONF_PRIMARY_SERVER: cabin.server_id})
        )
    )
    assert result["step_id"] == "users"
    assert result["description_placeholders"]["unreachable"] == "-"
    users_key = next(k for k in result["data_schema"].schema if k == CONF_USERS)
    offered = result["data_schema"].schema[users_key].config["options"]
    assert offered == ["alice", "bob"]

    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_USER_MODE: "include", CONF_USERS: []}
        )
    )
    assert result["errors"] == {CONF_USERS: "no_users_selected"}
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {CONF_USER_MODE: "include", CONF_USERS: ["alice"], CONF_USER_MAP: "alice"},
        )
    )
    assert result["errors"] == {CONF_USER_MAP: "invalid_user_map"}
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {
                CONF_USER_MODE: "include",
                CONF_USERS: ["alice"],
                CONF_USER_MAP: "alice = nobody",
            },
        )
    )
    assert result["errors"] == {CONF_USER_MAP: "invalid_user_map"}
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {CONF_USER_MODE: "include", CONF_USERS: ["alice"], CONF_USER_MAP: ""},
        )
    )
    assert result["step_id"] == "libraries"
    assert result["description_placeholders"]["unreachable"] == "-"
    libraries_key = next(k for k in result["data_schema"].schema if k == CONF_LIBRARIES)
    offered = result["data_schema"].schema[libraries_key].config["options"]
    assert offered == ["Movies", "Shows"]
    for wrong, error in (
        ({CONF_KINDS: []}, {CONF_KINDS: "no_kinds"}),
        ({CONF_LIBRARY_MODE: "include"}, {CONF_LIBRARIES: "no_libraries_selected"}),
        (
            {CONF_LIBRARY_MAP: "Movies = Nowhere"},
            {CONF_LIBRARY_MAP: "invalid_library_map"},
        ),
    ):
        result = dict(
            await hass.config_entries.options.async_configure(
                result["flow_id"], _libraries(**wrong)
            )
        )
        assert result["errors"] == error
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            _libraries(
                **{
                    CONF_KINDS: ["shows", "films"],
                    CONF_LIBRARY_MODE: "exclude",
                    CONF_LIBRARIES: ["Shows"],
                    CONF_LIBRARY_MAP: "Movies = Shows",
                }
            ),
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_KINDS] == ["films", "shows"]
    assert entry.options[CONF_LIBRARY_MODE] == "exclude"
    assert entry.options[CONF_LIBRARIES] == ["Shows"]
    assert entry.options[CONF_LIBRARY_MAP] == "Movies = Shows"
    assert entry.options[CONF_SCAN_INTERVAL] == 15
    assert entry.options[CONF_FIELDS] == ["played", "favorite"]
    assert entry.options[CONF_PRIMARY_SERVER] == cabin.server_id
    assert entry.options[CONF_DIRECTION] == "one_way"
    assert entry.options[CONF_DRY_RUN] is True
    assert entry.options[CONF_USER_MODE] == "include"
    assert entry.options[CONF_USERS] == ["alice"]


async def test_options_flow_unchanged(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    """Submitting the current options changes nothing and reloads nothing."""
    entry = make_entry(hass, list(group))
    before = dict(entry.options)
    result = dict(await hass.config_entries.options.async_init(entry.entry_id))
    general = {
        key: before[key]
        for key in (
            CONF_SCAN_INTERVAL,
            CONF_FIELDS,
            CONF_PRIMARY_SERVER,
            CONF_DIRECTION,
            CONF_FIRST_SYNC,
            CONF_MAX_CHANGES,
            CONF_MAX_CHANGE_PERCENT,
            CONF_DRY_RUN,
        )
    }
    result = dict(
        await hass.config_entries.options.async_configure(result["flow_id"], general)
    )
    with patch.object(hass.config_entries, "async_schedule_reload") as reload:
        result = dict(
            await hass.config_entries.options.async_configure(
                result["flow_id"],
                {CONF_USER_MODE: "all", CONF_USERS: [], CONF_USER_MAP: ""},
            )
        )
        result = dict(
            await hass.config_entries.options.async_configure(
                result["flow_id"], _libraries()
            )
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert dict(entry.options) == before
    reload.assert_not_called()


async def test_options_flow_server_down(
    hass: HomeAssistant, group: tuple[SimulatedServer, SimulatedServer]
) -> None:
    """An unreachable server is named; the other's users are still offered."""
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    cabin.faults.down()
    result = dict(await hass.config_entries.options.async_init(entry.entry_id))
    result = dict(
        await hass.config_entries.options.async_configure(result["flow_id"], _general())
    )
    assert result["step_id"] == "users"
    assert result["description_placeholders"]["unreachable"] == "Cabin"
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {CONF_USER_MODE: "exclude", CONF_USERS: ["bob"], CONF_USER_MAP: ""},
        )
    )
    assert result["step_id"] == "libraries"
    assert result["description_placeholders"]["unreachable"] == "Cabin"
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"], _libraries()
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_USER_MODE] == "exclude"
    cabin.faults.up()
