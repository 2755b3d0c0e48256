"""Constants of the Jellyfin Sync integration."""

from typing import Final

DOMAIN: Final = "jellyfin_sync"
