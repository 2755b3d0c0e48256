"""The sync benchmark's machinery on a tiny library (structure, not speed).

Runs ``benchmarks.sync_bench`` end to end with 2 simulated servers of about 300 items
in a child process, and checks the facts the benchmark relies on: every scenario
yields a row with the documented keys, the engine writes exactly the changed
(server, user, item) triples, a cycle without changes writes nothing and asks less
than the naive full scan, and the stall meter sees a blocked loop.
"""

import asyncio
from dataclasses import asdict
import gc
import json
from pathlib import Path
import sys
import time

import pytest

from benchmarks import engine_only, sync_bench

KEYS = {
    "scenario",
    "items",
    "servers",
    "users",
    "wall_s",
    "requests",
    "bytes_in",
    "bytes_out",
    "writes",
    "peak_rss_mb",
    "max_loop_stall_ms",
}


async def test_benchmark_rows_on_a_small_library(socket_enabled: None) -> None:
    # Pages of 25 so that, as with a real library, a full scan takes many pages.
    rows = await sync_bench.run_combo(300, 2, max_concurrent_requests=2, page_size=25)

    assert [r.scenario for r in rows] == list(sync_bench.SCENARIOS)
    by_name = {r.scenario: r for r in rows}
    for row in rows:
        assert asdict(row).keys() >= KEYS
        assert (row.servers, row.users) == (2, 3)
        assert row.items > 250
        assert row.requests > 0
        assert row.bytes_in > 0
        assert 1 <= row.peak_concurrency <= 2
        assert len(row.per_server) == 2
    first = by_name["first_sync"]
    assert first.writes == first.expected_writes > 0
    assert by_name["no_change"].writes == 0
    assert by_name["no_change"].requests < by_name["naive_no_change"].requests
    assert by_name["no_change"].bytes_in < by_name["naive_no_change"].bytes_in
    assert by_name["changes_20"].writes == by_name["changes_20"].expected_writes == 20
    # The naive run agrees that the servers are identical after the sync.
    assert by_name["naive_no_change"].writes == 0
    text = sync_bench.table(rows)
    table_lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table_lines) == 1 + len(rows)
    assert "of the bytes" in text
    # The floor re-lists exactly the items with data; a no-change cycle stays near it.
    floor = by_name["udata_floor"]
    assert 0 < floor.bytes_in < by_name["naive_no_change"].bytes_in
    assert sync_bench.floor_ratio(by_name["no_change"], floor) <= 1.5
    assert "no_change / udata_floor" in text


async def test_benchmark_runs_each_version(socket_enabled: None) -> None:
    """On 10.10 the old Dislikes sweep read the whole library; now it stays at the floor."""
    rows = await sync_bench.run_combo(
        600, 2, max_concurrent_requests=2, page_size=50, version="10.10.7"
    )
    by_name = {r.scenario: r for r in rows}
    assert {r.version for r in rows} == {"10.10.7"}
    assert by_name["first_sync"].writes == by_name["first_sync"].expected_writes
    assert sync_bench.floor_ratio(by_name["no_change"], by_name["udata_floor"]) <= 1.5


async def test_monitor_sees_a_blocked_loop() -> None:
    async with sync_bench.Monitor() as monitor:
        time.sleep(0.06)  # noqa: ASYNC251 - blocking on purpose
        await asyncio.sleep(0.01)
    assert monitor.max_stall >= 0.05
    assert monitor.peak_kb >= monitor.rss_before_kb > 0


async def test_monitor_counts_full_collector_passes() -> None:
    async with sync_bench.Monitor() as monitor:
        gc.collect(0)
        gc.collect()
        gc.collect()
        await asyncio.sleep(0)
    assert monitor.full_passes == 2
    assert monitor.max_gc > 0


def test_engine_only_is_left_alone_outside_the_benchmark_process() -> None:
    # Imported by a test, the benchmark keeps the real integration package (its
    # Home Assistant glue is needed by the other tests in this process).
    assert not engine_only.engine_only()
    assert not engine_only.ACTIVE
    assert hasattr(sys.modules["custom_components.jellyfin_sync"], "async_setup_entry")


def test_in_process_run_cannot_import_home_assistant_after_the_fact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine_only, "ACTIVE", True)
    assert sync_bench.main(["--in-process", "--with-home-assistant"]) == 2


def test_command_line_writes_json_rows(tmp_path: Path) -> None:
    args = sync_bench.parse_args(["--sizes", "300", "--servers", "2,4", "--json", "x"])
    assert (args.sizes, args.servers, args.json) == ([300], [2, 4], Path("x"))
    defaults = sync_bench.parse_args([])
    assert (defaults.sizes, defaults.servers) == ([10_000, 50_000, 100_000], [2, 4])
    assert defaults.versions == ["10.10.7", "10.11.11"]
    chosen = sync_bench.parse_args(["--versions", "10.8.13, 12.0.0"])
    assert chosen.versions == ["10.8.13", "12.0.0"]
    for bad in ("10.7.1", "12", "latest", ","):
        with pytest.raises(SystemExit):
            sync_bench.parse_args(["--versions", bad])
    row = sync_bench.Row("no_change", 300, 2, 3, 0.1, 5, 100, 0, 0, 1.0, 2.0)
    target = tmp_path / "rows.json"
    sync_bench.write_json([row], target)
    assert json.loads(target.read_text())[0].keys() >= KEYS


def test_packing_benchmark_prints_one_line_per_size(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from benchmarks import packing_gc

    assert packing_gc.main(["--sizes", "50,200", "--repeat", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Python ")
    assert [line.split()[0] for line in lines[1:]] == ["50", "200"]
    assert "200 tracked" in lines[2]
