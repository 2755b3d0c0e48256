"""In-memory Jellyfin servers for engine tests (implement ``ServerClient``).

Reads and writes follow Jellyfin's semantics as API-NOTES.md describes them:

* 10.9+: the generic ``UserData`` update copies the given fields verbatim; clearing a
  last-played date or a rating goes through MarkUnplayed / DELETE Rating, which the
  real client does for us, so the net effect is "the fields take the wanted values".
* 10.8: only toggles. MarkPlayed (no date) -> played, play count at least 1,
  position 0, last played "now"; MarkUnplayed zeroes played, count, position, date;
  favourites toggle; likes write rating 10 or 1. Anything else raises
  ``JellyfinUnsupportedError`` before writing.
* Listing filters: ``IsResumable`` = position > 0, ``Likes`` = rating >= 6.5,
  ``Dislikes`` = rating < 6.5, ``IsFavoriteOrLikes`` = favourite or likes.

User actions (``play``, ``partial``, ``mark_unplayed`` ...) change data the way a
Jellyfin player or the web UI would.
"""

import asyncio
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
import hashlib
import uuid

from custom_components.jellyfin_sync.jellyfin.exceptions import (
    JellyfinConnectionError,
    JellyfinNotFoundError,
)
from custom_components.jellyfin_sync.jellyfin.models import (
    Capabilities,
    Item,
    Library,
    ServerInfo,
    SyncField,
    User,
    UserData,
)
from custom_components.jellyfin_sync.jellyfin.write_errors import (
    JellyfinUnsupportedError,
)
from custom_components.jellyfin_sync.sync import fields as fx

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
FOLDERS = frozenset({"Series", "Season", "BoxSet", "MusicAlbum", "MusicArtist"})
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def jellyfin_id(kind: str, path: str) -> str:
    """Item id the way Jellyfin derives it: MD5 of type full name + path."""
    full = f"MediaBrowser.Controller.Entities.{kind}"
    digest = hashlib.md5((full + path).encode("utf-16-le")).digest()  # noqa: S324
    return uuid.UUID(bytes_le=digest).hex


