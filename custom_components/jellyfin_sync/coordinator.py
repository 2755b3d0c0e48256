"""The coordinator of a sync group: one sync cycle per update.

A cycle checks every server (identity, version, key), runs the engine over the
usable ones (collect, plan, apply), stores the new baseline through Home Assistant's
``Store``, raises or clears repair issues and fires ``jellyfin_sync_completed``.
Cycles never overlap: scheduled updates, the button, the actions and the webhook's
targeted cycles share one lock, so a manual run waits for a running cycle and then
runs its own.
"""

import asyncio
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import (
    CONF_DRY_RUN,
    CONF_NAME,
    CONF_SCAN_INTERVAL,
    CONF_SERVER_ID,
    CONF_SERVERS,
    CONF_USER_MAP,
    CONF_USER_MODE,
    CONF_USERS,
    DOMAIN,
    EVENT_COMPLETED,
    LOGGER,
    MIN_SUPPORTED_VERSION,
    PROBE_TIMEOUT,
    REPORT_HISTORY,
    STATUS_DRY_RUN,
    STATUS_ERROR,
    STATUS_HELD,
    STATUS_IDLE,
    STATUS_OK,
    STATUS_SYNCING,
    STORAGE_MINOR_VERSION,
    STORAGE_VERSION,
    UNDO_HISTORY,
    USER_MODE_INCLUDE,
)
from .data import CycleSummary, ServerState, SyncGroupData
from .helpers import client_for
from .instant import InstantSync
from .jellyfin import JellyfinClient
from .jellyfin.exceptions import (
    JellyfinAuthError,
    JellyfinConnectionError,
    JellyfinError,
    JellyfinResponseError,
    JellyfinServerError,
)
from .jellyfin.models import ServerInfo, User
from .options import build_sync_options, effective_options, parse_user_map
from .repair_issues import (
    clear_group_issues,
    failure_issue,
    held_issue,
    version_issues,
)
from .sync import Baseline, SyncEngine, SyncReport
from .webhook import RecentWrites, WebhookSync

type JellyfinSyncConfigEntry = ConfigEntry[JellyfinSyncCoordinator]


class SyncStore(Store[dict[str, Any]]):
    """The group's stored state: engine baseline (with undo history) and reports."""

    @override
    async def _async_migrate_func(
        self,
        old_major_version: int,
        old_minor_version: int,
        old_data: dict[str, Any],
    ) -> dict[str, Any]:
        """Bring stored data of an older layout to the current one.

        Version 1.1 is the first layout; a newer major version cannot be read
        (Home Assistant refuses it before calling this), so only missing keys of
        older minor versions are filled in here.
        """
        data = dict(old_data)
        data.setdefault("baseline", None)
        data.setdefault("history", [])
        return data


def summarize(
    report: SyncReport, *, started: datetime, finished: datetime
) -> CycleSummary:
    """Counts of an engine report for sensors and the completion event."""
    if report.held:
        outcome = STATUS_HELD
    elif not report.ok:
        outcome = STATUS_ERROR
    elif report.dry_run:
        outcome = STATUS_DRY_RUN
    else:
        outcome = STATUS_OK
    return CycleSummary(
        started_at=started,
        finished_at=finished,
        outcome=outcome,
        dry_run=report.dry_run,
        full=report.full,
        planned=report.writes_planned,
        applied=report.writes_done,
        failed=report.writes_failed,
        conflicts=sum(report.conflicts_by_rule.values()),
        unmatched=sum(report.unmatched.values()),
        held=report.held,
        servers=tuple(sorted(s for s, r in report.servers.items() if r.readable)),
        error=None if report.ok else f"{report.errors_total} errors",
    )


def _describe(error: JellyfinError) -> str:
    """A short English reason for logs and repair issues (never a secret)."""
    if isinstance(error, JellyfinConnectionError):
        return "cannot connect"
    if isinstance(error, JellyfinServerError):
        return "server error or still starting"
    if isinstance(error, JellyfinResponseError):
        return "the answer is not Jellyfin's"
    return type(error).__name__


def _snapshot_baseline(baseline: Baseline) -> tuple[dict[str, Any], dict[str, int]]:
    """Serialized baseline and, per server, the items with user data it tracks.

    Runs in the executor: a large library makes this real CPU work.
    """
    counts: dict[str, int] = {}
    for user in baseline.users.values():
        for entry in user.items.values():
            for server_id, state in entry.confirmed.items():
                if not state.is_default:
                    counts[server_id] = counts.get(server_id, 0) + 1
    return baseline.to_dict(), counts


