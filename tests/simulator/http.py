"""A deliberately thin raw-HTTP helper for simulator tests (not the project's client).

It sends exactly what a test asks for, so tests pin the *server's* behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession

from .server import SimulatedServer


@dataclass(slots=True)
class Reply:
    """A response: status, content type, raw text and (when JSON) the payload."""

    status: int
    content_type: str
    text: str
    headers: dict[str, str]

    def json(self) -> Any:
        """Decode the body as JSON."""
        import json

        return json.loads(self.text)


class RawClient:
    """Sends requests to one simulated server, authenticating like a modern client."""

    def __init__(
        self, session: ClientSession, server: SimulatedServer, token: str | None = None
    ) -> None:
        """Use ``token`` (default: the server's API key) in the Authorization header."""
        self.session = session
        self.server = server
        self.token = server.api_key if token is None else token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.token:
            headers["Authorization"] = (
                f'MediaBrowser Client="sim-tests", Device="pytest", '
                f'DeviceId="sim-tests", Version="1", Token="{self.token}"'
            )
        headers.update(extra or {})
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Reply:
        """Send one request and read the whole answer."""
        clean = {
            k: ("true" if v is True else "false" if v is False else str(v))
            for k, v in (params or {}).items()
            if v is not None
        }
        sent_headers = self._headers(headers) if auth else dict(headers or {})
        async with self.session.request(
            method,
            self.server.url + path,
            params=clean,
            json=json_body,
            headers=sent_headers,
        ) as resp:
            text = await resp.text()
            return Reply(resp.status, resp.content_type, text, dict(resp.headers))

    async def get(self, path: str, **kwargs: Any) -> Reply:
        """GET."""
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        """POST."""
        return await self.request("POST", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        """DELETE."""
        return await self.request("DELETE", path, **kwargs)

    # Version-aware shortcuts -----------------------------------------------------

    @property
    def modern(self) -> bool:
        """Whether the server has the 10.9+ query-parameter routes."""
        return self.server.version_tuple[:2] >= (10, 9)

    async def items(self, user: str | None, **params: Any) -> Reply:
        """List items for a user (by name) through the version's canonical route."""
        user_id = self.server.users[user] if user else None
        if self.modern or user_id is None:
            return await self.get("/Items", params={"userId": user_id, **params})
        return await self.get(f"/Users/{user_id}/Items", params=params)

    async def played(
        self, user: str, item_id: str, *, on: bool = True, date: str | None = None
    ) -> Reply:
        """Mark played/unplayed through the version's canonical route."""
        user_id = self.server.users[user]
        method = "POST" if on else "DELETE"
        params = {"datePlayed": date} if on and date else {}
        if self.modern:
            return await self.request(
                method,
                f"/UserPlayedItems/{item_id}",
                params={"userId": user_id, **params},
            )
        return await self.request(
            method, f"/Users/{user_id}/PlayedItems/{item_id}", params=params
        )

    async def favorite(self, user: str, item_id: str, *, on: bool = True) -> Reply:
        """Set/clear favourite through the version's canonical route."""
        user_id = self.server.users[user]
        method = "POST" if on else "DELETE"
        if self.modern:
            return await self.request(
                method, f"/UserFavoriteItems/{item_id}", params={"userId": user_id}
            )
        return await self.request(method, f"/Users/{user_id}/FavoriteItems/{item_id}")

    async def likes(self, user: str, item_id: str, likes: bool | None) -> Reply:
        """POST likes (or DELETE when None) through the canonical route."""
        user_id = self.server.users[user]
        method = "DELETE" if likes is None else "POST"
        params = {} if likes is None else {"likes": likes}
        if self.modern:
            return await self.request(
                method,
                f"/UserItems/{item_id}/Rating",
                params={"userId": user_id, **params},
            )
        return await self.request(
            method, f"/Users/{user_id}/Items/{item_id}/Rating", params=params
        )

    async def update(self, user: str, item_id: str, body: Any) -> Reply:
        """POST the 10.9+ generic user-data update."""
        return await self.post(
            f"/UserItems/{item_id}/UserData",
            params={"userId": self.server.users[user]},
            json_body=body,
        )
