"""Matching keys: the strings under which an item is looked for on other servers.

One key per stage and group (provider name): ``id:<item id>``,
``movie:imdb:tt1``, ``episode:series:tvdb:<the series' id>:s1e2``, ``path:movie:<path
relative to a media root>``, ``series:name:<name key>``. Keys are computed on demand
from the :data:`~.entries.IndexEntry` values, so none is kept per item.
"""

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from functools import partial

from custom_components.jellyfin_sync.jellyfin.models import Item
from custom_components.jellyfin_sync.sync.options import MatchMethod, SyncOptions

from .entries import (
    BOOK_PROVIDERS,
    BOOK_TYPES,
    MUSIC_PROVIDERS,
    RELATIVE_MARK,
    Indexed,
    IndexEntry,
    Slot,
    as_entry,
    index_entry,
    provider_id,
    relative_path,
    trusted_providers,
)

#: The stages of matching, strongest first.
STAGES: tuple[MatchMethod, ...] = (
    MatchMethod.ID,
    MatchMethod.PROVIDER,
    MatchMethod.EPISODE,
    MatchMethod.PATH,
    MatchMethod.NAME,
)
#: Identity preference: provider keys are stable across servers, ids are not; a
#: name is the last resort.
IDENTITY_RANK: Mapping[MatchMethod, int] = {
    MatchMethod.PROVIDER: 0,
    MatchMethod.EPISODE: 1,
    MatchMethod.PATH: 2,
    MatchMethod.ID: 3,
    MatchMethod.NAME: 4,
}


type KeyFunction = Callable[[str, IndexEntry], str | None]
"""The key of an item in one pass: ``(server id, entry) -> key``, ``None`` without."""


