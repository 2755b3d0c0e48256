"""Item matching: group the items of all servers into matched items.

Items are matched in stages, strongest first: same item id (servers that share a media
root), provider ids, series provider ids + season + episode, path relative to a media
root, name. Each stage only joins groups that hold at most one item per server and
whose provider ids do not contradict each other. A key that two items of the same
server share (duplicates, versions) is *ambiguous* there: it is never used for that
server and the items are reported.
"""

from array import array
from collections import defaultdict
from collections.abc import Callable, Mapping, MutableSequence, Sequence

from custom_components.jellyfin_sync.sync.options import MatchMethod, SyncOptions

from .entries import Indexed, IndexEntry, as_entry
from .keys import STAGES, ItemKeys
from .result import Ambiguity, ItemMatch, MatchedItems
from .steps import Steps, drain, sorted_steps

#: Unmatched item ids kept per server for the report.
UNMATCHED_EXAMPLES = 20

#: Hash of a key string in the per-stage tables (replaceable to test collisions).
_digest: Callable[[str], int] = hash


def _shared_keys(
    keys: ItemKeys,
    stage: MatchMethod,
    group: str,
    node_server: Sequence[str],
    node_item: Sequence[IndexEntry],
    every: int,
    find: Callable[[int], int],
) -> Steps[list[tuple[str, tuple[int, ...]]]]:
    """The keys of one pass that can join or are ambiguous, sorted, nodes ascending.

    Most keys name one node, so the table holds a key's hash and its first node
    only; a node list is kept from the second node on (once the first node's key is
    confirmed to be the same string), and the key string only once the key has
    nodes in two groups. A key whose nodes are all in one group already can neither
    join nor be ambiguous (a group holds one item per server) and is left out. Keys
    that merely share the hash of another key are collected by string aside.
    """
    digest = _digest
    first: dict[int, int] = {}
    # Node lists are tuples: a list per shared key (~100k of them in a big library)
    # would be scanned by every garbage-collector pass; tuples of ints are not.
    shared: dict[int, tuple[int, ...]] = {}
    names: dict[int, str] = {}
    clashes: dict[str, list[int]] = defaultdict(list)
    for node in range(len(node_item)):
        key = keys.key(stage, group, node_server[node], node_item[node])
        if node % every == every - 1:
            yield
        if key is None:
            continue
        hashed = digest(key)
        nodes = shared.get(hashed)
        if nodes is None:
            earlier = first.setdefault(hashed, node)
            if earlier == node:
                continue
            nodes = (earlier,)
            name = keys.key(stage, group, node_server[earlier], node_item[earlier])
        else:
            name = names.get(hashed) or keys.key(
                stage, group, node_server[nodes[0]], node_item[nodes[0]]
            )
        if name != key:
            clashes[key].append(node)
            continue
        nodes += (node,)
        shared[hashed] = nodes
        if hashed not in names and find(node) != find(nodes[0]):
            names[hashed] = key
    yield from drain(first, every * 20)
    found: list[tuple[str, tuple[int, ...]]] = []
    count = 0
    while shared:
        hashed, nodes = shared.popitem()
        if hashed in names:
            found.append((names[hashed], nodes))
        count += 1
        if count % (every * 20) == 0:
            yield
    yield from drain(names, every * 20)
    found += ((key, tuple(nodes)) for key, nodes in clashes.items() if len(nodes) > 1)
    return (yield from sorted_steps(found))


