"""Smoke tests of the simulator's lifecycle, fixtures and identity model."""

import aiohttp
import pytest

from tests.simulator import LibrarySpec, SimulatedServer, SimulatorCluster
from tests.simulator.library import jellyfin_item_id

pytestmark = pytest.mark.conformance


async def test_pair_fixture_same_media_different_ids(jellyfin_pair) -> None:
    home, cabin = jellyfin_pair
    movie = home.find_item(type="Movie")
    twin = cabin.item_by_key(movie.identity)
    assert twin.name == movie.name
    assert twin.id != movie.id
    assert home.users.keys() == cabin.users.keys() == {"alice", "bob"}
    assert home.users["alice"] != cabin.users["alice"]
    async with aiohttp.ClientSession() as session:
        for server in (home, cabin):
            async with session.get(f"{server.url}/System/Info/Public") as resp:
                assert resp.status == 200
                info = await resp.json()
            assert info["Id"] == server.server_id
            assert info["ServerName"] == server.name


async def test_identical_roots_give_identical_ids(socket_enabled: None) -> None:
    spec = LibrarySpec(seed=3, movies=5, series=1)
    one = SimulatedServer(name="A", media_root="/media", library=spec)
    two = SimulatedServer(name="B", media_root="/media", library=spec)
    assert [i.id for i in one.items] == [i.id for i in two.items]
    async with SimulatorCluster([one, two]) as cluster:
        assert len(cluster) == 2
        assert cluster[0].url != cluster[1].url


def test_item_id_formula_matches_api_notes() -> None:
    # API-NOTES §5: uuid.UUID(bytes_le=md5(utf-16-le(full type name + path))), "N".
    import hashlib
    import uuid

    path = "/media/movies/Film (2001)/Film (2001).mkv"
    full = "MediaBrowser.Controller.Entities.Movies.Movie"
    expected = uuid.UUID(
        bytes_le=hashlib.md5(
            (full + path).encode("utf-16-le"), usedforsecurity=False
        ).digest()
    ).hex
    assert jellyfin_item_id("Movie", path) == expected
    assert len(expected) == 32
