"""Repair flows of Jellyfin Sync.

Held mass changes are the one fixable issue: its flow shows what the mass-change
guard held (per user and server, counts only) and, on confirmation, runs a cycle
that applies them. Version and failure issues explain what to do outside Home
Assistant and are not fixable here.
"""

from collections.abc import Mapping
from typing import Any

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from .compat import RepairsFlowResult, vol
from .const import DOMAIN, ISSUE_HELD
from .coordinator import JellyfinSyncConfigEntry
from .texts import async_texts


class HeldChangesRepairFlow(RepairsFlow):
    """Show the held changes of a group and apply them on confirmation."""

    def __init__(self, entry_id: str) -> None:
        """Remember the group the issue belongs to."""
        self._entry_id = entry_id

    def _entry(self) -> JellyfinSyncConfigEntry | None:
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.domain != DOMAIN:
            return None
        if entry.state is not ConfigEntryState.LOADED:
            return None
        loaded: JellyfinSyncConfigEntry = entry
        return loaded

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Start with the confirmation step."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Show the held changes; apply them when the user submits."""
        entry = self._entry()
        if entry is None:
            return self.async_abort(reason="not_loaded")
        coordinator = entry.runtime_data
        if not coordinator.data.held:
            return self.async_abort(reason="nothing_held")
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                await coordinator.async_run_cycle(dry_run=False, approve_held=True)
            except HomeAssistantError:
                errors["base"] = "apply_failed"
            else:
                return self.async_create_entry(data={})
        texts = await async_texts(self.hass, "held_text")
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            errors=errors,
            description_placeholders={
                "title": entry.title,
                "held": str(coordinator.data.held),
                "summary": held_summary(
                    coordinator.last_report, coordinator.names, texts
                ),
                "examples": held_examples(
                    coordinator.last_report, coordinator.names, texts
                ),
            },
        )


def held_summary(
    report: Mapping[str, Any] | None,
    names: Mapping[str, str],
    texts: Mapping[str, str],
) -> str:
    """One line per user and server whose resets the guard held (no item data).

    ``texts`` are the ``selector.held_text`` translations (:func:`.texts.async_texts`).
    """
    lines = [
        texts["guard"].format(
            user=g["user"],
            server=names.get(g["server"], g["server"]),
            resets=g["resets"],
            items=g["items_with_data"],
        )
        for g in (report or {}).get("guard", [])
    ]
    return "; ".join(lines) or "-"


def held_examples(
    report: Mapping[str, Any] | None,
    names: Mapping[str, str],
    texts: Mapping[str, str],
    limit: int = 5,
) -> str:
    """The first held writes: item key and the fields they would reset."""
    examples = [
        texts["example"].format(
            identity=w["identity"],
            server=names.get(w["server"], w["server"]),
            fields=", ".join(w["resets"] or w["fields"]),
        )
        for w in (report or {}).get("held_writes", [])[:limit]
    ]
    return "; ".join(examples) or "-"


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """Create the fix flow of a repair issue."""
    if issue_id.startswith(f"{ISSUE_HELD}_") and data and "entry_id" in data:
        return HeldChangesRepairFlow(str(data["entry_id"]))
    return ConfirmRepairFlow()
