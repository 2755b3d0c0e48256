"""Options of a sync group: defaults, parsing and validation.

Kept free of flow code so the coordinator, the actions and the options flow read
options the same way.
"""

from collections.abc import Iterable, Mapping, Sequence
import re
from typing import Any

from .const import (
    CONF_DIRECTION,
    CONF_DRY_RUN,
    CONF_FIELD_SOURCES,
    CONF_FIELDS,
    CONF_FIRST_SYNC,
    CONF_FULL_LISTING_HOURS,
    CONF_INSTANT_SYNC,
    CONF_KINDS,
    CONF_LIBRARIES,
    CONF_LIBRARY_MAP,
    CONF_LIBRARY_MODE,
    CONF_MAX_CHANGE_PERCENT,
    CONF_MAX_CHANGES,
    CONF_MEDIA_ROOTS,
    CONF_PRIMARY_SERVER,
    CONF_PRIORITY,
    CONF_PROGRESS_DELAY,
    CONF_SCAN_INTERVAL,
    CONF_SERVER_DIRECTIONS,
    CONF_SERVER_ID,
    CONF_USER_MAP,
    CONF_USER_MODE,
    CONF_USERS,
    CONF_WEBHOOK_REMOTE,
    DEFAULT_FULL_LISTING_HOURS,
    DEFAULT_MAX_CHANGE_PERCENT,
    DEFAULT_MAX_CHANGES,
    DEFAULT_PROGRESS_DELAY,
    DEFAULT_SCAN_INTERVAL,
    DIRECTION_ONE_WAY,
    DIRECTION_PER_SERVER,
    DIRECTION_TWO_WAY,
    FIELD_SOURCE_ALL,
    FIRST_SYNC_MERGE,
    FIRST_SYNC_PRIMARY,
    KINDS,
    SERVER_DIRECTIONS,
    SERVER_OFF,
    SERVER_RECEIVE_ONLY,
    SERVER_SOURCE_ONLY,
    SERVER_TWO_WAY,
    USER_MODE_ALL,
    USER_MODE_EXCLUDE,
    USER_MODE_INCLUDE,
)
from .jellyfin.models import SyncField, User
from .sync import (
    ALL_FIELDS,
    Direction,
    FirstSyncPolicy,
    GuardLimits,
    ServerOptions,
    SyncOptions,
)
from .sync.kinds import Kind, LibraryChoice, LibraryMode, types_of

_ABSOLUTE = re.compile(r"^(/|\\\\|[A-Za-z]:[\\/])")


