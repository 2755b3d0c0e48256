"""Each server's info, users and item index: what matching works from.

The index of every server stays in memory between cycles. It is read whole every
``index_refresh_cycles`` cycles (or when the server's version moved) and extended in
the cycles between with the items saved since the last look; items read by id join
it too (:meth:`Indexer.learn`).
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from custom_components.jellyfin_sync.jellyfin.exceptions import JellyfinError
from custom_components.jellyfin_sync.jellyfin.models import Capabilities, Item

from .kinds import LIBRARY_ONLY_TYPES, LibraryMode, Scope, needs_libraries, scopes
from .matching import IndexEntry, index_entry, trusted_providers
from .pacing import differs
from .report import Stage, SyncError, SyncReport
from .state import EngineState, ServerState

#: Overlap of "saved since" queries: a row saved just before a query may commit
#: after it (server-clock seconds).
SAVED_OVERLAP_S = 120
ITEM_FIELDS = ("ProviderIds", "Path")
#: Ids per ``get_items`` request.
ID_BATCH = 100


class Indexer:
    """Reads server info and users, and keeps every server's item index."""

    def __init__(self, state: EngineState) -> None:
        """Work on the engine's shared state."""
        self.state = state

    async def prepare(self, report: SyncReport, *, full: bool, index: str) -> None:
        """Read server info and users; load the item index when due.

        ``index`` is ``"cycle"`` (periodic refresh counts this cycle), ``"targeted"``
        (load only when missing or ``full``) or ``"none"`` (never load).
        """
        await asyncio.gather(
            *(
                self._prepare_server(report, server, full=full, index=index)
                for server in self.state.servers.values()
            )
        )

    async def _prepare_server(
        self, report: SyncReport, server: ServerState, *, full: bool, index: str
    ) -> None:
        """One server's part of :meth:`prepare`; it is ready when it answered."""
        server.ready = False
        entry = report.server(server.server_id)
        try:
            async with server.semaphore:
                info = await server.client.get_system_info()
                server.users = await server.client.get_users(
                    include_disabled=self.state.options.include_disabled_users,
                    include_hidden=True,
                )
            previous = server.info.version_tuple if server.info else None
            server.info = info
            server.capabilities = Capabilities.for_version(info.version_tuple)
            entry.name, entry.version = info.name, info.version
            moved = previous is not None and previous != info.version_tuple
            if moved and previous is not None and previous < (12,):
                server.upgraded = info.version_tuple >= (12,)
            due = moved or (
                index == "cycle"
                and server.cycles_since_index + 1
                >= max(1, self.state.options.index_refresh_cycles)
            )
            if index != "none" and (server.index is None or full or due):
                await self._load_index(server)
                entry.index_refreshed = True
            elif index == "cycle":
                server.cycles_since_index += 1
                await self._load_new(server)
        except JellyfinError as err:
            report.error(SyncError.of(server.server_id, Stage.READ_SERVER, err))
            return
        entry.index_items = len(server.index or {})
        entry.readable = True
        server.ready = True

    def _scopes(self, server: ServerState) -> tuple[Scope, ...]:
        """The listings that reach the server's chosen libraries and kinds."""
        return scopes(
            server.libraries,
            self.state.options.item_types,
            self.state.options.libraries,
        )

    def _index_queries(
        self, server: ServerState
    ) -> list[tuple[Scope, tuple[str, ...]]]:
        """(scope, fields) of the listings that make an item index.

        Series are also read, for their provider ids, when episodes or seasons are
        synced without them (``Scope`` with ``Series`` only, flagged by the caller).
        """
        fields: tuple[str, ...] = ITEM_FIELDS
        if server.capabilities is not None and server.capabilities.versions:
            fields = (*ITEM_FIELDS, "MediaSourceCount")
        queries = [(scope, fields) for scope in self._scopes(server)]
        types = self.state.options.item_types
        if ("Episode" in types or "Season" in types) and "Series" not in types:
            queries.append((Scope(None, ("Series",)), ("ProviderIds",)))
        return queries

    async def _load_libraries(self, server: ServerState) -> None:
        """Read the library list when the scopes depend on it (with the index)."""
        server.views.clear()
        options = self.state.options
        if needs_libraries(options.item_types, options.libraries):
            server.libraries = await server.client.get_libraries()
        else:
            server.libraries = None

    async def user_scopes(self, server: ServerState, user_id: str) -> tuple[Scope, ...]:
        """The scopes a user's listings read.

        Libraries the user cannot open are left out: Jellyfin refuses a listing
        below them as unauthorised.
        """
        all_scopes = self._scopes(server)
        if all(scope.parent_id is None for scope in all_scopes):
            return all_scopes
        views = server.views.get(user_id)
        if views is None:
            async with server.semaphore:
                found = await server.client.get_views(user_id)
            views = frozenset(view.id for view in found)
            server.views[user_id] = views
        return tuple(
            scope
            for scope in all_scopes
            if scope.parent_id is None or scope.parent_id in views
        )

    @staticmethod
    def _saved_mark(server: ServerState) -> datetime | None:
        """Where the next "saved since" query starts: the server's clock less an overlap.

        ``None`` when the server sent no clock: new items then wait for the next
        full index read.
        """
        clock = server.client.server_time
        if clock is None:
            return None
        return clock - timedelta(seconds=SAVED_OVERLAP_S)

    async def _index_items(
        self, server: ServerState, saved_since: datetime | None = None
    ) -> AsyncIterator[tuple[bool, bool, Item]]:
        """Items of the listings that make an index: ``(synced, is_series, item)``.

        ``synced`` is false for series read only for their episodes' sake. Only
        items saved since ``saved_since`` when given. Called with the server's
        semaphore held.
        """
        synced_types = self.state.options.item_types
        for scope, fields in self._index_queries(server):
            async for page in server.client.iter_items(
                None,
                item_types=scope.types,
                fields=fields,
                enable_user_data=False,
                parent_id=scope.parent_id,
                page_size=self.state.options.page_size,
                check_total=saved_since is None,
                saved_since=saved_since,
            ):
                for item in page:
                    yield item.type in synced_types, item.type == "Series", item

    async def _load_new(self, server: ServerState) -> None:
        """Add items created or re-saved since the last look to the index.

        A scan creates an item and its first metadata refresh saves it, which sets
        its ``DateLastSaved`` (API-NOTES §2.4): asking for rows saved since the
        last look finds new items in the next cycle at the cost of a near-empty
        listing when nothing changed.
        """
        since = server.saved_since
        mark = self._saved_mark(server)
        if since is None or server.index is None:
            server.saved_since = mark
            return
        index, series = server.index, server.series
        several: list[str] = []
        async with server.semaphore:
            async for synced, is_series, item in self._index_items(server, since):
                if item.versions > 1:
                    several.append(item.id)
                entry = self._slim(server.server_id, item)
                targets: list[dict[str, IndexEntry]] = [index] if synced else []
                if is_series:
                    targets.append(series)
                for target in targets:
                    if target.get(item.id) != entry:
                        target[item.id] = entry
                        server.gone.discard(item.id)
                        self.state.match_dirty = True
            await self._load_versions(server, several)
        server.saved_since = mark

    async def _load_index(self, server: ServerState) -> None:
        """Read a server's whole item index (and its series), replacing the old one."""
        index: dict[str, IndexEntry] = {}
        series: dict[str, IndexEntry] = {}
        mark = self._saved_mark(server)
        several: list[str] = []
        async with server.semaphore:
            await self._load_libraries(server)
            async for synced, is_series, item in self._index_items(server):
                entry = self._slim(server.server_id, item)
                if synced:
                    index[item.id] = entry
                if is_series:
                    series[item.id] = entry
                if item.versions > 1:
                    several.append(item.id)
            server.versions.primary_of.clear()
            await self._load_versions(server, several)
        if await differs(index, server.index) or await differs(series, server.series):
            self.state.match_dirty = True
        server.index, server.series = index, series
        server.cycles_since_index = 0
        server.gone.clear()
        server.saved_since = mark

    async def _load_versions(self, server: ServerState, ids: list[str]) -> None:
        """Learn the alternates of titles with several versions (``MediaSources``).

        Only 12.0 lists a title once for all its files; its alternates' ids are its
        sources' ids (API-NOTES §9.2). Called with the server's semaphore held.
        """
        if not ids:
            return
        server.versions.forget(ids)
        for start in range(0, len(ids), ID_BATCH):
            async for page in server.client.iter_items(
                None,
                item_types=None,
                fields=("MediaSources",),
                enable_user_data=False,
                ids=ids[start : start + ID_BATCH],
                check_total=False,
            ):
                for item in page:
                    server.versions.learn(item)

    def _slim(self, server_id: str, item: Item) -> IndexEntry:
        """The part of an item matching needs (the index holds 100k of them).

        A plain tuple (see :data:`~.matching.IndexEntry`): names, runtimes and user
        data are dropped, provider ids cut to the trusted ones, the path kept only
        when the server has media roots to match it by, and then relative to them.
        """
        roots = self.state.options.server(server_id).media_roots
        trusted = trusted_providers(item.type, self.state.options)
        return index_entry(item, trusted, with_path=bool(roots), roots=roots)

    def _learnable(self, item_type: str) -> bool:
        """Whether an item read by id may join the index.

        Only a synced type that the server-wide listing reads: a chosen library
        or a home video can only be told from the listings, which are scoped.
        """
        options = self.state.options
        return (
            item_type in options.item_types
            and item_type not in LIBRARY_ONLY_TYPES
            and options.libraries.mode is LibraryMode.ALL
        )

    def learn(self, server: ServerState, item: Item, *, scoped: bool = False) -> None:
        """Add or update an index entry from an item read with identity fields.

        Items read by id outside the chosen kinds and libraries are not learned
        (a webhook reports every item type).
        """
        if server.index is None or not (scoped or self._learnable(item.type)):
            return
        known = self._slim(server.server_id, item)
        if server.index.get(item.id) != known:
            server.index[item.id] = known
            self.state.match_dirty = True
