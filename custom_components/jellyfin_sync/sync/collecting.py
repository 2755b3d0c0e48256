"""What a cycle compares: every selected user's data on every server.

A whole cycle sweeps each user's library on each server, then fetches the items the
baseline says had data but the sweep missed (un-watched, or vanished). A targeted
cycle reads only the items named, with their matches on the other servers.
"""

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Collection, Mapping
from datetime import datetime

from custom_components.jellyfin_sync.jellyfin.exceptions import (
    JellyfinConnectionError,
    JellyfinError,
    JellyfinResponseError,
    JellyfinServerError,
)
from custom_components.jellyfin_sync.jellyfin.models import UserData, normalize_id

from . import fields as fx
from .kinds import LibraryMode
from .matching import ItemMatch, MatchedUser, Steps, build_aliases
from .pacing import drive
from .plan import UserSnapshot
from .reading import Reader
from .report import Stage, SyncError, SyncReport
from .state import EngineState, ServerState

#: User key -> server id -> the user's states there.
type _Data = dict[str, dict[str, fx.StateTable]]
#: User key -> server id -> ids of the items found gone.
type _Vanished = dict[str, dict[str, frozenset[str]]]


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


class Collector:
    """Reads what a cycle compares into one snapshot per user."""

    def __init__(self, state: EngineState, reader: Reader) -> None:
        """Work on the engine's shared state through ``reader``."""
        self.state = state
        self.reader = reader

    # ------------------------------------------------------------ whole cycle

    async def collect_full(
        self,
        report: SyncReport,
        selected: list[MatchedUser],
        *,
        now: datetime,
        full: bool = False,
    ) -> list[UserSnapshot]:
        """Every selected user's data on every server of theirs.

        The sweeps run first; the items they missed that the baseline knows with
        data are then fetched, which tells an un-watch from an item that vanished.
        """
        await self._recheck_gone(report, selected)
        data: _Data = defaultdict(dict)
        await asyncio.gather(
            *(
                self._sweep_user(
                    report, data, user, self.state.servers[s], now=now, full=full
                )
                for user in selected
                for s in user.ids
            )
        )
        vanished = await self._confirm_suspects(report, selected, data)
        return [
            UserSnapshot(
                user=user,
                readable=frozenset(data[user.key]),
                data=data[user.key],
                vanished=vanished.get(user.key, {}),
            )
            for user in selected
        ]

    async def _sweep_user(
        self,
        report: SyncReport,
        data: _Data,
        user: MatchedUser,
        server: ServerState,
        *,
        now: datetime,
        full: bool,
    ) -> None:
        """Sweep one user on one server, or list the whole library when it is due."""
        user_id = user.ids[server.server_id]
        everything = full or self.reader.listing_due(server, user_id, now)
        try:
            if everything:
                async with server.listing:
                    found = await self.reader.sweep(server, user_id, everything=True)
            else:
                found = await self.reader.sweep(server, user_id)
            data[user.key][server.server_id] = found
            if everything:
                server.listed[user_id] = now
                report.server(server.server_id).full_listings += 1
        except JellyfinError as err:
            _read_failed(report, server.server_id, Stage.READ_USER, err, user.name)

    async def _confirm_suspects(
        self, report: SyncReport, selected: list[MatchedUser], data: _Data
    ) -> _Vanished:
        """Fetch the items the sweeps missed (:meth:`_suspects`); return those gone."""
        match = await self.state.matched()
        vanished: _Vanished = defaultdict(dict)
        jobs: list[Awaitable[None]] = []
        for user in selected:
            suspects = await drive(self._suspects(user, data[user.key], match))
            for server_id, ids in sorted(suspects.items()):
                server = self.state.servers[server_id]
                jobs.append(self._confirm(report, data, vanished, user, server, ids))
        await asyncio.gather(*jobs)
        return vanished

    async def _confirm(
        self,
        report: SyncReport,
        data: _Data,
        vanished: _Vanished,
        user: MatchedUser,
        server: ServerState,
        ids: set[str],
    ) -> None:
        """Fetch one user's suspects on one server; drop those gone from the index.

        When the fetch fails the server's sweep is dropped too: without it a
        missed item would read as un-watched.
        """
        try:
            found = await self.reader.fetch(server, user.ids[server.server_id], ids)
        except JellyfinError as err:
            _read_failed(report, server.server_id, Stage.READ_USER, err, user.name)
            del data[user.key][server.server_id]
            return
        data[user.key][server.server_id].update(found)
        gone = frozenset(ids - found.keys())
        if gone:
            vanished[user.key][server.server_id] = gone
            report.vanished += len(gone)
            self.state.forget(server, gone)

    async def _recheck_gone(
        self, report: SyncReport, selected: list[MatchedUser]
    ) -> None:
        """Look up the items that vanished in an earlier cycle (a rescan may be over).

        An item that is back returns to the index, so its data is compared again in
        this cycle: without this, a change made to it on any server while it was
        missing would wait for the next full index read.
        """

        async def one(server: ServerState, user_id: str) -> None:
            try:
                found = await self.reader.fetch(server, user_id, set(server.gone))
            except JellyfinError as err:
                _read_failed(report, server.server_id, Stage.LOOKUP_VANISHED, err, "")
                return
            server.gone.difference_update(found)

        jobs: list[Awaitable[None]] = []
        for server in self.state.servers.values():
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
        stored = self.state.baseline.users.get(user.key)
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
            if count % self.state.options.yield_every == 0:
                yield
        return suspects

    # --------------------------------------------------------------- targeted

    async def collect_targets(
        self,
        report: SyncReport,
        selected: list[MatchedUser],
        targets: Mapping[str, Collection[tuple[str, str]]],
    ) -> list[UserSnapshot]:
        """The data of the items named (and their matches) for the selected users.

        ``targets``: server id -> ``(user id, item id)`` pairs on that server.
        """
        by_id = {
            (server_id, user_id): user
            for user in selected
            for server_id, user_id in user.ids.items()
        }
        wanted, unknown = await self._wanted(by_id, targets)
        if self.state.options.libraries.mode is not LibraryMode.ALL:
            # An item the scoped listings do not know may be in a library left
            # out: it is not read; the next cycle's listings find it if it is in.
            unknown = []
        await self._find_unknown(report, by_id, wanted, unknown)
        match = await self.state.matched()
        return [
            await self._read_targets(report, user, wanted[user.key], match)
            for user in selected
            if user.key in wanted
        ]

    async def _wanted(
        self,
        by_id: Mapping[tuple[str, str], MatchedUser],
        targets: Mapping[str, Collection[tuple[str, str]]],
    ) -> tuple[dict[str, set[tuple[str, str]]], list[tuple[ServerState, str, str]]]:
        """The targets by user key, as ``(server id, item id)``.

        Also the ``(server, user id, item id)`` of the targets no match knows.
        Targets of servers that did not answer or of users not selected are left
        out.
        """
        wanted: dict[str, set[tuple[str, str]]] = defaultdict(set)
        unknown: list[tuple[ServerState, str, str]] = []
        match = await self.state.matched()
        for server_id in sorted(targets):
            server = self.state.servers.get(server_id)
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
        return wanted, unknown

    async def _find_unknown(
        self,
        report: SyncReport,
        by_id: Mapping[tuple[str, str], MatchedUser],
        wanted: dict[str, set[tuple[str, str]]],
        unknown: list[tuple[ServerState, str, str]],
    ) -> None:
        """Read the targets no match knows, so that they join the index.

        An alternate version no listing shows (12.0) is replaced in ``wanted`` by
        its title.
        """
        for server, user_id, item_id in unknown:
            try:
                found = await self.reader.fetch(server, user_id, [item_id])
                if not found and server.capabilities and server.capabilities.versions:
                    title = await self.reader.title_of(server, user_id, item_id)
                    target = by_id[(server.server_id, user_id)]
                    if title is not None:
                        wanted[target.key].discard((server.server_id, item_id))
                        wanted[target.key].add((server.server_id, title))
            except JellyfinError as err:
                report.error(SyncError.of(server.server_id, Stage.READ_TARGET, err))

    async def _read_targets(
        self,
        report: SyncReport,
        user: MatchedUser,
        wanted: set[tuple[str, str]],
        match: ItemMatch,
    ) -> UserSnapshot:
        """One user's snapshot of the matched items the targets belong to."""
        scope: set[int] = set()
        for server_id, item_id in wanted:
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
        await asyncio.gather(
            *(
                self._read_target(report, user, server_id, ids, data, vanished)
                for server_id, ids in sorted(per_server.items())
            )
        )
        return UserSnapshot(
            user=user,
            readable=frozenset(data),
            data=data,
            vanished=vanished,
            scope=frozenset(scope),
        )

    async def _read_target(
        self,
        report: SyncReport,
        user: MatchedUser,
        server_id: str,
        ids: set[str],
        data: dict[str, fx.StateTable],
        vanished: dict[str, frozenset[str]],
    ) -> None:
        """Read one user's targeted items on one server into ``data``."""
        # Users come from servers that answered: every one is ready.
        server = self.state.servers[server_id]
        try:
            found = await self.reader.fetch(server, user.ids[server_id], ids)
            await self.reader.overlay_versions(
                server, user.ids[server_id], found, complete=False
            )
        except JellyfinError as err:
            _read_failed(report, server_id, Stage.READ_USER, err, user.name)
            return
        data[server_id] = found
        if gone := frozenset(ids - found.keys()):
            vanished[server_id] = gone
            report.vanished += len(gone)
