"""Reading and writing one user's data for one item.

:mod:`.writes` plans the requests (pure); :class:`UserDataApi` reads the current
state when the plan needs it, sends the plan's operations on the routes of the
server's version and, when asked or when the version needs it, reads the result
back and compares. Routes (API-NOTES §3): the generic ``/UserItems/{id}/UserData``
update and ``/User*Items/{id}?userId=`` on 10.9+, ``/Users/{userId}/...`` on 10.8.
"""

from collections.abc import Collection, Mapping
from typing import Any

from .exceptions import JellyfinNotFoundError, JellyfinResponseError
from .items_api import ItemsApi
from .models import Capabilities, SyncField, UserData, format_datetime
from .transport import Retry
from .wire import check_id, parse_answer, query_bool
from .write_errors import JellyfinVerificationError
from .writes import OpKind, WriteOp, needs_current, plan_write, values_match


class UserDataApi(ItemsApi):
    """User data of single items: read, write, verify."""

    async def get_user_data(self, user_id: str, item_id: str) -> UserData:
        """Read one user's data for one item.

        10.9+: ``GET /UserItems/{itemId}/UserData``; 10.8 has no such route and
        answers 500 for an unknown item on the single-item route, so it lists the
        item by id instead.

        Raises:
            JellyfinNotFoundError: no such item (or user) for this user.
        """
        check_id(user_id, "user id")
        check_id(item_id, "item id")
        capabilities = await self._capabilities()
        if capabilities.generic_user_data:
            path = f"/UserItems/{item_id}/UserData"
            data = await self._request("GET", path, params={"userId": user_id})
            return parse_answer(UserData.from_json, data, f"GET {path}")
        items = await self.get_items(user_id, [item_id], fields=())
        if not items:
            raise JellyfinNotFoundError(f"item {item_id} not found for user {user_id}")
        if items[0].user_data is None:
            raise JellyfinResponseError(f"item {item_id} came without UserData")
        return items[0].user_data

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
        """Make the server's values of ``fields`` equal those of ``desired``.

        10.9+ sends one generic update with every wanted non-null value (the full
        wanted state, as 10.11 needs), clears a rating with ``DELETE .../Rating`` and
        a last-played date with ``MarkUnplayed`` followed by re-writing played, play
        count and position. 10.8 uses the played/unplayed, favourite and likes
        routes; a rating maps to likes (>= 6.5 -> 10, lower -> 1, ``None`` -> clear).

        Args:
            user_id: The user whose data to write.
            item_id: The item.
            desired: Wanted values; only ``fields`` are read.
            fields: Fields to write.
            current: The server's state as last read: skips no-op writes and
                predicts 10.8 side effects. Read from the server when needed.
            verify: Read the item back and compare (always done on 10.11.0-10.11.9).

        Returns:
            The server's user data afterwards (from the last answer or a read-back).

        Raises:
            JellyfinUnsupportedError: the version cannot give a field the wanted
                value (e.g. a position on 10.8); nothing was written.
            JellyfinVerificationError: the read-back differs from what was written.
        """
        check_id(user_id, "user id")
        check_id(item_id, "item id")
        if desired.rating is not None and not 0 <= desired.rating <= 10:
            raise ValueError("rating must be between 0 and 10")
        wanted = frozenset(SyncField(f) for f in fields)
        capabilities = await self._capabilities()
        if current is None and needs_current(capabilities, desired, wanted):
            current = await self.get_user_data(user_id, item_id)
        plan = plan_write(capabilities, desired, wanted, current)
        result: UserData | None = None
        for op in plan.ops:
            result = await self._send_op(capabilities, user_id, item_id, op)
        if plan.ops and capabilities.verify_writes:
            verify = True
        if result is None and current is not None and not verify:
            return current
        if result is None or verify:
            result = await self.get_user_data(user_id, item_id)
        if verify:
            likes_only = not capabilities.set_numeric_rating
            wrong = [
                f
                for f in sorted(plan.fields)
                if not values_match(f, result, plan.expected, likes_only=likes_only)
            ]
            if wrong:
                names = ", ".join(f.value for f in wrong)
                raise JellyfinVerificationError(
                    f"item {item_id}: the server holds other values for {names} "
                    "than were written",
                    fields=wrong,
                    expected=plan.expected,
                    actual=result,
                )
        return result

    async def _send_op(
        self, capabilities: Capabilities, user_id: str, item_id: str, op: WriteOp
    ) -> UserData | None:
        """Send one planned operation; the user data it answers with, if any."""
        generic = capabilities.generic_user_data
        query: dict[str, str] = {"userId": user_id} if generic else {}
        prefix = "" if generic else f"/Users/{user_id}"
        body: Mapping[str, Any] | None = None
        match op.kind:
            case OpKind.UPDATE:
                method, path, body = "POST", f"/UserItems/{item_id}/UserData", op.body
            case OpKind.MARK_PLAYED | OpKind.MARK_UNPLAYED:
                method = "POST" if op.kind is OpKind.MARK_PLAYED else "DELETE"
                path = (
                    f"/UserPlayedItems/{item_id}"
                    if generic
                    else f"{prefix}/PlayedItems/{item_id}"
                )
                if op.date_played is not None:
                    query["datePlayed"] = format_datetime(op.date_played)
            case OpKind.FAVORITE | OpKind.UNFAVORITE:
                method = "POST" if op.kind is OpKind.FAVORITE else "DELETE"
                path = (
                    f"/UserFavoriteItems/{item_id}"
                    if generic
                    else f"{prefix}/FavoriteItems/{item_id}"
                )
            case OpKind.SET_LIKES | OpKind.CLEAR_RATING:
                method = "POST" if op.kind is OpKind.SET_LIKES else "DELETE"
                path = (
                    f"/UserItems/{item_id}/Rating"
                    if generic
                    else f"{prefix}/Items/{item_id}/Rating"
                )
                if op.likes is not None:
                    query["likes"] = query_bool(op.likes)
        data = await self._request(
            method,
            path,
            params=query,
            body=body,
            retry=Retry.ALWAYS if op.repeatable else Retry.UNSENT,
        )
        if data is None:
            return None
        return parse_answer(UserData.from_json, data, f"{method} {path}")
