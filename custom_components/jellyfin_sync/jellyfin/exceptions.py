"""Exceptions raised by the Jellyfin client.

Callers catch :class:`JellyfinError` for "anything went wrong" and the subclasses
to act on a cause: retry later (connection, timeout, server error), ask the user for a
new API key (authentication), skip an item (not found), or report a broken server
(invalid response). Messages never contain the API key.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorReason(StrEnum):
    """Why a request failed, as a stable key.

    Callers report these, never an English message: the engine's ``SyncError``, the
    group's server problems and the instant-sync status carry them, and the Home
    Assistant layer words them through its translations.
    """

    ERROR = "error"
    CANNOT_CONNECT = "cannot_connect"
    TIMEOUT = "timeout"
    INVALID_AUTH = "invalid_auth"
    NOT_FOUND = "not_found"
    SERVER_ERROR = "server_error"
    STARTING = "starting"
    REQUEST_REJECTED = "request_rejected"
    NOT_JELLYFIN = "not_jellyfin"
    NOT_VERIFIED = "not_verified"
    UNSUPPORTED = "unsupported"


class JellyfinError(Exception):
    """Base class of every error the client raises."""

    reason: ClassVar[ErrorReason] = ErrorReason.ERROR


class JellyfinConnectionError(JellyfinError):
    """The server could not be reached (refused, DNS, TLS, reset)."""

    reason = ErrorReason.CANNOT_CONNECT


class JellyfinTimeoutError(JellyfinConnectionError):
    """The server did not answer within the request timeout."""

    reason = ErrorReason.TIMEOUT


class JellyfinAuthError(JellyfinError):
    """The server rejected the API key (401) or refused the action (403)."""

    reason = ErrorReason.INVALID_AUTH


class JellyfinNotFoundError(JellyfinError):
    """The user or item does not exist on the server (404)."""

    reason = ErrorReason.NOT_FOUND


class JellyfinServerError(JellyfinError):
    """The server answered with a 5xx status."""

    reason = ErrorReason.SERVER_ERROR

    def __init__(self, message: str, status: int | None = None) -> None:
        """Keep the HTTP status when there was one."""
        super().__init__(message)
        self.status = status


class JellyfinStartingError(JellyfinServerError):
    """The server is starting or migrating (503); try again later."""

    reason = ErrorReason.STARTING

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        """Keep the server's Retry-After hint (seconds) when it sent one."""
        super().__init__(message, 503)
        self.retry_after = retry_after


class JellyfinRequestError(JellyfinError):
    """The server rejected the request itself (400, 405 or another 4xx)."""

    reason = ErrorReason.REQUEST_REJECTED


class JellyfinResponseError(JellyfinError):
    """The answer is not what Jellyfin sends (not JSON, wrong shape, not Jellyfin)."""

    reason = ErrorReason.NOT_JELLYFIN
