"""Config flow of Jellyfin Sync."""

from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_API_KEY, CONF_URL
import voluptuous as vol

from .const import DOMAIN


class JellyfinSyncConfigFlow(ConfigFlow, domain=DOMAIN):
    """Register a group of Jellyfin servers to keep in sync."""

    VERSION = 1

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the first server."""
        return self.async_show_form(
            step_id="user",
            data_schema=vol.Schema(
                {vol.Required(CONF_URL): str, vol.Required(CONF_API_KEY): str}
            ),
        )
