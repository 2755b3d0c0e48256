"""Item matching: group the items of all servers into matched items.

Items are matched in stages, strongest first: same item id (servers that share a media
root), provider ids, series provider ids + season + episode, path relative to a media
root, name (:data:`~.keys.STAGES`). A stage makes one pass per key group (provider
name): :func:`shared_keys` finds the keys that items of different groups share,
:func:`split_ambiguous` drops the servers where several items share one, and
:meth:`~.groups.Groups.join` joins the rest, only into groups that hold at most one
item per server and whose provider ids do not contradict each other. A key that two
items of the same server share (duplicates, versions) is *ambiguous* there: it is
never used for that server and the items are reported. :func:`build_result` then
names each group by its most trusted key.

Every stage is a step generator (see :mod:`.steps`).
"""

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from custom_components.jellyfin_sync.sync.options import MatchMethod, SyncOptions

from .entries import Indexed, Slot, as_entry
from .groups import Groups, Nodes, members_in_order, new_groups, number_nodes
from .keys import STAGES, ItemKeys, KeyFunction
from .result import Ambiguity, ItemMatch, MatchedItems
from .steps import Steps, drain, sorted_steps

#: Unmatched item ids kept per server for the report.
UNMATCHED_EXAMPLES = 20

#: Hash of a key string in the per-stage tables (replaceable to test collisions).
_digest: Callable[[str], int] = hash

type Shared = list[tuple[str, tuple[int, ...]]]
"""Keys that several nodes share, each with its nodes (ascending)."""


def shared_keys(
    key_function: KeyFunction,
    nodes: Nodes,
    every: int,
    find: Callable[[int], int],
) -> Steps[Shared]:
    """The keys of one pass that can join or are ambiguous, sorted, nodes ascending.

    ``find`` gives a node's group (:meth:`~.groups.Groups.find`).

    Most keys name one node, so the table holds a key's hash and its first node
    only; a node list is kept from the second node on (once the first node's key is
    confirmed to be the same string), and the key string only once the key has
    nodes in two groups. A key whose nodes are all in one group already can neither
    join nor be ambiguous (a group holds one item per server) and is left out. Keys
    that merely share the hash of another key are collected by string aside.
    """
    digest = _digest
    node_server, node_item = nodes.server, nodes.item
    first: dict[int, int] = {}
    # Node lists are tuples: a list per shared key (~100k of them in a big library)
    # would be scanned by every garbage-collector pass; tuples of ints are not.
    shared: dict[int, tuple[int, ...]] = {}
    names: dict[int, str] = {}
    clashes: dict[str, list[int]] = defaultdict(list)
    for node in range(len(node_item)):
        key = key_function(node_server[node], node_item[node])
        if node % every == every - 1:
            yield
        if key is None:
            continue
        hashed = digest(key)
        members = shared.get(hashed)
        if members is None:
            earlier = first.setdefault(hashed, node)
            if earlier == node:
                continue
            members = (earlier,)
            name = key_function(node_server[earlier], node_item[earlier])
        else:
            name = names.get(hashed) or key_function(
                node_server[members[0]], node_item[members[0]]
            )
        if name != key:
            clashes[key].append(node)
            continue
        members += (node,)
        shared[hashed] = members
        if hashed not in names and find(node) != find(members[0]):
            names[hashed] = key
    yield from drain(first, every * 20)
    found: Shared = []
    count = 0
    while shared:
        hashed, members = shared.popitem()
        if hashed in names:
            found.append((names[hashed], members))
        count += 1
        if count % (every * 20) == 0:
            yield
    yield from drain(names, every * 20)
    found += ((key, tuple(same)) for key, same in clashes.items() if len(same) > 1)
    return (yield from sorted_steps(found))


def split_ambiguous(
    key: str, members: Sequence[int], nodes: Nodes
) -> tuple[list[int], list[Ambiguity]]:
    """The nodes a shared key can join (one per server, by server) and the others.

    Where several items of a server share the key, it is ambiguous there: none of
    them is joined by it and they are reported.
    """
    per_server: dict[str, list[int]] = defaultdict(list)
    for node in members:
        per_server[nodes.server[node]].append(node)
    usable: list[int] = []
    ambiguous: list[Ambiguity] = []
    for server_id in sorted(per_server):
        found = per_server[server_id]
        if len(found) > 1:
            item_ids = tuple(sorted(nodes.item[n][Slot.ID] for n in found))
            ambiguous.append(Ambiguity(server_id=server_id, key=key, item_ids=item_ids))
        else:
            usable.append(found[0])
    return usable, ambiguous


def join_pass(
    nodes: Nodes,
    groups: Groups,
    key_function: KeyFunction,
    stage_index: int,
    every: int,
) -> Steps[tuple[list[Ambiguity], int]]:
    """Join the groups of the nodes that share a key of one pass.

    Returns the ambiguous keys and the number of joins refused. ``stage_index`` is
    the stage's position in :data:`~.keys.STAGES`.
    """
    same_file = STAGES[stage_index] is MatchMethod.ID
    shared = yield from shared_keys(key_function, nodes, every, groups.find)
    ambiguous: list[Ambiguity] = []
    refused = 0
    for count, (key, members) in enumerate(shared, 1):
        if count % every == 0:
            yield
        usable, found = split_ambiguous(key, members, nodes)
        ambiguous += found
        if len(usable) >= 2:
            refused += groups.join(usable, stage_index, same_file=same_file)
    while shared:  # freed a slice at a time (~100k tuples)
        del shared[-every * 20 :]
        yield
    return ambiguous, refused


