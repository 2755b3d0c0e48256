"""A user's watch data on one server: sweeps, full listings and reads by id.

A cycle reads per user only the items that carry user data (the filtered listings
of :data:`SWEEPS` and :data:`DATED_SWEEP`), and now and then the whole library;
identity fields come from the item index, so the listings ask for none.
"""

from collections.abc import Callable, Collection
import contextlib
from datetime import datetime, timedelta
from typing import Any

from custom_components.jellyfin_sync.jellyfin.models import Item, UserData

from . import fields as fx
from .indexing import ID_BATCH, ITEM_FIELDS, Indexer
from .kinds import Scope, own_data
from .state import EngineState, ServerState

#: Filtered listings that find the items with user data a filter can isolate, the
#: same on every version (tests/test_simulator_filters.py has each filter's source):
#: played; favourite; a position; a rating of 6.5 or more (``Likes``). Each item
#: comes once where the filters allow it (a played favourite in the first only).
#: ``IsFavoriteOrLikes`` is favourites only and ``Dislikes`` is the whole library
#: (10.8-10.10, 12.0) or the liked items (10.11), so neither is used.
SWEEPS: tuple[dict[str, Any], ...] = (
    {"is_played": True},
    {"is_played": False, "is_favorite": True},
    {"is_played": False, "is_favorite": False, "filters": ("IsResumable",)},
    {"is_played": False, "is_favorite": False, "filters": ("Likes",)},
)
#: The fifth listing: unplayed items by ``DatePlayed``, newest first, read until the
#: first never-played item. It finds a play count or a last-played date without
#: played (a playback stopped early). What no listing isolates (a rating below 6.5
#: alone) comes from the periodic full listing or, once known, the baseline.
DATED_SWEEP: dict[str, Any] = {
    "is_played": False,
    "sort_by": ("DatePlayed",),
    "descending": True,
    "check_total": False,
}
#: Extra items asked for beyond last cycle's count of dated unplayed items.
DATED_MARGIN = 20
#: Sweeps need no optional fields: ids, types and user data come without asking.
SWEEP_FIELDS: tuple[str, ...] = ()


def _is_default(data: UserData | None) -> bool:
    return data is None or data.is_default


def _own(item: Item) -> UserData:
    """The data an item keeps as its own (a folder's derived playback dropped)."""
    return own_data(item.type, item.user_data or fx.DEFAULT)


