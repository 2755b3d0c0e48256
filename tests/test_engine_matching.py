"""Matching of users and items across servers (``sync/matching/``)."""

from custom_components.jellyfin_sync.jellyfin.models import Item, User
from custom_components.jellyfin_sync.sync import (
    MatchMethod,
    ServerOptions,
    SkippedUser,
    SkipReason,
    SyncOptions,
    match_items,
    match_users,
    run,
)
from custom_components.jellyfin_sync.sync.matching import build_aliases, item_keys
from tests.engine_fakes import FakeServer


def index(
    *servers: FakeServer,
) -> tuple[dict[str, dict[str, Item]], dict[str, dict[str, Item]]]:
    items = {
        s.server_id: {
            i.id: i for i in s.items.values() if i.type in ("Movie", "Episode")
        }
        for s in servers
    }
    series = {
        s.server_id: {i.id: i for i in s.items.values() if i.type == "Series"}
        for s in servers
    }
    return items, series


# --------------------------------------------------------------------- users


def users(*names: str, **flags: bool) -> list[User]:
    return [User(id=f"{n.lower():0>32}"[-32:], name=n, **flags) for n in names]


def test_users_match_by_name_case_insensitively() -> None:
    result = match_users(
        {"a": users("Alice", "Bob"), "b": users("alice"), "c": users("ALICE", "carol")},
        SyncOptions(),
    )
    assert [(u.key, sorted(u.ids)) for u in result.users] == [
        ("alice", ["a", "b", "c"])
    ]
    assert SkippedUser("Bob", SkipReason.ONLY_ON_ONE_SERVER, "a") in result.skipped
    assert SkippedUser("carol", SkipReason.ONLY_ON_ONE_SERVER, "c") in result.skipped


def test_users_mapping_and_exclusions_override_names() -> None:
    a_users = users("Alice", "Dad", "Guest")
    b_users = users("alice", "Father", "Guest")
    options = SyncOptions(
        user_map={"Dad": {"a": "dad", "b": b_users[1].id}},
        excluded_users=frozenset({"guest"}),
    )
    result = match_users({"a": a_users, "b": b_users}, options)
    assert [(u.key, u.name, dict(u.ids)) for u in result.users] == [
        ("alice", "Alice", {"a": a_users[0].id, "b": b_users[0].id}),
        ("dad", "Dad", {"a": a_users[1].id, "b": b_users[1].id}),
    ]


def test_mapped_user_that_does_not_exist_is_reported() -> None:
    options = SyncOptions(user_map={"Dad": {"a": "dad", "b": "nobody"}})
    result = match_users({"a": users("Dad"), "b": users("Dad")}, options)
    assert result.users == ()
    assert SkippedUser("Dad", SkipReason.MAPPED_USER_NOT_FOUND, "b") in result.skipped


def test_disabled_and_hidden_users_are_skipped_unless_asked() -> None:
    servers = {
        "a": users("Kid", is_disabled=True) + users("Admin", is_hidden=True),
        "b": users("Kid") + users("Admin"),
    }
    result = match_users(servers, SyncOptions(include_hidden_users=False))
    assert result.users == ()
    assert SkippedUser("Kid", SkipReason.DISABLED, "a") in result.skipped
    assert SkippedUser("Admin", SkipReason.HIDDEN, "a") in result.skipped
    result = match_users(
        servers, SyncOptions(include_disabled_users=True, include_hidden_users=True)
    )
    assert [u.key for u in result.users] == ["admin", "kid"]


def test_duplicate_user_names_on_a_server_are_never_guessed() -> None:
    twins = [User(id="1" * 32, name="Sam"), User(id="2" * 32, name="sam")]
    result = match_users({"a": twins, "b": users("Sam")}, SyncOptions())
    assert result.users == ()
    assert SkippedUser("Sam", SkipReason.NAME_NOT_UNIQUE, "a") in result.skipped


# --------------------------------------------------------------------- items


def test_identical_ids_match_by_id() -> None:
    a, b = FakeServer("a"), FakeServer("b")
    for s in (a, b):
        s.add_movie("/media/m/One.mkv")
        s.add_movie("/media/m/Two.mkv")
    a.add_movie("/media/m/Only on a.mkv")
    match = run(match_items(*index(a, b), SyncOptions()))
    assert match.by_method[MatchMethod.ID] == 2
    assert match.unmatched == {"a": 1, "b": 0}
    assert all(i.identity.startswith("id:") for i in match.items)


def test_movies_match_by_provider_ids_case_insensitively() -> None:
    a, b = FakeServer("a"), FakeServer("b")
    a.add_movie("/srv/a/Matrix.mkv", ids={"imdb": "tt0133093", "tmdb": "603"})
    b.add_movie("/data/films/The Matrix (1999).mkv", ids={"Tmdb": "603"})
    match = run(match_items(*index(a, b), SyncOptions()))
    [item] = match.items
    assert item.method is MatchMethod.PROVIDER
    assert item.identity == "movie:imdb:tt0133093"
    assert match.keys(0)[:2] == ["movie:imdb:tt0133093", "movie:tmdb:603"]
    assert sorted(match.keys(0)[2:]) == sorted(f"id:{i}" for i in [*a.items, *b.items])


