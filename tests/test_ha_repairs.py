"""Repair issues: held mass changes (with fix flow), old versions, persistent failures."""

from typing import Any

from homeassistant.components.repairs import ConfirmRepairFlow
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.jellyfin_sync.const import (
    CONF_MAX_CHANGE_PERCENT,
    CONF_MAX_CHANGES,
    DOMAIN,
)
from custom_components.jellyfin_sync.group import core as group_core
from custom_components.jellyfin_sync.repairs import async_create_fix_flow
from tests import ha_common
from tests.ha_common import ENTRY_ID, make_entry, matchable_movies, setup_entry
from tests.simulator import SimulatedServer

fast_client_retries = ha_common.fast_client_retries
group = ha_common.group

HELD_ISSUE = f"held_changes_{ENTRY_ID}"


async def _held_group(
    hass: HomeAssistant, home: SimulatedServer, cabin: SimulatedServer
) -> list[Any]:
    """Sync five watched movies, then un-watch them on Home: the guard holds it."""
    movies = matchable_movies(home)[:5]
    for movie in movies:
        home.act("alice").mark_played(movie.id)
    entry = make_entry(
        hass, [home, cabin], {CONF_MAX_CHANGES: 2, CONF_MAX_CHANGE_PERCENT: 0}
    )
    await setup_entry(hass, entry)
    for movie in movies:
        assert cabin.dump_user_data()["alice"][movie.identity]["Played"] is True
        home.act("alice").mark_unplayed(movie.id)
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    return movies


async def test_held_changes_fix_flow(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    hass_client: Any,
    issue_registry: ir.IssueRegistry,
) -> None:
    home, cabin = group
    movies = await _held_group(hass, home, cabin)
    assert hass.states.get("sensor.home_cabin_status").state == "held"
    assert hass.states.get("sensor.home_cabin_held_changes").state == "5"
    for movie in movies:
        assert cabin.dump_user_data()["alice"][movie.identity]["Played"] is True
    issue = issue_registry.async_get_issue(DOMAIN, HELD_ISSUE)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_key == "held_changes"

    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    resp = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": HELD_ISSUE}
    )
    assert resp.status == 200
    flow = await resp.json()
    assert flow["step_id"] == "confirm"
    placeholders = flow["description_placeholders"]
    assert placeholders["held"] == "5"
    assert placeholders["summary"] == "alice on Cabin: 5 of 5 items"
    examples = placeholders["examples"].split("; ")
    assert len(examples) == 5
    assert all(e.endswith(" on Cabin: played") for e in examples)
    assert all(e.startswith("movie:") for e in examples)

    resp = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    assert resp.status == 200
    assert (await resp.json())["type"] == "create_entry"
    await hass.async_block_till_done()
    for movie in movies:
        assert movie.identity not in cabin.dump_user_data()["alice"]
    assert issue_registry.async_get_issue(DOMAIN, HELD_ISSUE) is None
    assert hass.states.get("sensor.home_cabin_held_changes").state == "0"
    assert hass.states.get("sensor.home_cabin_status").state == "ok"


async def test_held_fix_flow_apply_fails(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    hass_client: Any,
) -> None:
    home, cabin = group
    await _held_group(hass, home, cabin)
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    resp = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": HELD_ISSUE}
    )
    flow = await resp.json()
    home.faults.revoke_key()
    resp = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    result = await resp.json()
    assert result["type"] == "form"
    assert result["errors"] == {"base": "apply_failed"}
    home.faults.restore_key()


async def test_held_fix_flow_aborts(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    hass_client: Any,
) -> None:
    entry = make_entry(hass, list(group))
    await setup_entry(hass, entry)
    other = MockConfigEntry(domain="other_domain")
    other.add_to_hass(hass)
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    for issue_id, entry_id, reason in (
        (HELD_ISSUE, ENTRY_ID, "nothing_held"),
        ("held_changes_gone", "gone", "not_loaded"),
        ("held_changes_other", other.entry_id, "not_loaded"),
    ):
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=True,
            severity=ir.IssueSeverity.WARNING,
            translation_key="held_changes",
            translation_placeholders={"title": "x"},
            data={"entry_id": entry_id},
        )
        resp = await client.post(
            "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
        )
        result = await resp.json()
        assert result["type"] == "abort"
        assert result["reason"] == reason


async def test_other_issues_get_a_plain_confirm_flow(hass: HomeAssistant) -> None:
    flow = await async_create_fix_flow(hass, "persistent_failure_x", None)
    assert isinstance(flow, ConfirmRepairFlow)


async def test_reduced_capabilities_issue(
    hass: HomeAssistant,
    jellyfin_server_factory: ha_common.ServerFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A 10.8 server syncs (played, favourite, likes) and gets a warning."""
    old = await jellyfin_server_factory(
        name="Old",
        version="10.8.13",
        media_root="/old",
        library=ha_common.SMALL_LIBRARY,
    )
    new = await jellyfin_server_factory(
        name="New", media_root="/new", library=ha_common.SMALL_LIBRARY
    )
    movie = matchable_movies(new)[0]
    new.act("alice").mark_played(movie.id)
    entry = make_entry(hass, [old, new])
    await setup_entry(hass, entry)
    issue = issue_registry.async_get_issue(
        DOMAIN, f"reduced_capabilities_{old.server_id}"
    )
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_placeholders == {"server": "Old", "version": "10.8.13"}
    assert old.dump_user_data()["alice"][movie.identity]["Played"] is True
    assert (
        issue_registry.async_get_issue(DOMAIN, f"reduced_capabilities_{new.server_id}")
        is None
    )


async def test_unsupported_version_issue(
    hass: HomeAssistant,
    jellyfin_server_factory: ha_common.ServerFactory,
    issue_registry: ir.IssueRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server below the supported floor is left out and named in an error issue."""
    monkeypatch.setattr(group_core, "MIN_SUPPORTED_VERSION", (10, 9))
    old = await jellyfin_server_factory(
        name="Old", version="10.8.13", library=ha_common.SMALL_LIBRARY
    )
    new = await jellyfin_server_factory(name="New", library=ha_common.SMALL_LIBRARY)
    entry = make_entry(hass, [old, new])
    await setup_entry(hass, entry)
    issue = issue_registry.async_get_issue(
        DOMAIN, f"unsupported_version_{old.server_id}"
    )
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert hass.states.get("binary_sensor.old_connectivity").state == "off"
    assert hass.states.get("sensor.old_new_status").state == "error"
    assert await hass.config_entries.async_unload(entry.entry_id)
    # Unloading the group removes its issues.
    assert (
        issue_registry.async_get_issue(DOMAIN, f"unsupported_version_{old.server_id}")
        is None
    )


async def test_persistent_failure_issue(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    issue_registry: ir.IssueRegistry,
) -> None:
    home, cabin = group
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    issue_id = f"persistent_failure_{cabin.server_id}"
    cabin.faults.down()
    for _ in range(2):
        await entry.runtime_data.async_refresh()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    await entry.runtime_data.async_refresh()
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["failures"] == "3"
    # The reason is the group's typed problem, worded by the translations.
    assert issue.translation_placeholders["error"] == "cannot connect"
    assert cabin.api_key not in str(issue.translation_placeholders)
    cabin.faults.up()
    await hass.async_block_till_done()
    await entry.runtime_data.async_refresh()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
