"""Names that moved between the Home Assistant releases this integration supports.

Home Assistant 2026.x validates with ``probatio`` (and aliases ``voluptuous`` to it at
start-up); 2025.x uses ``voluptuous``. ``BinarySensorDeviceClass`` lives in the
package's ``const`` module from 2026.x on and is only re-exported by the package.
Repair flows return ``RepairsFlowResult`` from 2026.x on (a ``FlowResult`` before).
The type checker runs against the newest Home Assistant.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
    from homeassistant.components.repairs import RepairsFlowResult
    import probatio as vol
else:
    try:
        import probatio as vol
    except ImportError:  # pragma: no cover - Home Assistant before 2026.x
        import voluptuous as vol

    from homeassistant.components.binary_sensor import BinarySensorDeviceClass

    try:
        from homeassistant.components.repairs import RepairsFlowResult
    except ImportError:  # pragma: no cover - Home Assistant before 2026.x
        from homeassistant.data_entry_flow import FlowResult as RepairsFlowResult

__all__ = ["BinarySensorDeviceClass", "RepairsFlowResult", "vol"]
