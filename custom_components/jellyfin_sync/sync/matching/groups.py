"""The items of all servers as numbered nodes, and the groups matching joins them into.

Per-node data lives in tuples and arrays, not lists: every full pass of the garbage
collector scans each element of a list (hundreds of thousands here), and an array of
numbers holds no int objects (28 bytes each above 256).
"""

from array import array
from collections.abc import Callable, Mapping, MutableSequence, Sequence
from dataclasses import dataclass

from .entries import Indexed, IndexEntry, as_entry
from .steps import Steps, sorted_steps


@dataclass(frozen=True, slots=True)
class Nodes:
    """Every item of every server, numbered: node ``n`` is ``item[n]`` of ``server[n]``.

    Servers come in sorted order, each server's items sorted by id.
    """

    servers: tuple[str, ...]
    """The server ids, sorted."""
    server: tuple[str, ...]
    """Node -> server id."""
    item: tuple[IndexEntry, ...]
    """Node -> the item's entry."""

    def __len__(self) -> int:
        """Number of nodes."""
        return len(self.item)


def number_nodes(
    indexes: Mapping[str, Mapping[str, Indexed]], every: int
) -> Steps[Nodes]:
    """Number the items of all servers (server by server, item ids in order)."""
    servers = sorted(indexes)
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
    return Nodes(tuple(servers), tuple(nodes_of_server), tuple(items_of_server))


class Groups:
    """Nodes joined into groups of at most one item per server (a union-find).

    A group is named by its root, always its smallest node: a join keeps the smaller
    of the two roots. Made by :func:`new_groups`, every node alone.
    """

    __slots__ = ("_identifying", "_provs", "mask", "parent", "stage_of")

    def __init__(
        self,
        parent: array[int],
        mask: MutableSequence[int],
        identifying: Callable[[int], dict[str, str]],
    ) -> None:
        """Groups with these parents and server masks.

        Args:
            parent: Node -> its parent node (a root is its own parent).
            mask: Root -> one bit per server of its group.
            identifying: Node -> the item's identifying provider ids.
        """
        self.parent = parent
        self.mask = mask
        self.stage_of = bytearray(len(parent))
        """Root -> index of the weakest stage that joined its group."""
        self._identifying = identifying
        self._provs: dict[int, dict[str, str]] = {}
        """Root -> the group's provider ids, kept only where they differ from the
        root's own (joins of items with the same ids, the usual case, store
        nothing)."""

    def find(self, node: int) -> int:
        """The root of a node's group (the path to it is shortened on the way)."""
        parent = self.parent
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    def providers(self, root: int) -> dict[str, str]:
        """The provider ids of a group's items (its root's and those joined to it)."""
        found = self._provs.get(root)
        return found if found is not None else self._identifying(root)

    def join(self, nodes: Sequence[int], stage_index: int, *, same_file: bool) -> int:
        """Join the groups of these nodes; how many joins were refused.

        A join is refused when the two groups hold items of the same server, or when
        their provider ids contradict each other, unless ``same_file`` (the id stage:
        the same id is the same file; metadata may disagree, the item does not).
        """
        parent, mask, provs = self.parent, self.mask, self._provs
        refused = 0
        root = self.find(nodes[0])
        for node in nodes[1:]:
            other = self.find(node)
            if other == root:
                continue
            if mask[root] & mask[other]:
                refused += 1
                continue
            mine, theirs = self.providers(root), self.providers(other)
            if not same_file and any(
                mine[p] != theirs[p] for p in mine.keys() & theirs.keys()
            ):
                refused += 1
                continue
            keep, drop = min(root, other), max(root, other)
            parent[drop] = keep
            mask[keep] |= mask[drop]
            merged = {**theirs, **mine}
            provs.pop(drop, None)
            if merged == self._identifying(keep):
                provs.pop(keep, None)
            else:
                provs[keep] = merged
            self.stage_of[keep] = max(
                self.stage_of[keep], self.stage_of[drop], stage_index
            )
            root = keep
        return refused

    def end_joins(self) -> None:
        """Drop what only joins read (the provider ids of groups)."""
        self._provs.clear()


def new_groups(
    nodes: Nodes, identifying: Callable[[int], dict[str, str]], every: int
) -> Steps[Groups]:
    """Every node in a group of its own.

    ``identifying`` gives a node's identifying provider ids (for contradictions).
    """
    bit = {server_id: 1 << i for i, server_id in enumerate(nodes.servers)}
    count = len(nodes)
    parent = array("q")
    mask: MutableSequence[int] = array("q") if len(nodes.servers) < 63 else []
    for start in range(0, count, every * 100):
        end = min(count, start + every * 100)
        parent.extend(range(start, end))
        mask.extend(bit[s] for s in nodes.server[start:end])
        yield
    return Groups(parent, mask, identifying)


def members_in_order(groups: Groups, every: int) -> Steps[array[int]]:
    """Every node, group after group by root, each group's members ascending.

    Every root is the smallest node of its group, so a counting sort by root lists
    the groups by root, members in order. Afterwards every node's parent is its
    root.
    """
    count = len(groups.parent)
    find = groups.find
    size = array("q", bytes(8 * count))
    for node in range(count):
        size[find(node)] += 1
        if node % every == every - 1:
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
    parent = groups.parent
    for node in range(count):
        root = parent[node]
        order[slot[root]] = node
        slot[root] += 1
        if node % (every * 4) == 0:
            yield
    return order
