"""Typed models of what the Jellyfin API returns.

Every model is a frozen, keyword-only dataclass with value equality, so the sync engine
can compare them and Home Assistant's coordinator can skip unchanged updates. Wire
names (PascalCase) are translated here, at the boundary, and nowhere else:

* provider ids are lower-cased (keys and values) so ``Imdb``/``IMDB`` compare equal;
* dates are timezone-aware UTC ``datetime`` objects (Jellyfin writes 7 fractional
  digits and sometimes no ``Z``; both are accepted);
* ``Likes`` is derived from ``Rating`` exactly as the server does (rating >= 6.5).

``from_json`` constructors raise :class:`JellyfinResponseError` when the payload does
not have the shape Jellyfin sends, never ``KeyError``/``TypeError``.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
import re
from typing import Any, Self

from .exceptions import JellyfinResponseError

#: Jellyfin's ``UserItemData.MinLikeValue``: a rating at or above it reads as "likes".
MIN_LIKE_VALUE = 6.5
#: Oldest Jellyfin release the client supports (``/Users/{id}/...`` routes).
MIN_SUPPORTED_VERSION = (10, 8)
#: Ticks (100 ns) per second, Jellyfin's unit for positions and runtimes.
TICKS_PER_SECOND = 10_000_000


class SyncField(StrEnum):
    """The user-data fields the sync keeps identical (``likes`` lives in ``rating``)."""

    PLAYED = "played"
    PLAY_COUNT = "play_count"
    POSITION = "playback_position"
    LAST_PLAYED = "last_played_date"
    FAVORITE = "favorite"
    RATING = "rating"


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What an API key can write on a server of a given version.

    10.9 added the generic ``POST /UserItems/{id}/UserData`` update; before it an API
    key can only toggle played (which bumps the play count and resets the position),
    favourite, and likes (rating 10 or 1).
    """

    generic_user_data: bool
    """``POST /UserItems/{itemId}/UserData`` exists (10.9+)."""
    set_position: bool
    set_play_count: bool
    set_numeric_rating: bool
    """Any 0-10 rating; otherwise only likes (10), dislikes (1) or clear."""
    set_last_played: bool
    """An arbitrary last-played date without other side effects."""
    verify_writes: bool = False
    """Writes must be read back: 10.11.0-10.11.9 could write stale values back
    for fields a partial update did not send (jellyfin#14981, fixed in 10.11.10)."""
    versions: bool = False
    """12.0: several files of one title are one item with hidden alternates, each
    with its own user data. Reads of the title merge the latest version's playback;
    only the played routes reach every version (API-NOTES §9.2)."""

    @classmethod
    def for_version(cls, version: tuple[int, ...]) -> Self:
        """Capabilities of an API key on a server of this version."""
        generic = version[:2] >= (10, 9)
        return cls(
            generic_user_data=generic,
            set_position=generic,
            set_play_count=generic,
            set_numeric_rating=generic,
            set_last_played=generic,
            verify_writes=(10, 11, 0) <= version[:3] < (10, 11, 10),
            versions=version[:1] >= (12,),
        )

    @property
    def writable_fields(self) -> frozenset[SyncField]:
        """Fields that can be set to any value on this server."""
        fields = {SyncField.PLAYED, SyncField.FAVORITE}
        if self.set_play_count:
            fields.add(SyncField.PLAY_COUNT)
        if self.set_position:
            fields.add(SyncField.POSITION)
        if self.set_last_played:
            fields.add(SyncField.LAST_PLAYED)
        if self.set_numeric_rating:
            fields.add(SyncField.RATING)
        return frozenset(fields)


_FRACTION = re.compile(r"\.(\d+)")


def normalize_id(raw: str) -> str:
    """A Jellyfin id (Guid, dashed or not, any case) in the "N" form.

    >>> normalize_id("71552A5A-5C5C-4350-A2AE-EBE451A30173")
    '71552a5a5c5c4350a2aeebe451a30173'
    """
    return raw.replace("-", "").lower()


