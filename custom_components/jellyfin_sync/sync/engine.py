"""The sync engine: collect from every server, match, plan, apply, report, undo.

This is the only part of ``sync/`` that does I/O, always through a
:class:`~.client.ServerClient`. It keeps an item index per server in memory between
cycles (refreshed fully every ``index_refresh_cycles`` cycles, extended
incrementally from each cycle's reads) and reads per user only the items that carry
user data, so a cycle where nothing changed costs a few small listings per user.
"""

import asyncio
from collections import defaultdict
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterator,
    Mapping,
)
import contextlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import time
from typing import Any

from custom_components.jellyfin_sync.jellyfin.exceptions import (
    ErrorReason,
    JellyfinConnectionError,
    JellyfinError,
    JellyfinNotFoundError,
    JellyfinResponseError,
    JellyfinServerError,
)
from custom_components.jellyfin_sync.jellyfin.models import (
    Capabilities,
    Item,
    Library,
    ServerInfo,
    SyncField,
    User,
    UserData,
    format_datetime,
    normalize_id,
)
from custom_components.jellyfin_sync.jellyfin.write_errors import (
    JellyfinUnsupportedError,
    JellyfinVerificationError,
)

from . import fields as fx
from .baseline import (
    Applying,
    Baseline,
    BaselineEntry,
    HistoryCycle,
    HistoryWrite,
)
from .client import ServerClient
from .kinds import (
    LIBRARY_ONLY_TYPES,
    LibraryMode,
    Scope,
    needs_libraries,
    own_data,
    own_fields,
    scopes,
)
from .matching import (
    IndexEntry,
    ItemMatch,
    MatchedUser,
    Steps,
    build_aliases,
    index_entry,
    match_items,
    match_users,
    trusted_providers,
)
from .options import FirstSyncPolicy, MatchMethod, SyncOptions
from .plan import (
    OutcomeList,
    PlannedWrite,
    SyncPlan,
    UserSnapshot,
    advance_steps,
    plan_steps,
)
from .report import Stage, SyncError, SyncReport
from .undo import UndoItem, make_undo_item, restore_baseline
from .versions import Versions

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
#: Overlap of "saved since" queries: a row saved just before a query may commit
#: after it (server-clock seconds).
SAVED_OVERLAP_S = 120
ITEM_FIELDS = ("ProviderIds", "Path")
#: Sweeps need no optional fields: ids, types and user data come without asking.
SWEEP_FIELDS: tuple[str, ...] = ()
#: Ids per ``get_items`` request.
ID_BATCH = 100


@dataclass(slots=True)
class _Server:
    """What the engine knows about one server between cycles."""

    server_id: str
    client: ServerClient
    info: ServerInfo | None = None
    capabilities: Capabilities | None = None
    users: list[User] = field(default_factory=list)
    index: dict[str, IndexEntry] | None = None
    series: dict[str, IndexEntry] = field(default_factory=dict)
    cycles_since_index: int = 0
    gone: set[str] = field(default_factory=set)
    """Ids dropped from the index because they vanished; looked up again each cycle
    until they are back or the next full index read settles them."""
    saved_since: datetime | None = None
    """Server time from which new or re-saved items are asked for each cycle."""
    listed: dict[str, datetime] = field(default_factory=dict)
    """User id -> when the user's whole library was last listed."""
    dated: dict[tuple[str, str | None], int] = field(default_factory=dict)
    """(User id, library) -> dated unplayed items found last cycle (sizes the next
    page)."""
    libraries: list[Library] | None = None
    """The server's libraries, read with the index when the scopes need them."""
    views: dict[str, frozenset[str]] = field(default_factory=dict)
    """User id -> ids of the libraries the user can open (read when needed)."""
    upgraded: bool = False
    """The server moved to a version with titles of several versions (12.0) since
    the last cycle: its title states are adopted once (``SyncEngine._adopt``)."""
    versions: Versions = field(default_factory=Versions)
    """Titles with several versions (12.0) and the version each user would resume."""
    listing: asyncio.Lock = field(default_factory=asyncio.Lock)
    """One full listing at a time per server: each holds a whole library's pages
    and ids in memory while it runs."""
    ready: bool = False
    semaphore: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))


def _is_default(data: UserData | None) -> bool:
    return data is None or data.is_default


def _own(item: Item) -> UserData:
    """The data an item keeps as its own (a folder's derived playback dropped)."""
    return own_data(item.type, item.user_data or fx.DEFAULT)


def _read_failed(
    report: SyncReport, server_id: str, stage: Stage, err: JellyfinError, subject: str
) -> None:
    """Report a failed read; count it when the server itself failed to answer."""
    # Client messages never contain the API key (jellyfin/exceptions.py).
    report.error(SyncError.of(server_id, stage, err, subject))
    if isinstance(
        err, JellyfinConnectionError | JellyfinServerError | JellyfinResponseError
    ):
        report.server(server_id).read_failures += 1


#: Longest run of a step generator between two turns of the event loop, in seconds.
STEP_BUDGET = 0.005


async def _drive[T](steps: Steps[T]) -> T:
    """Run a step generator, giving the event loop a turn every few milliseconds.

    Steps are small (``yield_every`` items); the loop gets a turn once
    :data:`STEP_BUDGET` has passed, so short runs cost no extra turns and long ones
    never hold the loop for more than about one step past the budget.
    """
    deadline = time.perf_counter() + STEP_BUDGET
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if time.perf_counter() >= deadline:
            await asyncio.sleep(0)
            deadline = time.perf_counter() + STEP_BUDGET