def default_options(servers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Options a new group starts with: everything synced both ways, guard on."""
    return {
        CONF_SCAN_INTERVAL: DEFAULT_SCAN_INTERVAL,
        CONF_FULL_LISTING_HOURS: DEFAULT_FULL_LISTING_HOURS,
        CONF_FIELDS: [f.value for f in ALL_FIELDS],
        CONF_PRIMARY_SERVER: servers[0][CONF_SERVER_ID] if servers else "",
        CONF_DIRECTION: DIRECTION_TWO_WAY,
        CONF_FIRST_SYNC: FIRST_SYNC_MERGE,
        CONF_MAX_CHANGES: DEFAULT_MAX_CHANGES,
        CONF_MAX_CHANGE_PERCENT: DEFAULT_MAX_CHANGE_PERCENT,
        CONF_DRY_RUN: False,
        CONF_USER_MODE: USER_MODE_ALL,
        CONF_USERS: [],
        CONF_USER_MAP: "",
        CONF_KINDS: list(KINDS),
        CONF_LIBRARY_MODE: USER_MODE_ALL,
        CONF_LIBRARIES: [],
        CONF_LIBRARY_MAP: "",
        CONF_WEBHOOK_REMOTE: False,
        CONF_INSTANT_SYNC: False,
        CONF_PROGRESS_DELAY: DEFAULT_PROGRESS_DELAY,
        CONF_SERVER_DIRECTIONS: {},
        CONF_PRIORITY: [s[CONF_SERVER_ID] for s in servers],
        CONF_MEDIA_ROOTS: {},
        CONF_FIELD_SOURCES: {},
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


def server_directions(options: Mapping[str, Any], ids: Sequence[str]) -> dict[str, str]:
    """Each server's ``SERVER_*`` direction, whatever way the options store it.

    Entries made before per-server directions existed only have the group-wide
    ``direction``: two-way means every server two-way, one-way means the primary
    server is source only and every other server receive only. ``per_server``
    reads ``server_directions`` (servers missing there are two-way).

    >>> server_directions({"direction": "one_way", "primary_server": "b"}, ["a", "b"])
    {'a': 'receive_only', 'b': 'source_only'}
    """
    mode = options.get(CONF_DIRECTION, DIRECTION_TWO_WAY)
    if mode == DIRECTION_ONE_WAY:
        primary = options.get(CONF_PRIMARY_SERVER)
        return {
            sid: SERVER_SOURCE_ONLY if sid == primary else SERVER_RECEIVE_ONLY
            for sid in ids
        }
    if mode == DIRECTION_PER_SERVER:
        stored = options.get(CONF_SERVER_DIRECTIONS) or {}
        return {
            sid: stored[sid] if stored.get(sid) in SERVER_DIRECTIONS else SERVER_TWO_WAY
            for sid in ids
        }
    return dict.fromkeys(ids, SERVER_TWO_WAY)


def priority_order(options: Mapping[str, Any], ids: Sequence[str]) -> list[str]:
    """Server ids in priority order: the primary, then the stored order, then the rest.

    >>> priority_order({"primary_server": "c", "priority": ["b", "x"]}, ["a", "b", "c"])
    ['c', 'b', 'a']
    """
    order: list[str] = []
    primary = options.get(CONF_PRIMARY_SERVER)
    for sid in (primary, *(options.get(CONF_PRIORITY) or ()), *ids):
        if sid in ids and sid not in order:
            order.append(sid)
    return order


def field_sources(options: Mapping[str, Any], ids: Sequence[str]) -> dict[str, str]:
    """Field -> the only server whose changes of it count (only existing servers)."""
    stored = options.get(CONF_FIELD_SOURCES) or {}
    return {
        field: sid
        for field, sid in stored.items()
        if field in ALL_FIELDS and sid in ids and sid != FIELD_SOURCE_ALL
    }


def server_choice_options(
    directions: Mapping[str, str],
    priority: Sequence[str],
    media_roots: Mapping[str, Sequence[str]],
    sources: Mapping[str, str],
) -> dict[str, Any]:
    """The options that store the per-server choices; read back by the helpers above.

    ``directions`` is server id -> ``SERVER_*``, ``priority`` the server ids by
    priority (the first is the primary server), ``media_roots`` server id -> folders
    and ``sources`` field -> server id. The group-wide ``direction`` is ``two_way``
    when every server is two-way, else ``per_server``; servers without folders are
    left out of ``media_roots``.

    >>> server_choice_options({"a": "two_way", "b": "source_only"}, ["b", "a"],
    ...     {"a": [], "b": ["/media"]}, {})["media_roots"]
    {'b': ['/media']}
    """
    return {
        CONF_DIRECTION: DIRECTION_TWO_WAY
        if all(d == SERVER_TWO_WAY for d in directions.values())
        else DIRECTION_PER_SERVER,
        CONF_SERVER_DIRECTIONS: dict(directions),
        CONF_PRIORITY: list(priority),
        CONF_PRIMARY_SERVER: priority[0],
        CONF_MEDIA_ROOTS: {
            sid: list(roots) for sid, roots in media_roots.items() if roots
        },
        CONF_FIELD_SOURCES: dict(sources),
    }


def parse_media_roots(text: str) -> list[str]:
    r"""Parse a server's media folders: one absolute path per line (or per comma).

    >>> parse_media_roots(" /media/movies \n\n/media/tv, D:\\Films ")
    ['/media/movies', '/media/tv', 'D:\\Films']

    Raises:
        ValueError: a path that is not absolute.
    """
    roots: list[str] = []
    for raw in re.split(r"[\n,]", text):
        root = raw.strip()
        if not root:
            continue
        if not _ABSOLUTE.match(root):
            raise ValueError(f"media folder {root!r} is not an absolute path")
        if root not in roots:
            roots.append(root)
    return roots


def validate_servers(
    directions: Mapping[str, str], sources: Mapping[str, str]
) -> dict[str, str]:
    """Errors (form key -> translation key) of contradictory server settings.

    ``directions`` is server id -> ``SERVER_*``; ``sources`` is field -> server id.
    The base errors are: fewer than two servers take part, no server sends or no
    server receives. A field's source must be a server that sends.
    """
    errors: dict[str, str] = {}
    active = [d for d in directions.values() if d != SERVER_OFF]
    if len(active) < 2:
        errors["base"] = "too_few_servers"
    elif not any(Direction(d).reads for d in active):
        errors["base"] = "no_sender"
    elif not any(Direction(d).writes for d in active):
        errors["base"] = "no_receiver"
    for field, sid in sources.items():
        direction = directions.get(sid, SERVER_OFF)
        if not Direction(direction).reads:
            errors[field] = "field_source_cannot_send"
    return errors


def cycle_users(
    options: Mapping[str, Any], users: list[str] | None
) -> list[str] | None:
    """The users a cycle is limited to: the action's, within the include list.

    Names are turned into the engine's sync names: a name from a line of the
    explicit mapping stands for that line's first name.
    """
    aliases = {
        name.casefold(): names[0]
        for names in parse_user_map(options[CONF_USER_MAP])
        for name in names
    }

    def sync_names(names: list[str]) -> list[str]:
        return [aliases.get(name.casefold(), name) for name in names]

    if options[CONF_USER_MODE] != USER_MODE_INCLUDE:
        return sync_names(users) if users else None
    included = sync_names(list(options[CONF_USERS]))
    if not users:
        return included
    allowed = {name.casefold() for name in included}
    return [name for name in sync_names(users) if name.casefold() in allowed]


def parse_user_map(
    text: str, known: Iterable[str] = (), *, what: str = "user"
) -> list[list[str]]:
    r"""Parse the explicit user mapping: one person per line, names joined by ``=``.

    ``alice = alicia`` means user ``alice`` on one server is ``alicia`` on another.
    A name may appear on one line only; when ``known`` names are given, every name
    must be one of them (case-insensitive). The library mapping has the same form
    (``what="library"``).

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
                raise ValueError(f"{what} {name!r} appears twice")
            if known_lower and lowered not in known_lower:
                raise ValueError(f"unknown {what} {name!r}")
            seen.add(lowered)
        groups.append(names)
    return groups


def _server_options(
    options: Mapping[str, Any], ids: Sequence[str]
) -> dict[str, ServerOptions]:
    """Per-server engine options; servers with only defaults are left out.

    A field with a source server is read from that server only: the source keeps
    its own direction for the field, every other server that may be written only
    receives it (``Direction.RECEIVE_ONLY``) and the rest take no part in it. A stored source
    that can no longer send (its server became receive only or off) is ignored.
    """
    directions = {
        sid: Direction(name) for sid, name in server_directions(options, ids).items()
    }
    sources = {
        SyncField(field): sid
        for field, sid in field_sources(options, ids).items()
        if directions[sid].reads
    }
    roots = options.get(CONF_MEDIA_ROOTS) or {}
    result: dict[str, ServerOptions] = {}
    for sid in ids:
        own = directions[sid]
        per_field = {
            field: own
            if source == sid
            else (Direction.RECEIVE_ONLY if own.writes else Direction.OFF)
            for field, source in sources.items()
        }
        per_field = {f: d for f, d in per_field.items() if d is not own}
        server = ServerOptions(
            direction=own,
            field_directions=per_field,
            media_roots=tuple(roots.get(sid) or ()),
        )
        if server != ServerOptions():
            result[sid] = server
    return result


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
    priority = tuple(priority_order(options, ids))
    per_server = _server_options(options, ids)
    first_sync = (
        FirstSyncPolicy.PRIMARY_WINS
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
    kinds = [Kind(k) for k in options.get(CONF_KINDS, KINDS) if k in KINDS]
    return SyncOptions(
        servers=per_server,
        priority=priority,
        fields=frozenset(SyncField(f) for f in options[CONF_FIELDS]),
        first_sync=first_sync,
        primary_server=primary,
        guard=GuardLimits(
            max_changes=max_changes or None,
            max_change_share=max_percent / 100 if max_percent else None,
        ),
        user_map=user_map,
        excluded_users=excluded,
        # "Hidden" only hides a user from the login screen (Jellyfin's default for
        # new users); their watch data is as real as anyone's.
        include_hidden_users=True,
        full_listing_hours=float(options[CONF_FULL_LISTING_HOURS]),
        item_types=types_of(kinds),
        libraries=library_choice(options),
    )


def library_choice(options: Mapping[str, Any]) -> LibraryChoice:
    """The engine's :class:`LibraryChoice` from the stored options.

    >>> library_choice({"library_mode": "exclude", "libraries": ["Kids"],
    ...     "library_map": "Kids = Children"}).takes_part("children")
    False
    """
    mode = LibraryMode(options.get(CONF_LIBRARY_MODE) or LibraryMode.ALL)
    names = frozenset(name.casefold() for name in options.get(CONF_LIBRARIES) or ())
    same = tuple(
        frozenset(name.casefold() for name in line)
        for line in parse_user_map(options.get(CONF_LIBRARY_MAP) or "", what="library")
    )
    if mode is not LibraryMode.ALL and not names:
        mode = LibraryMode.ALL
    return LibraryChoice(mode=mode, names=names, same=same)