class Clock:
    """A shared fake clock that moves forward one minute per tick."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def tick(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


class FakeServer:
    """One in-memory Jellyfin server."""

    def __init__(
        self,
        server_id: str,
        *,
        version: str = "10.10.7",
        clock: Clock | None = None,
        page_size: int = 50,
    ) -> None:
        self.server_id = server_id
        self.version = version
        self.clock = clock or Clock()
        self.page_size = page_size
        self.users: list[User] = []
        self.items: dict[str, Item] = {}
        self.data: dict[tuple[str, str], UserData] = {}
        self.fail_reads = False
        self.fail_user_reads = False
        """Reads of user data fail (index, users and server info still work)."""
        self.fail_after_pages: int | None = None
        self.fail_writes = False
        self.folder_played_writes: list[str] = []
        """Folders a played write reached (which marks all their children)."""
        self.fail_write_items: set[str] = set()
        self.writes = 0
        self.requests = 0
        self.items_sent = 0
        self.saved: dict[str, datetime] = {}
        """Item id -> its row's DateLastSaved (the clock when it was added)."""
        self.sends_date = True
        """Whether answers carry a ``Date`` header (the server's clock)."""
        self.libraries: list[Library] = []
        self.library_of: dict[str, str] = {}
        """Item id -> the id of the library it is in (``parentId`` listings)."""
        self.hidden_libraries: dict[str, set[str]] = {}
        """User id -> ids of libraries the user cannot open."""
        self.parents: dict[str, tuple[str, ...]] = {}
        """Item id -> folders it is in (besides its series), for roll-ups."""
        self.log: list[tuple[str, str | None, tuple[str, ...]]] = []
        """(what, parent id, item types) of every listing, for scope checks."""

    # -- set-up --------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        info = ServerInfo(id=self.server_id, name=self.server_id, version=self.version)
        return Capabilities.for_version(info.version_tuple)

    def add_user(self, name: str, **flags: bool) -> User:
        user = User(
            id=uuid.uuid5(uuid.NAMESPACE_URL, self.server_id + name).hex,
            name=name,
            **flags,
        )
        self.users.append(user)
        return user

    def user_id(self, name: str) -> str:
        return next(u.id for u in self.users if u.name == name)

    def add_item(self, item: Item, library: str | None = None) -> Item:
        self.items[item.id] = item
        self.saved[item.id] = self.clock.now
        if library is not None:
            self.library_of[item.id] = library
        return item

    def add_library(self, name: str, collection_type: str | None) -> Library:
        library = Library(
            id=jellyfin_id("CollectionFolder", f"/config/root/{name}"),
            name=name,
            collection_type=collection_type,
        )
        self.libraries.append(library)
        return library

    async def get_libraries(self) -> list[Library]:
        self._check_read()
        await asyncio.sleep(0)
        self.log.append(("libraries", None, ()))
        return list(self.libraries)

    async def get_views(self, user_id: str) -> list[Library]:
        self._check_read()
        await asyncio.sleep(0)
        self.log.append(("views", None, ()))
        hidden = self.hidden_libraries.get(user_id, set())
        return [lib for lib in self.libraries if lib.id not in hidden]

    @property
    def server_time(self) -> datetime | None:
        """The server's clock (the shared fake clock); ``None`` when it sends none."""
        return self.clock.now if self.sends_date else None

    def add_movie(
        self, path: str, *, name: str = "", ids: dict[str, str] | None = None
    ) -> Item:
        return self.add_item(
            Item(
                id=jellyfin_id("Movie", path),
                type="Movie",
                name=name or path.rsplit("/", 1)[-1],
                provider_ids=ids or {},
                path=path,
            )
        )

    def add_series(self, path: str, *, ids: dict[str, str]) -> Item:
        return self.add_item(
            Item(
                id=jellyfin_id("Series", path),
                type="Series",
                name=path.rsplit("/", 1)[-1],
                provider_ids=ids,
                path=path,
            )
        )

    def add_episode(
        self,
        series: Item,
        season: int,
        episode: int,
        *,
        end: int | None = None,
        ids: dict[str, str] | None = None,
        path: str | None = None,
    ) -> Item:
        path = path or f"{series.path}/S{season:02d}E{episode:02d}.mkv"
        return self.add_item(
            Item(
                id=jellyfin_id("Episode", path),
                type="Episode",
                name=f"{series.name} {season}x{episode}",
                provider_ids=ids or {},
                path=path,
                series_id=series.id,
                series_name=series.name,
                season_number=season,
                episode_number=episode,
                episode_number_end=end,
            )
        )

    def get(self, user: str, item_id: str) -> UserData:
        """User data by user *name*."""
        return self.data.get((self.user_id(user), item_id), UserData())

    def put(self, user: str, item_id: str, data: UserData) -> None:
        self.data[(self.user_id(user), item_id)] = data

    # -- user actions (what players and the web UI do) ---------------------

    def play(self, user: str, item_id: str) -> None:
        """Playback finished: played, count + 1, position 0, date now."""
        old = self.get(user, item_id)
        self.put(
            user,
            item_id,
            replace(
                old,
                played=True,
                play_count=old.play_count + 1,
                playback_position_ticks=0,
                last_played_date=self.clock.tick(),
            ),
        )

    def partial(self, user: str, item_id: str, ticks: int) -> None:
        """Playback stopped part-way: resumable, not played, count + 1, date now."""
        old = self.get(user, item_id)
        self.put(
            user,
            item_id,
            replace(
                old,
                played=False,
                play_count=old.play_count + 1,
                playback_position_ticks=ticks,
                last_played_date=self.clock.tick(),
            ),
        )

    def mark_unplayed(self, user: str, item_id: str) -> None:
        self.clock.tick()
        old = self.get(user, item_id)
        self.put(
            user,
            item_id,
            replace(
                old,
                played=False,
                play_count=0,
                playback_position_ticks=0,
                last_played_date=None,
            ),
        )

    def mark_played_without_date(self, user: str, item_id: str) -> None:
        """Generic update ``Played=true``: no date, no count (10.9+)."""
        self.clock.tick()
        self.put(user, item_id, replace(self.get(user, item_id), played=True))

    def favorite(self, user: str, item_id: str, value: bool = True) -> None:
        self.clock.tick()
        self.put(user, item_id, replace(self.get(user, item_id), is_favorite=value))

    def rate(self, user: str, item_id: str, rating: float | None) -> None:
        self.clock.tick()
        self.put(user, item_id, replace(self.get(user, item_id), rating=rating))

    # -- ServerClient ------------------------------------------------------

    def _check_read(self) -> None:
        self.requests += 1
        if self.fail_reads:
            raise JellyfinConnectionError(f"{self.server_id} is down")

    async def get_system_info(self) -> ServerInfo:
        self._check_read()
        return ServerInfo(
            id=self.server_id, name=f"Server {self.server_id}", version=self.version
        )

    async def get_users(
        self, *, include_disabled: bool = False, include_hidden: bool = True
    ) -> list[User]:
        self._check_read()
        return [
            u
            for u in self.users
            if (include_disabled or not u.is_disabled)
            and (include_hidden or not u.is_hidden)
        ]

    def children_of(self, folder_id: str) -> list[str]:
        """Leaf items below a folder (series -> episodes, album -> tracks)."""
        return [
            i.id
            for i in self.items.values()
            if folder_id in self.parents.get(i.id, ())
            or (i.series_id == folder_id and i.type == "Episode")
        ]

    def _with_data(self, user_id: str | None, item: Item) -> Item:
        if user_id is None:
            return item
        data = self.data.get((user_id, item.id), UserData())
        children = self.children_of(item.id) if item.type in FOLDERS else []
        if children:
            # Jellyfin derives a folder's played state from its leaves
            # ([v10.10.7] MediaBrowser.Controller/Entities/Folder.cs:1733-1774).
            played = all(
                self.data.get((user_id, c), UserData()).played for c in children
            )
            data = replace(data, played=played)
        return replace(item, user_data=data)

    @staticmethod
    def _passes(
        data: UserData,
        is_played: bool | None,
        is_favorite: bool | None,
        filters: Sequence[str],
    ) -> bool:
        if is_played is not None and data.played != is_played:
            return False
        if is_favorite is not None and data.is_favorite != is_favorite:
            return False
        for name in filters:
            if name == "IsResumable" and data.playback_position_ticks <= 0:
                return False
            if name == "Likes" and data.likes is not True:
                return False
            # As Jellyfin 10.8-10.10 and 12.0 implement them, not as named
            # (tests/test_simulator_filters.py cites the source).
            if name == "Dislikes" and data.likes is True:
                return False
            if name == "IsFavoriteOrLikes" and not data.is_favorite:
                return False
        return True

    async def iter_items(
        self,
        user_id: str | None,
        *,
        item_types: Sequence[str] | None = ("Movie", "Episode"),
        fields: Sequence[str] = ("ProviderIds", "Path"),
        enable_user_data: bool = True,
        is_played: bool | None = None,
        is_favorite: bool | None = None,
        filters: Sequence[str] = (),
        ids: Sequence[str] | None = None,
        parent_id: str | None = None,
        page_size: int | None = None,
        check_total: bool = True,
        sort_by: Sequence[str] = (),
        descending: bool = False,
        saved_since: datetime | None = None,
    ) -> AsyncIterator[list[Item]]:
        self._check_read()
        if self.fail_after_pages == 0 or (user_id is not None and self.fail_user_reads):
            raise JellyfinConnectionError(f"{self.server_id} dropped the connection")
        if parent_id is not None and user_id is not None:
            if parent_id in self.hidden_libraries.get(user_id, set()):
                raise JellyfinConnectionError("a hidden library was listed")
        self.log.append(("items", parent_id, tuple(item_types or ())))
        selected: list[Item] = []
        for count, item_id in enumerate(sorted(self.items)):
            if count % 2000 == 1999:
                await asyncio.sleep(0)  # a real server streams; keep the loop free
            item = self.items[item_id]
            if item_types and item.type not in item_types:
                continue
            if ids is not None and item_id not in ids:
                continue
            if parent_id is not None and self.library_of.get(item_id) != parent_id:
                continue
            if user_id is not None:
                data = self.data.get((user_id, item_id), UserData())
                if not self._passes(data, is_played, is_favorite, filters):
                    continue
            if saved_since is not None and self.saved.get(item_id, EPOCH) < saved_since:
                continue
            selected.append(item)
        if tuple(sort_by) == ("DatePlayed",) and user_id is not None:

            def played_on(item: Item) -> datetime:
                data = self.data.get((user_id, item.id), UserData())
                return data.last_played_date or EPOCH

            selected.sort(key=played_on, reverse=descending)
        size = page_size or self.page_size
        for page_number, start in enumerate(range(0, len(selected), size)):
            if (
                self.fail_after_pages is not None
                and page_number >= self.fail_after_pages
            ):
                raise JellyfinConnectionError(
                    f"{self.server_id} dropped the connection"
                )
            self.requests += 1
            await asyncio.sleep(0)  # one request per page
            page = [
                self._with_data(user_id if enable_user_data else None, item)
                for item in selected[start : start + size]
            ]
            self.items_sent += len(page)
            yield page

    async def get_items(
        self,
        user_id: str,
        ids: Sequence[str],
        *,
        fields: Sequence[str] = ("ProviderIds", "Path"),
    ) -> list[Item]:
        self._check_read()
        await asyncio.sleep(0)
        if self.fail_user_reads:
            raise JellyfinConnectionError(f"{self.server_id} dropped the connection")
        found = [
            self._with_data(user_id, self.items[i])
            for i in sorted(ids)
            if i in self.items
        ]
        self.items_sent += len(found)
        return found

    async def get_resume(
        self,
        user_id: str,
        *,
        item_types: Sequence[str] | None = ("Movie", "Episode"),
        parent_id: str | None = None,
    ) -> list[Item]:
        self._check_read()
        await asyncio.sleep(0)
        self.log.append(("resume", parent_id, tuple(item_types or ())))
        return [
            self._with_data(user_id, item)
            for item_id, item in sorted(self.items.items())
            if (item_types is None or item.type in item_types)
            and (parent_id is None or self.library_of.get(item_id) == parent_id)
            and self.data.get((user_id, item_id), UserData()).playback_position_ticks
            > 0
        ]

    async def get_item(self, user_id: str, item_id: str) -> Item:
        self._check_read()
        await asyncio.sleep(0)
        if item_id not in self.items:
            raise JellyfinNotFoundError("item not found")
        return self._with_data(user_id, self.items[item_id])

    async def set_user_data(
        self,
        user_id: str,
        item_id: str,
        desired: UserData,
        fields: Collection[SyncField],
        *,
        current: UserData | None = None,
        verify: bool = False,
    ) -> UserData:
        self.requests += 1
        await asyncio.sleep(0)  # a real write waits for the server
        if self.fail_writes or item_id in self.fail_write_items:
            raise JellyfinConnectionError(f"{self.server_id} refused the write")
        if item_id not in self.items:
            raise JellyfinNotFoundError("item not found")
        old = self.data.get((user_id, item_id), UserData())
        caps = self.capabilities
        if SyncField.PLAYED in fields and self.items[item_id].type in FOLDERS:
            # MarkPlayed on a folder marks every leaf below it
            # ([v10.10.7] MediaBrowser.Controller/Entities/Folder.cs:1656-1712).
            self.folder_played_writes.append(item_id)
            for child in self.children_of(item_id):
                self.data[(user_id, child)] = replace(
                    self.data.get((user_id, child), UserData()),
                    played=desired.played,
                )
        if caps.generic_user_data:
            new = fx.copy_fields(old, desired, fields)
        else:
            unsupported = [
                f
                for f in fields
                if f not in (SyncField.PLAYED, SyncField.FAVORITE, SyncField.RATING)
            ]
            if unsupported:
                raise JellyfinUnsupportedError("10.8 cannot write that", unsupported)
            new = old
            if SyncField.PLAYED in fields and desired.played != old.played:
                if desired.played:
                    new = replace(
                        new,
                        played=True,
                        play_count=max(new.play_count, 1),
                        playback_position_ticks=0,
                        last_played_date=self.clock.tick(),
                    )
                else:
                    new = replace(
                        new,
                        played=False,
                        play_count=0,
                        playback_position_ticks=0,
                        last_played_date=None,
                    )
            if SyncField.FAVORITE in fields:
                new = replace(new, is_favorite=desired.is_favorite)
            if SyncField.RATING in fields:
                new = replace(new, rating=fx.likes_rating(desired.rating))
        self.data[(user_id, item_id)] = new
        self.writes += 1
        return new


def two_servers_same_ids(
    *, movies: int = 3, clock: Clock | None = None
) -> tuple[FakeServer, FakeServer]:
    """The seed plugin's scenario: two servers, same media paths, same ids."""
    clock = clock or Clock()
    a = FakeServer("a" * 32, clock=clock)
    b = FakeServer("b" * 32, clock=clock)
    for server in (a, b):
        server.add_user("Alice")
        server.add_user("bob")
        for n in range(movies):
            server.add_movie(f"/media/movies/Movie {n}.mkv", ids={"imdb": f"tt{n:07d}"})
    return a, b
