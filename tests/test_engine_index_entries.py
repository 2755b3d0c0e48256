"""Index entries: the plain tuples the engine keeps per item (``sync/matching/``)."""

import gc
import sys

import pytest

from custom_components.jellyfin_sync.jellyfin.models import Item
from custom_components.jellyfin_sync.sync import (
    MatchedItem,
    MatchMethod,
    ServerOptions,
    SyncOptions,
    match_items,
    matching,
)
from custom_components.jellyfin_sync.sync.matching import (
    MatchedItems,
    Slot,
    index_entry,
    run,
)
from tests.engine_fakes import FakeServer


def movie(ids: dict[str, str], path: str | None = "/m/A.mkv") -> Item:
    return Item(id="a" * 32, type="Movie", name="A", provider_ids=ids, path=path)


def test_entry_keeps_identity_fields_and_lower_cases_provider_ids() -> None:
    entry = index_entry(movie({"Imdb": "TT1", "Tmdb": "7"}))
    assert entry == (
        "a" * 32,
        "Movie",
        "/m/A.mkv",
        None,
        None,
        None,
        None,
        "imdb\x1ftt1\x1ftmdb\x1f7",
        None,
    )


def test_the_named_slots_are_where_index_entry_puts_each_field() -> None:
    episode = Item(
        id="e" * 32,
        type="Episode",
        name="Pilot",
        provider_ids={"Tvdb": "9"},
        path="/tv/S/s01e02-e03.mkv",
        series_id="s" * 32,
        season_number=1,
        episode_number=2,
        episode_number_end=3,
    )
    entry = index_entry(episode)
    assert len(entry) == Slot.SIZE
    assert entry[Slot.ID] == "e" * 32
    assert entry[Slot.TYPE] == "Episode"
    assert entry[Slot.PATH] == "/tv/S/s01e02-e03.mkv"
    assert entry[Slot.SERIES] == "s" * 32
    assert (entry[Slot.SEASON], entry[Slot.EPISODE], entry[Slot.EPISODE_END]) == (
        1,
        2,
        3,
    )
    assert entry[Slot.PROVIDERS] == "tvdb\x1f9"
    artist = Item(id="b" * 32, type="MusicArtist", name="ABBA")
    assert index_entry(artist)[Slot.TITLE] == "abba"


def test_exact_lower_case_name_wins_then_first_other_spelling() -> None:
    ids = {"IMDB": "tt1", "Imdb": "tt2", "imdb": "tt3", "TMDB": "5", "Tmdb": "6"}
    entry = index_entry(movie(ids))
    assert entry[7] == "imdb\x1ftt3\x1ftmdb\x1f5"


def test_untrusted_provider_ids_and_unwanted_paths_are_dropped() -> None:
    entry = index_entry(
        movie({"Imdb": "TT1", "Zap2It": "x"}), ("imdb",), with_path=False
    )
    assert entry[2] is None
    assert entry[7] == "imdb\x1ftt1"


def test_entries_are_untracked_by_the_garbage_collector() -> None:
    entry = index_entry(movie({"Imdb": "TT1"}))
    # CPython 3.13 creates it tracked and a collection untracks it (young
    # collections do so long before it reaches the old generation that full
    # collections scan); 3.14 does not track a tuple of atoms in the first place.
    if sys.version_info < (3, 14):
        assert gc.is_tracked(entry)
    gc.collect()
    assert not gc.is_tracked(entry)


def test_matching_entries_equals_matching_items() -> None:
    a, b = FakeServer("a"), FakeServer("b")
    show_a = a.add_series("/a/tv/Show", ids={"Tvdb": "81189"})
    show_b = b.add_series("/b/tv/Show", ids={"tvdb": "81189"})
    a.add_episode(show_a, 1, 1)
    b.add_episode(show_b, 1, 1)
    a.add_episode(show_a, 1, 2, ids={"TVDB": "2"})
    b.add_episode(show_b, 1, 2, ids={"tvdb": "2"})
    a.add_movie("/a/movies/X.mkv", ids={"IMDB": "TT5"})
    b.add_movie("/b/movies/X.mkv", ids={"imdb": "tt5"})
    a.add_movie("/a/home/Y.mkv")
    b.add_movie("/b/home/Y.mkv")
    a.add_movie("/a/home/Only A.mkv", ids={"imdb": ""})
    options = SyncOptions(
        servers={
            "a": ServerOptions(media_roots=("/a",)),
            "b": ServerOptions(media_roots=("/b",)),
        }
    )
    items = {
        s.server_id: {i.id: i for i in s.items.values() if i.type != "Series"}
        for s in (a, b)
    }
    series = {
        s.server_id: {i.id: i for i in s.items.values() if i.type == "Series"}
        for s in (a, b)
    }
    from_items = run(match_items(items, series, options))
    from_entries = run(
        match_items(
            {s: {k: index_entry(v) for k, v in m.items()} for s, m in items.items()},
            {s: {k: index_entry(v) for k, v in m.items()} for s, m in series.items()},
            options,
        )
    )
    assert len(from_items.items) == 4
    assert from_entries.items == from_items.items
    assert from_entries.unmatched == from_items.unmatched == {"a": 1, "b": 0}
    for index in range(len(from_items.items)):
        assert from_entries.keys(index) == from_items.keys(index)


