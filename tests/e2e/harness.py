"""Run a real Home Assistant process for end-to-end tests.

`HomeAssistantProcess` writes a fresh configuration folder, links the integration from
the working tree into it, starts ``python -m homeassistant`` on a free loopback port in
its own process group, completes onboarding over HTTP exactly as the frontend does, and
hands out an access token. ``stop()`` ends the whole process group, so nothing is left
running even when a test fails.
"""

import asyncio
import atexit
from collections.abc import Callable
import contextlib
import os
from pathlib import Path
import signal
import socket
import sys
import time
from typing import Any, Self

import aiohttp

from tests.simulator import LibrarySpec, SimItem, SimulatedServer
from tests.simulator.fixtures import ServerFactory

REPO = Path(__file__).resolve().parents[2]
INTEGRATION = REPO / "custom_components" / "jellyfin_sync"
USERNAME = "e2e"
PASSWORD = "e2e-password-123"

CONFIGURATION = """\
homeassistant:
  name: Jellyfin Sync e2e
  unit_system: metric
  time_zone: UTC
  country: DE
  currency: EUR
  latitude: 52.52
  longitude: 13.40
  elevation: 34

http:
  server_host: 127.0.0.1
  server_port: {port}

frontend:
config:
webhook:

logger:
  default: warning
  logs:
    custom_components.jellyfin_sync: debug
"""


def matchable_movies(server: SimulatedServer) -> list[SimItem]:
    """Movies the other server can match: provider ids that no other movie shares.

    The library has a few movies without provider ids or sharing one, as real
    libraries do; the sync reports those as unmatched and leaves them alone.
    """
    found = [i for i in server.items if i.type == "Movie" and i.provider_ids]
    seen: dict[tuple[str, str], int] = {}
    for movie in found:
        for pair in movie.provider_ids.items():
            seen[pair] = seen.get(pair, 0) + 1
    return [m for m in found if all(seen[p] == 1 for p in m.provider_ids.items())]


# Process groups of running instances, ended at interpreter exit as a last resort (a
# pytest-timeout or KeyboardInterrupt can skip the tests' own ``finally`` blocks).
_RUNNING: set[int] = set()


