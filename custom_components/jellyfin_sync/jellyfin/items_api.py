"""Listing and paging of a user's items, and reads of chosen items.

Listings page with ``startIndex``/``limit`` and ``sortBy=DateCreated,SortName``,
images off and ``enableTotalRecordCount`` only on the first page. Jellyfin's order is
not unique, so offsets drift: pages are de-duplicated by id and, when that total
shows items were skipped, a second pass fetches the missing ones. Routes follow the
server version: ``/Users/{userId}/Items`` on 10.8, ``/Items?userId=`` on 10.9+.
"""

import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .const import DEFAULT_FIELDS, DEFAULT_ITEM_TYPES, IDS_PER_REQUEST, SORT_BY
from .models import Item, format_datetime
from .server_api import ServerApi
from .wire import check_id, page_entries, parse_answer, query_bool

#: Items of a listing page turned into models (and handed on) per turn of the loop.
PARSE_CHUNK = 100


def listing_query(
    *,
    item_types: Sequence[str] | None,
    fields: Sequence[str],
    enable_user_data: bool,
    is_played: bool | None,
    is_favorite: bool | None,
    filters: Sequence[str],
    ids: Sequence[str] | None,
    parent_id: str | None,
    sort_by: Sequence[str],
    descending: bool,
    saved_since: datetime | None,
) -> dict[str, str] | None:
    """The query of an item listing, without its route and paging parameters.

    The arguments are :meth:`ItemsApi.iter_items`'s.

    Returns:
        The query, or None for an empty ``ids`` (which would list everything).

    Raises:
        ValueError: an item or parent id that cannot be one.
    """
    query = {
        "recursive": "true",
        "fields": ",".join(fields),
        "enableUserData": query_bool(enable_user_data),
        "enableImages": "false",
        "collapseBoxSetItems": "false",
        "sortBy": ",".join(sort_by) if sort_by else SORT_BY,
        "sortOrder": "Descending" if descending else "Ascending",
    }
    if saved_since is not None:
        # minDateLastSaved alone is broken before 10.11 (API-NOTES §2.4).
        query["minDateLastSavedForUser"] = format_datetime(saved_since)
    if item_types:
        query["includeItemTypes"] = ",".join(item_types)
    if ids is None:
        query["excludeLocationTypes"] = "Virtual"
    elif not ids:
        return None  # an empty ids= would list the whole library
    else:
        query["ids"] = ",".join(check_id(i, "item id") for i in ids)
    if is_played is not None:
        query["isPlayed"] = query_bool(is_played)
    if is_favorite is not None:
        query["isFavorite"] = query_bool(is_favorite)
    if filters:
        query["filters"] = ",".join(filters)
    if parent_id is not None:
        query["parentId"] = check_id(parent_id, "parent id")
    return query


@dataclass(slots=True)
class _Progress:
    """What one listing has handed on so far, over its passes."""

    # A dict, not a set: a dict of strings is untracked by the garbage
    # collector, a set of 100k ids would be scanned by each of its full passes.
    seen: dict[str, None] = field(default_factory=dict)
    """Ids of the items yielded."""
    total: int | None = None
    """``TotalRecordCount`` of the first page, when it was asked for."""

    @property
    def missing(self) -> bool:
        """The server counted more items than were yielded."""
        return self.total is not None and len(self.seen) < self.total

    def take_new(
        self, entries: Sequence[Any], raw_ids: list[str], what: str
    ) -> list[Item]:
        """Parse ``entries``, note every id in ``raw_ids``; return the unseen items."""
        chunk: list[Item] = []
        for entry in entries:
            item = parse_answer(Item.from_json, entry, what)
            raw_ids.append(item.id)
            if item.id not in self.seen:
                self.seen[item.id] = None
                chunk.append(item)
        return chunk


