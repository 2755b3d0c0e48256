"""Words for what the group, the engine and the client report as keys.

They live in the integration's translations, under ``selector.<name>.options`` (the
one translation category that maps keys to plain texts), and are read in the user's
language when a repair issue or a form needs them as a placeholder.
"""

from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_translations

from .const import DOMAIN


async def async_texts(hass: HomeAssistant, name: str) -> dict[str, str]:
    """Key -> text of ``selector.<name>.options`` in the configured language."""
    strings = await async_get_translations(
        hass, hass.config.language, "selector", [DOMAIN]
    )
    prefix = f"component.{DOMAIN}.selector.{name}.options."
    return {
        key.removeprefix(prefix): text
        for key, text in strings.items()
        if key.startswith(prefix)
    }
