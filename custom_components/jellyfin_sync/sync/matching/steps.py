"""Step generators: long loops that give the event loop a turn now and then.

A step generator yields ``None`` every few dozen items (and around every long sort
or release) so the async engine can give the event loop a turn whenever its time
budget is spent; :func:`run` drives one synchronously.
"""

from collections.abc import Callable, Generator, Iterable
import heapq
from typing import Any, cast

type Steps[T] = Generator[None, None, T]

#: Elements sorted in one step: longer lists are sorted in runs of this size, which
#: are then merged (sorting 100k strings at once holds the event loop for ~50 ms).
SORT_RUN = 4096
#: Merged elements per step.
_MERGE_STEP = 2000


def sorted_steps[T](
    values: Iterable[T], key: Callable[[T], Any] | None = None
) -> Steps[list[T]]:
    """``sorted(values, key=key)`` as a step generator (stable, like ``sorted``)."""
    items = list(values)
    if len(items) <= SORT_RUN:
        return sorted(items, key=cast(Any, key))
    runs: list[list[T]] = []
    for start in range(0, len(items), SORT_RUN):
        runs.append(sorted(items[start : start + SORT_RUN], key=cast(Any, key)))
        yield
    del items
    merged: list[T] = []
    # heapq.merge takes equal elements from earlier runs first: stable.
    for count, item in enumerate(heapq.merge(*runs, key=cast(Any, key)), 1):
        merged.append(item)
        if count % _MERGE_STEP == 0:
            yield
    return merged


def drain(table: dict[Any, Any], every: int) -> Steps[None]:
    """Empty a big dict a slice at a time.

    Freeing 100k entries at once holds the event loop for tens of milliseconds.
    """
    count = 0
    while table:
        table.popitem()
        count += 1
        if count % every == 0:
            yield


def run[T](steps: Steps[T]) -> T:
    """Drive a step generator to completion without yielding anywhere."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
