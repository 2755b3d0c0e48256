"""Shared fixtures."""

import pytest

pytest_plugins = ["tests.simulator.fixtures"]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components/."""