def test_contradicting_provider_ids_are_not_joined() -> None:
    a, b = FakeServer("a"), FakeServer("b")
    a.add_movie("/a/Remake.mkv", ids={"imdb": "tt1", "tmdb": "10"})
    b.add_movie("/b/Original.mkv", ids={"imdb": "tt2", "tmdb": "10"})
    match = run(match_items(*index(a, b), SyncOptions()))
    assert match.items == []
    assert match.conflicts == 1


def test_episodes_match_by_own_provider_ids_then_series_numbers() -> None:
    a, b = FakeServer("a"), FakeServer("b")
    show_a = a.add_series("/a/tv/Show", ids={"tvdb": "81189"})
    show_b = b.add_series(
        "/b/series/Show (2008)", ids={"tvdb": "81189", "imdb": "tt0903747"}
    )
    a.add_episode(show_a, 1, 1, ids={"tvdb": "349232"})
    b.add_episode(show_b, 1, 1, ids={"tvdb": "349232"})
    a.add_episode(show_a, 1, 2)
    b.add_episode(show_b, 1, 2)
    a.add_episode(show_a, 1, 3, end=4)  # multi-episode file
    b.add_episode(show_b, 1, 3, end=4)
    b.add_episode(show_b, 1, 5)
    match = run(match_items(*index(a, b), SyncOptions()))
    methods = sorted((i.identity, i.method.value) for i in match.items)
    assert methods == [
        # b's series also has an imdb id: the most trusted key names the item.
        ("episode:series:imdb:tt0903747:s1e2", "episode"),
        ("episode:series:imdb:tt0903747:s1e3-4", "episode"),
        ("episode:tvdb:349232", "provider"),
    ]
    assert match.unmatched == {"a": 0, "b": 1}


def test_multi_episode_file_does_not_match_a_single_episode() -> None:
    a, b = FakeServer("a"), FakeServer("b")
    show_a = a.add_series("/a/Show", ids={"tvdb": "1"})
    show_b = b.add_series("/b/Show", ids={"tvdb": "1"})
    a.add_episode(show_a, 1, 1, end=2)
    b.add_episode(show_b, 1, 1)
    b.add_episode(show_b, 1, 2)
    match = run(match_items(*index(a, b), SyncOptions()))
    assert match.items == []


def test_path_relative_to_media_roots() -> None:
    a, b = FakeServer("a"), FakeServer("b")
    a.add_movie("/mnt/a/movies/Home Video.mkv")
    b.add_movie("D:\\Media\\Movies\\Home Video.mkv")
    options = SyncOptions(
        servers={
            "a": ServerOptions(media_roots=("/mnt/a",)),
            "b": ServerOptions(media_roots=("D:\\Media",)),
        }
    )
    match = run(match_items(*index(a, b), options))
    [item] = match.items
    assert item.method is MatchMethod.PATH
    assert item.identity == "path:movie:movies/home video.mkv"
    # Without roots the paths never match.
    assert run(match_items(*index(a, b), SyncOptions())).items == []


def test_ambiguous_keys_are_reported_and_not_used() -> None:
    a, b = FakeServer("a"), FakeServer("b")
    a.add_movie("/a/Movie.mkv", ids={"imdb": "tt9"})
    a.add_movie("/a/Movie - 4K.mkv", ids={"imdb": "tt9"})  # a second version
    b.add_movie("/b/Movie.mkv", ids={"imdb": "tt9"})
    match = run(match_items(*index(a, b), SyncOptions()))
    assert match.items == []
    [ambiguity] = match.ambiguous
    assert ambiguity.server_id == "a"
    assert ambiguity.key == "movie:imdb:tt9"
    assert len(ambiguity.item_ids) == 2
    assert match.unmatched == {"a": 2, "b": 1}


def test_three_servers_join_by_different_methods() -> None:
    a, b, c = FakeServer("a"), FakeServer("b"), FakeServer("c")
    a.add_movie("/media/X.mkv")
    b.add_movie("/media/X.mkv", ids={"tmdb": "5"})
    c.add_movie("/other/X.mkv", ids={"tmdb": "5"})
    match = run(match_items(*index(a, b, c), SyncOptions(yield_every=1)))
    [item] = match.items
    assert sorted(item.members) == ["a", "b", "c"]
    assert item.method is MatchMethod.PROVIDER
    assert item.identity == "movie:tmdb:5"


