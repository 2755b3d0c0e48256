"""Constants of the Jellyfin Sync integration."""

from datetime import timedelta
import logging
from typing import Final

from .group import Status
from .sync.options import Direction, FirstSyncPolicy

DOMAIN: Final = "jellyfin_sync"
LOGGER: Final = logging.getLogger(__package__)

# ---- config entry data -------------------------------------------------------------
CONF_SERVERS: Final = "servers"
"""``entry.data[CONF_SERVERS]``: list of server dicts (keys below), in priority order."""
CONF_SERVER_ID: Final = "server_id"
CONF_NAME: Final = "name"
CONF_WEBHOOK_ID: Final = "webhook_id"
"""``entry.data[CONF_WEBHOOK_ID]``: the group's Home Assistant webhook id (a secret)."""
# CONF_URL, CONF_API_KEY and CONF_VERIFY_SSL come from homeassistant.const.

# ---- options -------------------------------------------------------------------------
CONF_SCAN_INTERVAL: Final = "scan_interval"
"""Minutes between sync cycles."""
CONF_FULL_LISTING_HOURS: Final = "full_listing_hours"
"""Hours between full listings of each user's library (finds lone low ratings)."""
CONF_FIELDS: Final = "fields"
CONF_USER_MODE: Final = "user_mode"
CONF_USERS: Final = "users"
CONF_USER_MAP: Final = "user_map"
CONF_PRIMARY_SERVER: Final = "primary_server"
CONF_DIRECTION: Final = "direction"
CONF_FIRST_SYNC: Final = "first_sync"
CONF_MAX_CHANGES: Final = "max_changes"
CONF_MAX_CHANGE_PERCENT: Final = "max_change_percent"
CONF_DRY_RUN: Final = "dry_run"
CONF_WEBHOOK_REMOTE: Final = "webhook_remote"
CONF_INSTANT_SYNC: Final = "instant_sync"
"""Home Assistant configures the Webhook plugin on every server (off by default)."""
"""Accept webhook calls from outside the local network (off by default)."""
CONF_PROGRESS_DELAY: Final = "progress_delay"
"""Seconds without playback-progress saves before an item being watched is synced."""
CONF_SERVER_DIRECTIONS: Final = "server_directions"
"""Server id -> ``SERVER_*`` direction; used when ``direction`` is ``per_server``."""
CONF_PRIORITY: Final = "priority"
"""Server ids in priority order (the primary server is always first)."""
CONF_MEDIA_ROOTS: Final = "media_roots"
"""Server id -> list of media folder prefixes stripped before matching by path."""
CONF_FIELD_SOURCES: Final = "field_sources"
"""Sync field -> the only server whose changes of that field count (absent: all)."""
CONF_KINDS: Final = "kinds"
"""Item kinds synced (``sync.kinds.Kind`` values: films, shows, music, ...)."""
CONF_LIBRARY_MODE: Final = "library_mode"
"""``all``, ``include`` (only ``libraries``) or ``exclude`` (all but ``libraries``)."""
CONF_LIBRARIES: Final = "libraries"
"""Library names chosen for ``library_mode`` (matched across servers by name)."""
CONF_LIBRARY_MAP: Final = "library_map"
"""Lines of library names that are one library on different servers (``a = b``)."""
CONF_EDIT_SERVERS: Final = "edit_servers"
"""Form-only switch of the options flow: show the per-server steps next."""
CONF_SERVER_DIRECTION: Final = "server_direction"
"""Form key of one server's direction in the options flow's server step."""
CONF_RANK: Final = "rank"
"""Form key of one server's priority (1 = highest) in the server step."""

USER_MODE_ALL: Final = "all"
USER_MODE_INCLUDE: Final = "include"
USER_MODE_EXCLUDE: Final = "exclude"
USER_MODES: Final = (USER_MODE_ALL, USER_MODE_INCLUDE, USER_MODE_EXCLUDE)
LIBRARY_MODES: Final = USER_MODES
"""Same values as the user modes: all, include, exclude."""
KINDS: Final = ("films", "shows", "collections", "music", "books", "home_videos")
"""Every item kind, in the order the options show them (``sync.kinds.Kind``)."""

DIRECTION_TWO_WAY: Final = "two_way"
DIRECTION_ONE_WAY: Final = "one_way"
DIRECTION_PER_SERVER: Final = "per_server"
DIRECTIONS: Final = (DIRECTION_TWO_WAY, DIRECTION_ONE_WAY, DIRECTION_PER_SERVER)

