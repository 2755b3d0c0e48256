"""What both flows of Jellyfin Sync use.

The config flow and the options flow both let the user pick one of the group's
servers, both show how to set up the Jellyfin Webhook plugin and both ask every
server of a group something at once (reauth: which key is rejected; options: the
user and library names).
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from .const import CONF_NAME, CONF_SERVER_ID
from .helpers import client_for
from .jellyfin import JellyfinClient
from .jellyfin.exceptions import JellyfinError
from .texts import async_texts
from .webhook import WEBHOOK_TEMPLATE, webhook_url


def server_choices(servers: Sequence[Mapping[str, Any]]) -> list[SelectOptionDict]:
    """The group's servers as choices (value: server id, label: name)."""
    return [
        SelectOptionDict(value=s[CONF_SERVER_ID], label=s[CONF_NAME]) for s in servers
    ]


def server_picker(servers: Sequence[Mapping[str, Any]]) -> SelectSelector:
    """A drop-down of the group's servers."""
    return SelectSelector(
        SelectSelectorConfig(
            options=server_choices(servers), mode=SelectSelectorMode.DROPDOWN
        )
    )


async def async_webhook_placeholders(
    hass: HomeAssistant, webhook_id: str | None
) -> dict[str, str]:
    """The webhook URL and template the setup instructions show."""
    if webhook_id:
        url = webhook_url(hass, webhook_id)
    else:
        url = (await async_texts(hass, "flow_text"))["webhook_url_later"]
    return {"webhook_url": url, "template": WEBHOOK_TEMPLATE}


async def async_ask_servers[T](
    hass: HomeAssistant,
    servers: Sequence[Mapping[str, Any]],
    ask: Callable[[JellyfinClient], Awaitable[T]],
) -> list[T | JellyfinError]:
    """Ask every server at once; per server its answer or the error it failed with.

    Without retries: a form is waiting for the answers.
    """

    async def one(server: Mapping[str, Any]) -> T | JellyfinError:
        try:
            return await ask(client_for(hass, server, retries=0))
        except JellyfinError as err:
            return err

    return await asyncio.gather(*(one(s) for s in servers))
