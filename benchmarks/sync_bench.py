"""Benchmark: what a sync cycle costs for big libraries, next to a naive full scan.

Run ``scripts/bench [--sizes 10000,50000,100000] [--servers 2,4] [--json PATH]``
(``python -m benchmarks.sync_bench``). For every library size and server count it
starts simulated Jellyfin 10.11 servers (same media under different roots, so no
shared ids; three users with a few thousand played, resumable, favourite and rated
items each, partly different per server) in a child process
(:mod:`benchmarks.sim_host`), and runs the real client and engine against them in a
fresh worker process:

``first_sync``
    the first cycle, without a baseline (loads every item index, merges);
``no_change``
    the next cycle, nothing changed anywhere;
``changes_20``
    a cycle after 20 changes spread over users and servers;
``naive_no_change``
    the stateless reference: every user's whole library with user data from every
    server, compared item by item (how peers without a baseline work).

``udata_floor``
    the least any complete sync must read: exactly the items that carry user data,
    listed by id without identity fields (the ``no_change`` row's bytes over this
    row's are the "ratio to the floor");

Every run uses one Jellyfin version for all its servers (``--versions``, default
``10.10.7,10.11.11``); the filters that find items with data differ per version.

Per row: wall time and the CPU time of the sync's process, HTTP requests and body
bytes received/sent by the sync for the busiest server (counted by the client,
cross-checked against the simulator's own counters), writes made and the writes the
changes called for, the peak number of requests in flight at any server, the growth
of the worker's peak RSS over its RSS before the scenario, the longest event-loop
stall (a 5 ms ticker on the sync's loop; the servers run in another process, so the
stalls are the sync's own) in wall and in CPU time, the longest garbage-collector
pass and the machine's load average. After the first sync and after the changes the
simulator checks that every server shows every entry (nothing was lost).
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
import contextlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
import gc
import json
import os
from pathlib import Path
import sys
import time
from typing import Any, Self

import aiohttp

from benchmarks import engine_only
from custom_components.jellyfin_sync.jellyfin import JellyfinClient, UserData
from custom_components.jellyfin_sync.sync import (
    ServerOptions,
    SyncEngine,
    SyncOptions,
    SyncReport,
)
from custom_components.jellyfin_sync.sync.kinds import ALL_TYPES, LIBRARY_ONLY_TYPES

REPO = Path(__file__).resolve().parents[1]
USERS = ("alice", "bob", "carol")
SCENARIOS = ("first_sync", "no_change", "changes_20", "naive_no_change", "udata_floor")
DEFAULT_VERSIONS = ("10.10.7", "10.11.11")
#: Fields a naive peer compares (the user data this project syncs).
NAIVE_FIELDS = (
    "played",
    "play_count",
    "playback_position_ticks",
    "last_played_date",
    "is_favorite",
    "rating",
)


@dataclass(slots=True)
class Row:
    """One scenario's measurements (the keys of ``--json``)."""

    scenario: str
    items: int
    servers: int
    users: int
    wall_s: float
    requests: int
    """HTTP requests to the busiest server."""
    bytes_in: int
    """Response body bytes the sync received from the busiest server."""
    bytes_out: int
    """Request body bytes the sync sent to the busiest server."""
    writes: int
    peak_rss_mb: float
    """Growth of the process's peak RSS over its RSS before the scenario."""
    max_loop_stall_ms: float
    expected_writes: int | None = None
    """Changed (server, user, item) triples when known; ``writes`` should equal it."""
    peak_concurrency: int = 0
    """Most requests in flight at once at any one server."""
    cpu_s: float = 0.0
    """CPU seconds the sync's process used (the servers run elsewhere); steadier
    than wall time on a shared machine."""
    load: float = 0.0
    """The machine's 1-minute load average when the scenario ended."""
    max_loop_busy_ms: float = 0.0
    """Longest stall counting only the time this thread ran on a CPU (a loaded
    machine that does not schedule the process makes wall stalls without any
    blocking code; those do not count here)."""
    max_gc_ms: float = 0.0
    """Longest single garbage-collector pass, CPU time (it stops the loop too)."""
    full_gc_passes: int = 0
    """Full (oldest-generation) passes of the garbage collector during the scenario."""
    home_assistant: bool = False
    """Whether Home Assistant was imported in the sync's process (see
    :mod:`benchmarks.engine_only`)."""
    per_server: list[dict[str, Any]] = field(default_factory=list)
    """Requests and bytes per server (client side)."""
    version: str = "10.11.11"
    """The simulated Jellyfin version of every server in the run."""


