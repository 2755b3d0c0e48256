"""Each stage of item matching alone (``sync/matching/``): keys, groups, joins, result.

``tests/test_engine_matching.py`` tests :func:`match_items` as a whole; here every
stage gets small real inputs (model items made into index entries) and its own
output is checked.
"""

from collections.abc import Callable, Iterable, Sequence

import pytest

from custom_components.jellyfin_sync.jellyfin.models import Item
from custom_components.jellyfin_sync.sync import MatchMethod, ServerOptions, SyncOptions
from custom_components.jellyfin_sync.sync.matching import (
    Ambiguity,
    Indexed,
    index_entry,
    run,
    stages,
)
from custom_components.jellyfin_sync.sync.matching.groups import (
    members_in_order,
    new_groups,
    number_nodes,
)
from custom_components.jellyfin_sync.sync.matching.keys import STAGES, ItemKeys
from custom_components.jellyfin_sync.sync.matching.stages import (
    UNMATCHED_EXAMPLES,
    build_result,
    identity_of,
    join_pass,
    join_stage,
    key_source,
    shared_keys,
    split_ambiguous,
)

PROVIDER = STAGES.index(MatchMethod.PROVIDER)
PATH = STAGES.index(MatchMethod.PATH)


def movie(item_id: str, path: str | None = None, **ids: str) -> Item:
    return Item(id=item_id, type="Movie", name="M", provider_ids=ids, path=path)


def series(item_id: str, name: str = "Show", year: int = 2008, **ids: str) -> Item:
    return Item(
        id=item_id, type="Series", name=name, production_year=year, provider_ids=ids
    )


def episode(item_id: str, show: Item, season: int, number: int, **extra: int) -> Item:
    return Item(
        id=item_id,
        type="Episode",
        name="E",
        series_id=show.id,
        season_number=season,
        episode_number=number,
        episode_number_end=extra.get("end"),
    )


def season(item_id: str, show: Item, number: int) -> Item:
    return Item(
        id=item_id, type="Season", name="S", series_id=show.id, episode_number=number
    )


class World:
    """The items of a few servers and the matching state made from them."""

    def __init__(
        self,
        servers: dict[str, Sequence[Item]],
        options: SyncOptions | None = None,
        every: int = 50,
    ) -> None:
        self.options = options or SyncOptions()
        self.every = every
        self.indexes: dict[str, dict[str, Indexed]] = {
            s: {i.id: index_entry(i) for i in items} for s, items in servers.items()
        }
        shows = {
            s: {i.id: index_entry(i) for i in items if i.type == "Series"}
            for s, items in servers.items()
        }
        self.nodes = run(number_nodes(self.indexes, every))
        self.keys = ItemKeys(
            shows,
            self.options,
            {s: self.options.server(s).media_roots for s in servers},
            kinds={entry[1] for entry in self.nodes.item},
        )
        self.groups = run(new_groups(self.nodes, self.identifying, every))

    def identifying(self, node: int) -> dict[str, str]:
        return self.keys.providers(self.nodes.item[node])

    def node(self, server_id: str, item_id: str) -> int:
        nodes = self.nodes
        return next(
            n
            for n in range(len(nodes))
            if nodes.server[n] == server_id and nodes.item[n][0] == item_id
        )

    def together(self, *members: tuple[str, str]) -> bool:
        roots = {self.groups.find(self.node(s, i)) for s, i in members}
        return len(roots) == 1

    def stage(self, method: MatchMethod) -> tuple[list[Ambiguity], int]:
        return run(join_stage(self.nodes, self.groups, self.keys, method, self.every))


def steps_of(steps: Iterable[None]) -> int:
    """How often a step generator yields before it is done."""
    return sum(1 for _ in steps)


# ------------------------------------------------------------------------- nodes


def test_nodes_are_numbered_server_by_server_item_ids_in_order() -> None:
    first, second = movie("b1", imdb="tt1"), movie("a1", imdb="tt2")
    other = movie("c1")
    nodes = run(number_nodes({"z": {"c1": other}, "y": {"b1": first, "a1": second}}, 1))
    assert nodes.servers == ("y", "z")
    assert nodes.server == ("y", "y", "z")
    # Model items are made into entries with all their provider ids.
    assert nodes.item == (index_entry(second), index_entry(first), index_entry(other))
    assert len(nodes) == 3
    # Tuples, which the garbage collector does not scan once untracked.
    assert type(nodes.server) is tuple
    assert type(nodes.item) is tuple