def join_stage(
    nodes: Nodes, groups: Groups, keys: ItemKeys, stage: MatchMethod, every: int
) -> Steps[tuple[list[Ambiguity], int]]:
    """One stage of matching: a :func:`join_pass` per key group of the stage.

    Returns the ambiguous keys and the number of joins refused.
    """
    stage_index = STAGES.index(stage)
    ambiguous: list[Ambiguity] = []
    refused = 0
    for group in keys.groups(stage):
        key_function = keys.key_function(stage, group)
        found, count = yield from join_pass(
            nodes, groups, key_function, stage_index, every
        )
        ambiguous += found
        refused += count
    return ambiguous, refused


def identity_of(nodes: Nodes, keys: ItemKeys, members: Sequence[int]) -> str:
    """The baseline key of a group: the most trusted key of any of its items.

    A group whose items have no key at all is named by its first item's id.
    """
    best = [
        key
        for node in members
        if (key := keys.best(nodes.server[node], nodes.item[node])) is not None
    ]
    return min(best)[2] if best else f"node:{nodes.item[members[0]][Slot.ID]}"


def _add_unmatched(result: ItemMatch, nodes: Nodes, node: int) -> None:
    server_id = nodes.server[node]
    result.unmatched[server_id] += 1
    examples = result.unmatched_examples.setdefault(server_id, [])
    if len(examples) < UNMATCHED_EXAMPLES:
        examples.append(nodes.item[node][Slot.ID])


def _add_matched(
    result: ItemMatch,
    name: str,
    method: MatchMethod,
    nodes: Nodes,
    members: Sequence[int],
) -> None:
    if name in result.by_identity:
        name = f"{name}#{nodes.item[members[0]][Slot.ID]}"
    index = result.items.add(
        name, method, [(nodes.server[n], nodes.item[n][Slot.ID]) for n in members]
    )
    result.by_identity[name] = index
    result.by_method[method] += 1
    for n in members:
        result.members_index[nodes.server[n]][nodes.item[n][Slot.ID]] = index


def build_result(
    nodes: Nodes,
    groups: Groups,
    keys: ItemKeys,
    ambiguous: Sequence[Ambiguity],
    conflicts: int,
    every: int,
) -> Steps[ItemMatch]:
    """The match: each group of two or more items a matched item, the rest counted.

    A matched item is named by :func:`identity_of` (made unique with its first item's
    id), its method the weakest stage that joined the group.
    """
    result = ItemMatch(
        items=MatchedItems(),
        by_identity={},
        by_method=dict.fromkeys(STAGES, 0),
        unmatched=dict.fromkeys(nodes.servers, 0),
        ambiguous=sorted(set(ambiguous), key=lambda a: (a.server_id, a.key)),
        conflicts=conflicts,
        members_index={s: {} for s in nodes.servers},
    )
    order = yield from members_in_order(groups, every)
    parent, count = groups.parent, len(order)
    start = matched = 0
    while start < count:
        root = parent[order[start]]
        end = start + 1
        while end < count and parent[order[end]] == root:
            end += 1
        members = tuple(order[start:end])
        start = end
        if len(members) < 2:
            _add_unmatched(result, nodes, members[0])
            continue
        name = identity_of(nodes, keys, members)
        _add_matched(result, name, STAGES[groups.stage_of[root]], nodes, members)
        matched += 1
        if matched % every == 0:
            yield
    return result


def key_source(
    indexes: Mapping[str, Mapping[str, Indexed]], keys: ItemKeys, items: MatchedItems
) -> Callable[[int], list[str]]:
    """All matching keys of a matched item, most trusted first, made when asked for.

    Keys are recomputed from the indexes: nothing per item is kept.
    """

    def source(index: int) -> list[str]:
        found = {
            key
            for server_id, item_id in items[index].members.items()
            if (item := indexes[server_id].get(item_id)) is not None
            for key in keys.ranked(server_id, as_entry(item))
        }
        return [key for _, _, key in sorted(found)]

    return source


def match_items(
    indexes: Mapping[str, Mapping[str, Indexed]],
    series: Mapping[str, Mapping[str, Indexed]],
    options: SyncOptions,
) -> Steps[ItemMatch]:
    """Group the items of all servers (a step generator, see :func:`~.steps.run`).

    Args:
        indexes: Server id -> item id -> item (identity fields only) or its
            :func:`~.entries.index_entry`.
        series: Server id -> series id -> series item or entry (for episode
            matching).
        options: Matching options (``match_by_id``, ``provider_keys``, media roots).
    """
    every = max(1, options.yield_every)
    nodes = yield from number_nodes(indexes, every)
    keys = ItemKeys(
        {s: series.get(s, {}) for s in nodes.servers},
        options,
        {s: options.server(s).media_roots for s in nodes.servers},
        kinds={entry[Slot.TYPE] for entry in nodes.item},
    )
    groups = yield from new_groups(
        nodes, lambda node: keys.providers(nodes.item[node]), every
    )
    ambiguous: list[Ambiguity] = []
    conflicts = 0
    for stage in STAGES:
        found, refused = yield from join_stage(nodes, groups, keys, stage, every)
        ambiguous += found
        conflicts += refused
    groups.end_joins()
    result = yield from build_result(nodes, groups, keys, ambiguous, conflicts, every)
    result.key_source = key_source(indexes, keys, result.items)
    result.items.freeze()
    return result
