"""Shared fixtures."""

import pytest

pytest_plugins = ["tests.simulator.fixtures"]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components/."""


_HA_MODULES: dict[str, bool] = {}


def _uses_home_assistant(item: pytest.Item) -> bool:
    """Whether a test runs Home Assistant (its module imports it, or it is e2e)."""
    path = str(item.path)
    if path not in _HA_MODULES:
        text = item.path.read_text(encoding="utf-8")
        _HA_MODULES[path] = (
            "/e2e/" in path
            or "from homeassistant" in text
            or "import homeassistant" in text
        )
    return _HA_MODULES[path]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the Home Assistant tests: the minimum lane runs only those."""
    for item in items:
        if _uses_home_assistant(item):
            item.add_marker(pytest.mark.homeassistant)