@atexit.register
def _kill_leftovers() -> None:
    for pgid in list(_RUNNING):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    _RUNNING.clear()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HomeAssistantProcess:
    """A Home Assistant process with a throwaway configuration folder."""

    def __init__(self, config_dir: Path, port: int | None = None) -> None:
        """Prepare (but do not start) an instance in ``config_dir``."""
        self.config_dir = config_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.client_id = f"{self.url}/"
        self.token: str | None = None
        self.refresh_token: str | None = None
        self._process: asyncio.subprocess.Process | None = None
        self.log_path = config_dir / "e2e-stdout.log"

    def write_config(self) -> None:
        """Write configuration.yaml and link the integration from the working tree."""
        custom = self.config_dir / "custom_components"
        custom.mkdir(parents=True, exist_ok=True)
        link = custom / "jellyfin_sync"
        if not link.exists():
            link.symlink_to(INTEGRATION, target_is_directory=True)
        (self.config_dir / "configuration.yaml").write_text(
            CONFIGURATION.format(port=self.port)
        )

    async def start(self, *, startup_seconds: float = 90) -> None:
        """Start the process and wait until its HTTP API answers."""
        self.write_config()
        with self.log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "homeassistant",
                "--config",
                str(self.config_dir),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
        _RUNNING.add(self._process.pid)
        deadline = time.monotonic() + startup_seconds
        async with aiohttp.ClientSession() as session:
            while True:
                if self._process.returncode is not None:
                    raise RuntimeError(
                        f"Home Assistant exited with {self._process.returncode}:\n{self.log_tail()}"
                    )
                with contextlib.suppress(aiohttp.ClientError):
                    # Answers 400 "onboarding_required" before onboarding, 200 after
                    # (the onboarding views are gone once it is done).
                    async with session.get(f"{self.url}/auth/providers") as resp:
                        if resp.status in (200, 400):
                            return
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"Home Assistant did not start:\n{self.log_tail()}"
                    )
                await asyncio.sleep(0.5)

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the process output (for failure messages)."""
        if not self.log_path.exists():
            return ""
        return "\n".join(
            self.log_path.read_text(errors="replace").splitlines()[-lines:]
        )

    def log_text(self) -> str:
        """Everything the process wrote, including home-assistant.log."""
        text = (
            self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        )
        ha_log = self.config_dir / "home-assistant.log"
        if ha_log.exists():
            text += ha_log.read_text(errors="replace")
        return text

    async def stop(self) -> None:
        """Stop Home Assistant (SIGTERM, then SIGKILL) with its whole process group."""
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        # Home Assistant 2026.x runs the core in a child process that may still be
        # writing its storage when the parent exits: let the group finish, then
        # take anything left.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except (ProcessLookupError, PermissionError):
                break
            await asyncio.sleep(0.1)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        _RUNNING.discard(process.pid)

    async def restart(self) -> None:
        """Stop and start again with the same configuration folder (state survives)."""
        await self.stop()
        await self.start()
        await self.login()

    async def onboard(self) -> None:
        """Create the owner account and finish onboarding like the frontend does."""
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{self.url}/api/onboarding/users",
                json={
                    "client_id": self.client_id,
                    "name": "E2E",
                    "username": USERNAME,
                    "password": PASSWORD,
                    "language": "en",
                },
            ) as resp:
                resp.raise_for_status()
                auth_code = (await resp.json())["auth_code"]
            await self._exchange(
                session, {"grant_type": "authorization_code", "code": auth_code}
            )
            for step, body in (
                ("core_config", {}),
                ("analytics", {}),
                (
                    "integration",
                    {
                        "client_id": self.client_id,
                        "redirect_uri": f"{self.url}/?auth_callback=1",
                    },
                ),
            ):
                async with session.post(
                    f"{self.url}/api/onboarding/{step}", json=body, headers=self.headers
                ) as resp:
                    resp.raise_for_status()
        await self.keep_http_settings()
        await self.wait_running()

    async def wait_running(self, *, seconds: float = 120) -> None:
        """Wait until start-up is over (``/api/config`` says RUNNING).

        The HTTP API answers long before: 2026.x keeps starting for a while (stage 2
        integrations time out without the internet), and a stop during start-up
        loses the config entries made meanwhile.
        """
        deadline = time.monotonic() + seconds
        while True:
            status, config = await self.request("GET", "/api/config")
            if status == 200 and config.get("state", "RUNNING") == "RUNNING":
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"Home Assistant never finished starting:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.5)

    async def keep_http_settings(self) -> None:
        """Confirm the HTTP settings of configuration.yaml, as a user would.

        Home Assistant 2026.x holds new HTTP settings as pending, shows a dialog over
        every page and reverts them after five minutes unless they are confirmed
        (``http/config/promote``). Earlier releases have no such command.
        """
        try:
            await self.websocket({"type": "http/config/promote"})
        except RuntimeError as err:
            if "unknown_command" not in str(err) and "not_allowed" not in str(err):
                raise

    async def login(self) -> None:
        """Log in with the owner's password (after a restart)."""
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{self.url}/auth/login_flow",
                json={
                    "client_id": self.client_id,
                    "handler": ["homeassistant", None],
                    "redirect_uri": f"{self.url}/",
                },
            ) as resp:
                resp.raise_for_status()
                flow_id = (await resp.json())["flow_id"]
            async with session.post(
                f"{self.url}/auth/login_flow/{flow_id}",
                json={
                    "client_id": self.client_id,
                    "username": USERNAME,
                    "password": PASSWORD,
                },
            ) as resp:
                resp.raise_for_status()
                code = (await resp.json())["result"]
            await self._exchange(
                session, {"grant_type": "authorization_code", "code": code}
            )
        await self.wait_running()

    async def _exchange(
        self, session: aiohttp.ClientSession, data: dict[str, str]
    ) -> None:
        async with session.post(
            f"{self.url}/auth/token", data={**data, "client_id": self.client_id}
        ) as resp:
            resp.raise_for_status()
            tokens = await resp.json()
        self.token = tokens["access_token"]
        self.refresh_token = tokens.get("refresh_token")

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header for the REST API."""
        return {"Authorization": f"Bearer {self.token}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Call the REST API; returns (status, decoded JSON or text)."""
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, f"{self.url}{path}", headers=self.headers, **kwargs
            ) as resp,
        ):
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()

    async def websocket(self, message: dict[str, Any]) -> Any:
        """Send one websocket command (as the frontend does) and return its result."""
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{self.url}/api/websocket") as ws,
        ):
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.token})
            auth = await ws.receive_json()
            if auth.get("type") != "auth_ok":
                raise RuntimeError(f"websocket authentication failed: {auth}")
            await ws.send_json({"id": 1, **message})
            reply = await ws.receive_json()
            if not reply.get("success"):
                raise RuntimeError(f"websocket command failed: {reply}")
            return reply["result"]

    async def __aenter__(self) -> Self:
        """Start and onboard."""
        await self.start()
        await self.onboard()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop, whatever happened."""
        await self.stop()

    async def entry(self, domain: str) -> dict[str, Any] | None:
        """The first config entry of ``domain`` as the integrations page lists it."""
        status, entries = await self.request(
            "GET", "/api/config/config_entries/entry", params={"domain": domain}
        )
        if status != 200:
            raise RuntimeError(f"listing config entries failed: {status} {entries}")
        return entries[0] if entries else None

    async def wait_entry_state(
        self, domain: str, state: str = "loaded", *, seconds: float = 60
    ) -> dict[str, Any]:
        """Wait until the first entry of ``domain`` reaches ``state`` and return it."""
        deadline = time.monotonic() + seconds
        while True:
            entry = await self.entry(domain)
            if entry is not None and entry["state"] == state:
                return entry
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{domain} entry is {entry and entry['state']!r}, not {state!r}:\n"
                    f"{self.log_tail()}"
                )
            await asyncio.sleep(0.25)

    async def states(self) -> dict[str, dict[str, Any]]:
        """Every entity state, keyed by entity id (``GET /api/states``)."""
        status, states = await self.request("GET", "/api/states")
        if status != 200:
            raise RuntimeError(f"reading states failed: {status} {states}")
        return {state["entity_id"]: state for state in states}

    async def remove_failed_entries(self) -> list[str]:
        """Delete the entries onboarding added that cannot work offline (met.no, ...).

        Onboarding adds a weather and a radio integration that need the internet;
        without it they show "Failed setup" cards and fill the log. Returns the
        domains removed.
        """
        status, entries = await self.request("GET", "/api/config/config_entries/entry")
        if status != 200:
            raise RuntimeError(f"listing config entries failed: {status} {entries}")
        removed = []
        for entry in entries:
            if entry["state"] in ("setup_retry", "setup_error"):
                status, body = await self.request(
                    "DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}"
                )
                if status != 200:
                    raise RuntimeError(f"removing {entry['domain']} failed: {body}")
                removed.append(entry["domain"])
        return removed

    async def wait_state(
        self,
        entity_id: str,
        done: Callable[[str], bool],
        *,
        seconds: float = 60,
    ) -> dict[str, Any]:
        """Poll ``/api/states/<entity_id>`` until ``done(state)``; return the state."""
        deadline = time.monotonic() + seconds
        while True:
            status, state = await self.request("GET", f"/api/states/{entity_id}")
            if status == 200 and done(state["state"]):
                result: dict[str, Any] = state
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"{entity_id} stayed {state!r}:\n{self.log_tail()}")
            await asyncio.sleep(0.25)


async def home_and_cabin(
    factory: ServerFactory,
    library: LibrarySpec,
    *,
    home_version: str = "10.11.11",
    cabin_version: str = "10.10.7",
) -> tuple[SimulatedServer, SimulatedServer]:
    """The two servers of the end-to-end tests, both with the users alice and bob.

    Their media roots differ, so items match by provider ids and relative paths.
    """
    home = await factory(
        name="Home",
        version=home_version,
        media_root="/media/home",
        library=library,
        users=["alice", "bob"],
    )
    cabin = await factory(
        name="Cabin",
        version=cabin_version,
        media_root="/mnt/cabin",
        library=library,
        users=["alice", "bob"],
    )
    return home, cabin
