"""Values the endpoint layers put in a request and the shape checks of an answer.

Pure functions shared by :mod:`.server_api`, :mod:`.items_api` and
:mod:`.userdata_api`: an id is checked before it goes into a path or query, and a
parser's error names the request whose answer it could not read.
"""

from collections.abc import Callable, Mapping
import re
from typing import Any

from .exceptions import JellyfinResponseError

_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")


def check_id(value: str, what: str) -> str:
    """``value`` unchanged when it can be an id (``what`` names it in the error).

    Raises:
        ValueError: not 1 to 64 letters, digits or dashes.
    """
    if not _ID.match(value):
        raise ValueError(f"invalid {what} {value!r}")
    return value


def query_bool(value: bool) -> str:
    """A boolean as a query value (``true``/``false``)."""
    return "true" if value else "false"


def parse_answer[T](parser: Callable[[object], T], data: object, what: str) -> T:
    """``parser(data)``, its error prefixed with the request (``what``).

    Raises:
        JellyfinResponseError: the parser refused the answer.
    """
    try:
        return parser(data)
    except JellyfinResponseError as err:
        raise JellyfinResponseError(f"{what}: {err}") from err


def page_entries(data: object, what: str) -> tuple[list[Any], int | None]:
    """The raw items of a listing page and its total count, if reported.

    Raises:
        JellyfinResponseError: the answer has no ``Items`` list.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("Items"), list):
        raise JellyfinResponseError(f"{what}: the answer has no Items list")
    total = data.get("TotalRecordCount")
    if not isinstance(total, int) or isinstance(total, bool):
        total = None
    return data["Items"], total
