"""Simulated Jellyfin servers in their own process, driven over stdin/stdout.

The sync benchmark runs the servers here, in a child process with its own event loop
and interpreter, so that the simulator's CPU time neither stalls the sync's event loop
nor counts in its memory. Start with ``python -m benchmarks.sim_host``; every line on
stdin is one JSON command, every line on stdout one JSON answer:

* ``{"cmd": "start", "items": N, "servers": S, "users": [...], "seed": 1}``:
  build S 10.11.11 servers holding the same media under different roots (no shared
  ids), give every user a realistic, partly diverging watch history on each, start
  them. Answers ``{"servers": [{"name", "url", "api_key", "server_id",
  "media_root", "users": {name: id}, "items": n}], "first_sync_writes": n}``
  (the (server, user, item) triples that the first sync must write).
* ``{"cmd": "changes", "n": 20, "seed": 1}``: make ``n`` user-data changes spread
  over the users and servers, each on a different item, each one that the other
  servers do not have yet. Answers ``{"changes": [{"server", "user", "kind",
  "identity"}]}``.
* ``{"cmd": "counters"}``: per server ``{"requests", "bytes_in", "bytes_out",
  "routes": {route: requests}}`` since the last reset
  (server view: ``bytes_in`` are request bodies, ``bytes_out`` response bodies).
* ``{"cmd": "verify"}``: ``{"checked", "wrong", "examples"}``: history entries and
  changes that some server does not show (after a sync: data the sync lost).
* ``{"cmd": "reset"}``: zero the counters; ``{"cmd": "quit"}``: stop and exit.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import itertools
import json
import random
import sys
from typing import Any

from tests.simulator import LibrarySpec, SimulatedServer, conformance

#: Per user: how many items carry each kind of data (before capping to small libraries).
HISTORY = {"played": 2500, "resumable": 250, "favourite": 300, "rated": 250}
#: Chance that a server holds a given entry of the user's history (first sync merges).
PRESENT = 0.8
_BASE = datetime(2024, 1, 1, tzinfo=UTC)


#: Albums per artist and tracks per album of ``--music`` (50k tracks: 3k albums).
MUSIC_ALBUMS_PER_ARTIST = 10
MUSIC_TRACKS_PER_ALBUM = 17


def _identifying(item: Any) -> list[tuple[str, str]]:
    """The provider ids that identify an item.

    A track's album and artist ids are every track's of that album, so only its
    own track id counts.
    """
    if item.type == "Audio":
        return [p for p in item.provider_ids.items() if p[0] == "MusicBrainzTrack"]
    return list(item.provider_ids.items())


def _syncable(server: SimulatedServer) -> list[Any]:
    """Leaves (films, episodes, tracks ...) with unique provider ids.

    Such items are unambiguous everywhere.

    Titles count once: a 12.0 title's alternates share its provider ids.
    """
    leaves = [
        i
        for i in server.items
        if not i.is_folder and i.provider_ids and i.primary_id is None
    ]
    seen: dict[tuple[str, str], int] = {}
    for item in leaves:
        for pair in _identifying(item):
            seen[pair] = seen.get(pair, 0) + 1
    return [
        i
        for i in leaves
        if i.index_number_end is None
        and _identifying(i)
        and all(seen[p] == 1 for p in _identifying(i))
    ]


class Host:
    """The servers of one benchmark run and the commands that drive them."""

    def __init__(self) -> None:
        """Nothing is built until ``start``."""
        self.servers: list[SimulatedServer] = []
        self.users: list[str] = []
        self.identities: list[str] = []
        self.touched: set[tuple[str, str]] = set()
        self.first_sync_writes = 0
        #: (user, identity) -> (kind, value) of every history entry and change.
        self.expected: dict[tuple[str, str], tuple[str, Any]] = {}

    async def start(
        self,
        items: int,
        servers: int,
        users: list[str],
        seed: int,
        version: str = "10.11.11",
        second_files: float = 0.0,
        music: int = 0,
    ) -> dict[str, Any]:
        """Build, fill and start the servers (all of one Jellyfin version).

        ``music`` adds a music library of about that many tracks (10 albums per
        artist, 17 tracks per album) to the ``items`` films and episodes.
        """
        spec = LibrarySpec.for_total(items, seed=seed)
        spec.versions = second_files
        if music:
            per_artist = MUSIC_ALBUMS_PER_ARTIST * MUSIC_TRACKS_PER_ALBUM
            spec.music_artists = max(1, round(music / per_artist))
            spec.albums_per_artist = MUSIC_ALBUMS_PER_ARTIST
            spec.tracks_per_album = MUSIC_TRACKS_PER_ALBUM
        self.users = users
        for index in range(servers):
            server = SimulatedServer(
                name=f"Bench {index + 1}",
                version=version,
                media_root=f"/media/server{index + 1}",
                library=spec,
                users=users,
            )
            self.servers.append(server)
        self.identities = [i.identity for i in _syncable(self.servers[0])]
        self._fill(seed)
        for server in self.servers:
            await server.start(host="127.0.0.1", port=0)
            server.reset_counters()
        return {
            "first_sync_writes": self.first_sync_writes,
            "servers": [
                {
                    "name": s.name,
                    "url": s.url,
                    "api_key": s.api_key,
                    "server_id": s.server_id,
                    "media_root": s.media_root,
                    "users": s.users,
                    "items": len(s.items),
                }
                for s in self.servers
            ],
        }

    def _fill(self, seed: int) -> None:
        """Give every user a history; each server holds most of it."""
        rng = random.Random(seed)
        first = self.servers[0]
        for user in self.users:
            pool = rng.sample(self.identities, k=len(self.identities))
            cap = max(1, len(pool) // 25)
            picks: dict[str, list[str]] = {}
            used: set[str] = set()
            for kind, wanted in HISTORY.items():
                count = min(wanted, cap * (10 if kind == "played" else 1))
                # Jellyfin keeps no resume position for a track (playback of audio
                # never stores one), so only videos and books are left part-way.
                allowed = (
                    i
                    for i in pool
                    if i not in used
                    and (kind != "resumable" or first.item_by_key(i).type != "Audio")
                )
                picks[kind] = list(itertools.islice(allowed, count))
                used.update(picks[kind])
            for kind, identities in picks.items():
                for identity in identities:
                    runtime = first.item_by_key(identity).runtime_ticks or 10**10
                    when = _BASE + timedelta(minutes=rng.randrange(1_000_000))
                    position = runtime * rng.randrange(10, 80) // 100
                    rating = float(rng.randrange(0, 11))
                    value: Any = {"resumable": position, "rated": rating}.get(kind)
                    self.expected[(user, identity)] = (kind, value)
                    holders = [s for s in self.servers if rng.random() < PRESENT]
                    holders = holders or [rng.choice(self.servers)]
                    # Every server without the entry needs one write.
                    self.first_sync_writes += len(self.servers) - len(holders)
                    for server in holders:
                        item = server.item_by_key(identity)
                        actor = server.act(user)
                        if kind == "played":
                            actor.watch(item.id, date=when)
                        elif kind == "resumable":
                            actor.progress(item.id, position)
                        elif kind == "favourite":
                            actor.favorite(item.id, True)
                        else:
                            actor.rate(item.id, rating)

    def changes(self, n: int, seed: int) -> dict[str, Any]:
        """Make ``n`` changes on distinct items, round-robin over users and servers."""
        rng = random.Random(seed)
        kinds = ("watch", "progress", "favourite", "rate", "unwatch", "unfavourite")
        made: list[dict[str, str]] = []
        order = rng.sample(self.identities, k=len(self.identities))
        for index in range(n):
            user = self.users[index % len(self.users)]
            server = self.servers[(index // len(self.users)) % len(self.servers)]
            kind = kinds[index % len(kinds)]
            actor = server.act(user)
            for identity in order:
                if (user, identity) in self.touched:
                    continue
                item = server.item_by_key(identity)
                data = server.user_data(user, item.id)
                value: Any = None
                if kind == "watch" and not data["Played"]:
                    actor.watch(item.id)
                elif kind == "progress" and not data["Played"] and item.type != "Audio":
                    runtime = item.runtime_ticks or 10**10
                    value = runtime * rng.randrange(20, 70) // 100
                    actor.progress(item.id, value)
                elif kind == "favourite" and not data["IsFavorite"]:
                    actor.favorite(item.id, True)
                elif kind == "rate" and data.get("Rating") is None:
                    value = float(rng.randrange(1, 11))
                    actor.rate(item.id, value)
                elif kind == "unwatch" and data["Played"]:
                    actor.mark_unplayed(item.id)
                elif kind == "unfavourite" and data["IsFavorite"]:
                    actor.favorite(item.id, False)
                else:
                    continue
                self.expected[(user, identity)] = (kind, value)
                self.touched.add((user, identity))
                made.append(
                    {
                        "server": server.server_id,
                        "user": user,
                        "kind": kind,
                        "identity": identity,
                    }
                )
                break
        return {"changes": made}

    def verify(self) -> dict[str, Any]:
        """Count (server, user, item) triples that do not show the expected data.

        After a sync every server must hold every history entry and every change,
        whichever server it was made on.
        """
        wrong: list[str] = []
        for (user, identity), (kind, value) in sorted(self.expected.items()):
            for server in self.servers:
                data = server.user_data(user, server.item_by_key(identity).id)
                if server.version_tuple[:2] < (10, 9) and kind in {
                    "resumable",
                    "progress",
                    "rated",
                    "rate",
                }:
                    # 10.8 cannot take a position or a numeric rating through an
                    # API key: positions stay as they were, and a like (10) or a
                    # dislike (1) stands in for a rating.
                    if kind in {"resumable", "progress"}:
                        continue
                    like = None if value is None else (10 if value >= 6.5 else 1)
                    if data.get("Rating") in {value, like}:
                        continue
                good = {
                    "played": data["Played"],
                    "watch": data["Played"],
                    "resumable": data["PlaybackPositionTicks"] == value,
                    "progress": data["PlaybackPositionTicks"] == value,
                    "favourite": data["IsFavorite"],
                    "rated": data.get("Rating") == value,
                    "rate": data.get("Rating") == value,
                    "unwatch": not data["Played"],
                    "unfavourite": not data["IsFavorite"],
                }[kind]
                if not good:
                    wrong.append(f"{server.name} {user} {identity} {kind}")
        return {
            "checked": len(self.expected),
            "wrong": len(wrong),
            "examples": wrong[:5],
        }

    def with_data(self) -> dict[str, Any]:
        """Per server and user id: the ids of the items whose user data is not default.

        Exactly what a sync must re-read to see every change (the ``udata_floor``).
        """
        out: dict[str, dict[str, list[str]]] = {}
        for server in self.servers:
            per_user: dict[str, list[str]] = {}
            for user_id in server.users.values():
                per_user[user_id] = [
                    item.id
                    for item in server.items
                    if not item.is_folder and not server.row(user_id, item).is_default()
                ]
            out[server.server_id] = per_user
        return {"servers": out}

    def counters(self) -> dict[str, Any]:
        """Traffic per server since the last reset."""
        return {
            s.server_id: {
                "requests": s.counters.requests,
                "bytes_in": s.counters.bytes_in,
                "bytes_out": s.counters.bytes_out,
                "routes": {r: c.requests for r, c in sorted(s.counters.routes.items())},
            }
            for s in self.servers
        }

    def reset(self) -> dict[str, Any]:
        """Zero every counter."""
        for server in self.servers:
            server.reset_counters()
        return {"ok": True}

    async def stop(self) -> None:
        """Stop every server."""
        for server in self.servers:
            await server.stop()


async def serve() -> None:
    """Answer commands from stdin until ``quit`` or end of input."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    host = Host()
    try:
        while line := await reader.readline():
            command = json.loads(line)
            name = command.pop("cmd")
            if name == "quit":
                break
            try:
                if name == "start":
                    answer = await host.start(**command)
                elif name == "changes":
                    answer = host.changes(**command)
                elif name == "verify":
                    answer = host.verify()
                elif name == "counters":
                    answer = host.counters()
                elif name == "with_data":
                    answer = host.with_data()
                elif name == "reset":
                    answer = host.reset()
                else:
                    answer = {"error": f"unknown command {name!r}"}
            except Exception as err:  # noqa: BLE001 - reported to the driver
                answer = {"error": f"{type(err).__name__}: {err}"}
            answer["violations"] = len(conformance.VIOLATIONS)
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        await host.stop()


if __name__ == "__main__":
    asyncio.run(serve())
