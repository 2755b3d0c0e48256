"""Match users across servers: by name, an explicit map and exclusions."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from custom_components.jellyfin_sync.jellyfin.models import User, normalize_id
from custom_components.jellyfin_sync.sync.options import SyncOptions
from custom_components.jellyfin_sync.sync.report import SkippedUser, SkipReason

from .entries import Node


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchedUser:
    """One person, with their user id on each server they exist on."""

    key: str
    """Sync name, lower-case: the user's key in the baseline."""
    name: str
    ids: Mapping[str, str]
    """Server id -> user id."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UserMatch:
    """Result of :func:`match_users`."""

    users: tuple[MatchedUser, ...]
    skipped: tuple[SkippedUser, ...]
    """Why users were left out, one line each (no ids)."""


def _user_ref_matches(user: User, ref: str) -> bool:
    ref_norm = ref.strip()
    return user.id == normalize_id(ref_norm) or (
        user.name.casefold() == ref_norm.casefold()
    )


def match_users(users: Mapping[str, Sequence[User]], options: SyncOptions) -> UserMatch:
    """Match users by name (case-insensitive), an explicit map and exclusions.

    Disabled and hidden users are skipped unless the options ask for them; a user
    found on one server only has nothing to sync with and is skipped.
    """
    excluded = {e.casefold() for e in options.excluded_users} | {
        normalize_id(e) for e in options.excluded_users
    }
    skipped: list[SkippedUser] = []

    def usable(server_id: str, user: User) -> bool:
        if user.name.casefold() in excluded or user.id in excluded:
            return False
        if user.is_disabled and not options.include_disabled_users:
            skipped.append(SkippedUser(user.name, SkipReason.DISABLED, server_id))
            return False
        if user.is_hidden and not options.include_hidden_users:
            skipped.append(SkippedUser(user.name, SkipReason.HIDDEN, server_id))
            return False
        return True

    claimed: set[Node] = set()
    groups: dict[str, dict[str, User]] = {}
    names: dict[str, str] = {}
    for sync_name in sorted(options.user_map):
        key = sync_name.casefold()
        if key in excluded:
            continue
        for server_id, ref in sorted(options.user_map[sync_name].items()):
            found = [u for u in users.get(server_id, ()) if _user_ref_matches(u, ref)]
            if len(found) != 1:
                skipped.append(
                    SkippedUser(sync_name, SkipReason.MAPPED_USER_NOT_FOUND, server_id)
                )
                continue
            claimed.add((server_id, found[0].id))
            if usable(server_id, found[0]):
                groups.setdefault(key, {})[server_id] = found[0]
                names[key] = sync_name
    by_name: dict[str, dict[str, list[User]]] = defaultdict(lambda: defaultdict(list))
    for server_id in sorted(users):
        for user in users[server_id]:
            key = user.name.casefold()
            if (server_id, user.id) in claimed or key in options.user_map:
                continue
            if key in {k.casefold() for k in options.user_map}:
                continue
            if usable(server_id, user):
                by_name[key][server_id].append(user)
    for key, per_server in by_name.items():
        for server_id, found in per_server.items():
            if len(found) > 1:
                skipped.append(
                    SkippedUser(found[0].name, SkipReason.NAME_NOT_UNIQUE, server_id)
                )
                continue
            groups.setdefault(key, {})[server_id] = found[0]
            names.setdefault(key, found[0].name)
    matched: list[MatchedUser] = []
    for key in sorted(groups):
        members = groups[key]
        if len(members) < 2:
            only = next(iter(members))
            skipped.append(SkippedUser(names[key], SkipReason.ONLY_ON_ONE_SERVER, only))
            continue
        matched.append(
            MatchedUser(
                key=key,
                name=names[key],
                ids={s: members[s].id for s in sorted(members)},
            )
        )
    return UserMatch(users=tuple(matched), skipped=tuple(sorted(set(skipped))))
