"""Fault matrix: server faults before and in the middle of a cycle lose nothing.

Every case runs through the coordinator as Home Assistant runs it, against the
simulator: the group syncs once, users change data on both servers, a fault hits
Cabin (before the cycle, while it reads, or while it writes), and then:

* no field on any server holds a value that neither server had before the fault
  (nothing is reset to a default by the fault, no change is lost);
* Cabin's entities show it unavailable when it could not be read, and the status
  sensor shows the failed cycle; the log names Cabin and the cause once, without
  a stack trace and without an API key;
* once the fault is gone the next cycle converges both servers with every change;
* a reload from the stored baseline (a restart) finds nothing left to do.
"""

import asyncio
from collections.abc import Callable
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
import pytest

from custom_components.jellyfin_sync import coordinator as coordinator_module, helpers
from custom_components.jellyfin_sync.const import DOMAIN
from tests import ha_common
from tests.ha_common import make_entry, setup_entry
from tests.reliability_common import (
    Trap,
    assert_clean_logs,
    assert_nothing_invented,
    refresh,
    scenario,
    view,
)
from tests.simulator import SimulatedServer

fast_client_retries = ha_common.fast_client_retries
group = ha_common.group

STATUS = "sensor.home_cabin_status"
CABIN_CONNECTED = "binary_sensor.cabin_connectivity"
HOME_CONNECTED = "binary_sensor.home_connectivity"


