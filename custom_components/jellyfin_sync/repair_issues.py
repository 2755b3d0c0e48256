"""The repair issues of a sync group: raised and cleared here, in one place.

* ``unsupported_version_<server>``: older than 10.8, left out of every cycle;
* ``reduced_capabilities_<server>``: 10.8, positions, play counts, dates and
  numeric ratings are not written there;
* ``persistent_failure_<server>``: the server failed
  :data:`~.const.FAILURES_BEFORE_REPAIR` cycles in a row;
* ``held_changes_<entry>``: the mass-change guard held resets (fixable:
  :mod:`.repairs` applies them).

Instant sync raises its own (:mod:`.instant`).
"""

from collections.abc import Iterable

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import (
    DOMAIN,
    FAILURES_BEFORE_REPAIR,
    FULL_FEATURED_VERSION,
    ISSUE_FAILING,
    ISSUE_HELD,
    ISSUE_OLD_VERSION,
    ISSUE_UNSUPPORTED,
    PROBLEM_SELECTOR,
)
from .group import ServerProblem, ServerState
from .texts import async_texts


def version_issues(
    hass: HomeAssistant,
    server_id: str,
    placeholders: dict[str, str],
    version: tuple[int, ...],
    *,
    supported: bool,
) -> None:
    """Raise or clear a server's version issues.

    ``placeholders`` names the server and its version for the texts; ``supported``
    is the group's verdict (``SyncGroup.supported``): an unsupported server is left
    out of every cycle, a 10.8 one syncs with reduced capabilities.
    """
    old_id = f"{ISSUE_OLD_VERSION}_{server_id}"
    unsupported_id = f"{ISSUE_UNSUPPORTED}_{server_id}"
    if not supported:
        ir.async_delete_issue(hass, DOMAIN, old_id)
        ir.async_create_issue(
            hass,
            DOMAIN,
            unsupported_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_UNSUPPORTED,
            translation_placeholders=placeholders,
        )
        return
    ir.async_delete_issue(hass, DOMAIN, unsupported_id)
    if version[:2] < FULL_FEATURED_VERSION:
        ir.async_create_issue(
            hass,
            DOMAIN,
            old_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_OLD_VERSION,
            translation_placeholders=placeholders,
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, old_id)


async def async_problem_texts(hass: HomeAssistant) -> dict[ServerProblem, str]:
    """Each server problem in the user's language (``selector.server_problem``)."""
    texts = await async_texts(hass, PROBLEM_SELECTOR)
    return {p: texts.get(p.value, p.value) for p in ServerProblem}


async def async_failure_issues(
    hass: HomeAssistant, title: str, states: Iterable[ServerState]
) -> None:
    """Raise each server's failure issue from the set count on.

    It is cleared once the server answers again (``failures`` 0). The reason is
    the server's problem in the user's language.
    """
    texts: dict[ServerProblem, str] | None = None
    for state in states:
        issue_id = f"{ISSUE_FAILING}_{state.server_id}"
        if state.failures == 0:
            ir.async_delete_issue(hass, DOMAIN, issue_id)
        if state.failures < FAILURES_BEFORE_REPAIR:
            continue
        if texts is None:
            texts = await async_problem_texts(hass)
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_FAILING,
            translation_placeholders={
                "server": state.name,
                "title": title,
                "failures": str(state.failures),
                "error": texts[state.error] if state.error else "-",
            },
        )


def held_issue(hass: HomeAssistant, entry_id: str, title: str, held: bool) -> None:
    """Raise or clear the group's held-changes issue (its fix flow applies them)."""
    issue_id = f"{ISSUE_HELD}_{entry_id}"
    if held:
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_HELD,
            translation_placeholders={"title": title},
            data={"entry_id": entry_id},
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, issue_id)


def clear_group_issues(
    hass: HomeAssistant, entry_id: str, server_ids: Iterable[str]
) -> None:
    """Remove a group's issues (the group was unloaded)."""
    ir.async_delete_issue(hass, DOMAIN, f"{ISSUE_HELD}_{entry_id}")
    for server_id in server_ids:
        for issue in (ISSUE_FAILING, ISSUE_OLD_VERSION, ISSUE_UNSUPPORTED):
            ir.async_delete_issue(hass, DOMAIN, f"{issue}_{server_id}")
