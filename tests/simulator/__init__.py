"""A faithful Jellyfin server simulator for tests, benchmarks and ``scripts/develop``.

Public API::

    from tests.simulator import SimulatedServer, SimulatorCluster, LibrarySpec, Faults

See :class:`SimulatedServer` for the control surface (acting as users, faults,
counters, webhooks) and :mod:`tests.simulator.conformance` for the OpenAPI checks.
It must not import the project's client or engine.
"""

from .library import LibrarySpec, SimItem, jellyfin_item_id
from .server import (
    DEFAULT_WEBHOOK_TEMPLATE,
    Actor,
    Counters,
    Faults,
    SimulatedServer,
    SimulatorCluster,
    WebhookDelivery,
    Webhooks,
)

__all__ = [
    "DEFAULT_WEBHOOK_TEMPLATE",
    "Actor",
    "Counters",
    "Faults",
    "LibrarySpec",
    "SimItem",
    "SimulatedServer",
    "SimulatorCluster",
    "WebhookDelivery",
    "Webhooks",
    "jellyfin_item_id",
]
