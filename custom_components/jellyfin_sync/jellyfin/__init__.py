"""Async Jellyfin client used by Jellyfin Sync (no Home Assistant imports).

The client and its public API are documented in :mod:`.client`; the typed results in
:mod:`.models`; the errors callers act on in :mod:`.exceptions`.
"""

from .client import JellyfinClient, RequestStats, normalize_url
from .const import CLIENT_VERSION
from .exceptions import (
    JellyfinAuthError,
    JellyfinConnectionError,
    JellyfinError,
    JellyfinNotFoundError,
    JellyfinRequestError,
    JellyfinResponseError,
    JellyfinServerError,
    JellyfinStartingError,
    JellyfinTimeoutError,
)
from .models import (
    MIN_SUPPORTED_VERSION,
    Capabilities,
    Item,
    Library,
    ServerInfo,
    SyncField,
    User,
    UserData,
    format_datetime,
    parse_datetime,
)
from .write_errors import JellyfinUnsupportedError, JellyfinVerificationError

__all__ = [
    "CLIENT_VERSION",
    "MIN_SUPPORTED_VERSION",
    "Capabilities",
    "Item",
    "JellyfinAuthError",
    "JellyfinClient",
    "JellyfinConnectionError",
    "JellyfinError",
    "JellyfinNotFoundError",
    "JellyfinRequestError",
    "JellyfinResponseError",
    "JellyfinServerError",
    "JellyfinStartingError",
    "JellyfinTimeoutError",
    "JellyfinUnsupportedError",
    "JellyfinVerificationError",
    "Library",
    "RequestStats",
    "ServerInfo",
    "SyncField",
    "User",
    "UserData",
    "format_datetime",
    "normalize_url",
    "parse_datetime",
]