def test_matched_items_read_like_a_list() -> None:
    items = MatchedItems()
    assert items == []
    first = items.add("movie:imdb:tt1", MatchMethod.PROVIDER, [("a", "1"), ("b", "2")])
    items.add("path:movie:x.mkv", MatchMethod.PATH, [("a", "3"), ("c", "4")])
    expected = [
        MatchedItem(
            identity="movie:imdb:tt1",
            method=MatchMethod.PROVIDER,
            members={"a": "1", "b": "2"},
        ),
        MatchedItem(
            identity="path:movie:x.mkv",
            method=MatchMethod.PATH,
            members={"a": "3", "c": "4"},
        ),
    ]
    assert len(items) == 2
    assert items == expected
    assert items != expected[:1]
    assert items != 5
    assert items[first] == items[0] == items[-2] == expected[0]
    # Made on each read: the list keeps no objects per item.
    assert items[0] is not items[0]
    assert items[-1] == expected[1]
    assert items.identity(1) == "path:movie:x.mkv"
    assert list(items) == expected
    assert repr(items) == repr(expected)
    with pytest.raises(IndexError):
        items[2]


def test_keys_whose_hashes_collide_match_as_if_they_did_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    servers = [FakeServer(name) for name in "abc"]
    for server in servers:
        show = server.add_series(f"/{server.server_id}/tv/S", ids={"Tvdb": "81189"})
        for episode in range(1, 4):
            server.add_episode(show, 1, episode)
        server.add_movie(f"/{server.server_id}/m/X.mkv", ids={"Imdb": "tt5"})
        server.add_movie(f"/{server.server_id}/m/Y.mkv", ids={"Imdb": "tt6"})
        server.add_movie(f"/{server.server_id}/m/Z.mkv")
    # Two items of "a" share a key (ambiguous); "c" contradicts "a" on tmdb.
    servers[0].add_movie("/a/m/Y2.mkv", ids={"Imdb": "tt6"})
    servers[0].add_movie("/a/m/W.mkv", ids={"Imdb": "tt7", "Tmdb": "1"})
    servers[2].add_movie("/c/m/W.mkv", ids={"Imdb": "tt7", "Tmdb": "2"})
    options = SyncOptions(
        servers={
            s.server_id: ServerOptions(media_roots=(f"/{s.server_id}",))
            for s in servers
        }
    )

    def split(kind: str) -> dict[str, dict[str, Item]]:
        return {
            s.server_id: {
                i.id: i
                for i in s.items.values()
                if (i.type == "Series") == (kind == "s")
            }
            for s in servers
        }

    def summary() -> tuple[object, ...]:
        match = run(match_items(split("i"), split("s"), options))
        return (
            list(match.items),
            match.by_identity,
            match.by_method,
            match.unmatched,
            match.unmatched_examples,
            match.ambiguous,
            match.conflicts,
            match.members_index,
        )

    expected = summary()
    assert len(expected[0]) == 6  # type: ignore[arg-type]
    assert expected[5]
    assert expected[6]
    for collide in (lambda key: 0, lambda key: len(key) % 3, lambda key: -len(key) % 2):
        monkeypatch.setattr(matching.stages, "_digest", collide)
        assert summary() == expected


def test_paths_are_kept_relative_and_shared_between_servers() -> None:
    home = Item(id="a" * 32, type="Movie", name="A", path="/mnt/media/Films/A.mkv")
    cabin = Item(id="b" * 32, type="Movie", name="A", path="D:\\Media\\films\\a.MKV")
    first = index_entry(home, roots=("/mnt/media",))
    second = index_entry(cabin, roots=("D:\\Media",))
    # One string for both indexes: the biggest part of an index is its paths.
    assert first[2] is second[2]
    assert first[2] is not None
    assert first[2].endswith("films/a.mkv")
    outside = Item(id="c" * 32, type="Movie", name="C", path="/elsewhere/C.mkv")
    assert index_entry(outside, roots=("/mnt/media",))[2] is None