def test_numbering_a_big_index_yields() -> None:
    index = {f"{n:04}": index_entry(movie(f"{n:04}")) for n in range(300)}
    assert steps_of(number_nodes({"a": index}, 50)) >= 300 // 50


# -------------------------------------------------------------------------- keys


def test_id_key_only_when_matching_by_id() -> None:
    entry = index_entry(movie("a1"))
    assert ItemKeys({}, SyncOptions(), {}).id_key("s", entry) == "id:a1"
    off = ItemKeys({}, SyncOptions(match_by_id=False), {})
    assert off.id_key("s", entry) is None


def test_provider_key_only_for_providers_that_identify_the_type() -> None:
    keys = ItemKeys({}, SyncOptions(), {})
    film = index_entry(movie("a1", Imdb="TT1"))
    assert keys.provider_key("imdb", "s", film) == "movie:imdb:tt1"
    assert keys.provider_key("tmdb", "s", film) is None  # the film has none
    track = index_entry(
        Item(
            id="t",
            type="Audio",
            name="T",
            provider_ids={"musicbrainzalbum": "al", "musicbrainztrack": "tr"},
        )
    )
    # A track carries its album's id, which every track of the album shares.
    assert keys.provider_key("musicbrainzalbum", "s", track) is None
    assert (
        keys.provider_key("musicbrainztrack", "s", track) == "audio:musicbrainztrack:tr"
    )


def test_episode_and_season_keys_use_the_series_provider_id() -> None:
    show = series("sh", tvdb="81189")
    keys = ItemKeys({"s": {"sh": index_entry(show)}}, SyncOptions(), {})
    assert (
        keys.episode_key("tvdb", "s", index_entry(episode("e", show, 1, 2)))
        == "episode:series:tvdb:81189:s1e2"
    )
    double = index_entry(episode("e", show, 1, 3, end=4))
    assert keys.episode_key("tvdb", "s", double) == "episode:series:tvdb:81189:s1e3-4"
    assert (
        keys.episode_key("tvdb", "s", index_entry(season("se", show, 2)))
        == "season:series:tvdb:81189:s2"
    )
    # No such provider id on the series, series unknown on that server, a film.
    assert keys.episode_key("imdb", "s", index_entry(episode("e", show, 1, 2))) is None
    assert keys.episode_key("tvdb", "t", index_entry(episode("e", show, 1, 2))) is None
    assert keys.episode_key("tvdb", "s", index_entry(movie("m", tvdb="1"))) is None


def test_path_key_is_relative_to_a_media_root() -> None:
    keys = ItemKeys({}, SyncOptions(), {"s": ("/mnt/media",)})
    raw = index_entry(movie("m", "/mnt/media/Films/A.mkv"))
    assert keys.path_key("s", raw) == "path:movie:films/a.mkv"
    # Entries made relative already need no roots; paths below none have no key.
    relative = index_entry(movie("m", "D:\\Media\\films\\a.MKV"), roots=("D:\\Media",))
    assert keys.path_key("other", relative) == "path:movie:films/a.mkv"
    assert keys.path_key("s", index_entry(movie("m", "/elsewhere/A.mkv"))) is None
    assert keys.path_key("s", index_entry(movie("m"))) is None


def test_name_key_for_named_types_and_seasons_of_named_series() -> None:
    show = series("sh", name="The  Office", year=2005)
    keys = ItemKeys({"s": {"sh": index_entry(show)}}, SyncOptions(), {})
    series_key = keys.name_key("s", index_entry(show))
    assert series_key == "series:name:the office\x1f2005"
    season_key = keys.name_key("s", index_entry(season("se", show, 1)))
    assert season_key == "season:name:the office\x1f2005:s1"
    assert keys.name_key("s", index_entry(movie("m"))) is None