class Reader:
    """Reads users' watch data from the servers."""

    def __init__(self, state: EngineState, indexer: Indexer) -> None:
        """Work on the engine's shared state; items read by id join the index."""
        self.state = state
        self.indexer = indexer

    def listing_due(self, server: ServerState, user_id: str, now: datetime) -> bool:
        """Whether a user's whole library is due to be listed on a server."""
        last = server.listed.get(user_id)
        period = timedelta(hours=self.state.options.full_listing_hours)
        return last is None or now < last or now - last >= period

    async def sweep(
        self, server: ServerState, user_id: str, *, everything: bool = False
    ) -> fx.StateTable:
        """Items with non-default data for a user, without identity fields.

        With ``everything`` the user's whole library is listed, which finds every
        item; otherwise the filtered listings (:data:`SWEEPS`,
        :data:`DATED_SWEEP`) find all but an item whose only data is a rating
        below 6.5, and the baseline re-reads such an item once it is known.
        Identity fields (paths, provider ids) are most of a listing's bytes and the
        index has them; items the index does not know yet are fetched with them.
        """
        found = fx.StateTable()
        unknown: set[str] = set()
        index = server.index or {}

        def keep(item: Item) -> None:
            found[item.id] = _own(item)
            if item.id not in index:
                unknown.add(item.id)

        user_scopes = await self.indexer.user_scopes(server, user_id)
        async with server.semaphore:
            queries: tuple[dict[str, Any], ...] = ({},) if everything else SWEEPS
            for scope in user_scopes:
                for query in queries:
                    async for page in server.client.iter_items(
                        user_id,
                        item_types=scope.types,
                        fields=SWEEP_FIELDS,
                        parent_id=scope.parent_id,
                        page_size=self.state.options.sweep_page_size,
                        **query,
                    ):
                        for item in page:
                            if not everything or not _is_default(_own(item)):
                                keep(item)
                if not everything:
                    await self._sweep_dated(server, user_id, scope, keep)
        if unknown:
            # Found by the scoped listings: in scope, whatever their type.
            found.update(await self.fetch(server, user_id, unknown, scoped=True))
        await self.overlay_versions(server, user_id, found, user_scopes)
        return found

    async def overlay_versions(
        self,
        server: ServerState,
        user_id: str,
        found: fx.StateTable,
        user_scopes: tuple[Scope, ...] | None = None,
        *,
        complete: bool = True,
    ) -> None:
        """Give titles with several versions the position of the one being resumed.

        12.0 only, and only when the server has such titles: one resume list per
        user (:mod:`.versions`). With ``complete`` (a whole cycle), a resumed
        title the listings missed is read too; a targeted read keeps to its items.
        """
        caps = server.capabilities
        if caps is None or not caps.versions or not server.versions:
            return
        if user_scopes is None:
            user_scopes = await self.indexer.user_scopes(server, user_id)
        resumed: list[Item] = []
        async with server.semaphore:
            for scope in user_scopes:
                resumed += await server.client.get_resume(
                    user_id, item_types=scope.types, parent_id=scope.parent_id
                )
        titles = {server.versions.primary_of.get(i.id) for i in resumed}
        missing = {t for t in titles if t is not None and t not in found}
        if missing and complete:
            found.update(await self.fetch(server, user_id, missing))
        found.update(server.versions.overlay(user_id, found, resumed))

    async def _sweep_dated(
        self,
        server: ServerState,
        user_id: str,
        scope: Scope,
        keep: Callable[[Item], None],
    ) -> None:
        """Unplayed items newest-played first, up to the first never-played one.

        Pages are sized from last cycle's count, so a cycle reads about one page
        and few items beyond the dated ones (no filter excludes undated items).
        """
        size = server.dated.get((user_id, scope.parent_id), 0) + DATED_MARGIN
        dated = 0
        async with contextlib.aclosing(
            server.client.iter_items(
                user_id,
                item_types=scope.types,
                fields=SWEEP_FIELDS,
                parent_id=scope.parent_id,
                page_size=size,
                **DATED_SWEEP,
            )
        ) as pages:
            async for page in pages:
                done = False
                for item in page:
                    data = item.user_data
                    if data is not None and data.last_played_date is not None:
                        dated += 1
                        keep(item)
                    else:
                        done = True
                        if not _is_default(data):
                            keep(item)
                if done:
                    break
        server.dated[user_id, scope.parent_id] = dated

    async def title_of(
        self, server: ServerState, user_id: str, item_id: str
    ) -> str | None:
        """The title of an alternate no listing shows (12.0), from its sources.

        Its ``MediaSources`` name every version; the one the index knows is the
        title's primary.
        """
        async with server.semaphore:
            item = await server.client.get_item(user_id, item_id)
        index = server.index or {}
        for version in item.version_ids:
            if version != item_id and version in index:
                server.versions.primary_of[item_id] = version
                return version
        return None

    async def fetch(
        self,
        server: ServerState,
        user_id: str,
        ids: Collection[str],
        *,
        scoped: bool = False,
    ) -> fx.StateTable:
        """Current data of some items; ids missing from the result vanished."""
        found = fx.StateTable()
        ordered = sorted(ids)
        async with server.semaphore:
            for start in range(0, len(ordered), ID_BATCH):
                batch = ordered[start : start + ID_BATCH]
                for item in await server.client.get_items(
                    user_id, batch, fields=ITEM_FIELDS
                ):
                    self.indexer.learn(server, item, scoped=scoped)
                    found[item.id] = _own(item)
        return found