# ------------------------------------------------------------------ measuring


def _status_kb(key: str) -> int | None:
    """A ``kB`` value from ``/proc/self/status`` (Linux), else ``None``."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (``VmHWM``); False when not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


#: The generation a full garbage-collector pass collects.
OLDEST_GENERATION = len(gc.get_count()) - 1


class Monitor:
    """Longest event-loop stall and peak RSS while a scenario runs.

    A ticker sleeps 5 ms at a time and records how late it wakes up: a step that
    holds the loop for 80 ms makes the ticker 75+ ms late. Each lateness is also
    taken in CPU time of this thread (the part of the stall in which the loop's
    thread really ran), which tells blocking code from a busy machine. The longest
    pass of the cyclic garbage collector is recorded too (a full pass over a big
    heap is a stall that no code path shows). The peak RSS comes from the kernel's high-water mark
    (reset at start) or, where that cannot be reset, from sampling the RSS.
    """

    TICK = 0.005

    def __init__(self) -> None:
        """Create an idle monitor."""
        self.max_stall = 0.0
        self.max_busy = 0.0
        self.max_gc = 0.0
        self.full_passes = 0
        self._gc_started = 0.0
        self.rss_before_kb = 0
        self.peak_kb = 0
        self._hwm = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        """Start ticking."""
        self.rss_before_kb = _status_kb("VmRSS") or 0
        self._hwm = _reset_peak_rss()
        self.peak_kb = self.rss_before_kb
        gc.callbacks.append(self._gc)
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop ticking; take the peak."""
        gc.callbacks.remove(self._gc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sample()
        if self._hwm:
            self.peak_kb = max(self.peak_kb, _status_kb("VmHWM") or 0)

    def _gc(self, phase: str, info: Mapping[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.thread_time()
            self.full_passes += info["generation"] == OLDEST_GENERATION
        else:
            self.max_gc = max(self.max_gc, time.thread_time() - self._gc_started)

    def _sample(self) -> None:
        rss = _status_kb("VmRSS") or 0
        self.peak_kb = max(self.peak_kb, rss)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        ticks = 0
        while True:
            due = loop.time() + self.TICK
            cpu = time.thread_time()
            await asyncio.sleep(self.TICK)
            late = loop.time() - due
            self.max_stall = max(self.max_stall, late)
            self.max_busy = max(self.max_busy, min(late, time.thread_time() - cpu))
            ticks += 1
            if not self._hwm and ticks % 4 == 0:
                self._sample()

    @property
    def growth_mb(self) -> float:
        """Peak RSS over the RSS at start, in MB."""
        return max(0, self.peak_kb - self.rss_before_kb) / 1024


class InFlight:
    """Peak number of requests awaiting an answer, per server (``host:port``).

    Hooked into the session with an :class:`aiohttp.TraceConfig`: a request counts
    from the moment it is sent until its response headers arrive (or it fails),
    which is the time the server works on it.
    """

    def __init__(self) -> None:
        """Start with nothing in flight."""
        self.now: dict[str, int] = defaultdict(int)
        self.peak: dict[str, int] = defaultdict(int)
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._start)  # type: ignore[arg-type]
        self.config.on_request_end.append(self._end)  # type: ignore[arg-type]
        self.config.on_request_exception.append(self._end)  # type: ignore[arg-type]

    async def _start(self, _session: Any, _context: Any, params: Any) -> None:
        key = f"{params.url.host}:{params.url.port}"
        self.now[key] += 1
        self.peak[key] = max(self.peak[key], self.now[key])

    async def _end(self, _session: Any, _context: Any, params: Any) -> None:
        self.now[f"{params.url.host}:{params.url.port}"] -= 1

    def reset(self) -> None:
        """Forget the peaks (requests in flight stay counted)."""
        self.peak = defaultdict(int, self.now)


class SimHost:
    """The simulated servers' child process (:mod:`benchmarks.sim_host`)."""

    def __init__(self) -> None:
        """Nothing runs until entered."""
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Self:
        """Start the child process."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.sim_host",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
            limit=16 * 1024 * 1024,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Ask the child to stop; kill it if it does not."""
        process = self._process
        if process is None:
            return
        if process.returncode is None and process.stdin is not None:
            with contextlib.suppress(ConnectionError):
                process.stdin.write(b'{"cmd": "quit"}\n')
                await process.stdin.drain()
            process.stdin.close()
            try:
                async with asyncio.timeout(30):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()

    async def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one command and return the answer."""
        process = self._process
        if process is None or process.stdin is None or process.stdout is None:
            raise RuntimeError("the simulator process is not running")
        process.stdin.write(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
        await process.stdin.drain()
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError(f"simulator process ended during {cmd!r}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"simulator: {cmd}: {answer['error']}")
        if answer.get("violations"):
            raise RuntimeError(
                f"simulator saw {answer['violations']} OpenAPI violations"
            )
        return answer


# ------------------------------------------------------------------ naive


#: What the naive reference lists: every synced type a server-wide listing reads
#: (home videos are read per library).
NAIVE_TYPES = tuple(t for t in ALL_TYPES if t not in LIBRARY_ONLY_TYPES)


async def naive_cycle(
    clients: Mapping[str, JellyfinClient],
    servers: Sequence[Mapping[str, Any]],
    users: Sequence[str],
) -> int:
    """Read everything from everywhere and compare; return the differences found.

    Every user's whole library with user data from every server (no baseline, no
    index, no filters), matched by the path below the media root.
    """
    tables: dict[tuple[str, str], dict[str, UserData]] = {}

    async def scan(server: Mapping[str, Any]) -> None:
        client = clients[server["server_id"]]
        root = server["media_root"]
        for user in users:
            table: dict[str, UserData] = {}
            async for page in client.iter_items(
                server["users"][user], item_types=NAIVE_TYPES
            ):
                for item in page:
                    if item.path and item.user_data is not None:
                        table[item.path.removeprefix(root)] = item.user_data
            tables[(server["server_id"], user)] = table

    await asyncio.gather(*(scan(s) for s in servers))
    differences = 0
    for user in users:
        per_server = [tables[(s["server_id"], user)] for s in servers]
        keys = set().union(*per_server)
        for count, key in enumerate(keys, 1):
            states = [t.get(key) for t in per_server]
            first = states[0]
            for state in states[1:]:
                if any(
                    getattr(state, name, None) != getattr(first, name, None)
                    for name in NAIVE_FIELDS
                ):
                    differences += 1
            if count % 2000 == 0:
                await asyncio.sleep(0)
    return differences


# ------------------------------------------------------------------ running


@dataclass(slots=True)
class Setup:
    """A running set of servers with clients and an engine."""

    host: SimHost
    servers: list[dict[str, Any]]
    clients: dict[str, JellyfinClient]
    engine: SyncEngine
    items: int
    first_sync_writes: int
    in_flight: InFlight
    version: str


def _stats(clients: Mapping[str, JellyfinClient]) -> dict[str, dict[str, int]]:
    return {
        sid: {
            "requests": c.request_stats.requests,
            "bytes_in": c.request_stats.bytes_in,
            "bytes_out": c.request_stats.bytes_out,
        }
        for sid, c in clients.items()
    }


async def measure(
    setup: Setup,
    scenario: str,
    action: Callable[[], Awaitable[int]],
    expected_writes: int | None = None,
) -> Row:
    """Run one scenario under the monitor and collect its row."""
    await setup.host.call("reset")
    setup.in_flight.reset()
    before = _stats(setup.clients)
    async with Monitor() as monitor:
        started = time.perf_counter()
        cpu = time.process_time()
        writes = await action()
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
    after = _stats(setup.clients)
    server_view = await setup.host.call("counters")
    per_server: list[dict[str, Any]] = []
    for sid in sorted(setup.clients):
        mine = {k: after[sid][k] - before[sid][k] for k in after[sid]}
        theirs = server_view[sid]
        if theirs["requests"] != mine["requests"]:
            raise RuntimeError(
                f"{scenario}: client counted {mine['requests']} requests, "
                f"server {sid} {theirs['requests']}"
            )
        url = setup.clients[sid].url
        peak = setup.in_flight.peak[url.removeprefix("http://")]
        per_server.append({"server": sid, **mine, "peak_concurrency": peak})
    busiest = max(per_server, key=lambda s: (s["requests"], s["bytes_in"]))
    return Row(
        version=setup.version,
        scenario=scenario,
        items=setup.items,
        servers=len(setup.servers),
        users=len(USERS),
        wall_s=round(wall, 3),
        requests=busiest["requests"],
        bytes_in=busiest["bytes_in"],
        bytes_out=busiest["bytes_out"],
        writes=writes,
        peak_rss_mb=round(monitor.growth_mb, 1),
        max_loop_stall_ms=round(monitor.max_stall * 1000, 1),
        cpu_s=round(cpu, 3),
        load=round(os.getloadavg()[0], 2),
        max_loop_busy_ms=round(monitor.max_busy * 1000, 1),
        max_gc_ms=round(monitor.max_gc * 1000, 1),
        full_gc_passes=monitor.full_passes,
        home_assistant=not engine_only.ACTIVE,
        expected_writes=expected_writes,
        peak_concurrency=max(s["peak_concurrency"] for s in per_server),
        per_server=per_server,
    )


def _engine_writes(report: SyncReport) -> int:
    if not report.ok:
        raise RuntimeError(f"sync cycle failed: {report.errors[:5]}")
    return report.writes_done


async def run_combo(
    items: int,
    servers: int,
    *,
    seed: int = 1,
    scenarios: Sequence[str] = SCENARIOS,
    max_concurrent_requests: int = 4,
    page_size: int = 500,
    version: str = "10.11.11",
    second_files: float = 0.0,
    music: int = 0,
) -> list[Row]:
    """Run the scenarios for one library size and server count; return the rows.

    ``page_size`` is the client's listing page size (Jellyfin clients use a few
    hundred); the engine and the naive run share it.
    """
    rows: list[Row] = []
    in_flight = InFlight()
    async with (
        SimHost() as host,
        aiohttp.ClientSession(trace_configs=[in_flight.config]) as session,
    ):
        started = await host.call(
            "start",
            items=items,
            servers=servers,
            users=list(USERS),
            seed=seed,
            version=version,
            second_files=second_files,
            music=music,
        )
        infos: list[dict[str, Any]] = started["servers"]
        clients = {
            s["server_id"]: JellyfinClient(
                s["url"],
                s["api_key"],
                session,
                max_concurrency=max_concurrent_requests,
                page_size=page_size,
            )
            for s in infos
        }
        options = SyncOptions(
            servers={
                s["server_id"]: ServerOptions(media_roots=(s["media_root"],))
                for s in infos
            },
            max_concurrent_requests=max_concurrent_requests,
        )
        setup = Setup(
            host=host,
            servers=infos,
            clients=clients,
            engine=SyncEngine(clients, options),
            items=infos[0]["items"],
            first_sync_writes=started["first_sync_writes"],
            in_flight=in_flight,
            version=version,
        )

        async def cycle() -> int:
            report = await setup.engine.run_cycle(now=datetime.now(UTC))
            # As the sync group does to note the sync's own writes (group/core.py):
            # a first sync's writes are thousands of objects.
            setup.engine.take_applied_writes()
            return _engine_writes(report)

        async def naive() -> int:
            return await naive_cycle(clients, infos, USERS)

        async def verify(after: str) -> None:
            # A fast sync that loses data proves nothing: check every entry.
            answer = await host.call("verify")
            if answer["wrong"]:
                raise RuntimeError(
                    f"after {after}: {answer['wrong']} of {answer['checked']} entries "
                    f"are not on every server, e.g. {answer['examples']}"
                )

        first = await measure(setup, "first_sync", cycle, setup.first_sync_writes)
        await verify("first_sync")
        if "first_sync" in scenarios:
            rows.append(first)
        if "no_change" in scenarios:
            rows.append(await measure(setup, "no_change", cycle, 0))
        if "changes_20" in scenarios:
            made = (await host.call("changes", n=20, seed=seed))["changes"]
            expected = len(made) * (servers - 1)
            rows.append(await measure(setup, "changes_20", cycle, expected))
            await verify("changes_20")
        if "naive_no_change" in scenarios:
            rows.append(await measure(setup, "naive_no_change", naive, 0))
        if "udata_floor" in scenarios:
            with_data = (await host.call("with_data"))["servers"]

            async def floor() -> int:
                await udata_floor(clients, with_data)
                return 0

            rows.append(await measure(setup, "udata_floor", floor, 0))
    return rows


async def udata_floor(
    clients: Mapping[str, JellyfinClient],
    with_data: Mapping[str, Mapping[str, Sequence[str]]],
) -> None:
    """Re-list exactly the items that carry user data, by id, without identity fields."""

    async def one(server_id: str, user_id: str, ids: Sequence[str]) -> None:
        await clients[server_id].get_items(user_id, ids, fields=())

    await asyncio.gather(
        *(
            one(server_id, user_id, ids)
            for server_id, per_user in with_data.items()
            for user_id, ids in per_user.items()
            if ids
        )
    )


# ------------------------------------------------------------------ output


def _mb(value: int) -> str:
    return f"{value / 1e6:.2f}"


COLUMNS = (
    ("version", 8, lambda r: r.version),
    ("scenario", 15, lambda r: r.scenario),
    ("items", 7, lambda r: str(r.items)),
    ("srv", 3, lambda r: str(r.servers)),
    ("usr", 3, lambda r: str(r.users)),
    ("wall s", 7, lambda r: f"{r.wall_s:.2f}"),
    ("cpu s", 6, lambda r: f"{r.cpu_s:.2f}"),
    ("req/srv", 7, lambda r: str(r.requests)),
    ("MB recv/srv", 11, lambda r: _mb(r.bytes_in)),
    ("MB sent/srv", 11, lambda r: _mb(r.bytes_out)),
    ("writes", 6, lambda r: str(r.writes)),
    (
        "expected",
        8,
        lambda r: "-" if r.expected_writes is None else str(r.expected_writes),
    ),
    ("conc", 4, lambda r: str(r.peak_concurrency)),
    ("RSS +MB", 7, lambda r: f"{r.peak_rss_mb:.1f}"),
    ("stall ms", 8, lambda r: f"{r.max_loop_stall_ms:.1f}"),
    ("cpu ms", 6, lambda r: f"{r.max_loop_busy_ms:.1f}"),
    ("gc ms", 6, lambda r: f"{r.max_gc_ms:.1f}"),
    ("full gc", 7, lambda r: str(r.full_gc_passes)),
    ("load", 4, lambda r: f"{r.load:.1f}"),
)


LEGEND = (
    "req/srv, MB recv/srv, MB sent/srv: requests and body bytes of the busiest "
    "server; expected: changed (server, user, item) triples; conc: most requests "
    "in flight at one server; RSS +MB: peak RSS growth of the sync's process; "
    "stall ms: longest event-loop stall (wall), cpu ms: the part of it the loop's "
    "thread was running, gc ms: longest garbage-collector pass, full gc: full "
    "collector passes; load: 1-min load average."
)


def table(rows: Sequence[Row]) -> str:
    """Rows as a Markdown table, with the ratios to the naive run below it."""
    head = "| " + " | ".join(name.ljust(width) for name, width, _ in COLUMNS) + " |"
    rule = "|" + "|".join("-" * (width + 2) for _, width, _ in COLUMNS) + "|"
    lines = [head, rule]
    for row in rows:
        cells = (fmt(row).rjust(width) for _, width, fmt in COLUMNS)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.extend(ratios(rows))
    lines.append("")
    lines.append(LEGEND)
    return "\n".join(lines)


def ratios(rows: Sequence[Row]) -> list[str]:
    """For each size and server count: no-change cost as a share of the naive run."""
    found: dict[tuple[str, int, int], dict[str, Row]] = defaultdict(dict)
    for row in rows:
        found[(row.version, row.items, row.servers)][row.scenario] = row
    lines: list[str] = []
    for (version, items, servers), by_name in sorted(found.items()):
        cheap, naive = by_name.get("no_change"), by_name.get("naive_no_change")
        least = by_name.get("udata_floor")
        if cheap is not None and least is not None:
            lines.append(
                f"{version}, {items} items, {servers} servers: no_change / "
                f"udata_floor = {floor_ratio(cheap, least):.2f} of the bytes"
            )
        if cheap is None or naive is None:
            continue
        share_bytes = cheap.bytes_in / max(1, naive.bytes_in)
        share_time = cheap.wall_s / max(1e-9, naive.wall_s)
        share_requests = cheap.requests / max(1, naive.requests)
        share_cpu = cheap.cpu_s / max(1e-9, naive.cpu_s)
        lines.append(
            f"{version}, {items} items, {servers} servers: no_change / naive = "
            f"{share_bytes:.1%} of the bytes, {share_time:.1%} of the time, "
            f"{share_cpu:.1%} of the CPU, {share_requests:.1%} of the requests"
        )
    return lines


def floor_ratio(cheap: Row, least: Row) -> float:
    """Bytes a no-change cycle received over the floor's, for the busiest server."""
    return cheap.bytes_in / max(1, least.bytes_in)