def parse_datetime(value: object) -> datetime | None:
    """Parse a Jellyfin date into an aware UTC datetime (``None`` stays ``None``).

    >>> parse_datetime("2025-01-01T12:00:00.1234567Z")
    datetime.datetime(2025, 1, 1, 12, 0, 0, 123456, tzinfo=datetime.timezone.utc)
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise JellyfinResponseError(
            f"expected a date string, got {type(value).__name__}"
        )
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python accepts at most 6 fractional digits; Jellyfin writes 7.
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as err:
        raise JellyfinResponseError(f"invalid date {value!r}") from err
    if parsed.tzinfo is None:
        # Jellyfin stores UTC; a missing offset means UTC.
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """Format a datetime the way Jellyfin writes it (UTC, 7 fractional digits, ``Z``).

    >>> format_datetime(datetime(2025, 1, 1, 12, 0, tzinfo=UTC))
    '2025-01-01T12:00:00.0000000Z'
    """
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}0Z"


def _get(
    data: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    *,
    required: bool = False,
) -> Any:
    value = data.get(key)
    if value is None:
        if required:
            raise JellyfinResponseError(f"missing field {key!r}")
        return None
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise JellyfinResponseError(f"field {key!r} has type bool, expected a number")
    if not isinstance(value, kind):
        raise JellyfinResponseError(f"field {key!r} has type {type(value).__name__}")
    return value


def _mapping(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise JellyfinResponseError(f"{what} is not a JSON object")
    return data


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerInfo:
    """Identity of a Jellyfin server (``/System/Info/Public`` or ``/System/Info``)."""

    id: str
    """The server's SystemId: stable across restarts and URL changes."""
    name: str
    version: str
    product_name: str = "Jellyfin Server"
    startup_wizard_completed: bool = True

    @property
    def version_tuple(self) -> tuple[int, ...]:
        """Numeric version, e.g. ``(10, 11, 11)``; unparsable parts count as 0."""
        parts: list[int] = []
        for part in self.version.split("."):
            digits = re.match(r"\d+", part)
            parts.append(int(digits.group()) if digits else 0)
        return tuple(parts)

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a ``PublicSystemInfo``/``SystemInfo`` payload."""
        obj = _mapping(data, "server info")
        product = _get(obj, "ProductName", str) or "Jellyfin Server"
        server_id = _get(obj, "Id", str, required=True)
        version = _get(obj, "Version", str, required=True)
        if not server_id or not version:
            raise JellyfinResponseError("server info without Id or Version")
        return cls(
            id=normalize_id(server_id),
            name=_get(obj, "ServerName", str) or "",
            version=version,
            product_name=product,
            startup_wizard_completed=bool(
                _get(obj, "StartupWizardCompleted", bool) is not False
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A Jellyfin user (``UserDto``)."""

    id: str
    name: str
    is_administrator: bool = False
    is_disabled: bool = False
    is_hidden: bool = False

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a ``UserDto`` payload."""
        obj = _mapping(data, "user")
        policy = obj.get("Policy") or {}
        policy = _mapping(policy, "user policy")
        user_id = _get(obj, "Id", str, required=True)
        return cls(
            id=normalize_id(user_id),
            name=_get(obj, "Name", str, required=True),
            is_administrator=bool(_get(policy, "IsAdministrator", bool)),
            is_disabled=bool(_get(policy, "IsDisabled", bool)),
            is_hidden=bool(_get(policy, "IsHidden", bool)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Library:
    """A library (``VirtualFolderInfo`` or a user view of one)."""

    id: str
    """The library folder's item id (``ItemId``/``Id``), ``N`` format."""
    name: str
    collection_type: str | None = None
    """``movies``, ``tvshows``, ``music``, ``books``, ``homevideos``, ...; lower-cased
    (10.8 writes ``Movies``); ``None`` for a library of mixed content."""

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a ``VirtualFolderInfo`` or a view's ``BaseItemDto``."""
        obj = _mapping(data, "library")
        raw_id = _get(obj, "ItemId", str) or _get(obj, "Id", str)
        if not raw_id:
            raise JellyfinResponseError("library without ItemId")
        kind = _get(obj, "CollectionType", str)
        return cls(
            id=normalize_id(raw_id),
            name=_get(obj, "Name", str) or "",
            collection_type=kind.lower() if kind else None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class UserData:
    """One user's data for one item (``UserItemDataDto``), all seven synced fields.

    The defaults are Jellyfin's "never touched" state.
    """

    played: bool = False
    play_count: int = 0
    playback_position_ticks: int = 0
    last_played_date: datetime | None = None
    is_favorite: bool = False
    rating: float | None = None
    """0-10 or ``None``; ``likes`` is derived from it like the server does."""

    @property
    def likes(self) -> bool | None:
        """``True``/``False`` as Jellyfin reports ``Likes``; ``None`` without a rating."""
        if self.rating is None:
            return None
        return self.rating >= MIN_LIKE_VALUE

    @property
    def is_default(self) -> bool:
        """Whether this equals the state of an item the user never touched."""
        return self == UserData()

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a ``UserItemDataDto`` payload."""
        obj = _mapping(data, "user data")
        rating = _get(obj, "Rating", (int, float))
        return cls(
            played=bool(_get(obj, "Played", bool)),
            play_count=int(_get(obj, "PlayCount", int) or 0),
            playback_position_ticks=int(_get(obj, "PlaybackPositionTicks", int) or 0),
            last_played_date=parse_datetime(obj.get("LastPlayedDate")),
            is_favorite=bool(_get(obj, "IsFavorite", bool)),
            rating=float(rating) if rating is not None else None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """A library item with the identity fields the sync matches on.

    ``user_data`` is ``None`` when the listing was made without user data.
    """

    id: str
    type: str
    """Jellyfin ``BaseItemKind`` name: ``Movie``, ``Episode``, ``Series``, ..."""
    name: str
    provider_ids: Mapping[str, str] = field(default_factory=dict)
    """Lower-cased keys and values, empty values dropped (``{"imdb": "tt0133093"}``)."""
    path: str | None = None
    production_year: int | None = None
    series_id: str | None = None
    series_name: str | None = None
    season_number: int | None = None
    """``ParentIndexNumber``: an episode's season, a track's disc."""
    episode_number: int | None = None
    """``IndexNumber``: an episode's number, a season's number, a track's number."""
    episode_number_end: int | None = None
    """``IndexNumberEnd`` of a multi-episode file."""
    run_time_ticks: int | None = None
    album: str | None = None
    """``Album`` of a track or music video."""
    album_artist: str | None = None
    """``AlbumArtist`` of a track or album, else the first of ``Artists``."""
    user_data: UserData | None = None
    versions: int = 1
    """``MediaSourceCount`` when asked for: the title's files (12.0: one primary item
    and hidden alternates)."""
    version_ids: tuple[str, ...] = ()
    """``MediaSources[].Id`` when asked for: the item ids of every version, the
    listed item's own first (``N`` format)."""

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Build from a ``BaseItemDto`` payload."""
        obj = _mapping(data, "item")
        raw_ids = obj.get("ProviderIds") or {}
        raw_ids = _mapping(raw_ids, "ProviderIds")
        provider_ids = {
            str(key).strip().lower(): str(value).strip().lower()
            for key, value in raw_ids.items()
            if value is not None and str(value).strip()
        }
        user_data = obj.get("UserData")
        series_id = _get(obj, "SeriesId", str)
        return cls(
            id=normalize_id(_get(obj, "Id", str, required=True)),
            type=_get(obj, "Type", str, required=True),
            name=_get(obj, "Name", str) or "",
            provider_ids=provider_ids,
            path=_get(obj, "Path", str),
            production_year=_get(obj, "ProductionYear", int),
            series_id=normalize_id(series_id) if series_id else None,
            series_name=_get(obj, "SeriesName", str),
            season_number=_get(obj, "ParentIndexNumber", int),
            episode_number=_get(obj, "IndexNumber", int),
            episode_number_end=_get(obj, "IndexNumberEnd", int),
            run_time_ticks=_get(obj, "RunTimeTicks", int),
            album=_get(obj, "Album", str),
            album_artist=_get(obj, "AlbumArtist", str) or _first_name(obj),
            user_data=UserData.from_json(user_data) if user_data is not None else None,
            versions=_get(obj, "MediaSourceCount", int) or 1,
            version_ids=_source_ids(obj.get("MediaSources")),
        )


def _first_name(obj: Mapping[str, Any]) -> str | None:
    """The first of ``Artists`` (a track without an album artist)."""
    raw = obj.get("Artists")
    if isinstance(raw, list):
        for name in raw:
            if isinstance(name, str) and name.strip():
                return name
    return None


def _source_ids(raw: object) -> tuple[str, ...]:
    """Item ids of ``MediaSources`` (a version's source id is its item id)."""
    if not isinstance(raw, list):
        return ()
    ids: list[str] = []
    for source in raw:
        if isinstance(source, Mapping):
            value = source.get("Id")
            if isinstance(value, str) and value:
                ids.append(normalize_id(value))
    return tuple(dict.fromkeys(ids))
