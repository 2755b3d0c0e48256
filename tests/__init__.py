"""Tests of the Jellyfin Sync integration."""
