"""Match users and items across servers (pure; long loops are generators).

Items are matched in stages, strongest first: same item id (servers that share a media
root), provider ids, series provider ids + season + episode, path relative to a media
root. Each stage only joins groups that hold at most one item per server and whose
provider ids do not contradict each other. A key that two items of the same server
share (duplicates, versions) is *ambiguous* there: it is never used for that server
and the items are reported.

The generator functions yield ``None`` every few thousand items so the async engine
can give the event loop a turn; :func:`run` drives them synchronously.
"""

from collections import defaultdict
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
import posixpath

from custom_components.jellyfin_sync.jellyfin.models import Item, User

from .options import MatchMethod, SyncOptions

type Steps[T] = Generator[None, None, T]
type Node = tuple[str, str]
"""``(server id, item id)``."""

_STAGES: tuple[MatchMethod, ...] = (
    MatchMethod.ID,
    MatchMethod.PROVIDER,
    MatchMethod.EPISODE,
    MatchMethod.PATH,
)
#: Identity preference: provider keys are stable across servers, ids are not.
_IDENTITY_RANK: Mapping[MatchMethod, int] = {
    MatchMethod.PROVIDER: 0,
    MatchMethod.EPISODE: 1,
    MatchMethod.PATH: 2,
    MatchMethod.ID: 3,
}


def run[T](steps: Steps[T]) -> T:
    """Drive a step generator to completion without yielding anywhere."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- users


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
    skipped: tuple[str, ...]
    """Why users were left out, one line each (no ids)."""


def _user_ref_matches(user: User, ref: str) -> bool:
    ref_norm = ref.strip()
    return user.id == ref_norm.replace("-", "").lower() or (
        user.name.casefold() == ref_norm.casefold()
    )


def match_users(users: Mapping[str, Sequence[User]], options: SyncOptions) -> UserMatch:
    """Match users by name (case-insensitive), an explicit map and exclusions.

    Disabled and hidden users are skipped unless the options ask for them; a user
    found on one server only has nothing to sync with and is skipped.
    """
    excluded = {e.casefold() for e in options.excluded_users} | {
        e.replace("-", "").lower() for e in options.excluded_users
    }
    skipped: list[str] = []

    def usable(server_id: str, user: User) -> bool:
        if user.name.casefold() in excluded or user.id in excluded:
            return False
        if user.is_disabled and not options.include_disabled_users:
            skipped.append(f"{user.name} on {server_id}: disabled")
            return False
        if user.is_hidden and not options.include_hidden_users:
            skipped.append(f"{user.name} on {server_id}: hidden")
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
                skipped.append(f"{sync_name} on {server_id}: mapped user not found")
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
                skipped.append(f"{found[0].name} on {server_id}: name not unique")
                continue
            groups.setdefault(key, {})[server_id] = found[0]
            names.setdefault(key, found[0].name)
    matched: list[MatchedUser] = []
    for key in sorted(groups):
        members = groups[key]
        if len(members) < 2:
            only = next(iter(members))
            skipped.append(f"{names[key]}: only on {only}")
            continue
        matched.append(
            MatchedUser(
                key=key,
                name=names[key],
                ids={s: members[s].id for s in sorted(members)},
            )
        )
    return UserMatch(users=tuple(matched), skipped=tuple(sorted(set(skipped))))


# --------------------------------------------------------------------------- items


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchedItem:
    """One item present on two or more servers."""

    identity: str
    """The item's key in the baseline (provider, episode, path or id key)."""
    method: MatchMethod
    """The weakest method that joined the group."""
    members: Mapping[str, str]
    """Server id -> item id."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ambiguity:
    """A key shared by several items of one server; it is not used there."""

    server_id: str
    key: str
    item_ids: tuple[str, ...]


@dataclass(slots=True, kw_only=True)
class ItemMatch:
    """Result of :func:`match_items`."""

    items: list[MatchedItem]
    by_member: dict[Node, int]
    """``(server, item id)`` -> index into :attr:`items`."""
    by_identity: dict[str, int]
    by_method: dict[MatchMethod, int]
    unmatched: dict[str, int]
    """Server id -> items found on that server only."""
    ambiguous: list[Ambiguity]
    conflicts: int = 0
    """Joins refused because they would put two items of a server together."""
    aliases: dict[str, int] | None = field(default=None, repr=False)
    """Every key -> item index, built on first use by :meth:`resolve`."""
    keys_of: dict[int, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def resolve(self, key: str) -> int | None:
        """Index of the matched item a baseline key belongs to, if any."""
        found = self.by_identity.get(key)
        if found is not None or self.aliases is None:
            return found
        return self.aliases.get(key)

    def member(self, server_id: str, item_id: str) -> MatchedItem | None:
        """The matched item a server's item belongs to."""
        index = self.by_member.get((server_id, item_id))
        return None if index is None else self.items[index]


