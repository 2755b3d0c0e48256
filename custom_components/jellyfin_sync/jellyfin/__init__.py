"""Async Jellyfin client used by Jellyfin Sync (no Home Assistant imports)."""