@pytest.fixture(autouse=True)
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Request timeouts short enough for a slow simulated server to exceed them."""
    monkeypatch.setattr(coordinator_module, "PROBE_TIMEOUT", 0.3)
    for function in (helpers.create_client, helpers.client_for):
        defaults = dict(function.__kwdefaults__ or {})
        defaults["request_timeout"] = 0.3
        monkeypatch.setattr(function, "__kwdefaults__", defaults)


Fault = Callable[[SimulatedServer], None]

#: name -> (inject, expected reason when the check before the cycle sees it)
FAULTS: dict[str, tuple[Fault, str]] = {
    "down": (lambda s: s.faults.down(), "cannot_connect"),
    "5xx burst": (
        lambda s: s.faults.fail_next(40, 500),
        "server_error",
    ),
    "502 burst": (
        lambda s: s.faults.fail_next(40, 502),
        "server_error",
    ),
    "timeout": (lambda s: s.faults.latency(0.5), "timeout"),
    "truncated JSON": (lambda s: s.faults.truncate_next(40), "cannot_connect"),
    "invalid JSON": (
        lambda s: s.faults.invalid_json_next(40),
        "not_jellyfin",
    ),
    "HTML 200": (lambda s: s.faults.html_next(40), "not_jellyfin"),
    "starting (503)": (
        lambda s: s.faults.starting(True),
        "starting",
    ),
}

CASES = [
    pytest.param(name, phase, id=f"{name}-{phase}")
    for name in FAULTS
    for phase in ("before", "reads", "writes")
    # A server starting up cannot appear in the middle of a cycle without a
    # restart (which is "down"); its Retry-After would also make the test slow.
    if not (name == "starting (503)" and phase != "before")
]


async def _heal(server: SimulatedServer) -> None:
    server.faults.clear()
    await server.wait_up()


async def _assert_restart_resumes(
    hass: HomeAssistant, entry: Any, home: SimulatedServer, cabin: SimulatedServer
) -> None:
    """Reload from storage: the stored baseline is consistent, nothing to redo."""
    before = (home.dump_user_data(), cabin.dump_user_data())
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    summary = entry.runtime_data.data.last_cycle
    assert summary is not None
    assert summary.outcome == "ok"
    assert summary.planned == 0
    assert (home.dump_user_data(), cabin.dump_user_data()) == before


@pytest.mark.parametrize(("fault", "phase"), CASES)
async def test_fault_loses_nothing(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    phase: str,
) -> None:
    home, cabin = group
    caplog.set_level(logging.DEBUG)
    world = scenario(home, cabin)
    world.seed()
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    world.assert_converged()

    world.change()
    before = (view(home, world.identities), view(cabin, world.identities))
    inject, reason = FAULTS[fault]
    if phase == "before":
        inject(cabin)
        trap = None
    else:
        # Injected after the current request is answered: closing the listening
        # socket from inside a handler races the simulator's own accept loop.
        loop = asyncio.get_running_loop()
        trap = Trap(monkeypatch, cabin, phase, lambda: loop.call_soon(inject, cabin))
    caplog.clear()
    await refresh(hass, coordinator)
    if trap is not None:
        assert trap.fired, "the fault never hit the cycle"

    after = (view(home, world.identities), view(cabin, world.identities))
    assert_nothing_invented(before, after)
    summary = coordinator.data.last_cycle
    assert summary is not None
    state = coordinator.data.servers[cabin.server_id]
    if phase == "before":
        # The check before the cycle keeps Cabin out: nothing is written anywhere.
        assert after == before
        assert summary.outcome == "error"
        assert hass.states.get(STATUS).state == "error"
        assert state.online is False
        assert state.error == reason
        assert hass.states.get(CABIN_CONNECTED).state == STATE_OFF
        assert (
            caplog.text.count(f"Jellyfin server Cabin is unavailable ({reason})") == 1
        )
    elif phase == "reads":
        assert summary.outcome == "error"
        # Cabin could not be read completely: it took no part in the cycle, its
        # connectivity sensor is off and the log says so once.
        assert after == before
        assert hass.states.get(STATUS).state == "error"
        report = coordinator.last_report
        assert report is not None
        assert any(e["server"] == cabin.server_id for e in report["errors"])
        assert state.online is False
        assert state.error == "read_failed"
        assert hass.states.get(CABIN_CONNECTED).state == STATE_OFF
        assert caplog.text.count("Jellyfin server Cabin is unavailable") == 1
    elif phase == "writes":
        # Writes to Cabin failed (retries may have saved some); Home got its writes.
        # Cabin answered the reads, so it shows connected until the next check.
        assert summary.outcome == "error"
        assert state.online is True
    assert hass.states.get(HOME_CONNECTED).state == STATE_ON

    # A second cycle with the fault still there changes nothing more and logs no
    # second "unavailable" line.
    if phase == "before":
        await refresh(hass, coordinator)
        assert (view(home, world.identities), view(cabin, world.identities)) == after
        assert caplog.text.count("Jellyfin server Cabin is unavailable") == 1

    await _heal(cabin)
    await refresh(hass, coordinator)
    assert coordinator.data.last_cycle is not None
    assert coordinator.data.last_cycle.outcome == "ok"
    assert hass.states.get(STATUS).state == "ok"
    assert hass.states.get(CABIN_CONNECTED).state == STATE_ON
    world.assert_changes_everywhere()
    world.assert_converged()
    assert_clean_logs(caplog, home.api_key, cabin.api_key)

    await _assert_restart_resumes(hass, entry, home, cabin)


@pytest.mark.parametrize("phase", ["reads", "writes"])
async def test_key_revoked_mid_cycle(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    phase: str,
) -> None:
    """A 401 in the middle of a cycle: nothing lost; the next check asks for a key."""
    home, cabin = group
    caplog.set_level(logging.DEBUG)
    world = scenario(home, cabin)
    world.seed()
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    world.change()
    before = (view(home, world.identities), view(cabin, world.identities))
    trap = Trap(monkeypatch, cabin, phase, cabin.faults.revoke_key)
    await refresh(hass, coordinator)
    assert trap.fired
    assert_nothing_invented(
        before, (view(home, world.identities), view(cabin, world.identities))
    )
    assert coordinator.data.last_cycle is not None
    assert coordinator.data.last_cycle.outcome == "error"

    # The next cycle's check sees the 401: reauthentication starts, nothing runs.
    during = (home.dump_user_data(), cabin.dump_user_data())
    await refresh(hass, coordinator)
    assert coordinator.last_update_success is False
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]
    assert (home.dump_user_data(), cabin.dump_user_data()) == during

    cabin.faults.restore_key()
    await refresh(hass, coordinator)
    assert coordinator.last_update_success is True
    world.assert_changes_everywhere()
    world.assert_converged()
    assert_clean_logs(caplog, home.api_key, cabin.api_key)
    for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN):
        hass.config_entries.flow.async_abort(flow["flow_id"])
    await _assert_restart_resumes(hass, entry, home, cabin)


async def test_flaky_server_and_slow_answers(
    hass: HomeAssistant,
    group: tuple[SimulatedServer, SimulatedServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A third of the answers fail and the rest are slow: retries carry the cycle."""
    home, cabin = group
    world = scenario(home, cabin)
    world.seed()
    entry = make_entry(hass, [home, cabin])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    world.change()
    before = (view(home, world.identities), view(cabin, world.identities))
    cabin.faults.fail_fraction(0.3, 503, seed=4)
    home.faults.latency(0.05)
    for _ in range(4):
        await refresh(hass, coordinator)
        assert_nothing_invented(
            before, (view(home, world.identities), view(cabin, world.identities))
        )
    await _heal(cabin)
    await _heal(home)
    await refresh(hass, coordinator)
    assert coordinator.data.last_cycle is not None
    assert coordinator.data.last_cycle.outcome == "ok"
    world.assert_changes_everywhere()
    world.assert_converged()
    assert_clean_logs(caplog, home.api_key, cabin.api_key)
