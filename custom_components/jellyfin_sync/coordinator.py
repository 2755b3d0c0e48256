"""The coordinator of a sync group: schedules its cycles and presents their results.

The group (:mod:`.group`) owns the servers, the engine, the stored state and the
cycles; it has no Home Assistant in it. This class is the Home Assistant side of
it: the update interval, the published data and its listeners, the
``jellyfin_sync_completed`` event, repair issues, and the translation of the
group's typed errors into Home Assistant's errors.
"""

from collections.abc import Callable, Collection, Mapping
from datetime import timedelta
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

from .const import (
    CONF_DRY_RUN,
    CONF_FIELDS,
    CONF_NAME,
    CONF_SCAN_INTERVAL,
    CONF_SERVER_ID,
    CONF_SERVERS,
    DOMAIN,
    EVENT_COMPLETED,
    LOGGER,
    PROBE_TIMEOUT,
    STORAGE_MINOR_VERSION,
    STORAGE_VERSION,
)
from .group import (
    CycleResult,
    GroupSettings,
    ItemKey,
    ItemsRun,
    NoServerOnlineError,
    NothingToUndoError,
    ServerAuthError,
    Status,
    SyncGroup,
    SyncGroupData,
    UnknownCycleError,
    UnknownUserError,
)
from .helpers import client_for
from .instant import InstantSync
from .jellyfin import JellyfinClient
from .jellyfin.models import SyncField
from .options import build_sync_options, cycle_users, effective_options
from .repair_issues import (
    async_failure_issues,
    clear_group_issues,
    held_issue,
    version_issues,
)
from .webhook import WebhookSync

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


