"""Benchmark: generate 100k items and read them all through paged ``/Items``.

Run with ``.venv/bin/python -m benchmarks.simulator_items [--items N] [--page N]``.
Prints the generation time, the paging time (ProviderIds and Path requested, user
data on, images off), requests and bytes, and the conformance violations seen.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from aiohttp import ClientSession

from tests.simulator import LibrarySpec, SimulatedServer, conformance


async def run(items: int, page: int) -> None:
    """Build the server, page through every item, print the numbers."""
    started = time.perf_counter()
    server = SimulatedServer(
        name="Bench",
        version="10.11.11",
        library=LibrarySpec.for_total(items, seed=1),
        users=["alice"],
    )
    generated = time.perf_counter() - started
    print(f"generated {len(server.items)} items in {generated:.2f} s")
    user_id = server.users["alice"]
    headers = {"Authorization": f'MediaBrowser Token="{server.api_key}"'}
    async with server, ClientSession(headers=headers) as session:
        seen: set[str] = set()
        start_index = 0
        requests = 0
        started = time.perf_counter()
        while True:
            params = {
                "userId": user_id,
                "recursive": "true",
                "includeItemTypes": "Movie,Episode",
                "fields": "ProviderIds,Path",
                "enableImages": "false",
                "enableTotalRecordCount": "false",
                "sortBy": "DateCreated,SortName",
                "startIndex": str(start_index),
                "limit": str(page),
            }
            async with session.get(f"{server.url}/Items", params=params) as resp:
                resp.raise_for_status()
                body = await resp.json()
            requests += 1
            batch = body["Items"]
            seen.update(item["Id"] for item in batch)
            start_index += len(batch)
            if len(batch) < page:
                break
        elapsed = time.perf_counter() - started
    leaves = sum(1 for i in server.items if not i.is_folder)
    print(
        f"read {len(seen)} of {leaves} movies/episodes with ProviderIds in "
        f"{elapsed:.2f} s ({requests} requests of {page}, "
        f"{server.counters.bytes_out / 1e6:.1f} MB)"
    )
    print(f"conformance violations: {len(conformance.VIOLATIONS)}")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.simulator_items")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(run(args.items, args.page))


if __name__ == "__main__":
    main()
