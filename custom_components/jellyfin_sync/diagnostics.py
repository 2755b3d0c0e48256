"""Diagnostics of a sync group, from cached data only (no requests are made).

API keys, the webhook id, user names (in options and reports) and any credentials
in URLs are redacted; server versions, capabilities, options, recent cycles and the match
statistics of the last report are kept, since those explain most sync problems.
"""

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_API_KEY, CONF_URL
from homeassistant.core import HomeAssistant
from yarl import URL

from .const import CONF_SERVERS, CONF_USER_MAP, CONF_USERS, CONF_WEBHOOK_ID
from .coordinator import JellyfinSyncConfigEntry
from .jellyfin.models import Capabilities

TO_REDACT = {
    CONF_API_KEY,
    CONF_USERS,
    CONF_USER_MAP,
    CONF_WEBHOOK_ID,
    "user",
    "users_skipped",
    "token",
    "password",
}


def _safe_url(url: str) -> str:
    """The URL without user name or password (the flow refuses them anyway)."""
    return str(URL(url).with_user(None))


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: JellyfinSyncConfigEntry
) -> dict[str, Any]:
    """Return the diagnostics of a sync group."""
    coordinator = entry.runtime_data
    servers: list[dict[str, Any]] = []
    for conf in entry.data[CONF_SERVERS]:
        server = {**conf, CONF_URL: _safe_url(conf[CONF_URL])}
        state = coordinator.data.servers.get(conf["server_id"])
        if state is not None:
            server["online"] = state.online
            server["error"] = state.error
            server["failures"] = state.failures
            server["tracked_items"] = state.tracked_items
            if state.info is not None:
                server["version"] = state.info.version
                server["product"] = state.info.product_name
                server["capabilities"] = asdict(
                    Capabilities.for_version(state.info.version_tuple)
                )
        servers.append(server)
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "version": f"{entry.version}.{entry.minor_version}",
                "servers": servers,
                "options": dict(entry.options),
            },
            "status": coordinator.status,
            "held": coordinator.data.held,
            "baseline_items": coordinator.group.baseline.item_count,
            "undoable_cycles": len(coordinator.group.baseline.history),
            "undo_history": coordinator.group.undo_history,
            "history": coordinator.group.history,
            "last_report": coordinator.last_report,
            # Counters only: the webhook id (a secret) is never included.
            "webhook": dict(coordinator.webhook.stats)
            if coordinator.webhook is not None
            else None,
            # Per server: status and last error; never the URL (it holds the id).
            "instant_sync": {
                conf["server_id"]: {
                    "status": coordinator.instant.status_of(conf["server_id"]).value,
                    "error": coordinator.instant.error.get(conf["server_id"]),
                }
                for conf in entry.data[CONF_SERVERS]
            }
            if coordinator.instant is not None
            else None,
        },
        TO_REDACT,
    )
