"""The whole user path over HTTP: a real Home Assistant process and two simulated servers.

Home Assistant runs as its own process (``python -m homeassistant``) with a fresh
configuration folder and the integration from the working tree; the two simulated
Jellyfin servers run in this test's event loop on 127.0.0.1. Everything the test does
to Home Assistant goes through its public HTTP API, the way the frontend and
automations reach it: onboarding, the config flow (``/api/config/config_entries/flow``),
the ``jellyfin_sync.run`` action (``/api/services/...?return_response``) and
``/api/states``. What a user changes happens on a simulated server, through the
simulator's own Jellyfin semantics.
"""

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import HomeAssistantProcess, home_and_cabin, matchable_movies
from tests.simulator import LibrarySpec, SimulatedServer
from tests.simulator.fixtures import ServerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("socket_enabled")]


LIBRARY = LibrarySpec(
    seed=11,
    movies=20,
    series=2,
    seasons_per_series=1,
    episodes_per_season=4,
    music_artists=1,
    albums_per_artist=1,
    tracks_per_album=2,
)
DOMAIN = "jellyfin_sync"
STATUS = "sensor.home_cabin_status"
APPLIED = "sensor.home_cabin_changes_applied"
LAST_SYNC = "sensor.home_cabin_last_successful_sync"
HELD = "sensor.home_cabin_held_changes"
HOME_ONLINE = "binary_sensor.home_connectivity"
CABIN_ONLINE = "binary_sensor.cabin_connectivity"
CABIN_TRACKED = "sensor.cabin_tracked_items"
# 10 minutes of a film, in Jellyfin ticks (100 ns).
TEN_MINUTES = 10 * 60 * 10_000_000


def cycle_finished(state: str) -> bool:
    """The status sensor shows the outcome of a finished cycle."""
    return state not in ("idle", "syncing", "unknown", "unavailable")


