"""Helpers shared by the config flow, the coordinator and the actions.

They check what a user typed (server URLs), turn client errors into the translation
keys the forms show, and build clients on Home Assistant's shared web session.
"""

from collections.abc import Iterable, Mapping
import ssl
from typing import Any

from aiohttp import ClientSSLError
from homeassistant.const import CONF_API_KEY, CONF_URL, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .const import (
    CLIENT_RETRIES,
    CLIENT_RETRY_BACKOFF,
    CONF_NAME,
    CONF_SERVER_ID,
    REQUEST_TIMEOUT,
)
from .jellyfin import JellyfinClient
from .jellyfin.client import InvalidUrlError, parse_server_url
from .jellyfin.exceptions import (
    JellyfinAuthError,
    JellyfinConnectionError,
    JellyfinError,
    JellyfinNotFoundError,
    JellyfinRequestError,
    JellyfinResponseError,
    JellyfinServerError,
)
from .jellyfin.models import ServerInfo


class ServerCheckError(Exception):
    """A server failed a check; ``key`` is the form error's translation key."""

    def __init__(self, key: str) -> None:
        """Remember the translation key (the message never carries a secret)."""
        super().__init__(key)
        self.key = key


def normalize_url(raw: str) -> str:
    """Return a canonical server URL or raise ``ServerCheckError``.

    The client's :func:`~.jellyfin.client.parse_server_url`, strict: ``http``/
    ``https`` with a host and an optional base path (reverse proxies); no user name
    or password (keys belong in the API key field), no query, no fragment.

    >>> normalize_url("192.168.1.10:8096")
    'http://192.168.1.10:8096'
    """
    try:
        return parse_server_url(raw, strict=True)
    except InvalidUrlError as err:
        raise ServerCheckError(err.reason) from err


def is_ssl_error(err: BaseException) -> bool:
    """Whether an error (or one of its causes) is a TLS failure."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, ClientSSLError | ssl.SSLError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def create_client(
    hass: HomeAssistant,
    url: str,
    api_key: str,
    *,
    verify_ssl: bool = True,
    retries: int | None = None,
    request_timeout: float = REQUEST_TIMEOUT,
) -> JellyfinClient:
    """Build a client on Home Assistant's shared session (TLS checked by default).

    ``retries=0`` suits forms, where the user wants an answer at once; cycles use
    the default, so a server restarting mid-cycle does not fail it.
    """
    return JellyfinClient(
        url,
        api_key,
        async_get_clientsession(hass, verify_ssl=verify_ssl),
        request_timeout=request_timeout,
        retries=CLIENT_RETRIES if retries is None else retries,
        retry_backoff=CLIENT_RETRY_BACKOFF,
    )


def client_for(
    hass: HomeAssistant,
    server: Mapping[str, Any],
    *,
    retries: int | None = None,
    request_timeout: float = REQUEST_TIMEOUT,
) -> JellyfinClient:
    """Build a client for a server stored in the config entry."""
    return create_client(
        hass,
        server[CONF_URL],
        server[CONF_API_KEY],
        verify_ssl=server.get(CONF_VERIFY_SSL, True),
        retries=retries,
        request_timeout=request_timeout,
    )


async def async_check_server(
    hass: HomeAssistant, url: str, api_key: str, *, verify_ssl: bool
) -> ServerInfo:
    """Check that a URL is a Jellyfin server and the key is an admin API key.

    Raises:
        ServerCheckError: with the form error key (``cannot_connect``,
            ``ssl_error``, ``not_jellyfin``, ``invalid_auth``, ``not_admin``,
            ``server_error``, ``empty_api_key``).
    """
    if not api_key.strip():
        raise ServerCheckError("empty_api_key")
    try:
        client = create_client(
            hass, url, api_key.strip(), verify_ssl=verify_ssl, retries=0
        )
        await client.get_public_info()
        try:
            await client.get_system_info()
        except JellyfinAuthError as err:
            raise ServerCheckError("invalid_auth") from err
        try:
            return await client.validate_admin_key()
        except JellyfinAuthError as err:
            # The key works but /Users/Me has a user behind it: a session token.
            raise ServerCheckError("not_admin") from err
    except JellyfinConnectionError as err:
        raise ServerCheckError(
            "ssl_error" if is_ssl_error(err) else "cannot_connect"
        ) from err
    except (JellyfinResponseError, JellyfinNotFoundError, JellyfinRequestError) as err:
        # Not Jellyfin's answer, or no Jellyfin at this path (wrong base path).
        raise ServerCheckError("not_jellyfin") from err
    except JellyfinServerError as err:
        raise ServerCheckError("server_error") from err
    except JellyfinError as err:
        raise ServerCheckError("unknown") from err


def server_entry(
    info: ServerInfo, url: str, api_key: str, verify_ssl: bool
) -> dict[str, Any]:
    """The dict stored in ``entry.data[CONF_SERVERS]`` for one server."""
    return {
        CONF_SERVER_ID: info.id,
        CONF_NAME: info.name or info.id[:8],
        CONF_URL: url,
        CONF_API_KEY: api_key.strip(),
        CONF_VERIFY_SSL: verify_ssl,
    }


def group_title(names: Iterable[str]) -> str:
    """Entry title naming the servers: ``A & B`` or ``A, B & C``."""
    items = list(names)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " & " + items[-1]


def group_unique_id(server_ids: Iterable[str]) -> str:
    """Unique id of a sync group: its sorted server ids."""
    return "_".join(sorted(server_ids))
