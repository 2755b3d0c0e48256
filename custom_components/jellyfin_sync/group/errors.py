"""What a sync group refuses or cannot do, as types.

The Home Assistant layer turns each into its translated error; nothing here holds
English meant for users.
"""


class GroupError(Exception):
    """Base class of the group's errors."""


class ServerAuthError(GroupError):
    """A server rejected its API key (the user must enter a new one)."""

    def __init__(self, server_id: str, name: str) -> None:
        """Name the server (never its key)."""
        super().__init__(server_id)
        self.server_id = server_id
        self.name = name


class NoServerOnlineError(GroupError):
    """No server of the group answered the check."""


class NothingToUndoError(GroupError):
    """The group has no applied cycle to undo."""


class UnknownCycleError(GroupError):
    """An undo named a cycle the group has no record of."""

    def __init__(self, cycle_id: str) -> None:
        """Keep the id that was asked for."""
        super().__init__(cycle_id)
        self.cycle_id = cycle_id


class UnknownUserError(GroupError):
    """A user name that is on none of the group's servers."""

    def __init__(self, user: str) -> None:
        """Keep the name that was asked for."""
        super().__init__(user)
        self.user = user