def test_key_function_of_a_pass_is_the_key_of_its_stage() -> None:
    show = series("sh", tvdb="9")
    keys = ItemKeys({"s": {"sh": index_entry(show)}}, SyncOptions(), {"s": ("/m",)})
    film = index_entry(movie("m", "/m/A.mkv", imdb="tt1"))
    part = index_entry(episode("e", show, 1, 1))
    named = index_entry(show)
    by = keys.key_function
    assert by(MatchMethod.ID, "id")("s", film) == "id:m"
    assert by(MatchMethod.PROVIDER, "imdb")("s", film) == "movie:imdb:tt1"
    assert by(MatchMethod.PROVIDER, "tmdb")("s", film) is None
    assert by(MatchMethod.EPISODE, "tvdb")("s", part) == "episode:series:tvdb:9:s1e1"
    assert by(MatchMethod.EPISODE, "tvdb")("s", film) is None
    assert by(MatchMethod.PATH, "path")("s", film) == "path:movie:a.mkv"
    assert by(MatchMethod.NAME, "name")("s", named) == "series:name:show\x1f2008"
    assert by(MatchMethod.NAME, "name")("s", film) is None


def test_ranked_keys_put_providers_first_and_names_last() -> None:
    keys = ItemKeys({}, SyncOptions(), {"s": ("/m",)})
    entry = index_entry(movie("m", "/m/A.mkv", tmdb="7", imdb="tt1"))
    ranked = sorted(keys.ranked("s", entry))
    # Provider keys in the order of SyncOptions.provider_keys, then path, then id.
    assert [key for _, _, key in ranked] == [
        "movie:imdb:tt1",
        "movie:tmdb:7",
        "path:movie:a.mkv",
        "id:m",
    ]
    assert keys.best("s", entry) == ranked[0]
    bare = ItemKeys({}, SyncOptions(match_by_id=False), {})
    assert bare.best("s", index_entry(movie("m"))) is None


# ---------------------------------------------------------------- shared keys


def imdb_world() -> World:
    return World(
        {
            "a": [movie("m1", imdb="tt1"), movie("m2", imdb="tt2"), movie("m3")],
            "b": [movie("x1", imdb="tt1"), movie("x2", imdb="tt3")],
        }
    )


def imdb_keys(world: World) -> list[tuple[str, tuple[int, ...]]]:
    key_function = world.keys.key_function(MatchMethod.PROVIDER, "imdb")
    return run(shared_keys(key_function, world.nodes, 50, world.groups.find))


def test_shared_keys_are_the_keys_of_two_or_more_groups() -> None:
    world = imdb_world()
    both = (world.node("a", "m1"), world.node("b", "x1"))
    # tt2 and tt3 name one item each: nothing to join.
    assert imdb_keys(world) == [("movie:imdb:tt1", both)]
    # Once the two items are in one group, the key can join nothing more.
    world.groups.join(both, PROVIDER, same_file=False)
    assert imdb_keys(world) == []


def test_shared_keys_include_keys_shared_on_one_server() -> None:
    world = World({"a": [movie("v1", imdb="tt9"), movie("v2", imdb="tt9")], "b": []})
    assert imdb_keys(world) == [
        ("movie:imdb:tt9", (world.node("a", "v1"), world.node("a", "v2")))
    ]


def test_shared_keys_are_sorted_by_key() -> None:
    world = World(
        {
            "a": [movie("m1", imdb="tt2"), movie("m2", imdb="tt1")],
            "b": [movie("x1", imdb="tt1"), movie("x2", imdb="tt2")],
        }
    )
    assert [key for key, _ in imdb_keys(world)] == ["movie:imdb:tt1", "movie:imdb:tt2"]


@pytest.mark.parametrize("collide", [lambda key: 0, lambda key: len(key) % 2])
def test_shared_keys_survive_colliding_hashes(
    monkeypatch: pytest.MonkeyPatch, collide: Callable[[str], int]
) -> None:
    world = World(
        {
            "a": [
                movie("m1", imdb="tt1"),
                movie("m2", imdb="tt22"),
                movie("m3", imdb="t3"),
            ],
            "b": [
                movie("x1", imdb="tt1"),
                movie("x2", imdb="tt22"),
                movie("x4", imdb="t4"),
            ],
        }
    )
    expected = imdb_keys(world)
    assert len(expected) == 2
    monkeypatch.setattr(stages, "_digest", collide)
    assert imdb_keys(world) == expected


