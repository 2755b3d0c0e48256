"""Options of a sync group: defaults, parsing and validation.

Kept free of flow code so the coordinator, the actions and the options flow read
options the same way.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .const import (
    CONF_DIRECTION,
    CONF_DRY_RUN,
    CONF_FIELDS,
    CONF_FIRST_SYNC,
    CONF_MAX_CHANGE_PERCENT,
    CONF_MAX_CHANGES,
    CONF_PRIMARY_SERVER,
    CONF_PROGRESS_DELAY,
    CONF_SCAN_INTERVAL,
    CONF_SERVER_ID,
    CONF_USER_MAP,
    CONF_USER_MODE,
    CONF_USERS,
    CONF_WEBHOOK_REMOTE,
    DEFAULT_MAX_CHANGE_PERCENT,
    DEFAULT_MAX_CHANGES,
    DEFAULT_PROGRESS_DELAY,
    DEFAULT_SCAN_INTERVAL,
    DIRECTION_ONE_WAY,
    DIRECTION_TWO_WAY,
    FIRST_SYNC_MERGE,
    FIRST_SYNC_PRIMARY,
    USER_MODE_ALL,
    USER_MODE_EXCLUDE,
)
from .jellyfin.models import SyncField, User
from .sync import Direction, FirstSyncPolicy, GuardLimits, ServerOptions, SyncOptions

ALL_FIELDS: tuple[str, ...] = tuple(field.value for field in SyncField)


def default_options(servers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Options a new group starts with: everything synced both ways, guard on."""
    return {
        CONF_SCAN_INTERVAL: DEFAULT_SCAN_INTERVAL,
        CONF_FIELDS: list(ALL_FIELDS),
        CONF_PRIMARY_SERVER: servers[0][CONF_SERVER_ID] if servers else "",
        CONF_DIRECTION: DIRECTION_TWO_WAY,
        CONF_FIRST_SYNC: FIRST_SYNC_MERGE,
        CONF_MAX_CHANGES: DEFAULT_MAX_CHANGES,
        CONF_MAX_CHANGE_PERCENT: DEFAULT_MAX_CHANGE_PERCENT,
        CONF_DRY_RUN: False,
        CONF_USER_MODE: USER_MODE_ALL,
        CONF_USERS: [],
        CONF_USER_MAP: "",
        CONF_WEBHOOK_REMOTE: False,
        CONF_PROGRESS_DELAY: DEFAULT_PROGRESS_DELAY,
    }


def effective_options(
    servers: Sequence[Mapping[str, Any]], options: Mapping[str, Any]
) -> dict[str, Any]:
    """Stored options over the defaults, with a primary server that still exists."""
    merged = {**default_options(servers), **options}
    ids = [s[CONF_SERVER_ID] for s in servers]
    if merged[CONF_PRIMARY_SERVER] not in ids and ids:
        merged[CONF_PRIMARY_SERVER] = ids[0]
    return merged


def parse_user_map(text: str, known: Iterable[str] = ()) -> list[list[str]]:
    r"""Parse the explicit user mapping: one person per line, names joined by ``=``.

    ``alice = alicia`` means user ``alice`` on one server is ``alicia`` on another.
    A name may appear on one line only; when ``known`` names are given, every name
    must be one of them (case-insensitive).

    >>> parse_user_map("alice = Alicia\n\nbob=robert")
    [['alice', 'Alicia'], ['bob', 'robert']]

    Raises:
        ValueError: a line with fewer than two names, a repeated or unknown name.
    """
    known_lower = {name.lower() for name in known}
    seen: set[str] = set()
    groups: list[list[str]] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        names = [part.strip() for part in line.split("=")]
        if len(names) < 2 or any(not name for name in names):
            raise ValueError(f"line {line!r} needs at least two names joined by '='")
        for name in names:
            lowered = name.lower()
            if lowered in seen:
                raise ValueError(f"user {name!r} appears twice")
            if known_lower and lowered not in known_lower:
                raise ValueError(f"unknown user {name!r}")
            seen.add(lowered)
        groups.append(names)
    return groups


def build_sync_options(
    options: Mapping[str, Any],
    servers: Sequence[Mapping[str, Any]],
    users: Mapping[str, Sequence[User]],
) -> SyncOptions:
    """Translate the group's options into the engine's :class:`SyncOptions`.

    ``users`` (server id -> users) resolves the explicit mapping: for each line,
    the first of its names that exists on a server is that server's user.
    """
    ids = [s[CONF_SERVER_ID] for s in servers]
    primary = options[CONF_PRIMARY_SERVER]
    priority = (primary, *(sid for sid in ids if sid != primary))
    per_server: dict[str, ServerOptions] = {}
    if options[CONF_DIRECTION] == DIRECTION_ONE_WAY:
        per_server = {
            sid: ServerOptions(
                direction=Direction.READ_ONLY
                if sid == primary
                else Direction.WRITE_ONLY
            )
            for sid in ids
        }
    first_sync = (
        FirstSyncPolicy.SOURCE
        if options[CONF_FIRST_SYNC] == FIRST_SYNC_PRIMARY
        else FirstSyncPolicy.MERGE
    )
    max_changes = int(options[CONF_MAX_CHANGES])
    max_percent = int(options[CONF_MAX_CHANGE_PERCENT])
    user_map: dict[str, dict[str, str]] = {}
    for names in parse_user_map(options.get(CONF_USER_MAP, "")):
        wanted = [name.casefold() for name in names]
        mapped: dict[str, str] = {}
        for sid in ids:
            present = {u.name.casefold(): u.name for u in users.get(sid, ())}
            found = next((present[n] for n in wanted if n in present), None)
            if found is not None:
                mapped[sid] = found
        user_map[names[0]] = mapped
    excluded = (
        frozenset(options[CONF_USERS])
        if options[CONF_USER_MODE] == USER_MODE_EXCLUDE
        else frozenset()
    )
    return SyncOptions(
        servers=per_server,
        priority=priority,
        fields=frozenset(SyncField(f) for f in options[CONF_FIELDS]),
        first_sync=first_sync,
        source_server=primary,
        guard=GuardLimits(
            max_resets=max_changes or None,
            max_share=max_percent / 100 if max_percent else None,
        ),
        user_map=user_map,
        excluded_users=excluded,
        # "Hidden" only hides a user from the login screen (Jellyfin's default for
        # new users); their watch data is as real as anyone's.
        include_hidden_users=True,
    )
