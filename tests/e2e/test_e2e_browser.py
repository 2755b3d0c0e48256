"""A user adds Jellyfin Sync in the real frontend, in a real browser.

Playwright drives Debian's chromium (``/usr/bin/chromium``; Playwright cannot download
its own browsers here) against a real Home Assistant process; two simulated Jellyfin
servers run in this test's event loop. The test logs in, adds "Jellyfin Sync" from
the integrations page, fills both servers, creates the group, opens the group's
device page and checks that the sensors show. Screenshots of every step go to
``test-output/e2e/``; with ``JELLYFIN_SYNC_DOCS_SCREENSHOTS=1`` the config form and
the device page are also written to ``docs/images/`` for the README.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
import os
from pathlib import Path
import re
import shutil
import time

from playwright.async_api import Browser, Locator, Page, async_playwright, expect
import pytest

from tests.e2e.harness import (
    PASSWORD,
    REPO,
    USERNAME,
    HomeAssistantProcess,
    home_and_cabin,
    matchable_movies,
)
from tests.simulator import LibrarySpec, SimulatedServer
from tests.simulator.fixtures import ServerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("socket_enabled")]


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT = REPO / "test-output" / "e2e"
DOCS_IMAGES = REPO / "docs" / "images"
LIBRARY = LibrarySpec(
    seed=5, movies=30, series=3, seasons_per_series=2, episodes_per_season=5
)
# The frontend is a large single-page app; the first load on a slow machine is slow.
TIMEOUT_MS = 30_000


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's chromium under Playwright, closed whatever happens."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def shot(page: Page, name: str, *, docs: bool = False) -> Path:
    """Save a screenshot under test-output/e2e (and docs/images when asked)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}.png"
    await page.screenshot(path=path, animations="disabled")
    if docs and os.environ.get("JELLYFIN_SYNC_DOCS_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMAGES / path.name)
    return path


async def expect_row(page: Page, name: str, value: str | re.Pattern[str]) -> None:
    """The entity row called ``name`` on a device page shows ``value``."""
    row = page.locator("hui-generic-entity-row").filter(has_text=name).first
    await expect(row).to_contain_text(value, timeout=TIMEOUT_MS)


async def wait_for(condition: Callable[[], object], seconds: float = 20) -> None:
    """Poll ``condition`` (simulator state) while the event loop serves requests."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the simulator never reached the expected state")


def field(page: Page, name: str) -> Locator:
    """A form field by its label (the 2026.x frontend names inputs by role only)."""
    labelled = page.get_by_label(name, exact=True)
    return labelled.or_(page.get_by_role("textbox", name=name)).first


async def fill_server(page: Page, server: SimulatedServer) -> None:
    """Type one server into the open config-flow form."""
    await field(page, "Server URL").fill(server.url)
    await field(page, "API key").fill(server.api_key)


async def test_add_group_in_the_browser(
    tmp_path: Path, jellyfin_server_factory: ServerFactory
) -> None:
    home, cabin = await home_and_cabin(
        jellyfin_server_factory, LIBRARY, cabin_version="10.11.11"
    )
    movies = matchable_movies(home)
    home.act("alice").mark_played(movies[0].id)

    async with HomeAssistantProcess(tmp_path / "config") as ha, chromium() as browser:
        # Clean backgrounds for the screenshots (these need the internet anyway).
        await ha.remove_failed_entries()
        for old in OUTPUT.glob("*.png"):
            old.unlink()
        context = await browser.new_context(
            viewport={"width": 1280, "height": 860}, locale="en-US"
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        # The address the servers are given for instant sync: the machine's own,
        # as both run here (Settings -> System -> Network, "Local network").
        await ha.websocket({"type": "config/core/update", "internal_url": ha.url})
        try:
            await page.goto(f"{ha.url}/")
            await page.get_by_label("Username").fill(USERNAME)
            await page.get_by_label("Password", exact=True).fill(PASSWORD)
            await page.keyboard.press("Enter")
            # The default dashboard's path differs between releases.
            await page.wait_for_url(lambda url: "/auth/" not in url)
            await page.wait_for_load_state("networkidle")

            await page.goto(f"{ha.url}/config/integrations/dashboard")
            await page.get_by_role("button", name="Add integration").click()
            # Dialog content is slotted into ha-dialog's shadow root, so role-scoped
            # locators miss it; one dialog is open at a time, so page scope is exact.
            # A labelled field up to 2025.x, a placeholder in 2026.x.
            brand = "Search for a brand name"
            search = page.get_by_label(brand).or_(page.get_by_placeholder(brand))
            await search.first.fill("Jellyfin Sync")
            await page.get_by_text("Jellyfin Sync", exact=True).click()

            await expect(
                page.get_by_text("Add the first Jellyfin server")
            ).to_be_visible(timeout=TIMEOUT_MS)
            await fill_server(page, home)
            await page.get_by_role("button", name="Submit").click()

            await expect(page.get_by_text("Add another Jellyfin server")).to_be_visible(
                timeout=TIMEOUT_MS
            )
            await expect(
                page.get_by_text("Servers in this group so far (1): Home.")
            ).to_be_visible(timeout=TIMEOUT_MS)
            await fill_server(page, cabin)
            await shot(page, "config-flow", docs=True)
            await page.get_by_role("button", name="Submit").click()

            await page.get_by_text("Create the sync group", exact=True).click()
            # The last step offers instant sync: Home Assistant configures the
            # Webhook plugin of both servers itself.
            instant = "Set up instant sync on the servers"
            switch = page.get_by_role("switch", name=instant)
            switch = switch.or_(page.get_by_label(instant, exact=True))
            await switch.first.click()
            await shot(page, "config-flow-instant-sync", docs=True)
            await page.get_by_role("button", name="Submit").click()
            # 2025.x closes a flow with "Success!" and its devices; 2026.x with
            # "Name and assign" for each device.
            done = page.get_by_text("Success!").or_(page.get_by_text("Name and assign"))
            await expect(done.first).to_be_visible(timeout=TIMEOUT_MS)
            await expect(
                page.get_by_text(
                    "The sync group is set up and the first sync has started"
                )
            ).to_be_visible(timeout=TIMEOUT_MS)
            await shot(page, "config-flow-created")
            finish = page.get_by_role("button", name="Finish", exact=True)
            finish = finish.or_(page.get_by_role("button", name="Skip and finish"))
            await finish.first.click()

            await ha.wait_entry_state("jellyfin_sync", "loaded")
            # Both servers got our destination; a change then arrives through the
            # webhook alone (the poll interval is 30 minutes), within 2 seconds.
            await wait_for(
                lambda: all(
                    s.webhook_config is not None
                    and any(
                        o.get("WebhookName", "").startswith("Jellyfin Sync:")
                        for o in s.webhook_config.get("GenericOptions") or []
                    )
                    for s in (home, cabin)
                ),
                seconds=60,
            )
            await ha.wait_state("sensor.home_cabin_status", lambda st: st == "ok")
            favourite = movies[3]
            cabin_favourite = cabin.item_by_key(favourite.identity).id
            started = time.monotonic()
            home.act("bob").favorite(favourite.id)
            await wait_for(
                lambda: cabin.user_data("bob", cabin_favourite)["IsFavorite"] is True,
                seconds=2,
            )
            instant_seconds = time.monotonic() - started
            assert instant_seconds <= 2.0
            print(f"instant sync: a favourite reached Cabin in {instant_seconds:.2f} s")
            devices = await ha.websocket({"type": "config/device_registry/list"})
            by_name = {d["name"]: d["id"] for d in devices}

            # The group's device page: its sensors and the Sync now button.
            await page.goto(f"{ha.url}/config/devices/device/{by_name['Home & Cabin']}")
            await expect_row(page, "Status", "OK")
            await expect_row(page, "Changes applied", "1 changes")
            await expect_row(page, "Held changes", "0 changes")
            await expect_row(page, "Conflicts settled", "0 conflicts")
            await expect_row(page, "Last successful sync", re.compile(r"ago|now"))
            await expect_row(page, "Unmatched items", re.compile(r"\d+ items"))
            await expect(page.get_by_text("Sync now", exact=True)).to_be_visible(
                timeout=TIMEOUT_MS
            )
            await shot(page, "device-page", docs=True)

            # Users favourite and watch films on Home; "Sync now" in the browser runs
            # a cycle (instant sync may have copied them already: then it finds
            # nothing left to write).
            home.act("bob").favorite(movies[1].id)
            home.act("alice").mark_played(movies[2].id)
            sync_now = page.locator("hui-button-entity-row").filter(has_text="Sync now")
            await sync_now.get_by_role("button", name="Press").click()
            await expect_row(page, "Changes applied", re.compile(r"^\s*[0-2] changes"))
            await expect_row(page, "Status", "OK")
            await wait_for(
                lambda: (
                    cabin.dump_user_data()["bob"]
                    .get(movies[1].identity, {})
                    .get("IsFavorite")
                    and cabin.dump_user_data()["alice"]
                    .get(movies[2].identity, {})
                    .get("Played")
                )
            )

            # A server's device page: connectivity and tracked items.
            await page.goto(f"{ha.url}/config/devices/device/{by_name['Cabin']}")
            await expect_row(page, "Connectivity", "Connected")
            # Alice's two films and Bob's two favourites.
            await expect_row(page, "Tracked items", "4 items")
            await shot(page, "server-device-page", docs=True)
        except BaseException:
            with contextlib.suppress(Exception):
                await shot(page, "failure")
            raise
        finally:
            await context.close()

    # The first cycle (setup) and the button's cycle made both servers identical.
    assert cabin.dump_user_data() == home.dump_user_data()
    assert cabin.dump_user_data()["alice"][movies[0].identity]["Played"] is True
