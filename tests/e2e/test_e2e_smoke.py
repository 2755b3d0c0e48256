"""A real Home Assistant process loads the integration and offers it in "Add integration"."""

from pathlib import Path

import pytest

from tests.e2e.harness import HomeAssistantProcess

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("socket_enabled")]


async def test_integration_is_offered_and_loads_cleanly(tmp_path: Path) -> None:
    async with HomeAssistantProcess(tmp_path / "config") as ha:
        # The "Add integration" dialog lists custom integrations from this command.
        descriptions = await ha.websocket({"type": "integration/descriptions"})
        custom = descriptions["custom"]["integration"]
        assert custom["jellyfin_sync"]["config_flow"] is True
        assert custom["jellyfin_sync"]["name"] == "Jellyfin Sync"
        status, form = await ha.request(
            "POST", "/api/config/config_entries/flow", json={"handler": "jellyfin_sync"}
        )
        assert status == 200, form
        assert form["type"] == "form"
    log = ha.log_text()
    problems = [
        line
        for line in log.splitlines()
        if "jellyfin_sync" in line
        and ("WARNING" in line or "ERROR" in line)
        # Home Assistant prints this for every custom integration.
        and "has not been tested by Home Assistant" not in line
    ]
    assert not problems, "\n".join(problems)
