"""Errors of writes that carry user data.

They live apart from :mod:`.exceptions`, which the models themselves use, so that
no import goes both ways.
"""

from collections.abc import Iterable

from .exceptions import ErrorReason, JellyfinError
from .models import SyncField, UserData


class JellyfinVerificationError(JellyfinError):
    """A write was answered but reading the item back shows other values.

    10.11.0-10.11.9 could write stale values back (jellyfin#14981); a concurrent
    change by a player has the same effect. ``expected`` holds the values that were
    asked for (only ``fields`` matter), ``actual`` what the server holds now.
    """

    reason = ErrorReason.NOT_VERIFIED

    def __init__(
        self,
        message: str,
        *,
        fields: Iterable[SyncField],
        expected: UserData,
        actual: UserData,
    ) -> None:
        """Keep the mismatching fields and both states for the caller."""
        super().__init__(message)
        self.fields = frozenset(fields)
        self.expected = expected
        self.actual = actual


class JellyfinUnsupportedError(JellyfinError):
    """The server's version cannot do what was asked (e.g. set a position on 10.8).

    ``fields`` names the user-data fields that cannot reach the wanted value (empty
    when the whole server version is unsupported), so a caller can drop just those.
    """

    reason = ErrorReason.UNSUPPORTED

    def __init__(self, message: str, fields: Iterable[SyncField] = ()) -> None:
        """Keep the fields that cannot be written."""
        super().__init__(message)
        self.fields = frozenset(fields)