def test_shared_keys_yield_on_long_passes() -> None:
    world = World(
        {s: [movie(f"{s}{n}", imdb=f"tt{n}") for n in range(100)] for s in "ab"},
        every=10,
    )
    key_function = world.keys.key_function(MatchMethod.PROVIDER, "imdb")
    found = shared_keys(key_function, world.nodes, 10, world.groups.find)
    assert steps_of(found) >= 200 // 10


# ----------------------------------------------------------------- ambiguity


def test_split_ambiguous_keeps_one_node_per_server_and_reports_the_rest() -> None:
    world = World(
        {
            "a": [movie("v2", imdb="tt9"), movie("v1", imdb="tt9")],
            "b": [movie("x", imdb="tt9")],
            "c": [movie("y", imdb="tt9")],
        }
    )
    members = [world.node(s, i) for s, i in (("c", "y"), ("a", "v1"), ("b", "x"))]
    members.append(world.node("a", "v2"))
    usable, ambiguous = split_ambiguous("movie:imdb:tt9", members, world.nodes)
    assert usable == [world.node("b", "x"), world.node("c", "y")]
    assert ambiguous == [
        Ambiguity(server_id="a", key="movie:imdb:tt9", item_ids=("v1", "v2"))
    ]


def test_split_ambiguous_without_duplicates_keeps_every_node() -> None:
    world = imdb_world()
    members = (world.node("a", "m1"), world.node("b", "x1"))
    assert split_ambiguous("k", members, world.nodes) == (list(members), [])


# -------------------------------------------------------------------- groups


def test_join_keeps_the_smaller_root_and_the_weakest_stage() -> None:
    world = World(
        {
            "a": [movie("m", imdb="tt1")],
            "b": [movie("x", imdb="tt1")],
            "c": [movie("y", imdb="tt1")],
        }
    )
    groups = world.groups
    a, b, c = world.node("a", "m"), world.node("b", "x"), world.node("c", "y")
    assert groups.join([c, b], PATH, same_file=False) == 0
    assert groups.find(c) == groups.find(b) == min(b, c)
    assert groups.join([c, a], PROVIDER, same_file=False) == 0
    root = groups.find(b)
    assert root == a == min(a, b, c)
    assert STAGES[groups.stage_of[root]] is MatchMethod.PATH


def test_join_refuses_two_items_of_one_server() -> None:
    world = World({"a": [movie("m1"), movie("m2")], "b": [movie("x")]})
    groups = world.groups
    m1, m2, x = (world.node(*n) for n in (("a", "m1"), ("a", "m2"), ("b", "x")))
    assert groups.join([m1, x], PATH, same_file=False) == 0
    assert groups.join([m2, x], PATH, same_file=False) == 1
    assert groups.find(m2) == m2
    assert groups.find(x) == groups.find(m1)


def test_join_refuses_contradicting_ids_except_for_the_same_file() -> None:
    remake = [movie("m", imdb="tt1", tmdb="10")]
    original = [movie("x", imdb="tt2", tmdb="10")]
    world = World({"a": remake, "b": original})
    pair = [world.node("a", "m"), world.node("b", "x")]
    assert world.groups.join(pair, PROVIDER, same_file=False) == 1
    assert not world.together(("a", "m"), ("b", "x"))
    assert world.groups.join(pair, STAGES.index(MatchMethod.ID), same_file=True) == 0
    assert world.together(("a", "m"), ("b", "x"))


def test_a_group_keeps_the_provider_ids_of_every_item_joined() -> None:
    world = World(
        {
            "a": [movie("m", imdb="tt1")],
            "b": [movie("x", imdb="tt1", tmdb="7")],
            "c": [movie("y", tmdb="8")],
        }
    )
    groups = world.groups
    a, b, c = world.node("a", "m"), world.node("b", "x"), world.node("c", "y")
    groups.join([a, b], PROVIDER, same_file=False)
    assert groups.providers(groups.find(a)) == {"imdb": "tt1", "tmdb": "7"}
    # c's tmdb id contradicts the one b brought into the group, not a's own ids.
    assert groups.join([a, c], PATH, same_file=False) == 1
    groups.end_joins()
    assert groups.providers(groups.find(a)) == {"imdb": "tt1"}


