"""Match users and items across servers (pure; long loops are step generators).

The package's modules, each with one job:

* :mod:`.steps`: step generators (:func:`run`, :func:`sorted_steps`), which yield
  every few dozen items so the async engine can give the event loop a turn;
* :mod:`.users`: :func:`match_users`;
* :mod:`.entries`: the :data:`IndexEntry` kept per item (:func:`index_entry`);
* :mod:`.keys`: the matching keys of an item, per stage (:func:`item_keys`);
* :mod:`.groups`: the items as numbered nodes and the groups matching joins them
  into (a union-find);
* :mod:`.stages`: :func:`match_items` and its stages;
* :mod:`.result`: what matching finds (:class:`ItemMatch`).

Every public name is importable from here.
"""

from .entries import (
    BOOK_PROVIDERS,
    MUSIC_PROVIDERS,
    NAMED_TYPES,
    PROVIDER_SEPARATOR,
    RELATIVE_MARK,
    Indexed,
    IndexEntry,
    Node,
    Slot,
    index_entry,
    title_key,
    trusted_providers,
)
from .keys import item_keys
from .result import Ambiguity, ItemMatch, MatchedItem, MatchedItems, build_aliases
from .stages import UNMATCHED_EXAMPLES, match_items
from .steps import SORT_RUN, Steps, run, sorted_steps
from .users import MatchedUser, UserMatch, match_users

__all__ = [
    "BOOK_PROVIDERS",
    "MUSIC_PROVIDERS",
    "NAMED_TYPES",
    "PROVIDER_SEPARATOR",
    "RELATIVE_MARK",
    "SORT_RUN",
    "UNMATCHED_EXAMPLES",
    "Ambiguity",
    "IndexEntry",
    "Indexed",
    "ItemMatch",
    "MatchedItem",
    "MatchedItems",
    "MatchedUser",
    "Node",
    "Slot",
    "Steps",
    "UserMatch",
    "build_aliases",
    "index_entry",
    "item_keys",
    "match_items",
    "match_users",
    "run",
    "sorted_steps",
    "title_key",
    "trusted_providers",
]