def test_aliases_resolve_keys_that_name_one_item() -> None:
    a, b = FakeServer("a"), FakeServer("b")
    movie = a.add_movie("/m/A.mkv", ids={"imdb": "tt1", "tmdb": "1"})
    b.add_movie("/m/A.mkv", ids={"imdb": "tt1", "tmdb": "1"})
    a.add_movie("/m/B.mkv", ids={"imdb": "tt2", "tmdb": "2"})
    b.add_movie("/m/B.mkv", ids={"imdb": "tt2", "tmdb": "2"})
    # tmdb 7 names one item on a and another on b: never an alias.
    a.add_movie("/m/C.mkv", ids={"imdb": "tt3", "tmdb": "7"})
    b.add_movie("/m/C.mkv", ids={"imdb": "tt3", "tmdb": "8"})
    a.add_movie("/m/D.mkv", ids={"imdb": "tt4", "tmdb": "8"})
    b.add_movie("/m/D.mkv", ids={"imdb": "tt4", "tmdb": "7"})
    match = run(match_items(*index(a, b), SyncOptions(yield_every=1)))
    assert len(match.items) == 4  # same ids: the same files, whatever the metadata
    assert match.conflicts == 2  # tmdb 7 and 8 would join C and D
    assert match.resolve("movie:tmdb:1") is None  # not looked for yet
    wanted = [
        "movie:tmdb:1",
        f"id:{movie.id}",
        "movie:imdb:tt1",
        "movie:tmdb:7",
        "nope",
    ]
    run(build_aliases(match, [*wanted, *("movie:tmdb:x" for _ in range(300))]))
    first = match.index_of("a", movie.id)
    assert match.resolve("movie:tmdb:1") == first
    assert match.resolve(f"id:{movie.id}") == first
    assert match.resolve("movie:imdb:tt1") == first
    assert match.resolve("movie:tmdb:7") is None
    assert match.resolve("nope") is None
    run(build_aliases(match, wanted))  # already looked for: nothing to do
    assert match.member("a", movie.id) == match.items[first]
    assert match.member("a", "nope") is None


def test_item_keys_skip_episode_numbers_without_series() -> None:
    episode = Item(
        id="e1",
        type="Episode",
        name="E",
        series_id="missing",
        season_number=1,
        episode_number=1,
    )
    assert item_keys(episode, {}, SyncOptions(match_by_id=False), ()) == []


def test_same_best_key_on_two_groups_gets_a_distinct_identity() -> None:
    a, b = FakeServer("a"), FakeServer("b")
    for server in (a, b):
        server.add_movie("/m/Film.mkv", ids={"imdb": "tt9"})
        server.add_movie("/m/Film (director's cut).mkv", ids={"imdb": "tt9"})
    match = run(match_items(*index(a, b), SyncOptions()))
    identities = sorted(i.identity for i in match.items)
    assert identities[0] == "movie:imdb:tt9"
    assert identities[1].startswith("movie:imdb:tt9#")
    assert len(match.ambiguous) == 2


def test_paths_outside_every_media_root_do_not_match() -> None:
    a, b = FakeServer("a"), FakeServer("b")
    a.add_movie("/elsewhere/Clip.mkv")
    b.add_movie("/srv/b/Clip.mkv")
    options = SyncOptions(
        servers={
            "a": ServerOptions(media_roots=("/srv/a", "/mnt/a/media")),
            "b": ServerOptions(media_roots=("/srv/b",)),
        }
    )
    assert run(match_items(*index(a, b), options)).items == []


def test_two_matched_pairs_join_into_one_group() -> None:
    # a+b share ids, c+d share ids; provider ids then join the two pairs.
    servers = [FakeServer(x) for x in "abcd"]
    for server, root in zip(servers, ["/x", "/x", "/y", "/y"], strict=True):
        server.add_movie(f"{root}/Film.mkv", ids={"tmdb": "77"})
    match = run(match_items(*index(*servers), SyncOptions()))
    [item] = match.items
    assert sorted(item.members) == ["a", "b", "c", "d"]
    assert item.method is MatchMethod.PROVIDER
    assert match.index_of("d", servers[3].items.popitem()[0]) == 0


def test_mapped_user_that_is_disabled_is_skipped() -> None:
    a_users = [User(id="1" * 32, name="Dad", is_disabled=True)]
    b_users = [User(id="2" * 32, name="Father")]
    options = SyncOptions(user_map={"Dad": {"a": "Dad", "b": "Father"}})
    result = match_users({"a": a_users, "b": b_users}, options)
    assert result.users == ()
    assert SkippedUser("Dad", SkipReason.DISABLED, "a") in result.skipped


def test_unmatched_examples_are_bounded() -> None:
    a, b = FakeServer("a"), FakeServer("b")
    for n in range(25):
        a.add_movie(f"/a/Only {n}.mkv")
    match = run(match_items(*index(a, b), SyncOptions()))
    assert match.unmatched == {"a": 25, "b": 0}
    assert len(match.unmatched_examples["a"]) == 20
