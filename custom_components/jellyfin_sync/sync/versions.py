"""Titles with several versions (Jellyfin 12.0): which item the sync reads and writes.

On 12.0 the files of one movie or episode are one title: a primary that every listing
shows, with a view merged from the version last played, and alternates that no listing
shows, each with its own user data (API-NOTES §9.2). The sync treats the title as one
item:

* **reads**: the primary's merged state, with the position of the version the user
  would resume; ``/UserItems/Resume`` lists an alternate in progress as itself;
* **writes**: played through the played routes, which reach every version (the
  client plans that, ``writes._plan_title``); a position and its date to the version
  the user would resume, so it is not hidden behind it; all else to the primary;
* **webhooks**: an alternate's id stands for its title.

Plain Python, no I/O: the engine feeds it what the client read.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from custom_components.jellyfin_sync.jellyfin.models import Item, SyncField, UserData


@dataclass(slots=True)
class Versions:
    """What the sync knows of one server's titles with several versions."""

    primary_of: dict[str, str] = field(default_factory=dict)
    """Alternate id -> its title's primary id."""
    resume: dict[str, dict[str, tuple[str, UserData]]] = field(default_factory=dict)
    """User id -> primary id -> (id, own state) of the alternate the user would
    resume, as the last resume list showed it."""

    def __bool__(self) -> bool:
        """Whether the server has any title with several versions."""
        return bool(self.primary_of)

    def learn(self, item: Item) -> bool:
        """Note an item's alternates (``MediaSources``); whether anything was new."""
        changed = False
        for version in item.version_ids:
            if version != item.id and self.primary_of.get(version) != item.id:
                self.primary_of[version] = item.id
                changed = True
        return changed

    def forget(self, primary_ids: Iterable[str]) -> None:
        """Drop the alternates of titles that are gone or were re-read."""
        gone = set(primary_ids)
        for alt in [a for a, p in self.primary_of.items() if p in gone]:
            del self.primary_of[alt]

    def title(self, item_id: str) -> str:
        """The id that stands for an item's title (its primary's, or its own)."""
        return self.primary_of.get(item_id, item_id)

    def overlay(
        self,
        user_id: str,
        found: Mapping[str, UserData],
        resumed: Iterable[Item],
    ) -> dict[str, UserData]:
        """The titles whose state an alternate in progress changes, and how.

        A resume list names one version per title, the one the user would resume;
        when it is an alternate, its position is the title's (the primary's merged
        view never shows it). Titles missing from ``found`` are left out: their
        merged state must be read first.
        """
        picks: dict[str, tuple[str, UserData]] = {}
        changed: dict[str, UserData] = {}
        for item in resumed:
            primary = self.primary_of.get(item.id)
            if primary is None or item.user_data is None:
                continue
            picks[primary] = (item.id, item.user_data)
            state = found.get(primary)
            if state is not None:
                changed[primary] = replace(
                    state,
                    playback_position_ticks=item.user_data.playback_position_ticks,
                )
        self.resume[user_id] = picks
        return changed

    def resumed_titles(self, user_id: str) -> set[str]:
        """Titles whose resume version is an alternate, for this user."""
        return set(self.resume.get(user_id, {}))

    def route(
        self,
        user_id: str,
        item_id: str,
        desired: UserData,
        fields: frozenset[SyncField],
    ) -> list[tuple[str, frozenset[SyncField], UserData | None]]:
        """Where each field of a write goes: ``(item id, fields, that item's state)``.

        The title's primary takes everything, except that a position (and its date)
        for a title not becoming played goes to the alternate the user would
        resume. The state is the alternate's own, from the resume list (``None``
        for the primary: the planned write knows it).
        """
        pick = self.resume.get(user_id, {}).get(item_id)
        if pick is None or desired.played or SyncField.POSITION not in fields:
            return [(item_id, fields, None)]
        moved = {SyncField.POSITION}
        if SyncField.LAST_PLAYED in fields and desired.last_played_date is not None:
            moved.add(SyncField.LAST_PLAYED)
        rest = fields - moved
        routes: list[tuple[str, frozenset[SyncField], UserData | None]] = []
        if rest:
            routes.append((item_id, frozenset(rest), None))
        routes.append((pick[0], frozenset(moved), pick[1]))
        return routes
