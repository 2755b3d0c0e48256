"""End-to-end: the sync engine with the real client against simulated Jellyfin servers."""

from datetime import UTC, datetime
from typing import Any

import aiohttp

from custom_components.jellyfin_sync.jellyfin import JellyfinClient
from custom_components.jellyfin_sync.sync import (
    GuardLimits,
    ServerOptions,
    SyncEngine,
    SyncOptions,
)
from tests.simulator import LibrarySpec, SimulatedServer

NO_GUARD = GuardLimits(max_changes=None, max_change_share=None)


def engine_for(
    session: aiohttp.ClientSession, *servers: SimulatedServer, roots: bool
) -> SyncEngine:
    clients = {
        s.server_id: JellyfinClient(s.url, s.api_key, session, retries=0)
        for s in servers
    }
    options = SyncOptions(
        guard=NO_GUARD,
        servers={
            s.server_id: ServerOptions(media_roots=(s.media_root,) if roots else ())
            for s in servers
        },
    )
    return SyncEngine(clients, options)


def unique(server: SimulatedServer, kind: str) -> list[Any]:
    """Items of a type whose cross-server identity is unambiguous (no shared ids)."""
    items = [i for i in server.items if i.type == kind and i.provider_ids]
    seen: dict[tuple[str, str], int] = {}
    for item in items:
        for pair in item.provider_ids.items():
            seen[pair] = seen.get(pair, 0) + 1
    return [i for i in items if all(seen[p] == 1 for p in i.provider_ids.items())]


async def test_different_roots_sync_through_http(
    jellyfin_pair: tuple[SimulatedServer, SimulatedServer],
) -> None:
    home, cabin = jellyfin_pair
    movie = unique(home, "Movie")[0]
    episode = unique(home, "Episode")[0]
    cabin_movie = cabin.item_by_key(movie.identity)
    cabin_episode = cabin.item_by_key(episode.identity)
    assert movie.id != cabin_movie.id
    home.act("alice").watch(movie.id)
    cabin.act("alice").favorite(cabin_episode.id, True)
    cabin.act("bob").rate(cabin_movie.id, 8.0)

    async with aiohttp.ClientSession() as session:
        engine = engine_for(session, home, cabin, roots=True)
        report = await engine.run_cycle(now=datetime.now(UTC))

        assert report.ok, report.errors
        assert report.writes_done == 3
        assert cabin.user_data("alice", cabin_movie.id)["Played"] is True
        assert home.user_data("alice", episode.id)["IsFavorite"] is True
        assert home.user_data("bob", movie.id)["Rating"] == 8.0
        assert report.matches_by_method["provider"] > 0
        assert report.ambiguous >= 0
        again = await engine.run_cycle(now=datetime.now(UTC))
        assert again.writes_planned == 0

        cabin.act("alice").mark_unplayed(cabin_movie.id)
        await engine.run_cycle(now=datetime.now(UTC))
        assert home.user_data("alice", movie.id)["Played"] is False
        assert home.user_data("alice", movie.id).get("LastPlayedDate") is None


async def test_seed_scenario_on_jellyfin_10_8(jellyfin_server_factory: Any) -> None:
    spec = LibrarySpec(
        seed=3, movies=12, series=1, seasons_per_series=1, episodes_per_season=3
    )
    old = await jellyfin_server_factory(
        name="Old",
        version="10.8.13",
        media_root="/media",
        library=spec,
        users=["alice"],
    )
    new = await jellyfin_server_factory(
        name="New",
        version="10.10.7",
        media_root="/media",
        library=spec,
        users=["alice"],
    )
    movie = unique(new, "Movie")[0]
    assert old.get_item(movie.id) is not None  # same paths: same ids
    new.act("alice").watch(movie.id)
    new.act("alice").progress(unique(new, "Movie")[1].id, 10**10)

    async with aiohttp.ClientSession() as session:
        engine = engine_for(session, old, new, roots=False)
        report = await engine.run_cycle(now=datetime.now(UTC))

        assert report.writes_done == 1  # played; the position cannot be set on 10.8
        assert report.unsupported >= 1
        # Films, episodes, and the series and season (their favourite and rating).
        assert report.matches_by_method["id"] == len(
            [i for i in new.items if i.type in ("Movie", "Series", "Season", "Episode")]
        )
        assert old.user_data("alice", movie.id)["Played"] is True
        again = await engine.run_cycle(now=datetime.now(UTC))
        assert again.writes_planned == 0