async def flow_step(
    ha: HomeAssistantProcess, flow_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Submit one config-flow step like the frontend's dialog does."""
    status, result = await ha.request(
        "POST", f"/api/config/config_entries/flow/{flow_id}", json=data
    )
    assert status == 200, result
    return result


async def add_group(
    ha: HomeAssistantProcess, home: SimulatedServer, cabin: SimulatedServer
) -> str:
    """Add the sync group through the config flow, one wrong key on the way."""
    status, form = await ha.request(
        "POST",
        "/api/config/config_entries/flow",
        json={"handler": DOMAIN, "show_advanced_options": False},
    )
    assert status == 200, form
    assert (form["type"], form["step_id"]) == ("form", "user")
    fields = [field["name"] for field in form["data_schema"]]
    assert fields == ["url", "api_key", "verify_ssl"]
    flow_id = form["flow_id"]

    wrong = await flow_step(
        ha,
        flow_id,
        {"url": home.url, "api_key": "0" * 32, "verify_ssl": True},
    )
    assert wrong["type"] == "form"
    assert wrong["step_id"] == "user"
    assert wrong["errors"] == {"base": "invalid_auth"}

    second = await flow_step(
        ha,
        flow_id,
        {"url": home.url, "api_key": home.api_key, "verify_ssl": True},
    )
    assert (second["type"], second["step_id"]) == ("form", "add_server")
    assert second["description_placeholders"]["servers"] == "Home"

    menu = await flow_step(
        ha,
        flow_id,
        {"url": cabin.url, "api_key": cabin.api_key, "verify_ssl": True},
    )
    assert menu["type"] == "menu"
    assert menu["menu_options"] == ["add_server", "finish"]

    finish = await flow_step(ha, flow_id, {"next_step_id": "finish"})
    assert (finish["type"], finish["step_id"]) == ("form", "finish")
    assert [field["name"] for field in finish["data_schema"]] == ["instant_sync"]
    created = await flow_step(ha, flow_id, {"instant_sync": False})
    assert created["type"] == "create_entry", created
    assert created["title"] == "Home & Cabin"
    entry_id: str = created["result"]["entry_id"]
    return entry_id


async def run_sync(ha: HomeAssistantProcess, entry_id: str) -> dict[str, Any]:
    """Call ``jellyfin_sync.run`` with a response, as a script would."""
    status, body = await ha.request(
        "POST",
        "/api/services/jellyfin_sync/run?return_response",
        json={"config_entry_id": entry_id},
    )
    assert status == 200, body
    result: dict[str, Any] = body["service_response"]["groups"][entry_id]
    return result


@pytest.mark.parametrize("home_version", ["10.11.11", "12.0.0"])
async def test_sync_group_over_http(
    tmp_path: Path, jellyfin_server_factory: ServerFactory, home_version: str
) -> None:
    """The whole product over HTTP; once with Home on 10.11 and once on 12.0."""
    home, cabin = await home_and_cabin(
        jellyfin_server_factory, LIBRARY, home_version=home_version
    )
    home_movies = matchable_movies(home)
    cabin_item = {
        m.identity: cabin.item_by_key(m.identity).id for m in matchable_movies(cabin)
    }
    # History from before the group existed: the first cycle merges it.
    home.act("alice").mark_played(home_movies[0].id)
    cabin.act("bob").favorite(cabin_item[home_movies[1].identity])

    ha = HomeAssistantProcess(tmp_path / "config")
    try:
        await ha.start()
        await ha.onboard()
        entry_id = await add_group(ha, home, cabin)
        await ha.wait_entry_state(DOMAIN, "loaded")
        # Setup only checks the servers; the first cycle runs in the background.
        await ha.wait_state(STATUS, cycle_finished)

        # The first cycle merged the history of both servers.
        first = home.dump_user_data()
        assert first == cabin.dump_user_data()
        assert first["alice"][home_movies[0].identity]["Played"] is True
        assert first["bob"][home_movies[1].identity]["IsFavorite"] is True
        states = await ha.states()
        assert states[STATUS]["state"] == "ok"
        assert states[HOME_ONLINE]["state"] == "on"
        assert states[CABIN_ONLINE]["state"] == "on"

        # A user watches, pauses and favourites on Home; the action syncs it.
        # Music too: a played track and a favourite album.
        alice = home.act("alice")
        alice.mark_played(home_movies[2].id)
        alice.progress(home_movies[3].id, TEN_MINUTES)
        home.act("bob").favorite(home_movies[4].id)
        track = next(i for i in home.items if i.type == "Audio")
        album = next(i for i in home.items if i.type == "MusicAlbum")
        alice.watch(track.id)
        alice.favorite(album.id)
        result = await run_sync(ha, entry_id)
        summary = result["summary"]
        assert summary["outcome"] == "ok", result
        assert summary["applied"] == summary["planned"] == 5
        assert summary["failed"] == 0
        cabin_data = cabin.dump_user_data()
        assert cabin_data == home.dump_user_data()
        assert cabin_data["alice"][home_movies[2].identity]["Played"] is True
        paused = cabin.user_data("alice", cabin_item[home_movies[3].identity])
        assert paused["PlaybackPositionTicks"] == TEN_MINUTES
        assert cabin_data["bob"][home_movies[4].identity]["IsFavorite"] is True
        assert cabin_data["alice"][track.identity]["PlayCount"] == 1
        assert cabin_data["alice"][album.identity]["IsFavorite"] is True

        states = await ha.states()
        assert states[STATUS]["state"] == "ok"
        assert states[APPLIED]["state"] == "5"
        assert states[HELD]["state"] == "0"
        # Timestamp sensors publish whole seconds.
        finished = datetime.fromisoformat(summary["finished_at"])
        assert states[LAST_SYNC]["state"] == finished.replace(microsecond=0).isoformat()
        assert int(states[CABIN_TRACKED]["state"]) == sum(
            len(per_user) for per_user in cabin_data.values()
        )

        # Cabin goes down; a change on Home waits, nothing is lost or reset.
        cabin.faults.down()
        home.act("alice").mark_played(home_movies[5].id)
        before_home, before_cabin = home.dump_user_data(), cabin.dump_user_data()
        result = await run_sync(ha, entry_id)
        assert result["summary"]["outcome"] == "error"
        assert result["summary"]["applied"] == 0
        states = await ha.states()
        assert states[CABIN_ONLINE]["state"] == "off"
        assert states[HOME_ONLINE]["state"] == "on"
        assert states[STATUS]["state"] == "error"
        assert states[CABIN_TRACKED]["state"] == "unavailable"
        assert home.dump_user_data() == before_home
        assert cabin.dump_user_data() == before_cabin

        cabin.faults.up()
        await cabin.wait_up()
        result = await run_sync(ha, entry_id)
        assert result["summary"]["outcome"] == "ok", result
        assert result["summary"]["applied"] == 1
        assert cabin.dump_user_data() == home.dump_user_data()
        assert cabin.dump_user_data()["alice"][home_movies[5].identity]["Played"]
        assert (await ha.states())[CABIN_ONLINE]["state"] == "on"

        # While Home Assistant is stopped alice un-watches a synced film on Home.
        # Only the stored baseline tells an un-watch from "Cabin watched it": with
        # it the startup cycle un-watches Cabin; without it, it would re-mark Home.
        await ha.stop()
        home.act("alice").mark_unplayed(home_movies[2].id)
        await ha.start()
        await ha.login()
        await ha.wait_entry_state(DOMAIN, "loaded")
        assert (await ha.wait_state(STATUS, cycle_finished))["state"] == "ok"
        after_restart = home.dump_user_data()
        assert home_movies[2].identity not in after_restart["alice"]
        assert cabin.dump_user_data() == after_restart
        assert after_restart["alice"][home_movies[5].identity]["Played"] is True

        result = await run_sync(ha, entry_id)
        assert result["summary"]["outcome"] == "ok", result
        assert result["summary"]["planned"] == 0
        assert result["report"]["writes_planned"] == 0
        assert home.dump_user_data() == after_restart
        assert cabin.dump_user_data() == after_restart
    finally:
        await ha.stop()

    log = ha.log_text()
    for secret in (home.api_key, cabin.api_key):
        assert secret not in log
    problems = [
        line
        for line in log.splitlines()
        if "jellyfin_sync" in line and ("ERROR" in line or "Traceback" in line)
    ]
    assert not problems, "\n".join(problems)


async def test_undo_of_an_approved_mass_unwatch_over_http(
    tmp_path: Path, jellyfin_server_factory: ServerFactory
) -> None:
    """Held, approved in the repair flow, undone: both servers watched again.

    The next cycle neither re-applies nor re-holds the un-watches; the one after
    writes nothing.
    """
    home, cabin = await home_and_cabin(jellyfin_server_factory, LIBRARY)
    movies = matchable_movies(home)
    for movie in movies:
        home.act("alice").mark_played(movie.id)
    ha = HomeAssistantProcess(tmp_path / "config")
    try:
        await ha.start()
        await ha.onboard()
        entry_id = await add_group(ha, home, cabin)
        await ha.wait_entry_state(DOMAIN, "loaded")
        await ha.wait_state(STATUS, cycle_finished)
        watched = home.dump_user_data()
        assert watched == cabin.dump_user_data()

        for movie in movies:
            home.act("alice").mark_unplayed(movie.id)
        result = await run_sync(ha, entry_id)
        assert result["summary"]["held"] == len(movies), result["summary"]
        assert cabin.dump_user_data() == watched

        # The repair's fix flow approves them, as a click in the dialog does.
        issue_id = f"held_changes_{entry_id}"
        status, flow = await ha.request(
            "POST",
            "/api/repairs/issues/fix",
            json={"handler": DOMAIN, "issue_id": issue_id},
        )
        assert status == 200, flow
        assert flow["step_id"] == "confirm"
        status, done = await ha.request(
            "POST", f"/api/repairs/issues/fix/{flow['flow_id']}", json={}
        )
        assert status == 200, done
        assert done["type"] == "create_entry", done
        assert cabin.dump_user_data() == home.dump_user_data() != watched

        status, undone = await ha.request(
            "POST",
            "/api/services/jellyfin_sync/undo?return_response",
            json={"config_entry_id": entry_id},
        )
        assert status == 200, undone
        counts = undone["service_response"]["by_server"]
        assert counts["Cabin"]["restored"] == len(movies)
        assert counts["Home"]["restored"] == len(movies)
        assert home.dump_user_data() == cabin.dump_user_data() == watched

        for _ in range(2):
            result = await run_sync(ha, entry_id)
            assert result["summary"]["outcome"] == "ok", result
            assert result["summary"]["planned"] == result["summary"]["held"] == 0
        assert home.dump_user_data() == cabin.dump_user_data() == watched
        assert (await ha.states())[HELD]["state"] == "0"
    finally:
        await ha.stop()