def test_members_in_order_lists_groups_by_root_members_ascending() -> None:
    world = World({"a": [movie(f"m{n}") for n in range(3)], "b": [movie("x0")]})
    groups = world.groups
    assert len(world.nodes) == 4
    groups.join([3, 1], PATH, same_file=False)
    order = run(members_in_order(groups, 1))
    assert list(order) == [0, 1, 3, 2]
    assert all(groups.parent[n] == groups.find(n) for n in range(4))


def test_new_groups_start_with_every_node_alone() -> None:
    world = World({"a": [movie(f"m{n}") for n in range(5)], "b": [movie("x")]})
    groups = run(new_groups(world.nodes, world.identifying, 1))
    assert [groups.find(n) for n in range(6)] == list(range(6))
    assert steps_of(new_groups(world.nodes, world.identifying, 1)) >= 1


# --------------------------------------------------------------------- stages


def test_stage_by_id_joins_the_same_file_despite_metadata() -> None:
    world = World({"a": [movie("same", imdb="tt1")], "b": [movie("same", imdb="tt2")]})
    assert world.stage(MatchMethod.ID) == ([], 0)
    assert world.together(("a", "same"), ("b", "same"))


def test_stage_by_provider_joins_reports_ambiguity_and_refusals() -> None:
    world = World(
        {
            "a": [
                movie("m1", imdb="tt1"),
                movie("v1", imdb="tt9"),
                movie("v2", imdb="tt9"),
                movie("r", imdb="tt5", tmdb="50"),
            ],
            "b": [movie("x1", tmdb="1", imdb="tt1"), movie("x9", imdb="tt9")],
            "c": [movie("y", imdb="tt6", tmdb="50")],
        }
    )
    ambiguous, refused = world.stage(MatchMethod.PROVIDER)
    assert world.together(("a", "m1"), ("b", "x1"))
    assert not world.together(("a", "v1"), ("b", "x9"))
    assert ambiguous == [
        Ambiguity(server_id="a", key="movie:imdb:tt9", item_ids=("v1", "v2"))
    ]
    assert refused == 1  # r and y share a tmdb id but not their imdb ids
    assert not world.together(("a", "r"), ("c", "y"))


def test_stage_by_episode_joins_episodes_of_the_same_series() -> None:
    show_a, show_b = series("sa", tvdb="81189"), series("sb", tvdb="81189")
    world = World(
        {
            "a": [show_a, episode("a1", show_a, 1, 1), episode("a2", show_a, 1, 2)],
            "b": [show_b, episode("b1", show_b, 1, 1), episode("b3", show_b, 1, 3)],
        }
    )
    assert world.stage(MatchMethod.PROVIDER) == ([], 0)
    assert not world.together(("a", "a1"), ("b", "b1"))
    world.stage(MatchMethod.EPISODE)
    assert world.together(("a", "a1"), ("b", "b1"))
    assert not world.together(("a", "a2"), ("b", "b3"))
    root = world.groups.find(world.node("a", "a1"))
    assert STAGES[world.groups.stage_of[root]] is MatchMethod.EPISODE


def test_stage_by_path_joins_paths_below_the_media_roots() -> None:
    options = SyncOptions(
        servers={
            "a": ServerOptions(media_roots=("/mnt/a",)),
            "b": ServerOptions(media_roots=("D:\\Media",)),
        }
    )
    world = World(
        {
            "a": [movie("m", "/mnt/a/Films/Home.mkv"), movie("n", "/mnt/a/Other.mkv")],
            "b": [movie("x", "D:\\Media\\films\\home.MKV"), movie("y", "/Other.mkv")],
        },
        options,
    )
    world.stage(MatchMethod.PATH)
    assert world.together(("a", "m"), ("b", "x"))
    assert not world.together(("a", "n"), ("b", "y"))


def test_stage_by_name_joins_named_types_only() -> None:
    world = World(
        {
            "a": [series("s1", name="Show", year=2001), movie("m")],
            "b": [series("s2", name="show", year=2001), movie("x")],
            "c": [series("s3", name="Show", year=1999)],
        }
    )
    world.stage(MatchMethod.NAME)
    assert world.together(("a", "s1"), ("b", "s2"))
    assert not world.together(("a", "s1"), ("c", "s3"))
    assert not world.together(("a", "m"), ("b", "x"))


