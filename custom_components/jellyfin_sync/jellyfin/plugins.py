"""The Jellyfin Webhook plugin's configuration: our Generic destination in it.

Pure functions over the configuration document as ``GET/POST
/Plugins/{id}/Configuration`` carry it (the plugin's ``PluginConfiguration``, property
names in PascalCase). Everything we do not own is kept as it came: other
destinations, other destination kinds, the server URL, and properties a newer
plugin release may add.

Our destination is recognised by its URL path, which holds the group's secret
webhook id: a destination a user made by hand for the same group (the manual
set-up) becomes ours, any other is never touched, and renaming the group does not
leave an old one behind.
"""

import base64
from collections.abc import Mapping, Sequence
import copy
from dataclasses import dataclass
from typing import Any, Self

from .exceptions import JellyfinResponseError
from .models import normalize_id

#: The Webhook plugin (``jellyfin/jellyfin-plugin-webhook`` ``build.yaml``).
WEBHOOK_PLUGIN_ID = "71552a5a5c5c4350a2aeebe451a30173"
#: The notification our destination asks for (``NotificationType.UserDataSaved``).
USER_DATA_SAVED = "UserDataSaved"
#: The plugin's item-type switches of a destination (``BaseOption``): every one on,
#: so a save of any kind of item is sent. A release without one of them ignores it.
ITEM_FLAGS: tuple[str, ...] = (
    "EnableMovies",
    "EnableEpisodes",
    "EnableSeries",
    "EnableSeasons",
    "EnableAlbums",
    "EnableSongs",
    "EnableVideos",
)
_GENERIC = "GenericOptions"
#: Destination properties and the plugin release that added them (``BaseOption``
#: of each release): an older release is not sent what it does not know.
_SINCE: Mapping[str, int] = {
    "TrimWhitespace": 15,
    "SkipEmptyMessageBody": 15,
    "EnableVideos": 16,
    "EnableWebhook": 16,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Plugin:
    """An installed plugin (``PluginInfo``)."""

    id: str
    name: str
    version: str
    status: str
    """``Active``, ``Restart`` (installed, active after a restart), ``Disabled``,
    ``Malfunctioned``, ..."""

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a ``PluginInfo`` payload."""
        if not isinstance(data, Mapping):
            raise JellyfinResponseError("plugin is not a JSON object")
        raw_id = data.get("Id")
        if not isinstance(raw_id, str) or not raw_id:
            raise JellyfinResponseError("plugin without Id")
        return cls(
            id=normalize_id(raw_id),
            name=str(data.get("Name") or ""),
            version=str(data.get("Version") or ""),
            status=str(data.get("Status") or ""),
        )

    @property
    def release(self) -> int | None:
        """The major version (the plugin's release number), if it parses."""
        head = self.version.split(".", 1)[0]
        return int(head) if head.isdigit() else None

    @property
    def active(self) -> bool:
        """Whether the plugin runs (``Restart``: it does after the next restart)."""
        return self.status == "Active"


def _ours(option: object, webhook_path: str) -> bool:
    if not isinstance(option, Mapping):
        return False
    uri = option.get("WebhookUri")
    return isinstance(uri, str) and uri.split("?", 1)[0].rstrip("/").endswith(
        webhook_path
    )


def destination(
    name: str, uri: str, template: str, release: int | None = None
) -> dict[str, Any]:
    """Our Generic destination: user-data saves of every item type, every user.

    ``release`` (the plugin's major version) leaves out what that release does
    not have; ``None`` sends everything.
    """
    option: dict[str, Any] = {
        "WebhookName": name,
        "WebhookUri": uri,
        "NotificationTypes": [USER_DATA_SAVED],
        "EnableWebhook": True,
        "SendAllProperties": False,
        "TrimWhitespace": False,
        "SkipEmptyMessageBody": False,
        "UserFilter": [],
        "Template": base64.b64encode(template.encode()).decode(),
        "Headers": [],
        "Fields": [],
    }
    option.update(dict.fromkeys(ITEM_FLAGS, True))
    if release is not None:
        for key, since in _SINCE.items():
            if release < since:
                option.pop(key, None)
    return option


def with_destination(
    config: Mapping[str, Any], wanted: Mapping[str, Any], webhook_path: str
) -> dict[str, Any] | None:
    """``config`` with exactly one of our destinations, as ``wanted``.

    Returns ``None`` when ``config`` holds it already (nothing to write).

    Raises:
        JellyfinResponseError: the configuration is not the plugin's.
    """
    options = _generic(config)
    ours = [o for o in options if _ours(o, webhook_path)]
    if len(ours) == 1 and all(ours[0].get(k) == v for k, v in wanted.items()):
        return None
    updated = copy.deepcopy(dict(config))
    kept: list[Any] = []
    placed = False
    for option in updated.get(_GENERIC) or []:
        if _ours(option, webhook_path):
            if not placed:
                # Keep what a newer plugin release added to it.
                kept.append({**option, **wanted})
                placed = True
            continue
        kept.append(option)
    if not placed:
        kept.append(dict(wanted))
    updated[_GENERIC] = kept
    return updated


def without_destination(
    config: Mapping[str, Any], webhook_path: str
) -> dict[str, Any] | None:
    """``config`` without our destinations; ``None`` when it has none."""
    options = _generic(config)
    if not any(_ours(o, webhook_path) for o in options):
        return None
    updated = copy.deepcopy(dict(config))
    updated[_GENERIC] = [o for o in options if not _ours(o, webhook_path)]
    return updated


def has_destination(config: Mapping[str, Any], webhook_path: str) -> bool:
    """Whether ``config`` holds one of our destinations, switched on."""
    return any(
        _ours(o, webhook_path) and o.get("EnableWebhook", True) is not False
        for o in _generic(config)
    )


def _generic(config: Mapping[str, Any]) -> Sequence[Any]:
    if not isinstance(config, Mapping):
        raise JellyfinResponseError("the plugin configuration is not a JSON object")
    options = config.get(_GENERIC)
    if options is None:
        return []
    if not isinstance(options, list):
        raise JellyfinResponseError("GenericOptions is not a list")
    return options
