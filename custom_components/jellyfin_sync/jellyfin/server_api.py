"""The server itself: its identity and version, users, libraries and plugins.

:class:`ServerApi` adds to the transport the server's version, which decides the
routes of every user-scoped call (API-NOTES §1.2, §3): the first info call caches it,
and :meth:`ServerApi._capabilities` makes one ``GET /System/Info`` when nothing is
cached yet. The other calls here are the administrative listings the options screen
and the webhook set-up read.
"""

import asyncio
from collections.abc import Mapping
from typing import Any

from .exceptions import (
    JellyfinAuthError,
    JellyfinError,
    JellyfinRequestError,
    JellyfinResponseError,
)
from .models import MIN_SUPPORTED_VERSION, Capabilities, Library, ServerInfo, User
from .plugins import Plugin
from .transport import HttpTransport, Retry
from .wire import check_id, page_entries, parse_answer
from .write_errors import JellyfinUnsupportedError


class ServerApi(HttpTransport):
    """Server-wide endpoints and the cached server version."""

    _server_info: ServerInfo | None
    """The last info call's answer (set to None by the client's constructor)."""
    _info_lock: asyncio.Lock
    """Lets one task make the info call that the others wait for."""

    @property
    def server_info(self) -> ServerInfo | None:
        """Server identity from the last info call, if any."""
        return self._server_info

    @property
    def capabilities(self) -> Capabilities:
        """What the API key can write on this server's version.

        Raises:
            JellyfinError: no info call was made yet (version unknown).
            JellyfinUnsupportedError: the version is older than 10.8.
        """
        info = self._server_info
        if info is None:
            raise JellyfinError(
                "server version unknown: call get_public_info() or get_system_info()"
            )
        if info.version_tuple[:2] < MIN_SUPPORTED_VERSION:
            raise JellyfinUnsupportedError(
                f"Jellyfin {info.version} is not supported (10.8 or newer is needed)"
            )
        return Capabilities.for_version(info.version_tuple)

    async def _capabilities(self) -> Capabilities:
        """:attr:`capabilities`, after one ``GET /System/Info`` if none is cached."""
        if self._server_info is None:
            async with self._info_lock:
                if self._server_info is None:
                    await self.get_system_info()
        return self.capabilities

    async def get_public_info(self) -> ServerInfo:
        """Read ``/System/Info/Public`` without authentication.

        Raises:
            JellyfinResponseError: the answer is not a Jellyfin server's.
        """
        data = await self._request("GET", "/System/Info/Public", auth=False)
        info = parse_answer(ServerInfo.from_json, data, "GET /System/Info/Public")
        if info.product_name != "Jellyfin Server":
            raise JellyfinResponseError(
                "GET /System/Info/Public: not a Jellyfin server "
                f"(product {info.product_name!r})"
            )
        self._server_info = info
        return info

    async def get_system_info(self) -> ServerInfo:
        """Read ``/System/Info`` with the key.

        Raises:
            JellyfinAuthError: the key is invalid or revoked.
        """
        data = await self._request("GET", "/System/Info")
        info = parse_answer(ServerInfo.from_json, data, "GET /System/Info")
        self._server_info = info
        return info

    async def validate_admin_key(self) -> ServerInfo:
        """Check that the key works and is an (always administrative) API key.

        ``/Users/Me`` answers 400 for an API key, which has no user behind it, and
        200 for a user's session token (API-NOTES §1.3).

        Raises:
            JellyfinAuthError: the key is invalid, or is a user token.
        """
        info = await self.get_system_info()
        try:
            await self._request("GET", "/Users/Me")
        except JellyfinRequestError:
            return info
        raise JellyfinAuthError(
            "the token belongs to a user session, not an API key "
            "(create one in Dashboard > API Keys)"
        )

    async def get_users(
        self, *, include_disabled: bool = False, include_hidden: bool = True
    ) -> list[User]:
        """List the server's users (``GET /Users``), ordered by name."""
        data = await self._request("GET", "/Users")
        if not isinstance(data, list):
            raise JellyfinResponseError("GET /Users: the answer is not a JSON list")
        users = [parse_answer(User.from_json, entry, "GET /Users") for entry in data]
        return [
            user
            for user in users
            if (include_disabled or not user.is_disabled)
            and (include_hidden or not user.is_hidden)
        ]

    async def get_libraries(self) -> list[Library]:
        """Every library of the server (``GET /Library/VirtualFolders``, admin)."""
        what = "GET /Library/VirtualFolders"
        data = await self._request("GET", "/Library/VirtualFolders")
        if not isinstance(data, list):
            raise JellyfinResponseError(f"{what}: the answer is not a list")
        return [parse_answer(Library.from_json, entry, what) for entry in data]

    async def get_views(self, user_id: str) -> list[Library]:
        """The libraries a user can open (``GET /UserViews``, 10.8 ``/Users/{id}/Views``).

        A listing below a library the user cannot open is refused as
        unauthorised, so listings per library keep to these.
        """
        check_id(user_id, "user id")
        # Libraries the user hid from "My Media" are still theirs to open.
        query = {"includeHidden": "true"}
        if (await self._capabilities()).generic_user_data:
            path = "/UserViews"
            query["userId"] = user_id
        else:
            path = f"/Users/{user_id}/Views"
        data = await self._request("GET", path, params=query)
        entries, _ = page_entries(data, f"GET {path}")
        return [parse_answer(Library.from_json, e, f"GET {path}") for e in entries]

    # --------------------------------------------------------------- plugins

    async def get_plugins(self) -> list[Plugin]:
        """The installed plugins (``GET /Plugins``, administrators)."""
        what = "GET /Plugins"
        data = await self._request("GET", "/Plugins")
        if not isinstance(data, list):
            raise JellyfinResponseError(f"{what}: the answer is not a list")
        return [parse_answer(Plugin.from_json, entry, what) for entry in data]

    async def get_plugin_configuration(self, plugin_id: str) -> dict[str, Any]:
        """A plugin's configuration document, as the plugin stores it.

        Raises:
            JellyfinNotFoundError: the plugin is not installed.
        """
        path = f"/Plugins/{check_id(plugin_id, 'plugin id')}/Configuration"
        data = await self._request("GET", path)
        if not isinstance(data, dict):
            raise JellyfinResponseError(f"GET {path}: the answer is not an object")
        return data

    async def set_plugin_configuration(
        self, plugin_id: str, configuration: Mapping[str, Any]
    ) -> None:
        """Replace a plugin's configuration (one request: all of it or nothing).

        Raises:
            JellyfinNotFoundError: the plugin is not installed.
        """
        path = f"/Plugins/{check_id(plugin_id, 'plugin id')}/Configuration"
        await self._request("POST", path, body=configuration, retry=Retry.UNSENT)