async def _differs(new: Mapping[str, object], old: Mapping[str, object] | None) -> bool:
    """``new != old`` for item indexes, giving the event loop turns on the way."""
    if old is None or len(new) != len(old):
        return True
    for count, (key, value) in enumerate(new.items(), 1):
        if old.get(key) != value:
            return True
        if count % 5000 == 0:
            await asyncio.sleep(0)
    return False


class SyncEngine:
    """Keeps the watch data of several Jellyfin servers identical.

    Args:
        clients: Server id (the server's SystemId) -> client.
        options: Rules, directions, guard limits.
        baseline: The stored baseline (``Baseline.from_dict``); empty when ``None``.
    """

    def __init__(
        self,
        clients: Mapping[str, ServerClient],
        options: SyncOptions,
        baseline: Baseline | None = None,
    ) -> None:
        """Create the engine; nothing is read until the first cycle."""
        self.options = options
        self.baseline = baseline if baseline is not None else Baseline()
        self._servers = {
            server_id: _Server(
                server_id,
                client,
                semaphore=asyncio.Semaphore(max(1, options.max_concurrent_requests)),
            )
            for server_id, client in sorted(clients.items())
        }
        self._match: ItemMatch | None = None
        self._match_dirty = True
        self._match_seconds = 0.0
        self.last_plan: SyncPlan | None = None
        self.checkpoint: Callable[[], Awaitable[None]] | None = None
        """Called (and awaited) before a cycle writes, with ``baseline.applying``
        set: the caller stores the baseline so a stop mid-apply can be recovered."""

    # ------------------------------------------------------------------ cycle

    async def run_cycle(
        self,
        *,
        now: datetime,
        dry_run: bool = False,
        full: bool = False,
        users: Collection[str] | None = None,
        targets: Mapping[str, Collection[tuple[str, str]]] | None = None,
        approve_held: bool = False,
    ) -> SyncReport:
        """Run one cycle and return its report.

        Args:
            now: The cycle's time (report, history, played items without a date).
            dry_run: Plan only; nothing is written and the baseline is unchanged.
            full: Refresh every server's item index first.
            users: Only these users (sync names, any case); all when ``None``.
            targets: Only these items: server id -> ``(user id, item id)`` pairs on
                that server (near-real-time updates). The same rules apply.
            approve_held: Apply resets that the mass-change guard would hold.
        """
        report = SyncReport(
            cycle_id=format_datetime(now),
            started=now,
            dry_run=dry_run,
            full=full,
            targeted=targets is not None,
            limit=self.options.report_limit,
        )
        started = time.monotonic()
        self._match_seconds = 0.0
        await self._prepare(
            report, full=full, index="targeted" if targets is not None else "cycle"
        )
        ready = {s.server_id: s for s in self._servers.values() if s.ready}
        user_match = match_users(
            {sid: s.users for sid, s in ready.items()}, self.options
        )
        report.users_skipped = list(user_match.skipped)
        wanted = {u.casefold() for u in users} if users is not None else None
        selected = [u for u in user_match.users if wanted is None or u.key in wanted]
        source = self._servers.get(self.options.primary_server or "")
        if (
            self.options.first_sync is FirstSyncPolicy.PRIMARY_WINS
            and source is not None
            and not source.ready
        ):
            # The source's users are unknown while it is down: whoever has not had
            # a first sync with it waits (the plan handles a source that answered).
            waiting = [
                u
                for u in selected
                if source.server_id not in self.baseline.user(u.key).servers
            ]
            report.users_skipped.extend(
                f"{u.key}: first sync waits for the source server" for u in waiting
            )
            selected = [u for u in selected if u not in waiting]
        if targets is not None:
            snapshots = await self._collect_targets(report, selected, targets)
        else:
            snapshots = await self._collect_full(report, selected, now=now, full=full)
        report.users = sorted({s.user.key for s in snapshots})
        match = await self._matched()
        if targets is None and not dry_run:
            for server in ready.values():
                if server.upgraded:
                    await self._adopt(server.server_id, snapshots, match)
                    server.upgraded = False
        report.durations["match"] = self._match_seconds
        report.durations["collect"] = time.monotonic() - started - self._match_seconds
        self._report_match(report, match)
        mark = time.monotonic()
        caps = {
            sid: s.capabilities
            for sid, s in ready.items()
            if s.capabilities is not None
        }
        plan = await _drive(
            plan_steps(
                snapshots,
                match,
                self.baseline,
                self.options,
                caps,
                now=now,
                approve_held=approve_held,
            )
        )
        self.last_plan = plan
        report.durations["plan"] = time.monotonic() - mark
        self._report_plan(report, plan)
        if not dry_run:
            mark = time.monotonic()
            if plan.writes and self.checkpoint is not None:
                # Stored before writing: a stop mid-apply leaves a record of what
                # may have reached the servers (see ``Baseline.applying``).
                self.baseline.applying = {
                    (w.server_id, w.user_key, w.identity): Applying(w.fields, w.desired)
                    for w in plan.writes
                }
                await self.checkpoint()
            confirmed = await self._apply(report, plan.writes)
            report.durations["apply"] = time.monotonic() - mark
            await self._record_history(report, plan, confirmed, now)
            await _drive(advance_steps(self.baseline, plan, confirmed))
            self.baseline.applying = {}
            # In the baseline now; the rest of the plan stays for the caller.
            plan.outcomes = OutcomeList()
        report.durations["total"] = time.monotonic() - started
        return report

    # ---------------------------------------------------------------- collect

    async def _prepare(self, report: SyncReport, *, full: bool, index: str) -> None:
        """Read server info and users; load the item index when due.

        ``index`` is ``"cycle"`` (periodic refresh counts this cycle), ``"targeted"``
        (load only when missing or ``full``) or ``"none"`` (never load).
        """

        async def one(server: _Server) -> None:
            server.ready = False
            entry = report.server(server.server_id)
            try:
                async with server.semaphore:
                    info = await server.client.get_system_info()
                    server.users = await server.client.get_users(
                        include_disabled=self.options.include_disabled_users,
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
                    >= max(1, self.options.index_refresh_cycles)
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

        await asyncio.gather(*(one(s) for s in self._servers.values()))

    def _scopes(self, server: _Server) -> tuple[Scope, ...]:
        """The listings that reach the server's chosen libraries and kinds."""
        return scopes(
            server.libraries,
            self.options.item_types,
            self.options.libraries,
        )

    def _index_queries(self, server: _Server) -> list[tuple[Scope, tuple[str, ...]]]:
        """(scope, fields) of the listings that make an item index.

        Series are also read, for their provider ids, when episodes or seasons are
        synced without them (``Scope`` with ``Series`` only, flagged by the caller).
        """
        fields: tuple[str, ...] = ITEM_FIELDS
        if server.capabilities is not None and server.capabilities.versions:
            fields = (*ITEM_FIELDS, "MediaSourceCount")
        queries = [(scope, fields) for scope in self._scopes(server)]
        types = self.options.item_types
        if ("Episode" in types or "Season" in types) and "Series" not in types:
            queries.append((Scope(None, ("Series",)), ("ProviderIds",)))
        return queries

    async def _load_libraries(self, server: _Server) -> None:
        """Read the library list when the scopes depend on it (with the index)."""
        server.views.clear()
        if needs_libraries(self.options.item_types, self.options.libraries):
            server.libraries = await server.client.get_libraries()
        else:
            server.libraries = None

    async def _user_scopes(self, server: _Server, user_id: str) -> tuple[Scope, ...]:
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
    def _saved_mark(server: _Server) -> datetime | None:
        """Where the next "saved since" query starts: the server's clock less an overlap.

        ``None`` when the server sent no clock: new items then wait for the next
        full index read.
        """
        clock = server.client.server_time
        if clock is None:
            return None
        return clock - timedelta(seconds=SAVED_OVERLAP_S)

    async def _index_items(
        self, server: _Server, saved_since: datetime | None = None
    ) -> AsyncIterator[tuple[bool, bool, Item]]:
        """Items of the listings that make an index: ``(synced, is_series, item)``.

        ``synced`` is false for series read only for their episodes' sake. Only
        items saved since ``saved_since`` when given. Called with the server's
        semaphore held.
        """
        synced_types = self.options.item_types
        for scope, fields in self._index_queries(server):
            async for page in server.client.iter_items(
                None,
                item_types=scope.types,
                fields=fields,
                enable_user_data=False,
                parent_id=scope.parent_id,
                page_size=self.options.page_size,
                check_total=saved_since is None,
                saved_since=saved_since,
            ):
                for item in page:
                    yield item.type in synced_types, item.type == "Series", item

    async def _load_new(self, server: _Server) -> None:
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
                        self._match_dirty = True
            await self._load_versions(server, several)
        server.saved_since = mark

    async def _load_index(self, server: _Server) -> None:
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
        if await _differs(index, server.index) or await _differs(series, server.series):
            self._match_dirty = True
        server.index, server.series = index, series
        server.cycles_since_index = 0
        server.gone.clear()
        server.saved_since = mark

    async def _load_versions(self, server: _Server, ids: list[str]) -> None:
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
        roots = self.options.server(server_id).media_roots
        trusted = trusted_providers(item.type, self.options)
        return index_entry(item, trusted, with_path=bool(roots), roots=roots)

    def _learnable(self, item_type: str) -> bool:
        """Whether an item read by id may join the index.

        Only a synced type that the server-wide listing reads: a chosen library
        or a home video can only be told from the listings, which are scoped.
        """
        return (
            item_type in self.options.item_types
            and item_type not in LIBRARY_ONLY_TYPES
            and self.options.libraries.mode is LibraryMode.ALL
        )

    def _learn(self, server: _Server, item: Item, *, scoped: bool = False) -> None:
        """Add or update an index entry from an item read with identity fields.

        Items read by id outside the chosen kinds and libraries are not learned
        (a webhook reports every item type).
        """
        if server.index is None or not (scoped or self._learnable(item.type)):
            return
        known = self._slim(server.server_id, item)
        if server.index.get(item.id) != known:
            server.index[item.id] = known
            self._match_dirty = True

    async def _sweep(
        self, server: _Server, user_id: str, *, everything: bool = False
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

        user_scopes = await self._user_scopes(server, user_id)
        async with server.semaphore:
            queries: tuple[dict[str, Any], ...] = ({},) if everything else SWEEPS
            for scope in user_scopes:
                for query in queries:
                    async for page in server.client.iter_items(
                        user_id,
                        item_types=scope.types,
                        fields=SWEEP_FIELDS,
                        parent_id=scope.parent_id,
                        page_size=self.options.sweep_page_size,
                        **query,
                    ):
                        for item in page:
                            if not everything or not _is_default(_own(item)):
                                keep(item)
                if not everything:
                    await self._sweep_dated(server, user_id, scope, keep)
        if unknown:
            # Found by the scoped listings: in scope, whatever their type.
            found.update(await self._fetch(server, user_id, unknown, scoped=True))
        await self._overlay_versions(server, user_id, found, user_scopes)
        return found

    async def _overlay_versions(
        self,
        server: _Server,
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
            user_scopes = await self._user_scopes(server, user_id)
        resumed: list[Item] = []
        async with server.semaphore:
            for scope in user_scopes:
                resumed += await server.client.get_resume(
                    user_id, item_types=scope.types, parent_id=scope.parent_id
                )
        titles = {server.versions.primary_of.get(i.id) for i in resumed}
        missing = {t for t in titles if t is not None and t not in found}
        if missing and complete:
            found.update(await self._fetch(server, user_id, missing))
        found.update(server.versions.overlay(user_id, found, resumed))

    async def _sweep_dated(
        self,
        server: _Server,
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

    async def _title_of(
        self, server: _Server, user_id: str, item_id: str
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

    async def _fetch(
        self,
        server: _Server,
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
                    self._learn(server, item, scoped=scoped)
                    found[item.id] = _own(item)
        return found

    def _listing_due(self, server: _Server, user_id: str, now: datetime) -> bool:
        """Whether a user's whole library is due to be listed on a server."""
        last = server.listed.get(user_id)
        period = timedelta(hours=self.options.full_listing_hours)
        return last is None or now < last or now - last >= period

    async def _collect_full(
        self,
        report: SyncReport,
        selected: list[MatchedUser],
        *,
        now: datetime,
        full: bool = False,
    ) -> list[UserSnapshot]:
        data: dict[str, dict[str, fx.StateTable]] = defaultdict(dict)
        jobs: list[Awaitable[None]] = []

        def sweep_job(user: MatchedUser, server: _Server) -> Awaitable[None]:
            async def job() -> None:
                user_id = user.ids[server.server_id]
                everything = full or self._listing_due(server, user_id, now)
                try:
                    if everything:
                        async with server.listing:
                            found = await self._sweep(server, user_id, everything=True)
                    else:
                        found = await self._sweep(server, user_id)
                    data[user.key][server.server_id] = found
                    if everything:
                        server.listed[user_id] = now
                        report.server(server.server_id).full_listings += 1
                except JellyfinError as err:
                    _read_failed(
                        report, server.server_id, Stage.READ_USER, err, user.name
                    )

            return job()

        await self._recheck_gone(report, selected)
        for user in selected:
            jobs.extend(sweep_job(user, self._servers[s]) for s in user.ids)
        await asyncio.gather(*jobs)
        match = await self._matched()
        vanished: dict[str, dict[str, frozenset[str]]] = defaultdict(dict)
        confirm_jobs: list[Awaitable[None]] = []

        def confirm_job(
            user: MatchedUser, server: _Server, ids: set[str]
        ) -> Awaitable[None]:
            async def job() -> None:
                try:
                    found = await self._fetch(server, user.ids[server.server_id], ids)
                except JellyfinError as err:
                    _read_failed(
                        report, server.server_id, Stage.READ_USER, err, user.name
                    )
                    del data[user.key][server.server_id]
                    return
                data[user.key][server.server_id].update(found)
                gone = frozenset(ids - found.keys())
                if gone:
                    vanished[user.key][server.server_id] = gone
                    report.vanished += len(gone)
                    index = server.index or {}
                    for item_id in gone:
                        index.pop(item_id, None)
                    server.gone.update(gone)
                    self._match_dirty = True

            return job()

        for user in selected:
            suspects = await _drive(self._suspects(user, data[user.key], match))
            for server_id, ids in sorted(suspects.items()):
                confirm_jobs.append(confirm_job(user, self._servers[server_id], ids))
        await asyncio.gather(*confirm_jobs)
        return [
            UserSnapshot(
                user=user,
                readable=frozenset(data[user.key]),
                data=data[user.key],
                vanished=vanished.get(user.key, {}),
            )
            for user in selected
        ]

    async def _recheck_gone(
        self, report: SyncReport, selected: list[MatchedUser]
    ) -> None:
        """Look up the items that vanished in an earlier cycle (a rescan may be over).

        An item that is back returns to the index, so its data is compared again in
        this cycle: without this, a change made to it on any server while it was
        missing would wait for the next full index read.
        """

        async def one(server: _Server, user_id: str) -> None:
            try:
                found = await self._fetch(server, user_id, set(server.gone))
            except JellyfinError as err:
                _read_failed(report, server.server_id, Stage.LOOKUP_VANISHED, err, "")
                return
            server.gone.difference_update(found)

        jobs: list[Awaitable[None]] = []
        for server in self._servers.values():
            user_id = next(
                (
                    u.ids[server.server_id]
                    for u in selected
                    if server.server_id in u.ids
                ),
                None,
            )
            if server.ready and server.gone and user_id is not None:
                jobs.append(one(server, user_id))
        await asyncio.gather(*jobs)

    def _suspects(
        self,
        user: MatchedUser,
        swept: Mapping[str, Mapping[str, UserData]],
        match: ItemMatch,
    ) -> Steps[dict[str, set[str]]]:
        """Items the baseline says had data on a server but the sweep missed.

        They were un-watched (and so on), or they vanished: fetching them tells
        which, so a deleted item is never read as an un-watch.
        """
        suspects: dict[str, set[str]] = defaultdict(set)
        stored = self.baseline.users.get(user.key)
        if stored is None:
            return suspects
        unresolved = [key for key in stored.items if match.resolve(key) is None]
        if unresolved:
            yield from build_aliases(match, unresolved)
        for count, (key, entry) in enumerate(stored.items.items(), 1):
            index = match.resolve(key)
            if index is None:
                continue
            members = match.items[index].members
            for server_id, state in entry.confirmed.items():
                item_id = members.get(server_id)
                if (
                    item_id is not None
                    and server_id in swept
                    and not state.is_default
                    and item_id not in swept[server_id]
                ):
                    suspects[server_id].add(item_id)
            if count % self.options.yield_every == 0:
                yield
        return suspects

    async def _adopt(
        self, server_id: str, snapshots: list[UserSnapshot], match: ItemMatch
    ) -> None:
        """After an upgrade to 12.0, take the server's title states as confirmed.

        The upgrade makes one title of several files: its reads merge the versions'
        playback but never their play counts, and its primary may be another file
        (API-NOTES §9.2). Those differences are the upgrade's, not a user's: like a
        rescan, they are held. The server's current state becomes its confirmed
        state, so nothing is sent from it or to it for that reason; changes made
        afterwards sync as usual.
        """
        for snapshot in snapshots:
            states = snapshot.data.get(server_id)
            stored = self.baseline.users.get(snapshot.user.key)
            if states is None or stored is None:
                continue
            unresolved = [key for key in stored.items if match.resolve(key) is None]
            if unresolved:
                await _drive(build_aliases(match, unresolved))
            for key, entry in list(stored.items.items()):
                index = match.resolve(key)
                if index is None or server_id not in entry.confirmed:
                    continue
                item_id = match.items[index].members.get(server_id)
                if item_id is None:
                    continue
                current = states.get(item_id, fx.DEFAULT)
                if current != entry.confirmed[server_id]:
                    confirmed = {**entry.confirmed, server_id: current}
                    stored.items[key] = BaselineEntry(entry.agreed, confirmed)

    async def _collect_targets(
        self,
        report: SyncReport,
        selected: list[MatchedUser],
        targets: Mapping[str, Collection[tuple[str, str]]],
    ) -> list[UserSnapshot]:
        by_id = {
            (server_id, user_id): user
            for user in selected
            for server_id, user_id in user.ids.items()
        }
        wanted: dict[str, set[tuple[str, str]]] = defaultdict(set)
        unknown: list[tuple[_Server, str, str]] = []
        match = await self._matched()
        for server_id in sorted(targets):
            server = self._servers.get(server_id)
            if server is None or not server.ready:
                continue
            for raw_user, raw_item in sorted(targets[server_id]):
                # Webhooks may send dashed or upper-case Guids; the client does not.
                user_id = normalize_id(raw_user)
                item_id = normalize_id(raw_item)
                user = by_id.get((server_id, user_id))
                if user is None:
                    continue
                # An alternate version (12.0) stands for its title.
                item_id = server.versions.title(item_id)
                if match.member(server_id, item_id) is None:
                    unknown.append((server, user_id, item_id))
                wanted[user.key].add((server_id, item_id))
        if self.options.libraries.mode is not LibraryMode.ALL:
            # An item the scoped listings do not know may be in a library left
            # out: it is not read; the next cycle's listings find it if it is in.
            unknown = []
        for server, user_id, item_id in unknown:
            try:
                found = await self._fetch(server, user_id, [item_id])
                if not found and server.capabilities and server.capabilities.versions:
                    title = await self._title_of(server, user_id, item_id)
                    target = by_id[(server.server_id, user_id)]
                    if title is not None:
                        wanted[target.key].discard((server.server_id, item_id))
                        wanted[target.key].add((server.server_id, title))
            except JellyfinError as err:
                report.error(SyncError.of(server.server_id, Stage.READ_TARGET, err))
        match = await self._matched()
        snapshots: list[UserSnapshot] = []
        for user in selected:
            if user.key not in wanted:
                continue
            scope: set[int] = set()
            for server_id, item_id in wanted[user.key]:
                index = match.index_of(server_id, item_id)
                if index is not None:
                    scope.add(index)
            per_server: dict[str, set[str]] = defaultdict(set)
            for index in scope:
                for server_id, item_id in match.items[index].members.items():
                    if server_id in user.ids:
                        per_server[server_id].add(item_id)
            data: dict[str, fx.StateTable] = {}
            vanished: dict[str, frozenset[str]] = {}

            async def read(
                server_id: str,
                ids: set[str],
                user: MatchedUser = user,
                data: dict[str, fx.StateTable] = data,
                vanished: dict[str, frozenset[str]] = vanished,
            ) -> None:
                # Users come from servers that answered: every one is ready.
                server = self._servers[server_id]
                try:
                    found = await self._fetch(server, user.ids[server_id], ids)
                    await self._overlay_versions(
                        server, user.ids[server_id], found, complete=False
                    )
                except JellyfinError as err:
                    _read_failed(report, server_id, Stage.READ_USER, err, user.name)
                    return
                data[server_id] = found
                if gone := frozenset(ids - found.keys()):
                    vanished[server_id] = gone
                    report.vanished += len(gone)

            await asyncio.gather(
                *(read(s, ids) for s, ids in sorted(per_server.items()))
            )
            snapshots.append(
                UserSnapshot(
                    user=user,
                    readable=frozenset(data),
                    data=data,
                    vanished=vanished,
                    scope=frozenset(scope),
                )
            )
        return snapshots

    async def _matched(self) -> ItemMatch:
        if self._match is None or self._match_dirty:
            started = time.monotonic()
            indexes = {
                sid: s.index for sid, s in self._servers.items() if s.index is not None
            }
            series = {sid: s.series for sid, s in self._servers.items()}
            self._match_dirty = False
            self._match = await _drive(match_items(indexes, series, self.options))
            self._match_seconds += time.monotonic() - started
        return self._match

    # ------------------------------------------------------------------ apply

    async def _apply(
        self, report: SyncReport, writes: list[PlannedWrite]
    ) -> dict[tuple[str, str, str], UserData]:
        confirmed: dict[tuple[str, str, str], UserData] = {}

        async def write(w: PlannedWrite) -> None:
            server = self._servers[w.server_id]
            entry = report.server(w.server_id)
            try:
                async with server.semaphore:
                    result = await self._write_title(server, w)
            except JellyfinVerificationError as err:
                result = err.actual
            except JellyfinUnsupportedError as err:
                entry.unsupported += 1
                entry.failed += 1
                report.writes_failed += 1
                report.error(SyncError.of(w.server_id, Stage.WRITE, err, w.identity))
                return
            except JellyfinNotFoundError:
                entry.failed += 1
                report.writes_failed += 1
                report.vanished += 1
                (server.index or {}).pop(w.item_id, None)
                server.gone.add(w.item_id)
                self._match_dirty = True
                return
            except JellyfinError as err:
                entry.failed += 1
                report.writes_failed += 1
                report.error(SyncError.of(w.server_id, Stage.WRITE, err, w.identity))
                return
            confirmed[(w.server_id, w.user_key, w.identity)] = result
            missed = [f for f in w.fields if not fx.same(f, result, w.desired)]
            if missed:
                entry.failed += 1
                report.writes_failed += 1
                names = ", ".join(f.value for f in missed)
                report.error(
                    SyncError(
                        w.server_id,
                        Stage.WRITE,
                        ErrorReason.NOT_VERIFIED,
                        w.identity,
                        f"{names} did not take",
                    )
                )
                return
            report.writes_done += 1
            entry.writes += 1
            for sync_field in w.fields:
                entry.writes_by_field[sync_field.value] = (
                    entry.writes_by_field.get(sync_field.value, 0) + 1
                )

        await self._bounded(writes, write)
        return confirmed

    async def _write_title(self, server: _Server, w: PlannedWrite) -> UserData:
        """Send one planned write; on 12.0 a title's fields may go to two versions.

        Returns the title's state afterwards as the next read will show it: the
        primary's answer, with the position (and date) of the version the user
        would resume when those went there (:meth:`Versions.route`).
        """
        caps = server.capabilities
        verify = bool(caps and caps.verify_writes)
        entry = (server.index or {}).get(w.item_id)
        kind = entry[1] if entry is not None else ""
        # A folder's played state is its children's: never written (the plan has
        # no such write, as folders are read without it; this keeps it so).
        fields = frozenset(w.fields) & own_fields(kind)
        if not fields:
            return own_data(kind, w.current or UserData())
        routes: list[tuple[str, frozenset[SyncField], UserData | None]]
        routes = [(w.item_id, fields, None)]
        if caps is not None and caps.versions:
            routes = server.versions.route(w.user_id, w.item_id, w.desired, fields)
        result = w.current or UserData()
        for item_id, part, state in routes:
            if item_id == w.item_id:
                result = await server.client.set_user_data(
                    w.user_id,
                    item_id,
                    w.desired,
                    part,
                    current=w.current,
                    verify=verify,
                )
                continue
            played = await server.client.set_user_data(
                w.user_id, item_id, w.desired, part, current=state, verify=verify
            )
            result = replace(
                result,
                playback_position_ticks=played.playback_position_ticks,
                last_played_date=(
                    played.last_played_date
                    if SyncField.LAST_PLAYED in part
                    else result.last_played_date
                ),
            )
        return own_data(kind, result)

    async def _bounded(
        self,
        writes: list[PlannedWrite],
        action: Callable[[PlannedWrite], Awaitable[None]],
    ) -> None:
        """Run ``action`` for every write, at most N at a time per server."""
        per_server: dict[str, list[PlannedWrite]] = defaultdict(list)
        for w in writes:
            per_server[w.server_id].append(w)

        async def worker(queue: Iterator[PlannedWrite]) -> None:
            for w in queue:
                await action(w)
                # A client answering from a cache must not starve the loop.
                await asyncio.sleep(0)

        workers: list[Awaitable[None]] = []
        for server_id in sorted(per_server):
            queue = iter(per_server[server_id])
            workers.extend(
                worker(queue)
                for _ in range(max(1, self.options.max_concurrent_requests))
            )
        await asyncio.gather(*workers)

    # ---------------------------------------------------------------- history

    async def _record_history(
        self,
        report: SyncReport,
        plan: SyncPlan,
        confirmed: Mapping[tuple[str, str, str], UserData],
        now: datetime,
    ) -> None:
        written = {
            (w.user_key, w.identity)
            for w in plan.writes
            if (w.server_id, w.user_key, w.identity) in confirmed
        }
        if not written:
            return
        # The agreed states before the cycle, of the items written to only.
        agreed_before: dict[tuple[str, str], UserData] = {}
        first: set[tuple[str, str]] = set()
        for count, (user_key, identity, stored_key) in enumerate(plan.outcomes.keys()):
            if (count + 1) % self.options.yield_every == 0:
                await asyncio.sleep(0)
            if (user_key, identity) not in written:
                continue
            if any(p.base is None for p in plan.outcomes[count].participants.values()):
                first.add((user_key, identity))
            stored = self.baseline.users.get(user_key)
            entry = (
                stored.items.get(stored_key)
                if stored is not None and stored_key is not None
                else None
            )
            agreed_before[(user_key, identity)] = (
                entry.agreed if entry is not None else fx.DEFAULT
            )
        rows: list[tuple[Any, ...]] = []
        for count, w in enumerate(plan.writes, 1):
            if count % self.options.yield_every == 0:
                await asyncio.sleep(0)
            after = confirmed.get((w.server_id, w.user_key, w.identity))
            if after is None:
                continue
            rows.append(
                HistoryCycle.row(
                    HistoryWrite(
                        server_id=w.server_id,
                        user_key=w.user_key,
                        user_id=w.user_id,
                        item_id=w.item_id,
                        identity=w.identity,
                        fields=w.fields,
                        before=w.current,
                        after=after,
                        agreed_before=agreed_before[(w.user_key, w.identity)],
                        first=(w.user_key, w.identity) in first,
                    )
                )
            )
        limit = self.options.history_max_writes
        if len(rows) > limit:
            report.history_dropped = len(rows) - limit
            rows = rows[:limit]
        history = self.baseline.history
        history.append(
            HistoryCycle.from_rows(cycle_id=report.cycle_id, at=now, rows=rows)
        )
        while len(history) > max(1, self.options.history_cycles) or (
            sum(c.write_count for c in history) > limit
        ):
            history.pop(0)

    def take_applied_writes(self) -> list[PlannedWrite]:
        """The writes of the last cycle, handed over once (the plan is not kept)."""
        plan, self.last_plan = self.last_plan, None
        return [] if plan is None else list(plan.writes)

    def matches(
        self, *, limit: int = 100, method: MatchMethod | None = None
    ) -> list[dict[str, Any]]:
        """The first matched items of the last cycle (to check matches by hand).

        Each entry names the identity, how it was matched and the item id on every
        server; ``method`` keeps only one kind (e.g. the weaker path matches).
        """
        if self._match is None:
            return []
        found: list[dict[str, Any]] = []
        for item in self._match.items:
            if method is not None and item.method is not method:
                continue
            if len(found) >= limit:
                break
            found.append(
                {
                    "identity": item.identity,
                    "method": item.method.value,
                    "items": dict(sorted(item.members.items())),
                }
            )
        return found

    @property
    def undoable(self) -> list[str]:
        """Ids of the cycles that can be undone, oldest first."""
        return [c.cycle_id for c in self.baseline.history]

    async def undo(
        self, *, now: datetime, cycle_id: str | None = None, dry_run: bool = False
    ) -> SyncReport:
        """Bring every server back to the values from before a cycle.

        The cycle is the newest recorded one by default. Every server holding the
        item returns to the agreed values from before the cycle, the one where the
        change started included (for a change held and then approved, the values
        the written servers had). A value changed by a user since the cycle is
        kept on that server (counted as ``kept``) and reaches the others with the
        next cycle. The agreed state goes back too, so the next cycle neither
        re-applies nor re-holds what was undone. A server that is down (or a
        write that fails) keeps what the cycle left as its confirmed state, so
        the next cycle that reaches it restores it (counted as ``waiting``). An
        item the cycle synced for the first time has no earlier agreed state:
        each written server gets its own value back and the next cycle merges
        them again. The cycle leaves the history: undoing the same ``cycle_id``
        again writes nothing.

        Args:
            now: Time of the undo (report only).
            cycle_id: The cycle to undo (see :attr:`undoable`); the newest if ``None``.
            dry_run: Report the writes without making them.
        """
        report = SyncReport(
            cycle_id=format_datetime(now),
            started=now,
            dry_run=dry_run,
            undo=True,
            limit=self.options.report_limit,
        )
        started = time.monotonic()
        history = self.baseline.history
        position = (
            len(history) - 1
            if cycle_id is None
            else next((i for i, c in enumerate(history) if c.cycle_id == cycle_id), -1)
        )
        if position < 0:
            report.durations["total"] = time.monotonic() - started
            return report
        cycle = history[position]
        report.cycle_id = cycle.cycle_id
        await self._prepare(report, full=False, index="targeted")
        items = await self._undo_targets(cycle)
        current, unreadable = await self._undo_read(report, items)
        todo: list[PlannedWrite] = []
        settled: dict[tuple[str, str, str], UserData] = {}
        changed: dict[tuple[str, str, str], tuple[SyncField, ...]] = {}
        for undo_item in items:
            for server_id in undo_item.absent:
                report.server(server_id).waiting += 1
            for server_id, (user_id, item_id) in sorted(undo_item.members.items()):
                entry = report.server(server_id)
                if (server_id, user_id) in unreadable:
                    entry.waiting += 1
                    continue
                state = current.get((server_id, item_id))
                if state is None:
                    report.vanished += 1
                    continue
                key = (server_id, undo_item.user_key, undo_item.identity)
                kept = undo_item.changed_since(server_id, state)
                if kept:
                    entry.kept += 1
                    changed[key] = kept
                write = self._undo_write(undo_item, server_id, user_id, item_id, state)
                if write is None:
                    if not kept:
                        settled[key] = state
                    continue
                todo.append(write)
        report.writes_planned = len(todo)
        report.planned = [p.to_dict() for p in todo[: report.limit]]
        if dry_run:
            for w in todo:
                report.server(w.server_id).restored += 1
            report.durations["total"] = time.monotonic() - started
            return report
        confirmed = await self._apply(report, todo)
        for w in todo:
            key = (w.server_id, w.user_key, w.identity)
            if key in confirmed:
                report.server(w.server_id).restored += 1
                settled[key] = confirmed[key]
            else:
                report.server(w.server_id).waiting += 1
        for undo_item in items:
            restore_baseline(self.baseline, undo_item, settled, changed)
        del history[position]
        report.durations["total"] = time.monotonic() - started
        return report

    async def _undo_read(
        self, report: SyncReport, items: list[UndoItem]
    ) -> tuple[dict[tuple[str, str], UserData], set[tuple[str, str]]]:
        """Current states of the items on every server.

        Also the (server, user) pairs that could not be read.
        """
        current: dict[tuple[str, str], UserData] = {}
        unreadable: set[tuple[str, str]] = set()
        groups: dict[tuple[str, str], set[str]] = defaultdict(set)
        for undo_item in items:
            for server_id, (user_id, item_id) in undo_item.members.items():
                groups[(server_id, user_id)].add(item_id)

        async def read(server_id: str, user_id: str, ids: set[str]) -> None:
            server = self._servers.get(server_id)
            if server is None or not server.ready:
                unreadable.add((server_id, user_id))
                return
            try:
                found = await self._fetch(server, user_id, ids)
            except JellyfinError as err:
                report.error(SyncError.of(server_id, Stage.UNDO_READ, err))
                unreadable.add((server_id, user_id))
                return
            for item_id, state in found.items():
                current[(server_id, item_id)] = state

        await asyncio.gather(
            *(read(s, u, ids) for (s, u), ids in sorted(groups.items()))
        )
        return current, unreadable

    async def _undo_targets(self, cycle: HistoryCycle) -> list[UndoItem]:
        """The items a cycle wrote, with every server that holds each of them.

        The servers the cycle wrote come from its history; the others (where the
        change started) from the current match.
        """
        per_item: dict[tuple[str, str], list[HistoryWrite]] = defaultdict(list)
        for w in cycle.writes:
            per_item[(w.user_key, w.identity)].append(w)
        ready = {sid: s for sid, s in self._servers.items() if s.ready}
        # Users as last read from every server, a server down now included: a
        # user matched across servers is found even when only one answers.
        users = {
            u.key: u
            for u in match_users(
                {sid: s.users for sid, s in self._servers.items() if s.users},
                self.options,
            ).users
        }
        match = await self._matched() if ready else None
        found: list[UndoItem] = []
        for (user_key, identity), writes in sorted(per_item.items()):
            members = {w.server_id: (w.user_id, w.item_id) for w in writes}
            user = users.get(user_key)
            index = match.resolve(identity) if match is not None else None
            if user is not None and match is not None and index is not None:
                for server_id, item_id in match.items[index].members.items():
                    if server_id in user.ids and server_id not in members:
                        members[server_id] = (user.ids[server_id], item_id)
            stored = self.baseline.user(user_key).items.get(identity)
            absent = tuple(
                sid
                for sid in sorted(stored.confirmed if stored is not None else ())
                if sid not in members
                and sid in self._servers
                and not self._servers[sid].ready
            )
            found.append(
                make_undo_item(writes, members, absent=absent, rank=self.options.rank)
            )
        return found

    def _undo_write(
        self,
        item: UndoItem,
        server_id: str,
        user_id: str,
        item_id: str,
        state: UserData,
    ) -> PlannedWrite | None:
        """The write that restores one server, if any.

        Fields changed since the cycle are kept, and so are fields the server
        may not be written.
        """
        target = item.target(server_id)
        if target is None:
            return None
        wanted, values = target
        kept = item.changed_since(server_id, state)
        caps = self._servers[server_id].capabilities
        writable = set(caps.writable_fields if caps is not None else SyncField)
        if caps is not None and not caps.set_numeric_rating:
            # 10.8 takes likes, dislikes or none: the restored rating as one.
            values = replace(values, rating=fx.likes_rating(values.rating))
            if state.likes != values.likes:
                writable.add(SyncField.RATING)
        fields = tuple(
            f
            for f in wanted
            if f not in kept
            and f in writable
            and self.options.direction(server_id, f).writes
            and not fx.same(f, state, values)
        )
        if not fields:
            return None
        desired = fx.copy_fields(state, values, fields)
        return PlannedWrite(
            server_id=server_id,
            user_key=item.user_key,
            user_id=user_id,
            item_id=item_id,
            identity=item.identity,
            fields=fields,
            current=state,
            desired=desired,
            resets=tuple(f for f in fields if fx.is_reset(f, state, desired)),
        )

    # ----------------------------------------------------------------- report

    def _report_match(self, report: SyncReport, match: ItemMatch) -> None:
        report.matches_by_method = {m.value: n for m, n in match.by_method.items()}
        report.unmatched = dict(match.unmatched)
        report.unmatched_examples = {
            server_id: ids[: report.limit]
            for server_id, ids in sorted(match.unmatched_examples.items())
        }
        report.ambiguous = len(match.ambiguous)
        report.ambiguous_examples = [
            {"server": a.server_id, "key": a.key, "items": list(a.item_ids)}
            for a in match.ambiguous[: report.limit]
        ]
        report.match_conflicts = match.conflicts

    def _report_plan(self, report: SyncReport, plan: SyncPlan) -> None:
        report.items_compared = plan.compared
        report.users_skipped.extend(
            f"{user}: first sync waits for the source server" for user in plan.waiting
        )
        report.writes_planned = len(plan.writes)
        report.held = len(plan.held)
        for w in plan.held:
            report.server(w.server_id).held += 1
        for s in plan.skipped:
            report.server(s.server_id).unsupported += 1
        report.unsupported = len(plan.skipped)
        rules: dict[str, int] = defaultdict(int)
        for c in plan.conflicts:
            rules[c.decision.rule.value] += 1
        report.conflicts_by_rule = dict(rules)
        report.guard = [
            {"user": user, "server": server, "resets": resets, "items_with_data": items}
            for (user, server), (resets, items) in sorted(plan.guard.items())
        ]
        report.fill_lists(
            planned=plan.writes,
            held=plan.held,
            conflicts=plan.conflicts,
            unsupported=plan.skipped,
        )