def _relative(path: str, roots: Sequence[str]) -> str | None:
    norm = path.replace("\\", "/")
    for root in sorted(roots, key=len, reverse=True):
        prefix = root.replace("\\", "/").rstrip("/") + "/"
        if norm.casefold().startswith(prefix.casefold()):
            rel = posixpath.normpath(norm[len(prefix) :])
            return rel.casefold()
    return None


def item_keys(
    item: Item,
    series: Mapping[str, Item],
    options: SyncOptions,
    roots: Sequence[str],
) -> dict[MatchMethod, dict[str, str]]:
    """The matching keys of one item: stage -> key group -> key.

    Key groups are the provider names for provider and episode keys (so a pass
    compares imdb with imdb), ``"id"`` and ``"path"`` otherwise.

    >>> from custom_components.jellyfin_sync.jellyfin.models import Item
    >>> keys = item_keys(Item(id="a1", type="Movie", name="M",
    ...     provider_ids={"Imdb": "TT1"}), {}, SyncOptions(), ())
    >>> keys[MatchMethod.PROVIDER]
    {'imdb': 'movie:imdb:tt1'}
    """
    kind = item.type.lower()
    keys: dict[MatchMethod, dict[str, str]] = {}
    if options.match_by_id:
        keys[MatchMethod.ID] = {"id": f"id:{item.id}"}
    own = _providers(item, options)
    if own:
        keys[MatchMethod.PROVIDER] = {p: f"{kind}:{p}:{v}" for p, v in own.items()}
    if (
        item.type == "Episode"
        and item.series_id
        and item.season_number is not None
        and item.episode_number is not None
    ):
        show = series.get(item.series_id)
        shows = _providers(show, options) if show is not None else {}
        if shows:
            number = f"s{item.season_number}e{item.episode_number}"
            if item.episode_number_end is not None:
                number += f"-{item.episode_number_end}"
            keys[MatchMethod.EPISODE] = {
                p: f"episode:series:{p}:{v}:{number}" for p, v in shows.items()
            }
    if item.path and roots:
        relative = _relative(item.path, roots)
        if relative is not None:
            keys[MatchMethod.PATH] = {"path": f"path:{kind}:{relative}"}
    return keys


def _providers(item: Item, options: SyncOptions) -> dict[str, str]:
    """The item's trusted provider ids, lower-cased, in trust order."""
    lowered = {k.lower(): v.lower() for k, v in item.provider_ids.items()}
    return {p: lowered[p] for p in options.provider_keys if p in lowered}


class _Groups:
    """Union-find over nodes with per-group server sets and provider ids."""

    def __init__(self) -> None:
        self.parent: dict[Node, Node] = {}
        self.servers: dict[Node, set[str]] = {}
        self.providers: dict[Node, dict[str, set[str]]] = {}
        self.method: dict[Node, int] = {}

    def add(self, node: Node, providers: Mapping[str, str]) -> None:
        self.parent[node] = node
        self.servers[node] = {node[0]}
        self.providers[node] = {k: {v} for k, v in providers.items()}

    def find(self, node: Node) -> Node:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def compatible(self, a: Node, b: Node) -> bool:
        if self.servers[a] & self.servers[b]:
            return False
        pa, pb = self.providers[a], self.providers[b]
        return all(not (pa[k].isdisjoint(pb[k])) for k in pa.keys() & pb.keys())

    def union(self, a: Node, b: Node, stage: int) -> None:
        if a > b:
            a, b = b, a
        self.parent[b] = a
        self.servers[a] |= self.servers.pop(b)
        mine = self.providers[a]
        for k, values in self.providers.pop(b).items():
            mine.setdefault(k, set()).update(values)
        self.method[a] = max(self.method.get(a, 0), self.method.pop(b, 0), stage)


