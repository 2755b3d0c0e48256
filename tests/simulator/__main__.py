r"""Command line: ``python -m tests.simulator serve [options]``.

Starts simulated Jellyfin servers on 127.0.0.1, prints each server's URL, API key and
name, and runs until Ctrl-C. Example::

    python -m tests.simulator serve --servers 2 --items 3000 --users alice,bob \\
        --different-roots --history
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
import random
import sys

from .library import LibrarySpec
from .server import SimulatedServer, SimulatorCluster


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m tests.simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run simulated Jellyfin servers")
    serve.add_argument("--servers", type=int, default=2)
    serve.add_argument("--items", type=int, default=3000, help="items per server")
    serve.add_argument("--users", default="alice,bob")
    serve.add_argument("--version", default="10.11.11")
    serve.add_argument("--versions", default="", help="per-server versions, commas")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="first port (0: any)")
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument(
        "--different-roots",
        action="store_true",
        help="give each server its own media root (hence different item ids)",
    )
    serve.add_argument("--history", action="store_true", help="pre-fill watch data")
    serve.add_argument("--drop-items", type=float, default=0.0)
    serve.add_argument("--extra-items", type=int, default=0)
    serve.add_argument(
        "--second-files",
        type=float,
        default=0.0,
        help="share of titles with a second (2160p) file (12.0: one title, versions)",
    )
    serve.add_argument("--boxsets", type=int, default=0, help="collections")
    serve.add_argument("--music-artists", type=int, default=0)
    serve.add_argument("--albums-per-artist", type=int, default=2)
    serve.add_argument("--tracks-per-album", type=int, default=10)
    serve.add_argument("--guest-artists", type=int, default=0)
    serve.add_argument("--audiobooks", type=int, default=0)
    serve.add_argument("--books", type=int, default=0)
    serve.add_argument("--home-videos", type=int, default=0)
    serve.add_argument("--music-videos", type=int, default=0)
    serve.add_argument("--no-legacy-auth", action="store_true")
    serve.add_argument("--api-key", action="append", default=[])
    return parser.parse_args(argv)


def build_servers(args: argparse.Namespace) -> list[SimulatedServer]:
    """Create (not start) the servers described by the arguments."""
    users = [u.strip() for u in args.users.split(",") if u.strip()]
    versions = [v.strip() for v in args.versions.split(",") if v.strip()]
    spec = LibrarySpec.for_total(args.items, seed=args.seed)
    spec.versions = args.second_files
    spec.boxsets = args.boxsets
    spec.music_artists = args.music_artists
    spec.albums_per_artist = args.albums_per_artist
    spec.tracks_per_album = args.tracks_per_album
    spec.guest_artists = args.guest_artists
    spec.audiobooks = args.audiobooks
    spec.books = args.books
    spec.home_videos = args.home_videos
    spec.music_videos = args.music_videos
    servers = []
    for index in range(args.servers):
        version = versions[index] if index < len(versions) else args.version
        root = f"/media/server{index + 1}" if args.different_roots else "/media"
        server = SimulatedServer(
            name=f"Jellyfin {index + 1}",
            version=version,
            media_root=root,
            library=spec,
            users=users,
            legacy_auth=False if args.no_legacy_auth else None,
            drop_items=args.drop_items if index else 0.0,
            extra_items=args.extra_items if index else 0,
            api_key=args.api_key[index] if index < len(args.api_key) else None,
        )
        if args.history:
            add_history(server, seed=args.seed + index)
        servers.append(server)
    return servers


def add_history(server: SimulatedServer, *, seed: int) -> None:
    """Give every user some plays, favourites, ratings and resume points."""
    rng = random.Random(seed)
    leaves = [i for i in server.items if not i.is_folder and not i.by_name]
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for user in server.users:
        actor = server.act(user)
        for item in rng.sample(leaves, k=min(len(leaves), max(1, len(leaves) // 10))):
            roll = rng.random()
            when = base + timedelta(hours=rng.randrange(20_000))
            if roll < 0.5:
                actor.watch(item.id, date=when)
            elif roll < 0.7:
                actor.progress(
                    item.id, (item.runtime_ticks or 0) * rng.randrange(10, 80) // 100
                )
            elif roll < 0.85:
                actor.favorite(item.id, True)
            else:
                actor.rate(item.id, float(rng.randrange(0, 11)))


async def serve(args: argparse.Namespace) -> None:
    """Start the servers, print how to reach them and run until cancelled."""
    servers = build_servers(args)
    async with SimulatorCluster([]) as cluster:
        for index, server in enumerate(servers):
            port = args.port + index if args.port else 0
            await server.start(host=args.host, port=port)
            cluster.servers.append(server)
            print(
                f"{server.name}: url={server.url} api_key={server.api_key} "
                f"version={server.version} items={len(server.items)} "
                f"users={','.join(server.users)}",
                flush=True,
            )
        print("Ctrl-C to stop.", flush=True)
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
