"""Server addresses: what a user types in, checked and put in one canonical form.

Pure functions, no I/O. The Home Assistant layer uses :func:`parse_server_url` (strict,
with translation keys as reasons); the client uses :func:`normalize_url` (lenient,
raising the client's connection error).
"""

from yarl import URL

from .exceptions import JellyfinConnectionError


class InvalidUrlError(ValueError):
    """A server address that cannot be used.

    ``reason`` is ``invalid_url``, ``invalid_scheme`` or ``url_has_credentials``
    (the integration's translation keys).
    """

    def __init__(self, reason: str) -> None:
        """Keep the reason."""
        super().__init__(reason)
        self.reason = reason


def parse_server_url(raw: str, *, strict: bool = True) -> str:
    """The canonical form of a server address: ``scheme://host[:port][/path]``.

    A missing scheme means ``http``; scheme and host are lower-cased and a trailing
    slash is dropped. ``strict`` (what a user types in) also refuses a user name or
    password (keys belong in the API key field), a query and a fragment; otherwise
    those are dropped.

    >>> parse_server_url(" HTTP://Media.LAN:8096/jellyfin/ ")
    'http://media.lan:8096/jellyfin'

    Raises:
        InvalidUrlError: not an http(s) address with a host (and a valid port).
    """
    text = raw.strip()
    if not text:
        raise InvalidUrlError("invalid_url")
    if "://" not in text:
        text = f"http://{text}"
    try:
        url = URL(text)
        host = url.host
        port = url.port  # raises ValueError on a bad port
    except (ValueError, TypeError) as err:
        raise InvalidUrlError("invalid_url") from err
    if url.scheme.lower() not in ("http", "https"):
        raise InvalidUrlError("invalid_scheme")
    if not host or port is None:
        raise InvalidUrlError("invalid_url")
    if strict and (url.user is not None or url.password is not None):
        raise InvalidUrlError("url_has_credentials")
    if strict and (url.query_string or url.fragment):
        raise InvalidUrlError("invalid_url")
    try:
        return str(
            URL.build(
                scheme=url.scheme.lower(),
                host=host.lower(),
                port=url.explicit_port,
                path=url.path.rstrip("/"),
            )
        )
    except ValueError as err:
        raise InvalidUrlError("invalid_url") from err


def normalize_url(url: str) -> str:
    """:func:`parse_server_url`, lenient (query and fragment dropped).

    >>> normalize_url(" jellyfin.local:8096/jf/ ")
    'http://jellyfin.local:8096/jf'

    Raises:
        JellyfinConnectionError: not an http(s) URL with a host.
    """
    try:
        return parse_server_url(url, strict=False)
    except InvalidUrlError as err:
        raise JellyfinConnectionError(
            "invalid server URL (expected http(s)://host[:port][/path])"
        ) from err
