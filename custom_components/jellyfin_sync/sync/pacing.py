"""Long work in small steps: the event loop gets a turn every few milliseconds.

The engine runs inside Home Assistant's event loop; matching, planning and the
comparison of item indexes over 100k items must not hold it for long.
"""

import asyncio
from collections.abc import Mapping
import time

from .matching import Steps

#: Longest run of a step generator between two turns of the event loop, in seconds.
STEP_BUDGET = 0.005


async def drive[T](steps: Steps[T]) -> T:
    """Run a step generator, giving the event loop a turn every few milliseconds.

    Steps are small (``yield_every`` items); the loop gets a turn once
    :data:`STEP_BUDGET` has passed, so short runs cost no extra turns and long ones
    never hold the loop for more than about one step past the budget.
    """
    deadline = time.perf_counter() + STEP_BUDGET
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if time.perf_counter() >= deadline:
            await asyncio.sleep(0)
            deadline = time.perf_counter() + STEP_BUDGET


async def differs(new: Mapping[str, object], old: Mapping[str, object] | None) -> bool:
    """``new != old`` for item indexes, giving the event loop turns on the way."""
    if old is None or len(new) != len(old):
        return True
    for count, (key, value) in enumerate(new.items(), 1):
        if old.get(key) != value:
            return True
        if count % 5000 == 0:
            await asyncio.sleep(0)
    return False