SERVER_TWO_WAY: Final = Direction.TWO_WAY.value
"""The server sends its changes and receives the others'."""
SERVER_SOURCE_ONLY: Final = Direction.SOURCE_ONLY.value
"""The server is read only: its changes reach the others, nothing is written to it."""
SERVER_RECEIVE_ONLY: Final = Direction.RECEIVE_ONLY.value
"""The server is written only: its own changes are ignored and overwritten."""
SERVER_OFF: Final = Direction.OFF.value
"""The server takes no part."""
SERVER_DIRECTIONS: Final = (
    SERVER_TWO_WAY,
    SERVER_SOURCE_ONLY,
    SERVER_RECEIVE_ONLY,
    SERVER_OFF,
)
FIELD_SOURCE_ALL: Final = "all"
"""Field source meaning "changes on any server count"."""

FIRST_SYNC_MERGE: Final = FirstSyncPolicy.MERGE.value
FIRST_SYNC_PRIMARY: Final = FirstSyncPolicy.PRIMARY_WINS.value
FIRST_SYNC_POLICIES: Final = (FIRST_SYNC_MERGE, FIRST_SYNC_PRIMARY)

DEFAULT_SCAN_INTERVAL: Final = 30
MIN_SCAN_INTERVAL: Final = 5
MAX_SCAN_INTERVAL: Final = 1440
DEFAULT_FULL_LISTING_HOURS: Final = 24
MIN_FULL_LISTING_HOURS: Final = 1
MAX_FULL_LISTING_HOURS: Final = 720
DEFAULT_MAX_CHANGES: Final = 500
DEFAULT_MAX_CHANGE_PERCENT: Final = 20
DEFAULT_PROGRESS_DELAY: Final = 30
MIN_PROGRESS_DELAY: Final = 1
MAX_PROGRESS_DELAY: Final = 600

# ---- runtime -------------------------------------------------------------------------
STORAGE_VERSION: Final = 1
STORAGE_MINOR_VERSION: Final = 1
FAILURES_BEFORE_REPAIR: Final = 3
"""Consecutive failed cycles of one server before a repair issue is raised."""
FULL_FEATURED_VERSION: Final = (10, 9)
REQUEST_TIMEOUT: Final = 30.0
PROBE_TIMEOUT: Final = 10.0
"""Per request of the server check that opens every cycle (no retries)."""
CLIENT_RETRIES: Final = 3
CLIENT_RETRY_BACKOFF: Final = 1.0
INFO_REFRESH: Final = timedelta(hours=6)

# ---- webhook (near-real-time sync) -----------------------------------------------
WEBHOOK_NAME: Final = "Jellyfin Sync"
WEBHOOK_MAX_BODY: Final = 64 * 1024
"""Bytes; a larger webhook body is rejected unread."""
WEBHOOK_COALESCE: Final = 0.5
"""Seconds a non-progress save waits so a burst becomes one targeted cycle."""
PROGRESS_MAX_WAIT_FACTOR: Final = 10
"""An item being watched is synced at least every ``progress_delay`` times this."""
INSTANT_ACTIVE_WINDOW: Final = timedelta(days=1)
"""Instant sync counts as active while a call from the server arrived this recently."""
SAVE_REASON_PROGRESS: Final = "PlaybackProgress"

# ---- events, actions, repairs --------------------------------------------------------
EVENT_COMPLETED: Final = f"{DOMAIN}_completed"
SERVICE_RUN: Final = "run"
SERVICE_UNDO: Final = "undo"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_DRY_RUN: Final = "dry_run"
ATTR_FULL: Final = "full"
ATTR_USERS: Final = "users"
ATTR_CYCLE_ID: Final = "cycle_id"

PROBLEM_SELECTOR: Final = "server_problem"
"""Translations of ``group.ServerProblem`` (``selector.server_problem.options``)."""
ISSUE_HELD: Final = "held_changes"
ISSUE_OLD_VERSION: Final = "reduced_capabilities"
ISSUE_UNSUPPORTED: Final = "unsupported_version"
ISSUE_FAILING: Final = "persistent_failure"
ISSUE_PLUGIN_MISSING: Final = "webhook_plugin_missing"
ISSUE_INSTANT_URL: Final = "instant_sync_url"
ISSUE_INSTANT_LEFT: Final = "instant_sync_left_behind"

STATUSES: Final = tuple(status.value for status in Status)
"""The status sensor's states (``group.Status``)."""
