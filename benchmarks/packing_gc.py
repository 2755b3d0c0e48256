"""Does packing user data into plain tuples still shorten the collector's full passes?

The engine keeps bulk user data as flat tuples (``sync.fields.StateTable`` and the
other packed tables) because CPython's cyclic collector untracks a tuple of atoms,
while every ``UserData`` dataclass instance stays tracked and is scanned by each full
pass. This measures that gain on the running interpreter: a full ``gc.collect()``
with N states held as ``UserData`` objects in a dict, next to the same states in a
``StateTable``, and the memory each takes.

Run on both lanes: ``scripts/bench``'s lanes apply here too::

    source scripts/lib/lanes.sh && run_latest python -m benchmarks.packing_gc
    .venv/bin/python -m benchmarks.packing_gc
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
import gc
import statistics
import sys
import time
import tracemalloc

from custom_components.jellyfin_sync.jellyfin.models import UserData
from custom_components.jellyfin_sync.sync.fields import StateTable

BASE = datetime(2024, 1, 1, tzinfo=UTC)


def states(count: int) -> dict[str, UserData]:
    """``count`` distinct, realistic states keyed by 32-hex ids."""
    out: dict[str, UserData] = {}
    for n in range(count):
        out[f"{n:032x}"] = UserData(
            played=n % 3 == 0,
            play_count=n % 5,
            playback_position_ticks=(n % 7) * 10_000_000,
            last_played_date=BASE + timedelta(minutes=n),
            is_favorite=n % 11 == 0,
            rating=float(n % 10) if n % 4 == 0 else None,
        )
    return out


def full_pass_ms(repeat: int) -> float:
    """Median CPU time of a full collection, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        gc.collect()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def measure(count: int, repeat: int) -> dict[str, float]:
    """Full-pass time and traced memory for objects and for the packed table."""
    gc.collect()
    baseline = full_pass_ms(repeat)
    tracemalloc.start()
    objects = states(count)
    object_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    gc.collect()
    with_objects = full_pass_ms(repeat)
    tracked = sum(1 for state in objects.values() if gc.is_tracked(state))
    tracemalloc.start()
    packed = StateTable(objects)
    packed_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del objects
    gc.collect()
    with_packed = full_pass_ms(repeat)
    if len(packed) != count:
        raise RuntimeError("the packed table lost states")
    return {
        "empty_ms": baseline,
        "objects_ms": with_objects,
        "packed_ms": with_packed,
        "objects_mb": object_bytes / 1e6,
        "packed_mb": packed_bytes / 1e6,
        "objects_tracked": float(tracked),
    }


def main(argv: list[str] | None = None) -> int:
    """Print one line per size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,300000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}: full gc pass (median CPU ms) and memory")
    for count in (int(s) for s in args.sizes.split(",")):
        r = measure(count, args.repeat)
        print(
            f"{count:>7} states: empty {r['empty_ms']:.1f} ms | UserData objects "
            f"{r['objects_ms']:.1f} ms, {r['objects_mb']:.1f} MB, "
            f"{int(r['objects_tracked'])} tracked | packed {r['packed_ms']:.1f} ms, "
            f"{r['packed_mb']:.1f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
