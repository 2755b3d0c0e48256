"""Form pieces both flows of Jellyfin Sync use.

The config flow and the options flow both let the user pick one of the group's
servers, and both show how to set up the Jellyfin Webhook plugin.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from .const import CONF_NAME, CONF_SERVER_ID
from .webhook import WEBHOOK_TEMPLATE, webhook_url


def server_picker(servers: Sequence[Mapping[str, Any]]) -> SelectSelector:
    """A drop-down of the group's servers (value: server id, label: name)."""
    return SelectSelector(
        SelectSelectorConfig(
            options=[
                SelectOptionDict(value=s[CONF_SERVER_ID], label=s[CONF_NAME])
                for s in servers
            ],
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


def webhook_placeholders(hass: HomeAssistant, webhook_id: str | None) -> dict[str, str]:
    """The webhook URL and template the setup instructions show."""
    return {
        "webhook_url": webhook_url(hass, webhook_id)
        if webhook_id
        else "(shown once the group has been set up)",
        "template": WEBHOOK_TEMPLATE,
    }
