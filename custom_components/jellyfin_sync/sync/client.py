"""The part of the Jellyfin client the engine uses, as a typing Protocol.

The real :class:`~custom_components.jellyfin_sync.jellyfin.JellyfinClient` satisfies
it; tests use an in-memory fake with the same write semantics.
"""

from collections.abc import AsyncGenerator, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from custom_components.jellyfin_sync.jellyfin.models import (
    Item,
    Library,
    ServerInfo,
    SyncField,
    User,
    UserData,
)


class ServerClient(Protocol):
    """Async access to one Jellyfin server (errors are ``JellyfinError``)."""

    async def get_system_info(self) -> ServerInfo:
        """Identity and version of the server."""

    async def get_users(
        self, *, include_disabled: bool = False, include_hidden: bool = True
    ) -> list[User]:
        """Users of the server."""

    def iter_items(
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
    ) -> AsyncGenerator[list[Item]]:
        """Pages of items (de-duplicated by id); ``user_id=None`` lists the index."""

    @property
    def server_time(self) -> datetime | None:
        """The server's clock at its last answer, when it sent one."""

    async def get_items(
        self,
        user_id: str,
        ids: Sequence[str],
        *,
        fields: Sequence[str] = ("ProviderIds", "Path"),
    ) -> list[Item]:
        """The items with these ids that still exist, with the user's data."""

    async def get_resume(
        self,
        user_id: str,
        *,
        item_types: Sequence[str] | None = ("Movie", "Episode"),
        parent_id: str | None = None,
    ) -> list[Item]:
        """The user's items in progress (12.0: an alternate version as itself)."""

    async def get_libraries(self) -> list[Library]:
        """Every library of the server."""

    async def get_views(self, user_id: str) -> list[Library]:
        """The libraries a user can open."""

    async def get_item(self, user_id: str, item_id: str) -> Item:
        """One item with every field, ``MediaSources`` included."""

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
        """Give ``fields`` the values of ``desired``; return the state afterwards."""


if TYPE_CHECKING:
    from custom_components.jellyfin_sync.jellyfin.client import JellyfinClient

    def _conforms(client: JellyfinClient) -> ServerClient:
        """Mypy checks here that the real client satisfies the protocol."""
        return client