def match_items(
    indexes: Mapping[str, Mapping[str, Indexed]],
    series: Mapping[str, Mapping[str, Indexed]],
    options: SyncOptions,
) -> Steps[ItemMatch]:
    """Group the items of all servers (a step generator, see :func:`run`).

    Args:
        indexes: Server id -> item id -> item (identity fields only) or its
            :func:`index_entry`.
        series: Server id -> series id -> series item or entry (for episode
            matching).
        options: Matching options (``match_by_id``, ``provider_keys``, media roots).
    """
    servers = sorted(indexes)
    every = max(1, options.yield_every)
    # Per-node data lives in tuples and arrays, not lists: every full pass of the
    # garbage collector scans each element of a list (hundreds of thousands here),
    # and an array of numbers holds no int objects (28 bytes each above 256).
    nodes_of_server: list[str] = []
    items_of_server: list[IndexEntry] = []
    for server_id in servers:
        server_index = indexes[server_id]
        ordered: list[str] = yield from sorted_steps(server_index)
        for position, item_id in enumerate(ordered, 1):
            nodes_of_server.append(server_id)
            items_of_server.append(as_entry(server_index[item_id]))
            if position % every == 0:
                yield
        del ordered
    node_server = tuple(nodes_of_server)
    node_item = tuple(items_of_server)
    del nodes_of_server, items_of_server
    keys = ItemKeys(
        {s: series.get(s, {}) for s in servers},
        options,
        {s: options.server(s).media_roots for s in servers},
        kinds={entry[1] for entry in node_item},
    )
    count = len(node_item)
    bit = {server_id: 1 << i for i, server_id in enumerate(servers)}
    parent = array("q")
    mask: MutableSequence[int] = array("q") if len(servers) < 63 else []
    for start in range(0, count, every * 100):
        end = min(count, start + every * 100)
        parent.extend(range(start, end))
        mask.extend(bit[s] for s in node_server[start:end])
        yield
    provs: dict[int, dict[str, str]] = {}
    """Root -> the group's provider ids, kept only where they differ from the root's
    own (joins of items with the same ids, the usual case, store nothing)."""
    stage_of = bytearray(count)
    """Root -> index of the weakest stage that joined its group."""

    def find(node: int) -> int:
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    def providers(root: int) -> dict[str, str]:
        found = provs.get(root)
        return found if found is not None else keys.providers(node_item[root])

    ambiguous: list[Ambiguity] = []
    conflicts = 0
    steps = 0
    for stage_index, stage in enumerate(STAGES):
        for group in keys.groups(stage):
            shared = yield from _shared_keys(
                keys, stage, group, node_server, node_item, every, find
            )
            for key, nodes in shared:
                steps += 1
                if steps % every == 0:
                    yield
                per_server: dict[str, list[int]] = defaultdict(list)
                for node in nodes:
                    per_server[node_server[node]].append(node)
                usable: list[int] = []
                for server_id in sorted(per_server):
                    found = per_server[server_id]
                    if len(found) > 1:
                        ambiguous.append(
                            Ambiguity(
                                server_id=server_id,
                                key=key,
                                item_ids=tuple(sorted(node_item[n][0] for n in found)),
                            )
                        )
                    else:
                        usable.append(found[0])
                if len(usable) < 2:
                    continue
                root = find(usable[0])
                for node in usable[1:]:
                    other = find(node)
                    if other == root:
                        continue
                    mine, theirs = providers(root), providers(other)
                    # The same id is the same file: metadata may disagree, the
                    # item does not. Other stages refuse contradicting ids.
                    if mask[root] & mask[other] or (
                        stage is not MatchMethod.ID
                        and any(
                            mine[p] != theirs[p] for p in mine.keys() & theirs.keys()
                        )
                    ):
                        conflicts += 1
                        continue
                    keep, drop = min(root, other), max(root, other)
                    parent[drop] = keep
                    mask[keep] |= mask[drop]
                    merged = {**theirs, **mine}
                    provs.pop(drop, None)
                    if merged == keys.providers(node_item[keep]):
                        provs.pop(keep, None)
                    else:
                        provs[keep] = merged
                    stage_of[keep] = max(stage_of[keep], stage_of[drop], stage_index)
                    root = keep
            while shared:  # freed a slice at a time (~100k tuples)
                del shared[-every * 20 :]
                yield
    provs.clear()
    # Every root is the smallest node of its group (joins keep the smaller root), so
    # a counting sort by root lists the groups by root, members in order.
    size = array("q", bytes(8 * count))
    for node in range(count):
        size[find(node)] += 1
        steps += 1
        if steps % every == 0:
            yield
    slot = size  # reused: the first free position of each root's group
    position = 0
    for node in range(count):
        members = size[node]
        slot[node] = position
        position += members
        if node % (every * 10) == 0:
            yield
    order = array("q", bytes(8 * count))
    for node in range(count):
        root = parent[node]
        order[slot[root]] = node
        slot[root] += 1
        if node % (every * 4) == 0:
            yield
    del size, slot
    result = ItemMatch(
        items=MatchedItems(),
        by_identity={},
        by_method=dict.fromkeys(STAGES, 0),
        unmatched=dict.fromkeys(servers, 0),
        ambiguous=sorted(set(ambiguous), key=lambda a: (a.server_id, a.key)),
        conflicts=conflicts,
        members_index={s: {} for s in servers},
    )
    start = 0
    while start < count:
        root = parent[order[start]]
        end = start + 1
        while end < count and parent[order[end]] == root:
            end += 1
        nodes = tuple(order[start:end])
        start = end
        if len(nodes) < 2:
            server_id = node_server[nodes[0]]
            result.unmatched[server_id] += 1
            examples = result.unmatched_examples.setdefault(server_id, [])
            if len(examples) < UNMATCHED_EXAMPLES:
                examples.append(node_item[nodes[0]][0])
            continue
        method = STAGES[stage_of[root]]
        identity = min(
            (
                next(iter(sorted(keys.ranked(node_server[n], node_item[n]))), None)
                for n in nodes
            ),
            key=lambda k: k if k is not None else (9, 0, ""),
        )
        name = identity[2] if identity is not None else f"node:{node_item[nodes[0]][0]}"
        if name in result.by_identity:
            name = f"{name}#{node_item[nodes[0]][0]}"
        index = result.items.add(
            name, method, [(node_server[n], node_item[n][0]) for n in nodes]
        )
        result.by_identity[name] = index
        result.by_method[method] += 1
        for n in nodes:
            result.members_index[node_server[n]][node_item[n][0]] = index
        steps += 1
        if steps % every == 0:
            yield

    # Keys are recomputed from the indexes when asked for; nothing per node is kept.
    def key_source(index: int) -> list[str]:
        found = {
            key
            for server_id, item_id in result.items._make(index).members.items()
            if (item := indexes[server_id].get(item_id)) is not None
            for key in keys.ranked(server_id, as_entry(item))
        }
        return [key for _, _, key in sorted(found)]

    result.key_source = key_source
    result.items.freeze()
    return result