class JellyfinSyncCoordinator(DataUpdateCoordinator[SyncGroupData]):
    """Runs the sync cycles of one group and publishes their results."""

    config_entry: JellyfinSyncConfigEntry

    def __init__(self, hass: HomeAssistant, entry: JellyfinSyncConfigEntry) -> None:
        """Prepare clients and storage; no I/O here."""
        self.servers: list[dict[str, Any]] = [dict(s) for s in entry.data[CONF_SERVERS]]
        self.options = effective_options(self.servers, entry.options)
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=timedelta(minutes=self.options[CONF_SCAN_INTERVAL]),
        )
        self.clients: dict[str, JellyfinClient] = {
            s[CONF_SERVER_ID]: client_for(hass, s) for s in self.servers
        }
        # The check that opens each cycle (and setup) answers fast: a server that
        # does not respond is "down" for this cycle instead of holding it up.
        self._probe_clients: dict[str, JellyfinClient] = {
            s[CONF_SERVER_ID]: client_for(
                hass, s, retries=0, request_timeout=PROBE_TIMEOUT
            )
            for s in self.servers
        }
        self.names: dict[str, str] = {
            s[CONF_SERVER_ID]: s[CONF_NAME] for s in self.servers
        }
        self._store = SyncStore(
            hass,
            STORAGE_VERSION,
            f"{DOMAIN}.{entry.entry_id}",
            minor_version=STORAGE_MINOR_VERSION,
            private=True,
            atomic_writes=True,
        )
        self._lock = asyncio.Lock()
        self.syncing = False
        self.baseline = Baseline()
        self.engine: SyncEngine | None = None
        self._engine_servers: frozenset[str] = frozenset()
        self.history: deque[dict[str, Any]] = deque(maxlen=REPORT_HISTORY)
        self.last_report: dict[str, Any] | None = None
        self.infos: dict[str, ServerInfo] = {}
        self.users: dict[str, list[User]] = {}
        self._states: dict[str, ServerState] = {}
        self._tracked: dict[str, int] = {}
        self._last_success: datetime | None = None
        # The newest cycle an undo restored completely: undo without a cycle id
        # stops there, so calling it twice does not step back a second sync.
        self._last_undone: str | None = None
        self.undo_history: deque[dict[str, Any]] = deque(maxlen=UNDO_HISTORY)
        """The last undos: cycle ids and counts per server, no item data."""
        self._held = 0
        self._stored_baseline: dict[str, Any] | None = None
        self._published = False
        """Whether a cycle has produced data (the first refresh has not yet)."""
        self.recent_writes = RecentWrites()
        """The sync's own writes, to recognise their webhook echoes."""
        self.webhook: WebhookSync | None = None
        """The group's webhook (set up by ``async_setup_entry``)."""
        self.instant: InstantSync | None = None
        """The Webhook plugin set-up on the servers (``async_setup_entry``)."""

    # ---- properties used by entities -----------------------------------------------

    @property
    def cycle_lock(self) -> asyncio.Lock:
        """The lock every cycle runs under (cycles never overlap)."""
        return self._lock

    @property
    def status(self) -> str:
        """The status sensor's state."""
        if self.syncing:
            return STATUS_SYNCING
        cycle = self.data.last_cycle if self.data else None
        return STATUS_IDLE if cycle is None else cycle.outcome

    # ---- lifecycle -----------------------------------------------------------------

    @override
    async def _async_setup(self) -> None:
        """Load the stored baseline and reports (once, before the first cycle)."""
        stored = await self._store.async_load()
        if not stored:
            return
        raw = stored.get("baseline")
        if raw:
            try:
                self.baseline = await self.hass.async_add_executor_job(
                    Baseline.from_dict, raw
                )
                self._stored_baseline = raw
            except ValueError as err:
                LOGGER.warning(
                    "Stored sync state of %s cannot be read (%s); starting afresh",
                    self.config_entry.title,
                    err,
                )
        self.history.extend(stored.get("history", []))
        self._tracked = dict(stored.get("tracked", {}))
        if self.history:
            self._held = int(self.history[-1].get("held", 0))
        self._last_undone = stored.get("last_undone")
        self.undo_history.extend(stored.get("undo_history", []))
        last_success = stored.get("last_success")
        if last_success:
            self._last_success = datetime.fromisoformat(last_success)

    @staticmethod
    async def async_remove_store(
        hass: HomeAssistant, entry: JellyfinSyncConfigEntry
    ) -> None:
        """Delete a group's stored state (the group was deleted)."""
        await Store[dict[str, Any]](
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}"
        ).async_remove()

    async def instant_apply(self) -> None:
        """Set up (or remove) instant sync on the servers not done yet."""
        if self.instant is not None:
            await self.instant.async_apply()

    @callback
    def async_clear_issues(self) -> None:
        """Remove this group's repair issues (the group was unloaded)."""
        clear_group_issues(self.hass, self.config_entry.entry_id, self.clients)
        if self.instant is not None:
            self.instant.clear_issues()

    # ---- cycles --------------------------------------------------------------------

    @override
    async def _async_update_data(self) -> SyncGroupData:
        """Run one scheduled cycle (the first refresh only checks the servers).

        The first refresh runs during setup, which Home Assistant limits in time;
        a first sync of a large library can take longer, so setup only checks the
        servers and ``async_setup_entry`` starts the first cycle in the background.
        """
        async with self._lock:
            if not self._published:
                return await self._async_first_check()
            data, _report = await self._async_cycle(
                dry_run=None, full=False, users=None, approve_held=False
            )
        # Servers whose instant-sync set-up is not finished (plugin missing, down)
        # are tried again; the others cost nothing.
        await self.instant_apply()
        return data

    async def _async_first_check(self) -> SyncGroupData:
        """Check every server once (keys, versions) and publish their states."""
        problems = await self._async_check_servers()
        if len(problems) == len(self.clients):
            # Every server is down: let Home Assistant retry the setup.
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="too_few_servers_online",
                translation_placeholders={"title": self.config_entry.title},
            )
        self._update_server_states(problems)
        self._published = True
        return SyncGroupData(
            servers=dict(self._states),
            last_cycle=None,
            last_success=self._last_success,
            held=self._held,
        )

    async def _async_check_servers(self) -> dict[str, str]:
        """Probe every server; the reasons the unusable ones cannot be synced.

        Raises:
            ConfigEntryAuthFailed: a server rejected its key (starts reauth).
        """
        probe = await self._async_probe()
        for server_id, error in probe.items():
            if isinstance(error, JellyfinAuthError):
                raise ConfigEntryAuthFailed(
                    translation_domain=DOMAIN,
                    translation_key="auth_failed",
                    translation_placeholders={"server": self.names[server_id]},
                )
        problems: dict[str, str] = {}
        for server_id, error in probe.items():
            if error is not None:
                problems[server_id] = _describe(error)
            elif not self._check_version(server_id):
                problems[server_id] = "unsupported Jellyfin version"
        return problems

    async def async_run_cycle(
        self,
        *,
        dry_run: bool | None = None,
        full: bool = False,
        users: list[str] | None = None,
        approve_held: bool = False,
    ) -> dict[str, Any]:
        """Run a cycle now (after a running one) and return its report.

        Raises:
            HomeAssistantError: the cycle could not run (translated).
        """
        async with self._lock:
            try:
                data, report = await self._async_cycle(
                    dry_run=dry_run, full=full, users=users, approve_held=approve_held
                )
            except ConfigEntryAuthFailed as err:
                self.config_entry.async_start_reauth(self.hass)
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="auth_failed",
                    translation_placeholders=err.translation_placeholders,
                ) from err
        self.async_set_updated_data(data)
        return report

    async def async_run_targeted_locked(
        self, targets: Mapping[str, list[tuple[str, str]]]
    ) -> dict[str, Any] | None:
        """Run a targeted cycle over some items; the caller holds :attr:`cycle_lock`.

        Args:
            targets: Server id -> ``(user id, item id)`` pairs that were saved there.

        Returns:
            The cycle's report, or ``None`` when the cycle could not run.

        The published data is updated without rescheduling the next poll, so
        polling keeps its interval however often webhooks arrive.
        """
        try:
            data, report = await self._async_cycle(
                dry_run=None,
                full=False,
                users=None,
                approve_held=False,
                targets=targets,
            )
        except ConfigEntryAuthFailed:
            self.config_entry.async_start_reauth(self.hass)
            return None
        self.data = data
        self.async_update_listeners()
        return report

    async def async_undo(
        self, *, dry_run: bool, cycle_id: str | None = None
    ) -> dict[str, Any]:
        """Write back what a cycle overwrote: ``cycle_id``, else the newest sync.

        Idempotent: once a cycle is undone, undoing it again (by id, or without an
        id while no newer sync ran) writes nothing and says so. What a server that
        is down (or a failed write) did not get back, the next cycle that reaches
        it restores; the response counts it as ``waiting``.

        Raises:
            ServiceValidationError: there is no applied cycle to undo, or
                ``cycle_id`` names no recorded cycle.
            HomeAssistantError: the undo could not write everything.
        """
        async with self._lock:
            engine = self._engine()
            undoable = engine.undoable
            target = (
                cycle_id if cycle_id is not None else next(reversed(undoable), None)
            )
            done = self._last_undone
            if target is None or target not in undoable:
                if cycle_id is None and done is None:
                    raise ServiceValidationError(
                        translation_domain=DOMAIN,
                        translation_key="nothing_to_undo",
                        translation_placeholders={"title": self.config_entry.title},
                    )
                if cycle_id is not None and (done is None or cycle_id > done):
                    raise ServiceValidationError(
                        translation_domain=DOMAIN,
                        translation_key="unknown_cycle",
                        translation_placeholders={
                            "title": self.config_entry.title,
                            "cycle_id": cycle_id,
                        },
                    )
                return self._already_undone(cycle_id or done, undoable)
            if cycle_id is None and done is not None and target < done:
                # The newest sync was undone already; older ones need their id.
                return self._already_undone(done, undoable)
            report = await engine.undo(
                now=dt_util.utcnow(), cycle_id=target, dry_run=dry_run
            )
            if not dry_run:
                if target not in engine.undoable:
                    self._last_undone = max(target, done or target)
                self.undo_history.append(self._undo_summary(report))
                await self._async_save()
            undoable = engine.undoable
        result = report.to_dict()
        result["already_undone"] = False
        result["undoable"] = undoable
        result.update(self._undo_counts(report))
        self.hass.bus.async_fire(
            EVENT_COMPLETED,
            {
                "config_entry_id": self.config_entry.entry_id,
                **self._undo_summary(report),
            },
        )
        if report.writes_failed:
            # What failed is restored by the next cycle that reaches the server
            # (the stored state says so); the action still says it failed now.
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="undo_failed",
                translation_placeholders={
                    "title": self.config_entry.title,
                    "error": "; ".join(str(e) for e in report.errors[:3]),
                },
            )
        return result

    def _undo_counts(self, report: SyncReport) -> dict[str, Any]:
        """Per server (by name) and in total: values restored, kept, waiting."""
        servers = {
            self.names.get(sid, sid): {
                "restored": entry.restored,
                "kept": entry.kept,
                "waiting": entry.waiting,
            }
            for sid, entry in sorted(report.servers.items())
        }
        return {
            "restored": sum(s["restored"] for s in servers.values()),
            "kept": sum(s["kept"] for s in servers.values()),
            "waiting": sum(s["waiting"] for s in servers.values()),
            "by_server": servers,
        }

    def _undo_summary(self, report: SyncReport) -> dict[str, Any]:
        """What an undo did, for the event and the diagnostics (no item data)."""
        return {
            "undo": True,
            "cycle_id": report.cycle_id,
            "at": dt_util.utcnow().isoformat(),
            "dry_run": report.dry_run,
            "planned": report.writes_planned,
            "applied": report.writes_done,
            "failed": report.writes_failed,
            **self._undo_counts(report),
        }

    @staticmethod
    def _already_undone(cycle_id: str | None, undoable: list[str]) -> dict[str, Any]:
        """The answer of an undo that has nothing left to do."""
        return {
            "cycle": cycle_id,
            "already_undone": True,
            "writes_planned": 0,
            "writes_done": 0,
            "ok": True,
            "undoable": undoable,
        }

    async def async_check_users(self, names: list[str]) -> None:
        """Refuse user names that exist on none of the servers.

        Raises:
            ServiceValidationError: an unknown user (translated).
        """
        known = {u.name.casefold() for users in self.users.values() for u in users}
        for name in names:
            if name.casefold() not in known:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="unknown_user",
                    translation_placeholders={
                        "user": name,
                        "title": self.config_entry.title,
                    },
                )

    def _engine(self) -> SyncEngine:
        """The engine over the servers a cycle may use (rebuilt when that set changes).

        The engine keeps item indexes and matches between cycles, so it lives as
        long as the set of usable servers stays the same.
        """
        usable = frozenset(
            sid
            for sid in self.clients
            if sid not in self.infos
            or self.infos[sid].version_tuple[:2] >= MIN_SUPPORTED_VERSION
        )
        options = build_sync_options(self.options, self.servers, self.users)
        if self.engine is None or usable != self._engine_servers:
            self.engine = SyncEngine(
                {sid: self.clients[sid] for sid in sorted(usable)},
                options,
                self.baseline,
            )
            # The baseline is stored before writes start, so a stop mid-apply
            # does not count the sync's own writes as new plays after a restart.
            self.engine.checkpoint = self._async_save
            self._engine_servers = usable
        else:
            # User lists may have changed: the explicit mapping is re-resolved.
            self.engine.options = options
        return self.engine

    async def _async_probe(self) -> dict[str, JellyfinError | None]:
        """Read identity, version and users of every server at once."""

        async def probe(server_id: str, client: JellyfinClient) -> None:
            self.infos[server_id] = await client.get_system_info()
            self.users[server_id] = await client.get_users(include_hidden=True)

        results = await asyncio.gather(
            *(probe(sid, client) for sid, client in self._probe_clients.items()),
            return_exceptions=True,
        )
        outcome: dict[str, JellyfinError | None] = {}
        for server_id, result in zip(self.clients, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, JellyfinError):
                    raise result
                outcome[server_id] = result
            else:
                outcome[server_id] = None
        return outcome

    async def _async_cycle(
        self,
        *,
        dry_run: bool | None,
        full: bool,
        users: list[str] | None,
        approve_held: bool,
        targets: Mapping[str, list[tuple[str, str]]] | None = None,
    ) -> tuple[SyncGroupData, dict[str, Any]]:
        """One cycle: probe, sync the usable servers, store, publish."""
        self.syncing = True
        if self._published:
            self.async_update_listeners()
        try:
            return await self._async_cycle_inner(
                dry_run=self.options[CONF_DRY_RUN] if dry_run is None else dry_run,
                full=full,
                users=users,
                approve_held=approve_held,
                targets=targets,
            )
        finally:
            self.syncing = False

    async def _async_cycle_inner(
        self,
        *,
        dry_run: bool,
        full: bool,
        users: list[str] | None,
        approve_held: bool,
        targets: Mapping[str, list[tuple[str, str]]] | None,
    ) -> tuple[SyncGroupData, dict[str, Any]]:
        started = dt_util.utcnow()
        problems = await self._async_check_servers()
        online = [sid for sid in self.clients if sid not in problems]
        report: SyncReport | None = None
        if len(online) >= 2:
            engine = self._engine()
            report = await engine.run_cycle(
                now=started,
                dry_run=dry_run,
                full=full,
                users=self._cycle_users(users),
                targets=targets,
                approve_held=approve_held,
            )
            if not dry_run and engine.last_plan is not None:
                self.recent_writes.record(
                    engine.last_plan.writes, self.hass.loop.time()
                )
            # Not kept between cycles: a first sync's plan holds thousands of
            # objects that every full garbage-collector pass would scan.
            engine.last_plan = None
            summary = summarize(report, started=started, finished=dt_util.utcnow())
            for server_id, server_report in report.servers.items():
                failed = not server_report.readable or server_report.read_failures
                if failed and server_id not in problems:
                    problems[server_id] = "reading its watch data failed"
            report_dict = report.to_dict()
        else:
            summary = CycleSummary(
                started_at=started,
                finished_at=dt_util.utcnow(),
                outcome=STATUS_ERROR,
                dry_run=dry_run,
                full=full,
                servers=tuple(online),
                error="too_few_servers_online",
            )
            report_dict = {"ok": False, "error": "too_few_servers_online"}
        if summary.outcome in (STATUS_OK, STATUS_HELD) and not dry_run:
            self._last_success = summary.finished_at
        if report is not None and not dry_run:
            self._held = report.held
        self.last_report = report_dict
        self.history.append(summary.as_dict())
        if report is not None and not dry_run:
            await self._async_save()
        else:
            await self._async_save_history()
        # A burst of webhook cycles must not count as many failed cycles.
        self._update_server_states(problems, count_failures=targets is None)
        self._update_held_issue(summary, report)
        self.hass.bus.async_fire(
            EVENT_COMPLETED,
            {"config_entry_id": self.config_entry.entry_id, **summary.as_dict()},
        )
        self._published = True
        data = SyncGroupData(
            servers=dict(self._states),
            last_cycle=summary,
            last_success=self._last_success,
            held=self._held,
        )
        return data, {"summary": summary.as_dict(), "report": report_dict}

    def _cycle_users(self, users: list[str] | None) -> list[str] | None:
        """The users a cycle is limited to: the action's, within the include list.

        Names are turned into the engine's sync names: a name from a line of the
        explicit mapping stands for that line's first name.
        """
        aliases = {
            name.casefold(): names[0]
            for names in parse_user_map(self.options[CONF_USER_MAP])
            for name in names
        }

        def sync_names(names: list[str]) -> list[str]:
            return [aliases.get(name.casefold(), name) for name in names]

        if self.options[CONF_USER_MODE] != USER_MODE_INCLUDE:
            return sync_names(users) if users else None
        included = sync_names(list(self.options[CONF_USERS]))
        if not users:
            return included
        allowed = {name.casefold() for name in included}
        return [name for name in sync_names(users) if name.casefold() in allowed]

    def _check_version(self, server_id: str) -> bool:
        """Raise or clear version repair issues; False when too old to sync."""
        info = self.infos[server_id]
        placeholders = {"server": self.names[server_id], "version": info.version}
        return version_issues(
            self.hass,
            server_id,
            placeholders,
            info.version_tuple,
            MIN_SUPPORTED_VERSION,
        )

    def _update_server_states(
        self, errors: Mapping[str, str], *, count_failures: bool = True
    ) -> None:
        """New server states; log once when a server goes away and once when back.

        ``count_failures`` is off for targeted (webhook) cycles: a server that is
        down keeps the failure count of the last scheduled cycle.
        """
        for server_id, name in self.names.items():
            previous = self._states.get(server_id)
            error = errors.get(server_id)
            online = error is None
            failures = previous.failures if previous else 0
            if online:
                failures = 0
            elif count_failures or previous is None:
                failures += 1
            self._states[server_id] = ServerState(
                server_id=server_id,
                name=name,
                online=online,
                info=self.infos.get(server_id),
                tracked_items=self._tracked.get(server_id, 0),
                error=error,
                failures=failures,
            )
            if online and previous is not None and not previous.online:
                LOGGER.info("Jellyfin server %s is available again", name)
            elif not online and (previous is None or previous.online):
                LOGGER.info("Jellyfin server %s is unavailable (%s)", name, error)
            self._update_failure_issue(server_id, failures, error)

    def _update_failure_issue(
        self, server_id: str, failures: int, error: str | None
    ) -> None:
        failure_issue(
            self.hass,
            server_id,
            failures,
            {
                "server": self.names[server_id],
                "title": self.config_entry.title,
                "failures": str(failures),
                "error": error or "-",
            },
        )

    def _update_held_issue(
        self, summary: CycleSummary, report: SyncReport | None
    ) -> None:
        if summary.dry_run or report is None:
            return
        held_issue(
            self.hass,
            self.config_entry.entry_id,
            self.config_entry.title,
            bool(report.held),
        )

    def held_summary(self) -> str:
        """One line per user and server whose resets the guard held (no item data)."""
        report = self.last_report or {}
        lines = [
            f"{g['user']} on {self.names.get(g['server'], g['server'])}: "
            f"{g['resets']} of {g['items_with_data']} items"
            for g in report.get("guard", [])
        ]
        return "; ".join(lines) or "-"

    def held_examples(self, limit: int = 5) -> str:
        """The first held writes: item key and the fields they would reset."""
        report = self.last_report or {}
        examples = [
            f"{w['identity']} on {self.names.get(w['server'], w['server'])}: "
            f"{', '.join(w['resets'] or w['fields'])}"
            for w in report.get("held_writes", [])[:limit]
        ]
        return "; ".join(examples) or "-"

    async def _async_save(self) -> None:
        """Store the baseline (serialized in the executor) and the history."""
        raw, self._tracked = await self.hass.async_add_executor_job(
            _snapshot_baseline, self.baseline
        )
        self._stored_baseline = raw
        await self._async_save_history()

    async def _async_save_history(self) -> None:
        await self._store.async_save(
            {
                "baseline": self._stored_baseline,
                "history": list(self.history),
                "tracked": self._tracked,
                "last_undone": self._last_undone,
                "undo_history": list(self.undo_history),
                "last_success": self._last_success.isoformat()
                if self._last_success
                else None,
            }
        )
