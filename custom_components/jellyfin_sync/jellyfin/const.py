"""Constants of the Jellyfin client (no Home Assistant imports)."""

from typing import Final

#: Sent as ``Version`` in the authorization header; equals manifest.json's version.
CLIENT_VERSION: Final = "0.1.0"
#: Sent as ``Client``: Jellyfin shows it in the dashboard's device list.
CLIENT_NAME: Final = "Jellyfin Sync"
#: Sent as ``Device``.
DEVICE_NAME: Final = "Home Assistant"

#: Item types a sync lists by default.
DEFAULT_ITEM_TYPES: Final = ("Movie", "Episode")
#: Optional item fields the sync matches on (not returned unless requested).
DEFAULT_FIELDS: Final = ("ProviderIds", "Path")
#: Ids per ``/Items?ids=`` request: 100 ids of 32 hex digits keep the URL near 3.3 kB.
IDS_PER_REQUEST: Final = 100
#: Sort keys that make paging as stable as Jellyfin allows (it has no unique key).
SORT_BY: Final = "DateCreated,SortName"