class ItemKeys:
    """Computes matching keys on demand, so nothing per item is kept in memory."""

    def __init__(
        self,
        series: Mapping[str, Mapping[str, Indexed]],
        options: SyncOptions,
        roots: Mapping[str, Sequence[str]],
        kinds: Collection[str] | None = None,
    ) -> None:
        """Keys of the items of these servers.

        Args:
            series: Server id -> series id -> series (for episode and season keys).
            options: Matching options (``match_by_id``, ``provider_keys``).
            roots: Server id -> media roots (for paths not made relative yet).
            kinds: The item types present: provider passes are made only for their
                providers (all when ``None``).
        """
        self.series = series
        self.options = options
        self.roots = roots
        present = None if kinds is None else set(kinds)
        provider_groups: dict[str, None] = {}
        for kind in sorted(present) if present is not None else ("", *MUSIC_PROVIDERS):
            provider_groups.update(dict.fromkeys(trusted_providers(kind, options)))
        if present is None or present & BOOK_TYPES:
            provider_groups.update(dict.fromkeys(BOOK_PROVIDERS))
        self._provider_groups = tuple(provider_groups)
        self._allowed: dict[str, frozenset[str]] = {}
        self._passes = tuple(
            (IDENTITY_RANK[stage], group_rank, self.key_function(stage, group))
            for stage in STAGES
            for group_rank, group in enumerate(self.groups(stage))
        )

    def _allows(self, kind: str, group: str) -> bool:
        allowed = self._allowed.get(kind)
        if allowed is None:
            allowed = frozenset(trusted_providers(kind, self.options))
            self._allowed[kind] = allowed
        return group in allowed

    def groups(self, stage: MatchMethod) -> Sequence[str]:
        """Key groups of a stage: one pass per provider, else one pass."""
        if stage is MatchMethod.PROVIDER:
            return self._provider_groups
        if stage is MatchMethod.EPISODE:
            return self.options.provider_keys
        return (stage.value,)

    def key_function(self, stage: MatchMethod, group: str) -> KeyFunction:
        """The key of one pass (``group`` = provider name, or the stage's name)."""
        if stage is MatchMethod.ID:
            return self.id_key
        if stage is MatchMethod.PATH:
            return self.path_key
        if stage is MatchMethod.NAME:
            return self.name_key
        if stage is MatchMethod.PROVIDER:
            return partial(self.provider_key, group)
        return partial(self.episode_key, group)

    def id_key(self, server_id: str, entry: IndexEntry) -> str | None:
        """``id:<item id>``, with ``match_by_id`` (servers sharing a media root)."""
        return f"id:{entry[Slot.ID]}" if self.options.match_by_id else None

    def provider_key(self, name: str, server_id: str, entry: IndexEntry) -> str | None:
        """``<type>:<provider>:<id>``, if that provider identifies the item's type."""
        kind = entry[Slot.TYPE]
        if not self._allows(kind, name):
            return None
        value = provider_id(entry, name)
        return f"{kind.lower()}:{name}:{value}" if value else None

    def episode_key(self, name: str, server_id: str, entry: IndexEntry) -> str | None:
        """An episode or season by a provider id of its series and its numbers."""
        kind, season = entry[Slot.TYPE], entry[Slot.SEASON]
        series_id = entry[Slot.SERIES]
        if kind == "Season" and season is not None:
            value = self._series_value(server_id, series_id, name)
            return f"season:series:{name}:{value}:s{season}" if value else None
        episode, episode_end = entry[Slot.EPISODE], entry[Slot.EPISODE_END]
        if kind != "Episode" or season is None or episode is None:
            return None
        value = self._series_value(server_id, series_id, name)
        if not value:
            return None
        number = f"s{season}e{episode}"
        if episode_end is not None:
            number += f"-{episode_end}"
        return f"episode:series:{name}:{value}:{number}"

    def path_key(self, server_id: str, entry: IndexEntry) -> str | None:
        """``path:<type>:<path relative to a media root>``."""
        kind, path = entry[Slot.TYPE], entry[Slot.PATH]
        if not path:
            return None
        if path.startswith(RELATIVE_MARK):
            relative: str | None = path[len(RELATIVE_MARK) :]
        else:
            roots = self.roots.get(server_id, ())
            relative = relative_path(path, roots) if roots else None
        return f"path:{kind.lower()}:{relative}" if relative is not None else None

    def name_key(self, server_id: str, entry: IndexEntry) -> str | None:
        """``<type>:name:<name key>``; a season by its series' name key and number."""
        kind, season = entry[Slot.TYPE], entry[Slot.SEASON]
        if kind == "Season" and season is not None:
            value = self._series_value(server_id, entry[Slot.SERIES], "name")
            return f"season:name:{value}:s{season}" if value else None
        title = entry[Slot.TITLE]
        return f"{kind.lower()}:name:{title}" if title else None

    def _series_value(
        self, server_id: str, series_id: str | None, group: str
    ) -> str | None:
        """A provider id (or with ``group`` "name" the name key) of an item's series."""
        if not series_id:
            return None
        show = self.series.get(server_id, {}).get(series_id)
        if show is None:
            return None
        entry = as_entry(show)
        return entry[Slot.TITLE] if group == "name" else provider_id(entry, group)

    def ranked(
        self, server_id: str, entry: IndexEntry
    ) -> Iterator[tuple[int, int, str]]:
        """All keys of an item as ``(stage rank, group rank, key)``."""
        for stage_rank, group_rank, key_function in self._passes:
            key = key_function(server_id, entry)
            if key is not None:
                yield (stage_rank, group_rank, key)

    def best(self, server_id: str, entry: IndexEntry) -> tuple[int, int, str] | None:
        """The most trusted key of an item as in :meth:`ranked`, if it has any."""
        return min(self.ranked(server_id, entry), default=None)

    def providers(self, item: IndexEntry) -> dict[str, str]:
        """The item's identifying provider ids (for contradiction checks)."""
        found: dict[str, str] = {}
        for name in trusted_providers(item[Slot.TYPE], self.options):
            value = provider_id(item, name)
            if value:
                found[name] = value
        return found


def item_keys(
    item: Item,
    series: Mapping[str, Item],
    options: SyncOptions,
    roots: Sequence[str],
) -> list[str]:
    """Every matching key of one item, most trusted first.

    >>> from custom_components.jellyfin_sync.jellyfin.models import Item
    >>> item_keys(Item(id="a1", type="Movie", name="M",
    ...     provider_ids={"Imdb": "TT1"}), {}, SyncOptions(), ())
    ['movie:imdb:tt1', 'id:a1']
    """
    keys = ItemKeys({"": series}, options, {"": roots})
    return [key for _, _, key in sorted(keys.ranked("", index_entry(item)))]