def match_items(
    indexes: Mapping[str, Mapping[str, Item]],
    series: Mapping[str, Mapping[str, Item]],
    options: SyncOptions,
) -> Steps[ItemMatch]:
    """Group the items of all servers (a step generator, see :func:`run`).

    Args:
        indexes: Server id -> item id -> item (identity fields only).
        series: Server id -> series id -> series item (for episode matching).
        options: Matching options (``match_by_id``, ``provider_keys``, media roots).
    """
    servers = sorted(indexes)
    groups = _Groups()
    node_keys: dict[Node, dict[MatchMethod, dict[str, str]]] = {}
    count = 0
    for server_id in servers:
        roots = options.server(server_id).media_roots
        shows = series.get(server_id, {})
        for item_id in sorted(indexes[server_id]):
            item = indexes[server_id][item_id]
            node = (server_id, item_id)
            groups.add(node, _providers(item, options))
            node_keys[node] = item_keys(item, shows, options, roots)
            count += 1
            if count % options.yield_every == 0:
                yield
    ambiguous: list[Ambiguity] = []
    conflicts = 0
    for stage_index, stage in enumerate(_STAGES):
        # One key group (provider) at a time keeps the key map small.
        passes = (
            options.provider_keys
            if stage in (MatchMethod.PROVIDER, MatchMethod.EPISODE)
            else (stage.value,)
        )
        for group in passes:
            by_key: dict[str, list[Node]] = {}
            for node, keys in node_keys.items():
                key = keys.get(stage, {}).get(group)
                if key is None:
                    continue
                by_key.setdefault(key, []).append(node)
                count += 1
                if count % options.yield_every == 0:
                    yield
            for key in sorted(by_key):
                count += 1
                if count % options.yield_every == 0:
                    yield
                nodes = by_key[key]
                if len(nodes) < 2:
                    continue
                per_server: dict[str, list[str]] = defaultdict(list)
                for server_id, item_id in nodes:
                    per_server[server_id].append(item_id)
                usable: list[Node] = []
                for server_id in sorted(per_server):
                    ids = per_server[server_id]
                    if len(ids) > 1:
                        ambiguous.append(
                            Ambiguity(
                                server_id=server_id,
                                key=key,
                                item_ids=tuple(sorted(ids)),
                            )
                        )
                    else:
                        usable.append((server_id, ids[0]))
                if len(usable) < 2:
                    continue
                root = groups.find(usable[0])
                for node in usable[1:]:
                    other = groups.find(node)
                    if other == root:
                        continue
                    if groups.compatible(root, other):
                        groups.union(root, other, stage_index)
                        root = groups.find(root)
                    else:
                        conflicts += 1
    members: dict[Node, list[Node]] = defaultdict(list)
    for node in node_keys:
        members[groups.find(node)].append(node)
        count += 1
        if count % options.yield_every == 0:
            yield
    result = ItemMatch(
        items=[],
        by_member={},
        by_identity={},
        by_method=dict.fromkeys(_STAGES, 0),
        unmatched=dict.fromkeys(servers, 0),
        ambiguous=sorted(set(ambiguous), key=lambda a: (a.server_id, a.key)),
        conflicts=conflicts,
    )
    for root in sorted(members):
        nodes = sorted(members[root])
        if len(nodes) < 2:
            result.unmatched[nodes[0][0]] += 1
            continue
        method = _STAGES[groups.method.get(root, 0)]
        all_keys = sorted(
            {
                (_IDENTITY_RANK[stage], _group_rank(options, group), key)
                for node in nodes
                for stage, keys in node_keys[node].items()
                for group, key in keys.items()
            }
        )
        identity = all_keys[0][2] if all_keys else f"node:{nodes[0][0]}:{nodes[0][1]}"
        if identity in result.by_identity:
            identity = f"{identity}#{nodes[0][1]}"
        index = len(result.items)
        result.items.append(
            MatchedItem(identity=identity, method=method, members=dict(nodes))
        )
        result.keys_of[index] = tuple(k for _, _, k in all_keys)
        result.by_identity[identity] = index
        result.by_method[method] += 1
        for node in nodes:
            result.by_member[node] = index
        count += 1
        if count % options.yield_every == 0:
            yield
    return result


def _group_rank(options: SyncOptions, group: str) -> int:
    try:
        return options.provider_keys.index(group)
    except ValueError:
        return len(options.provider_keys)


def build_aliases(match: ItemMatch) -> Steps[None]:
    """Fill :attr:`ItemMatch.aliases` with keys that name exactly one item."""
    seen: dict[str, int] = {}
    shared: set[str] = set()
    for count, (index, keys) in enumerate(match.keys_of.items(), 1):
        for key in keys:
            if key in seen and seen[key] != index:
                shared.add(key)
            seen[key] = index
        if count % 1000 == 0:
            yield
    for key in shared:
        del seen[key]
    match.aliases = seen