# ------------------------------------------------------------------ command line


def write_json(rows: Sequence[Row], path: Path) -> None:
    """Write the rows as a JSON list of objects (one per row)."""
    path.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from err
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"not a list of positive numbers: {text!r}")
    return values


def _version_list(text: str) -> list[str]:
    values = [part.strip() for part in text.split(",") if part.strip()]
    known = {"10.8", "10.9", "10.10", "10.11", "12.0"}
    for value in values:
        parts = value.split(".")
        if (
            len(parts) != 3
            or not all(p.isdigit() for p in parts)
            or (".".join(parts[:2]) not in known)
        ):
            raise argparse.ArgumentTypeError(
                f"not a simulated Jellyfin version: {value!r} "
                "(e.g. 10.8.13, 10.10.7, 10.11.11, 12.0.0)"
            )
    if not values:
        raise argparse.ArgumentTypeError("no version given")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sizes", type=_int_list, default=[10_000, 50_000, 100_000])
    parser.add_argument("--servers", type=_int_list, default=[2, 4])
    parser.add_argument(
        "--versions",
        type=_version_list,
        default=list(DEFAULT_VERSIONS),
        help="simulated Jellyfin versions, one run each (all servers of a run alike)",
    )
    parser.add_argument(
        "--second-files",
        type=float,
        default=0.0,
        help="share of titles with a second (2160p) file; on 12.0 one title with "
        "versions, whose positions the sync also reads from the resume list",
    )
    parser.add_argument(
        "--music",
        type=int,
        default=0,
        help="add a music library of about this many tracks (10 albums per artist, "
        "17 tracks per album: 50000 gives 3,000 albums) to every size",
    )
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="requests in flight per server (engine and client limit)",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run every size in this process (default: a fresh worker per size, "
        "so peak RSS is not skewed by the previous run)",
    )
    parser.add_argument(
        "--with-home-assistant",
        action="store_true",
        help="import Home Assistant in the sync's process, as in a real installation "
        "(default: the engine and client alone; see benchmarks/engine_only.py)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


async def _worker(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    for version, items, servers in _combos(args):
        combo = await run_combo(
            items,
            servers,
            seed=args.seed,
            max_concurrent_requests=args.concurrency,
            version=version,
            second_files=args.second_files,
            music=args.music,
        )
        for row in combo:
            print(table([row]).splitlines()[2], file=sys.stderr, flush=True)
        rows.extend(combo)
    return rows


def _combos(args: argparse.Namespace) -> list[tuple[str, int, int]]:
    return [
        (version, items, servers)
        for version in args.versions
        for items in args.sizes
        for servers in args.servers
    ]


def _spawn(
    args: argparse.Namespace, version: str, items: int, servers: int
) -> list[Row]:
    """Run one version, size and server count in a fresh worker process."""
    import subprocess  # noqa: PLC0415 - only the parent needs it

    command = [
        sys.executable,
        "-m",
        "benchmarks.sync_bench",
        "--worker",
        f"--versions={version}",
        f"--sizes={items}",
        f"--servers={servers}",
        f"--seed={args.seed}",
        f"--concurrency={args.concurrency}",
        f"--second-files={args.second_files}",
        f"--music={args.music}",
    ]
    env = os.environ.copy()
    if args.with_home_assistant:
        env[engine_only.WITH_HA_ENV] = "1"
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        command, cwd=REPO, stdout=subprocess.PIPE, check=True, env=env
    )
    return [Row(**row) for row in json.loads(done.stdout)]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    if args.worker:
        rows = asyncio.run(_worker(args))
        print(json.dumps([asdict(r) for r in rows]))
        return 0
    with_ha = args.with_home_assistant or not engine_only.ACTIVE
    where = "with Home Assistant" if with_ha else "engine only"
    print(
        f"sync benchmark on Python {sys.version.split()[0]}: "
        f"versions {args.versions}, sizes {args.sizes}, "
        f"servers {args.servers}, "
        f"{len(USERS)} users, {where}; progress on stderr",
        file=sys.stderr,
    )
    if args.in_process:
        if args.with_home_assistant and engine_only.ACTIVE:
            print(
                "scripts/bench: --in-process runs in this process, which was started "
                f"without {engine_only.WITH_HA_ENV}=1: set it instead of "
                "--with-home-assistant.",
                file=sys.stderr,
            )
            return 2
        rows = asyncio.run(_worker(args))
    else:
        rows = [
            row
            for version, items, servers in _combos(args)
            for row in _spawn(args, version, items, servers)
        ]
    print(table(rows))
    if args.json:
        write_json(rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