class ItemsApi(ServerApi):
    """Item listings (paged, de-duplicated) and reads of single items."""

    _page_size: int
    """Default ``limit`` of listing pages (set by the client's constructor)."""

    async def iter_items(
        self,
        user_id: str | None,
        *,
        item_types: Sequence[str] | None = DEFAULT_ITEM_TYPES,
        fields: Sequence[str] = DEFAULT_FIELDS,
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
    ) -> AsyncGenerator[list[Item]]:
        """Yield a user's items page by page, each id once.

        Jellyfin pages with OFFSET/LIMIT over an order that is not unique, so an item
        can show up on two pages or on none. Pages are de-duplicated by id; with
        ``check_total`` the first page asks for the total count and, when the pass
        saw fewer unique items, one more pass yields the missed ones.

        Args:
            user_id: Whose user data to include; ``None`` lists without user data.
            item_types: ``includeItemTypes`` (Jellyfin ``BaseItemKind`` names);
                empty or ``None`` for every type.
            fields: Optional ``BaseItemDto`` fields to include.
            enable_user_data: Include ``UserData``.
            is_played: Only played (``True``) or unplayed (``False``) items.
            is_favorite: Only favourites or non-favourites.
            filters: ``ItemFilter`` names, e.g. ``IsResumable``, ``Likes``.
            ids: Only these item ids.
            parent_id: Only items below this library or folder.
            page_size: ``limit`` per request; default the client's page size.
            check_total: Re-check the unique count against ``TotalRecordCount``.
            sort_by: ``ItemSortBy`` names (default ``DateCreated,SortName``); a
                caller that stops early (e.g. at the first item never played, with
                ``DatePlayed`` descending) closes the iterator.
            descending: Sort descending (one order for every key, as Jellyfin does).
            saved_since: ``minDateLastSavedForUser``: only items whose row was saved
                (created by a scan and refreshed, or metadata changed) at or after
                this server time. It never reflects user data (API-NOTES §2.4).

        Yields:
            Non-empty lists of items not yielded before (at most ``PARSE_CHUNK``
            each; a page of the listing may come as several lists).
        """
        if user_id is None and (
            is_played is not None or is_favorite is not None or filters
        ):
            raise ValueError("played/favourite filters need a user")
        limit = page_size or self._page_size
        if limit < 1:
            raise ValueError("page size must be positive")
        query = listing_query(
            item_types=item_types,
            fields=fields,
            enable_user_data=enable_user_data,
            is_played=is_played,
            is_favorite=is_favorite,
            filters=filters,
            ids=ids,
            parent_id=parent_id,
            sort_by=sort_by,
            descending=descending,
            saved_since=saved_since,
        )
        if query is None:
            return
        path, route_query = await self._items_route(user_id)
        listing = self._list_passes(path, query | route_query, limit, check_total)
        async with aclosing(listing):
            async for chunk in listing:
                yield chunk

    async def _list_passes(
        self, path: str, query: Mapping[str, str], limit: int, check_total: bool
    ) -> AsyncGenerator[list[Item]]:
        """Yield the unseen items of one pass, and of a second when items were missed.

        Only with ``check_total`` is the total known, and so a miss.
        """
        progress = _Progress()
        for first_pass in (True, False):
            listing = self._list_pass(
                path,
                query,
                limit,
                progress,
                ask_total=check_total and first_pass,
                stop_at_total=not first_pass,
            )
            async with aclosing(listing):
                async for chunk in listing:
                    yield chunk
            if not progress.missing:
                return

    async def _list_pass(
        self,
        path: str,
        query: Mapping[str, str],
        limit: int,
        progress: _Progress,
        *,
        ask_total: bool,
        stop_at_total: bool,
    ) -> AsyncGenerator[list[Item]]:
        """Page through the listing once, yielding items ``progress`` has not seen.

        Args:
            path: The items route.
            query: The listing's query, paging parameters left out.
            limit: Items per page.
            progress: Ids seen and the total, shared by the listing's passes.
            ask_total: Ask the first page for the total count (noted in
                ``progress``).
            stop_at_total: Stop once every counted item was seen.
        """
        what = f"GET {path}"
        start = 0
        previous: list[str] = []
        while True:
            count = ask_total and start == 0
            page_query = {
                **query,
                "startIndex": str(start),
                "limit": str(limit),
                "enableTotalRecordCount": query_bool(count),
            }
            data = await self._request("GET", path, params=page_query)
            entries, reported = page_entries(data, what)
            if count:
                progress.total = reported
            raw_ids: list[str] = []
            # A page is turned into models and handed on PARSE_CHUNK items at a
            # time: the event loop runs in between, and only a chunk's models are
            # alive at once (a 2,000-item page of models would outlive young
            # garbage collections and push for full ones).
            for first in range(0, len(entries), PARSE_CHUNK):
                if first:
                    await asyncio.sleep(0)
                chunk = progress.take_new(
                    entries[first : first + PARSE_CHUNK], raw_ids, what
                )
                if chunk:
                    yield chunk
            if len(entries) < limit or raw_ids == previous:
                # A short page ends the listing; the same page twice means the
                # server ignores startIndex, so stop instead of looping.
                return
            if stop_at_total and not progress.missing:
                return
            previous = raw_ids
            start += len(entries)

    async def _items_route(self, user_id: str | None) -> tuple[str, dict[str, str]]:
        """The path of item listings and the query that names the user, if any."""
        if user_id is None:
            return "/Items", {}
        check_id(user_id, "user id")
        if (await self._capabilities()).generic_user_data:
            return "/Items", {"userId": user_id}
        return f"/Users/{user_id}/Items", {}

    async def get_items(
        self,
        user_id: str | None,
        ids: Sequence[str],
        *,
        fields: Sequence[str] = DEFAULT_FIELDS,
    ) -> list[Item]:
        """Fetch specific items (any type) with their user data.

        Long id lists are split into requests of 100 ids, sent concurrently within
        the client's concurrency limit. Unknown ids are left out of the result.
        """
        wanted = list(dict.fromkeys(ids))
        chunks = [
            wanted[start : start + IDS_PER_REQUEST]
            for start in range(0, len(wanted), IDS_PER_REQUEST)
        ]

        async def fetch(chunk: list[str]) -> list[Item]:
            found: list[Item] = []
            async for page in self.iter_items(
                user_id,
                item_types=None,
                fields=fields,
                ids=chunk,
                # One more than asked for: a complete answer is a short page.
                page_size=len(chunk) + 1,
                check_total=False,
            ):
                found.extend(page)
            return found

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(fetch(chunk)) for chunk in chunks]
        except ExceptionGroup as errors:
            # Callers catch JellyfinError, not groups: raise the first failure
            # (the task group has cancelled the other chunks).
            raise errors.exceptions[0] from None
        result: dict[str, Item] = {}
        for task in tasks:
            for item in task.result():
                result.setdefault(item.id, item)
        return list(result.values())

    async def get_resume(
        self,
        user_id: str,
        *,
        item_types: Sequence[str] | None = DEFAULT_ITEM_TYPES,
        parent_id: str | None = None,
    ) -> list[Item]:
        """A user's items in progress, as ``GET /UserItems/Resume`` lists them (10.9+).

        On 12.0 an alternate version in progress is listed as itself, with its own
        position, one version per title (API-NOTES §9.2); ``/Items`` never lists it.
        """
        check_id(user_id, "user id")
        query = {
            "userId": user_id,
            "enableUserData": "true",
            "enableImages": "false",
            "enableTotalRecordCount": "false",
        }
        if item_types:
            query["includeItemTypes"] = ",".join(item_types)
        if parent_id is not None:
            query["parentId"] = check_id(parent_id, "parent id")
        what = "GET /UserItems/Resume"
        data = await self._request("GET", "/UserItems/Resume", params=query)
        entries, _ = page_entries(data, what)
        return [parse_answer(Item.from_json, entry, what) for entry in entries]

    async def get_item(self, user_id: str, item_id: str) -> Item:
        """One item with every field (``MediaSources`` included) and the user's data.

        Finds the title of an alternate version, which no listing shows on 12.0.

        Raises:
            JellyfinNotFoundError: no such item for this user.
        """
        check_id(user_id, "user id")
        check_id(item_id, "item id")
        if (await self._capabilities()).generic_user_data:
            path, query = f"/Items/{item_id}", {"userId": user_id}
        else:
            path, query = f"/Users/{user_id}/Items/{item_id}", {}
        data = await self._request("GET", path, params=query)
        return parse_answer(Item.from_json, data, f"GET {path}")