def test_join_pass_yields_on_long_passes() -> None:
    world = World(
        {s: [movie(f"{s}{n}", imdb=f"tt{n}") for n in range(100)] for s in "ab"},
        every=10,
    )
    key_function = world.keys.key_function(MatchMethod.PROVIDER, "imdb")
    steps = join_pass(world.nodes, world.groups, key_function, PROVIDER, 10)
    assert steps_of(steps) >= 100 // 10
    assert world.together(("a", "a42"), ("b", "b42"))


# -------------------------------------------------------------------- result


def test_identity_is_the_most_trusted_key_of_any_member() -> None:
    world = World(
        {"a": [movie("m", "/m/A.mkv")], "b": [movie("x", "/m/A.mkv", tmdb="5")]},
        SyncOptions(servers={s: ServerOptions(media_roots=("/m",)) for s in "ab"}),
    )
    members = [world.node("a", "m"), world.node("b", "x")]
    assert identity_of(world.nodes, world.keys, members) == "movie:tmdb:5"
    bare = World({"a": [movie("m")], "b": [movie("x")]}, SyncOptions(match_by_id=False))
    members = [bare.node("a", "m"), bare.node("b", "x")]
    assert identity_of(bare.nodes, bare.keys, members) == "node:m"


def test_build_result_lists_groups_and_counts_the_rest() -> None:
    lonely = [movie(f"only{n:02}") for n in range(UNMATCHED_EXAMPLES + 3)]
    world = World(
        {
            "a": [movie("m1", imdb="tt1"), movie("m2", imdb="tt1"), *lonely],
            "b": [movie("x1", imdb="tt1"), movie("x2", imdb="tt1"), movie("x3")],
        }
    )
    groups = world.groups
    # Two groups whose best key is the same (a title in two versions).
    groups.join([world.node("a", "m1"), world.node("b", "x1")], PATH, same_file=False)
    groups.join(
        [world.node("a", "m2"), world.node("b", "x2")], PROVIDER, same_file=False
    )
    ambiguity = Ambiguity(server_id="a", key="k", item_ids=("m1", "m2"))
    result = run(
        build_result(world.nodes, groups, world.keys, [ambiguity, ambiguity], 4, 1)
    )
    assert [(i.identity, i.method, dict(i.members)) for i in result.items] == [
        ("movie:imdb:tt1", MatchMethod.PATH, {"a": "m1", "b": "x1"}),
        ("movie:imdb:tt1#m2", MatchMethod.PROVIDER, {"a": "m2", "b": "x2"}),
    ]
    assert result.by_identity == {"movie:imdb:tt1": 0, "movie:imdb:tt1#m2": 1}
    assert (
        result.by_method[MatchMethod.PATH]
        == result.by_method[MatchMethod.PROVIDER]
        == 1
    )
    assert result.member("b", "x2") == result.items[1]
    assert result.index_of("a", "only00") is None
    assert result.unmatched == {"a": len(lonely), "b": 1}
    assert result.unmatched_examples["a"] == [i.id for i in lonely][:UNMATCHED_EXAMPLES]
    assert result.unmatched_examples["b"] == ["x3"]
    assert result.ambiguous == [ambiguity]
    assert result.conflicts == 4


def test_key_source_lists_every_member_key_most_trusted_first() -> None:
    world = World(
        {
            "a": [movie("m", "/m/A.mkv", imdb="tt1", tmdb="7")],
            "b": [movie("x", "/m/A.mkv", imdb="tt1")],
        },
        SyncOptions(servers={s: ServerOptions(media_roots=("/m",)) for s in "ab"}),
    )
    world.groups.join([world.node("a", "m"), world.node("b", "x")], 0, same_file=True)
    result = run(build_result(world.nodes, world.groups, world.keys, [], 0, 50))
    source = key_source(world.indexes, world.keys, result.items)
    assert source(0) == [
        "movie:imdb:tt1",
        "movie:tmdb:7",
        "path:movie:a.mkv",
        "id:m",
        "id:x",
    ]
    # Members gone from the index since add nothing.
    del world.indexes["b"]["x"]
    assert source(0)[-1] == "id:m"