class _GroupStorage:
    """The group's storage port over Home Assistant's ``Store`` and executor."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        self._hass = hass
        self._store = SyncStore(
            hass,
            STORAGE_VERSION,
            f"{DOMAIN}.{entry_id}",
            minor_version=STORAGE_MINOR_VERSION,
            private=True,
            atomic_writes=True,
        )

    async def load(self) -> Mapping[str, Any] | None:
        return await self._store.async_load()

    async def save(self, data: dict[str, Any]) -> None:
        await self._store.async_save(data)

    async def run_job[T](self, job: Callable[[], T]) -> T:
        return await self._hass.async_add_executor_job(job)


class JellyfinSyncCoordinator(DataUpdateCoordinator[SyncGroupData]):
    """Schedules the cycles of one group and publishes their results."""

    config_entry: JellyfinSyncConfigEntry

    def __init__(self, hass: HomeAssistant, entry: JellyfinSyncConfigEntry) -> None:
        """Prepare the group (clients, storage); no I/O here."""
        servers: list[dict[str, Any]] = [dict(s) for s in entry.data[CONF_SERVERS]]
        self.options = effective_options(servers, entry.options)
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=timedelta(minutes=self.options[CONF_SCAN_INTERVAL]),
        )
        options = self.options
        settings = GroupSettings(
            title=entry.title,
            names={s[CONF_SERVER_ID]: s[CONF_NAME] for s in servers},
            dry_run=bool(options[CONF_DRY_RUN]),
            fields=frozenset(SyncField(f) for f in options[CONF_FIELDS]),
            sync_options=lambda users: build_sync_options(options, servers, users),
            cycle_users=lambda names: cycle_users(options, names),
        )
        self.group = SyncGroup(
            settings,
            {s[CONF_SERVER_ID]: client_for(hass, s) for s in servers},
            # The check that opens each cycle (and setup) answers fast: a server
            # that does not respond is "down" for this cycle instead of holding it.
            {
                s[CONF_SERVER_ID]: client_for(
                    hass, s, retries=0, request_timeout=PROBE_TIMEOUT
                )
                for s in servers
            },
            _GroupStorage(hass, entry.entry_id),
        )
        self.webhook: WebhookSync | None = None
        """The group's webhook (set up by ``async_setup_entry``)."""
        self.instant: InstantSync | None = None
        """The Webhook plugin set-up on the servers (``async_setup_entry``)."""

    # ---- what entities, actions and diagnostics read --------------------------------

    @property
    def clients(self) -> Mapping[str, JellyfinClient]:
        """Server id -> client."""
        return self.group.clients

    @property
    def names(self) -> Mapping[str, str]:
        """Server id -> name."""
        return self.group.names

    @property
    def status(self) -> str:
        """The status sensor's state: syncing, else the published cycle's outcome."""
        if self.group.syncing:
            return Status.SYNCING.value
        cycle = self.data.last_cycle if self.data else None
        return Status.IDLE.value if cycle is None else cycle.outcome.value

    @property
    def last_report(self) -> dict[str, Any] | None:
        """The last cycle's report (action answer form)."""
        return self.group.last_report

    # ---- lifecycle ------------------------------------------------------------------

    @override
    async def _async_setup(self) -> None:
        """Load the stored state (once, before the first cycle)."""
        await self.group.load()

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

    # ---- cycles ---------------------------------------------------------------------

    @override
    async def _async_update_data(self) -> SyncGroupData:
        """Run one scheduled cycle (the first refresh only checks the servers).

        The first refresh runs during setup, which Home Assistant limits in time;
        a first sync of a large library can take longer, so setup only checks the
        servers and ``async_setup_entry`` starts the first cycle in the background.
        """
        async with self.group.lock:
            if not self.group.published:
                return await self._async_first_check()
            result = await self._async_cycle()
        # Servers whose instant-sync set-up is not finished (plugin missing, down)
        # are tried again; the others cost nothing.
        await self.instant_apply()
        return result.data

    async def _async_first_check(self) -> SyncGroupData:
        """Check every server once (keys, versions) and publish their states."""
        try:
            data = await self.group.first_check()
        except ServerAuthError as err:
            raise self._auth_failed(err) from err
        except NoServerOnlineError as err:
            # Every server is down: let Home Assistant retry the setup.
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="too_few_servers_online",
                translation_placeholders={"title": self.config_entry.title},
            ) from err
        self._version_issues()
        await async_failure_issues(
            self.hass, self.config_entry.title, self.group.states.values()
        )
        return data

    async def _async_cycle(
        self,
        *,
        dry_run: bool | None = None,
        full: bool = False,
        users: list[str] | None = None,
        approve_held: bool = False,
    ) -> CycleResult:
        """One cycle of the group, presented (the caller holds the lock)."""
        try:
            result = await self.group.run_cycle(
                dry_run=dry_run,
                full=full,
                users=users,
                approve_held=approve_held,
                on_start=self._on_start,
                on_checked=self._version_issues,
            )
        except ServerAuthError as err:
            raise self._auth_failed(err) from err
        await self._async_present(result)
        return result

    @callback
    def _on_start(self) -> None:
        """A cycle starts: the status sensor shows it (after the first check)."""
        if self.data is not None:
            self.async_update_listeners()

    async def _async_present(self, result: CycleResult) -> None:
        """Repair issues and the completion event of a finished cycle."""
        await async_failure_issues(
            self.hass, self.config_entry.title, self.group.states.values()
        )
        if result.held_changed:
            held_issue(
                self.hass,
                self.config_entry.entry_id,
                self.config_entry.title,
                bool(result.data.held),
            )
        self.hass.bus.async_fire(
            EVENT_COMPLETED,
            {
                "config_entry_id": self.config_entry.entry_id,
                **result.response["summary"],
            },
        )

    @callback
    def _version_issues(self) -> None:
        """Version issues of the servers that answered the check."""
        for server_id in self.group.answered:
            info = self.group.infos[server_id]
            version_issues(
                self.hass,
                server_id,
                {"server": self.names[server_id], "version": info.version},
                info.version_tuple,
                supported=self.group.supported(server_id),
            )

    def _auth_failed(self, err: ServerAuthError) -> ConfigEntryAuthFailed:
        return ConfigEntryAuthFailed(
            translation_domain=DOMAIN,
            translation_key="auth_failed",
            translation_placeholders={"server": err.name},
        )

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
        async with self.group.lock:
            try:
                result = await self._async_cycle(
                    dry_run=dry_run, full=full, users=users, approve_held=approve_held
                )
            except ConfigEntryAuthFailed as err:
                self.config_entry.async_start_reauth(self.hass)
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="auth_failed",
                    translation_placeholders=err.translation_placeholders,
                ) from err
        self.async_set_updated_data(result.data)
        return result.response

    async def async_run_items(self, keys: Collection[ItemKey]) -> ItemsRun:
        """A targeted cycle over items the webhook heard of (echoes dropped).

        The published data is updated without rescheduling the next poll, so
        polling keeps its interval however often webhooks arrive.
        """
        async with self.group.lock:
            run = await self.group.run_items(
                keys, on_start=self._on_start, on_checked=self._version_issues
            )
            if run.result is not None:
                await self._async_present(run.result)
                self._publish(run.result.data)
        if run.auth_error is not None:
            self.config_entry.async_start_reauth(self.hass)
        return run

    @callback
    def _publish(self, data: SyncGroupData) -> None:
        """New data from a cycle outside the schedule: a successful update."""
        self.data = data
        if not self.last_update_success:
            self.last_update_success = True
            self.last_exception = None
            LOGGER.info("Fetching %s data recovered", self.name)
        self.async_update_listeners()

    async def async_undo(
        self, *, dry_run: bool, cycle_id: str | None = None
    ) -> dict[str, Any]:
        """Write back what a cycle overwrote: ``cycle_id``, else the newest sync.

        Raises:
            ServiceValidationError: there is no applied cycle to undo, or
                ``cycle_id`` names no recorded cycle.
            HomeAssistantError: the undo could not write everything.
        """
        title = self.config_entry.title
        try:
            async with self.group.lock:
                result = await self.group.undo(dry_run=dry_run, cycle_id=cycle_id)
        except NothingToUndoError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="nothing_to_undo",
                translation_placeholders={"title": title},
            ) from err
        except UnknownCycleError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_cycle",
                translation_placeholders={"title": title, "cycle_id": err.cycle_id},
            ) from err
        if result.summary is None:
            return result.response
        self.hass.bus.async_fire(
            EVENT_COMPLETED,
            {"config_entry_id": self.config_entry.entry_id, **result.summary},
        )
        if result.failed:
            # What failed is restored by the next cycle that reaches the server
            # (the stored state says so); the action still says it failed now.
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="undo_failed",
                translation_placeholders={
                    "title": title,
                    "cycle_id": str(result.summary["cycle_id"]),
                    "failed": str(result.failed),
                    "servers": ", ".join(result.failed_servers) or "-",
                },
            )
        return result.response

    def check_users(self, names: list[str]) -> None:
        """Refuse user names that exist on none of the servers.

        Raises:
            ServiceValidationError: an unknown user (translated).
        """
        try:
            self.group.check_users(names)
        except UnknownUserError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_user",
                translation_placeholders={
                    "user": err.user,
                    "title": self.config_entry.title,
                },
            ) from err

    def knows_user(self, server_id: str, user_id: str) -> bool:
        """Whether a server listed a user at the last check (the webhook asks)."""
        return self.group.knows_user(server_id, user_id)
