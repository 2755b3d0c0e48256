"""Config-entry diagnostics: useful content, no secrets, no user names."""

import json
from typing import Any

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)

from custom_components.jellyfin_sync.const import (
    CONF_USER_MAP,
    CONF_USER_MODE,
    CONF_USERS,
)
from tests import ha_common
from tests.ha_common import make_entry, matchable_movies, setup_entry
from tests.simulator import SimulatedServer

fast_client_retries = ha_common.fast_client_retries
group = ha_common.group
snapshot = ha_common.snapshot


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: Any,
    group: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = group
    home.act("alice").mark_played(matchable_movies(home)[0].id)
    entry = make_entry(
        hass,
        [home, cabin],
        {
            CONF_USER_MODE: "exclude",
            CONF_USERS: ["bob"],
            CONF_USER_MAP: "alice = alicia",
        },
    )
    await setup_entry(hass, entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = json.dumps(diagnostics)
    for secret in (home.api_key, cabin.api_key):
        assert secret not in text
    # User names appear nowhere (options, report lists, planned writes).
    assert "alice" not in text
    assert "bob" not in text

    servers = diagnostics["entry"]["servers"]
    assert [s["version"] for s in servers] == ["10.11.11", "10.11.11"]
    assert servers[0]["api_key"] == "**REDACTED**"
    assert servers[0]["url"] == home.url
    assert servers[0]["capabilities"]["generic_user_data"] is True
    assert servers[0]["online"] is True
    assert diagnostics["entry"]["options"][CONF_USERS] == "**REDACTED**"
    assert diagnostics["entry"]["options"][CONF_USER_MAP] == "**REDACTED**"
    report = diagnostics["last_report"]
    assert report["matches_by_method"]["provider"] > 0
    assert report["writes_done"] == 1
    assert report["users"] == "**REDACTED**"
    assert diagnostics["history"][-1]["applied"] == 1
    assert diagnostics["status"] == "ok"
    assert diagnostics["baseline_items"] == 1


VOLATILE = {"started", "cycle", "started_at", "finished_at", "url", "durations", "d"}
"""Times, durations, ports; "d" is a last-played date inside planned writes."""


def _stable(value: Any) -> Any:
    """Diagnostics with times, durations and ports replaced by placeholders."""
    if isinstance(value, dict):
        return {
            key: f"<{key}>" if key in VOLATILE else _stable(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_stable(item) for item in value]
    return value


async def test_diagnostics_snapshot(
    hass: HomeAssistant,
    hass_client: Any,
    group: tuple[SimulatedServer, SimulatedServer],
    snapshot: Any,
) -> None:
    home, cabin = group
    movies = matchable_movies(home)
    home.act("alice").mark_played(movies[0].id)
    cabin.act("bob").favorite(cabin.item_by_key(movies[1].identity).id)
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert _stable(diagnostics) == snapshot
