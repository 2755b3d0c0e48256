"""Jellyfin's ``/Plugins`` routes and the Webhook plugin's configuration.

Sources (bare mirrors, read with ``git show <tag>:<path>``):

* Jellyfin server: ``Jellyfin.Api/Controllers/PluginsController.cs`` (``PC``),
  ``MediaBrowser.Common/Plugins/LocalPlugin.cs``, ``BasePlugin.cs``,
  ``Emby.Server.Implementations/Plugins/PluginManager.cs`` (``PM``),
  ``src/Jellyfin.Extensions/Json/JsonDefaults.cs`` and ``.../Json/Converters/``.
* Webhook plugin (``jellyfin/jellyfin-plugin-webhook``, abbreviated ``WH``):
  ``Configuration/PluginConfiguration.cs``, ``Destinations/BaseOption.cs``,
  ``Destinations/BaseClient.cs``, ``Destinations/Generic/*.cs``,
  ``Destinations/NotificationType.cs``, ``WebhookSender.cs``,
  ``Notifiers/UserDataSavedNotifier/UserDataSavedNotifierEntryPoint.cs``.

This module is pure data and rules (no aiohttp); :mod:`.server` serves the routes
and :class:`.server.Webhooks` sends what the configuration asks for.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
import json
from typing import Any
import uuid

#: ``[plugin v21] build.yaml:2`` (``guid``), also ``WebhookPlugin.cs:16``; the
#: server writes Guids in "N" format (``JsonGuidConverter.cs``).
WEBHOOK_PLUGIN_ID = "71552a5a5c5c4350a2aeebe451a30173"
#: ``[plugin v21] WebhookPlugin.cs:38, 41``.
WEBHOOK_PLUGIN_NAME = "Webhook"
WEBHOOK_PLUGIN_DESCRIPTION = "Sends notifications to various services via webhooks."
#: ``BasePluginOfT.cs:124``: ``Path.ChangeExtension(AssemblyFileName, ".xml")`` of
#: ``Jellyfin.Plugin.Webhook.dll`` (``[plugin v21] build.yaml`` artifacts).
WEBHOOK_CONFIGURATION_FILE = "Jellyfin.Plugin.Webhook.xml"


@dataclass(frozen=True, slots=True)
class WebhookRelease:
    """The Webhook plugin release a server version runs, with what it knows.

    The newest release whose ``targetAbi`` the server accepts
    (``[v10.10.7] PM:702``: ``_appVersion >= targetAbi``).
    """

    version: int
    tag: str
    #: ``BaseOption`` item-type flags (``[plugin <tag>] Destinations/BaseOption.cs``).
    item_flags: tuple[str, ...]
    #: ``TrimWhitespace`` and ``SkipEmptyMessageBody`` exist (v15+).
    has_trim_skip: bool
    #: ``EnableWebhook`` exists (v16+; ``4a50fa2`` "Add Enable/Disable options").
    has_enable_webhook: bool
    #: ``MqttOptions`` exists (after v11).
    has_mqtt: bool
    #: ``ItemDeleted = 24`` exists (v16+).
    has_item_deleted: bool

    @property
    def assembly_version(self) -> str:
        """``PluginInfo.Version``: the assembly version (``Directory.Build.props``)."""
        return f"{self.version}.0.0.0"


_FLAGS_OLD = (
    "EnableMovies",
    "EnableEpisodes",
    "EnableSeries",
    "EnableSeasons",
    "EnableAlbums",
    "EnableSongs",
)
_FLAGS_NEW = (*_FLAGS_OLD, "EnableVideos")

#: ``[plugin v11] build.yaml``: targetAbi 10.8.0.0 (10.8.x).
RELEASE_V11 = WebhookRelease(11, "v11", _FLAGS_OLD, False, False, False, False)
#: ``[plugin v15] build.yaml``: targetAbi 10.9.7.0. (The ``v16`` tag still says
#: version 15 / 10.9.7.0 in build.yaml but its code is "10.10 (#296)"; taken as the
#: 10.10 release, superseded there by v17.)
RELEASE_V15 = WebhookRelease(15, "v15", _FLAGS_OLD, True, False, True, False)
#: ``[plugin v17] build.yaml``: targetAbi 10.10.6.0.
RELEASE_V17 = WebhookRelease(17, "v17", _FLAGS_NEW, True, True, True, True)
#: ``[plugin v18] build.yaml``: targetAbi 10.11.0.0 (10.11.0 - 10.11.7).
RELEASE_V18 = WebhookRelease(18, "v18", _FLAGS_NEW, True, True, True, True)
#: ``[plugin v21] build.yaml``: targetAbi 10.11.8.0 (10.11.8+; also loaded by 12.0,
#: which accepts any lower targetAbi: UNCERTAIN whether it runs there).
RELEASE_V21 = WebhookRelease(21, "v21", _FLAGS_NEW, True, True, True, True)


def webhook_release(version: tuple[int, int, int]) -> WebhookRelease:
    """Return the Webhook plugin release a Jellyfin version installs."""
    if version[:2] <= (10, 8):
        return RELEASE_V11
    if version[:2] == (10, 9):
        return RELEASE_V15
    if version[:2] == (10, 10):
        return RELEASE_V17
    if version[:2] == (10, 11) and version < (10, 11, 8):
        return RELEASE_V18
    return RELEASE_V21


#: ``[plugin v21] Destinations/NotificationType.cs:11-131`` (``ItemDeleted`` from v16).
NOTIFICATION_TYPES = (
    "None",
    "ItemAdded",
    "Generic",
    "PlaybackStart",
    "PlaybackProgress",
    "PlaybackStop",
    "SubtitleDownloadFailure",
    "AuthenticationFailure",
    "AuthenticationSuccess",
    "SessionStart",
    "PendingRestart",
    "TaskCompleted",
    "PluginInstallationCancelled",
    "PluginInstallationFailed",
    "PluginInstalled",
    "PluginInstalling",
    "PluginUninstalled",
    "PluginUpdated",
    "UserCreated",
    "UserDeleted",
    "UserLockedOut",
    "UserPasswordChanged",
    "UserUpdated",
    "UserDataSaved",
    "ItemDeleted",
)


def notification_types(release: WebhookRelease) -> tuple[str, ...]:
    """Enum names of ``NotificationType`` in a release (value = index)."""
    return NOTIFICATION_TYPES if release.has_item_deleted else NOTIFICATION_TYPES[:-1]


def destination_arrays(release: WebhookRelease) -> tuple[str, ...]:
    """``PluginConfiguration`` arrays (``[plugin v21] .../PluginConfiguration.cs:23-85``)."""
    names = (
        "DiscordOptions",
        "GenericOptions",
        "GenericFormOptions",
        "GotifyOptions",
        "PushbulletOptions",
        "PushoverOptions",
        "SlackOptions",
        "SmtpOptions",
    )
    return (*names, "MqttOptions") if release.has_mqtt else names


def default_configuration(release: WebhookRelease) -> dict[str, Any]:
    """A fresh install: ``ServerUrl`` empty, every array empty.

    ``[plugin v21] Configuration/PluginConfiguration.cs:23-35`` (constructor);
    ``BasePluginOfT.cs``: no XML file yet -> ``new TConfigurationType()``.
    """
    config: dict[str, Any] = {"ServerUrl": ""}
    for name in destination_arrays(release):
        config[name] = []
    return config


def generic_option_fields(release: WebhookRelease) -> tuple[str, ...]:
    """JSON property names of a ``GenericOption``, in System.Text.Json order.

    System.Text.Json lists the declared type's own properties before its base
    class's: ``Headers``, ``Fields`` (``[plugin v21] Destinations/Generic/
    GenericOption.cs:22-27``), then ``BaseOption`` (``Destinations/BaseOption.cs:
    20-98``). Order carries no meaning in JSON.
    """
    fields = [
        "Headers",
        "Fields",
        "NotificationTypes",
        "WebhookName",
        "WebhookUri",
        *release.item_flags,
        "SendAllProperties",
    ]
    if release.has_trim_skip:
        fields += ["TrimWhitespace", "SkipEmptyMessageBody"]
    if release.has_enable_webhook:
        fields.append("EnableWebhook")
    fields += ["Template", "UserFilter"]
    return tuple(fields)


def default_generic_option(release: WebhookRelease) -> dict[str, Any]:
    """``new GenericOption()``: flags false, ``EnableWebhook`` true, arrays empty.

    ``[plugin v21] Destinations/BaseOption.cs:20, 88, 98``,
    ``Destinations/Generic/GenericOption.cs:13-17``. ``WebhookName``,
    ``WebhookUri`` and ``Template`` are null and therefore omitted on output
    (``JsonDefaults.cs``: ``DefaultIgnoreCondition = WhenWritingNull``).
    """
    option: dict[str, Any] = {}
    for name in generic_option_fields(release):
        if name in {"Headers", "Fields", "NotificationTypes", "UserFilter"}:
            option[name] = []
        elif name == "EnableWebhook":
            option[name] = True
        elif name in {"WebhookName", "WebhookUri", "Template"}:
            option[name] = None
        else:
            option[name] = False
    return option


def encode_template(template: str) -> str:
    """Store a template as the dashboard does (base64 of UTF-8)."""
    return base64.b64encode(template.encode()).decode("ascii")


def decode_template(stored: str | None) -> str:
    """``HandlebarsFunctionHelpers.Base64Decode`` (``[plugin v21] :100-109``).

    Null or empty -> empty template; invalid base64 raises (``FormatException``,
    caught per destination by ``WebhookSender.cs:187-195``).
    """
    if not stored:
        return ""
    return base64.b64decode(stored, validate=True).decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------
# Deserialisation as ``JsonSerializer.DeserializeAsync(Request.Body, type,
# JsonDefaults.Options)`` does it ([v10.10.7] PC:199).


class ConfigurationBodyError(ValueError):
    """The body does not deserialise (``JsonException``/``FormatException``).

    Neither is an ``ArgumentException``, so the exception middleware answers 500
    "Error processing request." ([v10.10.7] Jellyfin.Api/Middleware/
    ExceptionMiddleware.cs:123-136).
    """


def _read_string(value: Any, where: str) -> str | None:
    """``JsonStringConverter``: strings as such, numbers/booleans as raw text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    raise ConfigurationBodyError(f"{where}: not a string")


def _read_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigurationBodyError(f"{where}: not a boolean")


def _read_guid(value: Any, where: str) -> str:
    """``JsonGuidConverter.Read``: null -> empty Guid, else ``Guid.Parse`` (any form)."""
    if value is None:
        return "0" * 32
    if not isinstance(value, str):
        raise ConfigurationBodyError(f"{where}: not a Guid string")
    try:
        return uuid.UUID(value.strip()).hex
    except ValueError:
        raise ConfigurationBodyError(f"{where}: not a Guid") from None


def _read_enum(value: Any, names: tuple[str, ...], where: str) -> str | int:
    """``JsonStringEnumConverter``: names (case-insensitive) or integers."""
    if isinstance(value, bool) or value is None:
        raise ConfigurationBodyError(f"{where}: not a NotificationType")
    if isinstance(value, int):
        return names[value] if 0 <= value < len(names) else value
    if isinstance(value, str):
        for name in names:
            if name.lower() == value.strip().lower():
                return name
    raise ConfigurationBodyError(f"{where}: unknown NotificationType {value!r}")


def _read_array(value: Any, where: str) -> list[Any] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ConfigurationBodyError(f"{where}: not an array")
    return value


def _read_pairs(value: Any, where: str) -> list[dict[str, Any] | None] | None:
    """``GenericOptionValue[]``: ``{"Key": "", "Value": ""}`` objects."""
    items = _read_array(value, where)
    if items is None:
        return None
    out: list[dict[str, Any] | None] = []
    for index, raw in enumerate(items):
        if raw is None:
            out.append(None)
            continue
        if not isinstance(raw, dict):
            raise ConfigurationBodyError(f"{where}[{index}]: not an object")
        pair: dict[str, Any] = {"Key": "", "Value": ""}
        for name in ("Key", "Value"):
            if name in raw:
                pair[name] = _read_string(raw[name], f"{where}[{index}].{name}")
        out.append(pair)
    return out


def _read_generic_option(
    raw: Any, release: WebhookRelease, where: str
) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigurationBodyError(f"{where}: not an object")
    option = default_generic_option(release)
    names = notification_types(release)
    # Property names are matched case-sensitively (JsonDefaults sets no
    # PropertyNameCaseInsensitive); unknown ones are skipped.
    for name in option:
        if name not in raw:
            continue
        value = raw[name]
        here = f"{where}.{name}"
        if name in {"Headers", "Fields"}:
            option[name] = _read_pairs(value, here)
        elif name == "NotificationTypes":
            items = _read_array(value, here)
            option[name] = (
                None
                if items is None
                else [_read_enum(v, names, f"{here}[{i}]") for i, v in enumerate(items)]
            )
        elif name == "UserFilter":
            items = _read_array(value, here)
            option[name] = (
                None
                if items is None
                else [_read_guid(v, f"{here}[{i}]") for i, v in enumerate(items)]
            )
        elif name in {"WebhookName", "WebhookUri", "Template"}:
            option[name] = _read_string(value, here)
        else:
            option[name] = _read_bool(value, here)
    return option


def parse_configuration(body: bytes, release: WebhookRelease) -> dict[str, Any] | None:
    """Deserialise a POSTed ``PluginConfiguration`` (None: the body was ``null``).

    Missing properties keep the constructor defaults, unknown or differently-cased
    ones are ignored, a wrong JSON type raises :class:`ConfigurationBodyError`.
    Generic destinations are parsed field by field; the other destination kinds
    are kept as sent (not modelled).
    """
    try:
        raw = json.loads(body.decode("utf-8")) if body.strip() else _EMPTY
    except (UnicodeDecodeError, ValueError) as err:
        raise ConfigurationBodyError(f"invalid JSON: {err}") from None
    if raw is _EMPTY:
        raise ConfigurationBodyError("The input does not contain any JSON tokens.")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigurationBodyError("not a JSON object")
    config = default_configuration(release)
    if "ServerUrl" in raw:
        config["ServerUrl"] = _read_string(raw["ServerUrl"], "ServerUrl")
    for name in destination_arrays(release):
        if name not in raw:
            continue
        items = _read_array(raw[name], name)
        if items is None or name != "GenericOptions":
            config[name] = items
            continue
        config[name] = [
            _read_generic_option(item, release, f"{name}[{index}]")
            for index, item in enumerate(items)
        ]
    return config


_EMPTY = object()


def wire(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration as the server writes it: null properties omitted."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    result: dict[str, Any] = strip(config)
    return result


# --------------------------------------------------------------------------------------
# Runtime schema for the conformance checker


def configuration_schema(release: WebhookRelease) -> dict[str, Any]:
    """JSON schema of ``PluginConfiguration`` for one release.

    The OpenAPI documents only know the declared type ``BasePluginConfiguration``
    (an object without properties and ``additionalProperties: false``); ASP.NET
    writes the runtime type. Requests are held to the same schema, so a property
    the server would silently drop (camelCase, a typo) is a violation.
    """
    pair = {
        "type": "object",
        "nullable": True,
        "properties": {
            "Key": {"type": "string", "nullable": True},
            "Value": {"type": "string", "nullable": True},
        },
        "additionalProperties": False,
    }
    props: dict[str, Any] = {}
    for name in generic_option_fields(release):
        if name in {"Headers", "Fields"}:
            props[name] = {"type": "array", "nullable": True, "items": pair}
        elif name == "NotificationTypes":
            props[name] = {
                "type": "array",
                "nullable": True,
                "items": {
                    "anyOf": [
                        {"type": "string", "enum": list(notification_types(release))},
                        {"type": "integer"},
                    ]
                },
            }
        elif name == "UserFilter":
            props[name] = {
                "type": "array",
                "nullable": True,
                "items": {"type": "string", "format": "uuid", "nullable": True},
            }
        elif name in {"WebhookName", "WebhookUri", "Template"}:
            props[name] = {"type": "string", "nullable": True}
        else:
            props[name] = {"type": "boolean"}
    generic = {
        "type": "object",
        "nullable": True,
        "properties": props,
        "additionalProperties": False,
    }
    top: dict[str, Any] = {"ServerUrl": {"type": "string", "nullable": True}}
    for name in destination_arrays(release):
        top[name] = {
            "type": "array",
            "nullable": True,
            "items": generic
            if name == "GenericOptions"
            else {"type": "object", "nullable": True},
        }
    return {"type": "object", "properties": top, "additionalProperties": False}


# --------------------------------------------------------------------------------------
# /Plugins listing


@dataclass(frozen=True, slots=True)
class BundledPlugin:
    """A metadata provider shipped inside MediaBrowser.Providers."""

    name: str
    id: str
    description: str
    configuration_file: str
    since: tuple[int, int] = (10, 8)


#: ``[v10.10.7] MediaBrowser.Providers/Plugins/*/Plugin.cs`` (Id, Name,
#: Description, ConfigurationFileName); ListenBrainz only on 12.0
#: (``[v12.0-rc5] .../ListenBrainz/ListenBrainzPlugin.cs:34-43``).
BUNDLED_PLUGINS = (
    BundledPlugin(
        "AudioDB",
        "a629c0dafac54c7e931a7174223f14c8",
        "Get artist and album metadata or images from AudioDB.",
        "Jellyfin.Plugin.AudioDb.xml",
    ),
    BundledPlugin(
        "ListenBrainz Similarity Provider",
        "a5b2e8c19d4f4a3b8c7e6f1a2b3c4d5e",
        "Get similar artist recommendations from ListenBrainz Labs.",
        "Jellyfin.Plugin.ListenBrainz.xml",
        since=(12, 0),
    ),
    BundledPlugin(
        "MusicBrainz",
        "8c95c4d2e50c4fb0a4f36c06ff0f9a1a",
        "Get artist and album metadata from any MusicBrainz server.",
        "Jellyfin.Plugin.MusicBrainz.xml",
    ),
    BundledPlugin(
        "OMDb",
        "a628c0dafac54c7e9d1a7134223f14c8",
        "Get metadata for movies and other video content from OMDb.",
        "Jellyfin.Plugin.Omdb.xml",
    ),
    BundledPlugin(
        "Studio Images",
        "872a78491171458da6fb3de3d442ad30",
        "Get artwork for studios from any Jellyfin-compatible repository.",
        "Jellyfin.Plugin.StudioImages.xml",
    ),
    BundledPlugin(
        "TMDb",
        "b8715ed16c4745289ad3f72deb539cd4",
        "Get metadata for movies and other video content from TheMovieDb.",
        "Jellyfin.Plugin.Tmdb.xml",
    ),
)


def plugin_list(
    version: tuple[int, int, int], *, webhook: WebhookRelease | None
) -> list[dict[str, Any]]:
    """``GET /Plugins``: ``PluginInfo`` of every loaded plugin, ordered by name.

    ``[v10.10.7] PC:51-58`` (``OrderBy(p => p.Name)``), ``LocalPlugin.cs:108-114``
    (``Status`` from the manifest, ``HasImage`` = manifest ``ImagePath`` set;
    12.0 also an embedded image, ``[v12.0-rc5] LocalPlugin.cs:116-122``),
    ``BasePlugin.cs:54-71`` (``CanUninstall``: false for assemblies next to the
    server's), ``BasePluginOfT.cs:177-181`` (``ConfigurationFileName``).
    Bundled providers get a dummy manifest with the server's assembly version
    (``[v10.10.7] PM:555-575``, ``SharedVersion.cs``) and no image before 12.0.
    """
    server_version = ".".join(str(p) for p in version)
    entries = [
        {
            "Name": plugin.name,
            "Version": server_version,
            "ConfigurationFileName": plugin.configuration_file,
            "Description": plugin.description,
            "Id": plugin.id,
            "CanUninstall": False,
            "HasImage": version[0] >= 12,
            "Status": "Active",
        }
        for plugin in BUNDLED_PLUGINS
        if version[:2] >= plugin.since
    ]
    if webhook is not None:
        entries.append(
            {
                "Name": WEBHOOK_PLUGIN_NAME,
                "Version": webhook.assembly_version,
                "ConfigurationFileName": WEBHOOK_CONFIGURATION_FILE,
                "Description": WEBHOOK_PLUGIN_DESCRIPTION,
                "Id": WEBHOOK_PLUGIN_ID,
                "CanUninstall": True,
                # Installed from the official repository, which has an imageUrl
                # ([plugin v21] build.yaml:3): the installer stores the image.
                "HasImage": True,
                "Status": "Active",
            }
        )
    # string.Compare of the current culture: case-insensitive first.
    entries.sort(key=lambda e: (str(e["Name"]).casefold(), str(e["Name"])))
    return entries


def bundled_plugin_ids(version: tuple[int, int, int]) -> set[str]:
    """Ids of the bundled providers (they have a configuration too)."""
    return {p.id for p in BUNDLED_PLUGINS if version[:2] >= p.since}


# --------------------------------------------------------------------------------------
# Sending rules


#: ``[plugin v21] WebhookSender.cs:136-180``: exact runtime types, no subclasses.
ITEM_TYPE_FLAGS = {
    "MusicAlbum": "EnableAlbums",
    "Movie": "EnableMovies",
    "Episode": "EnableEpisodes",
    "Series": "EnableSeries",
    "Season": "EnableSeasons",
    "Audio": "EnableSongs",
    "Video": "EnableVideos",
}


def notify_on_item(
    option: dict[str, Any], item_type: str | None, release: WebhookRelease
) -> bool:
    """``NotifyOnItem``: the item's exact type must have its flag set.

    ``itemType == typeof(Audio)`` etc. (``[plugin v21] WebhookSender.cs:136-180``):
    ``AudioBook`` (a subclass of Audio), ``MusicVideo`` (of Video), ``BoxSet``,
    ``MusicArtist``, ``Book``, ``Trailer`` ... never match, whatever the flags.
    ``EnableVideos`` exists from plugin v16 (``[plugin v15]`` has no Video case).
    """
    if item_type is None:
        return True
    flag = ITEM_TYPE_FLAGS.get(item_type)
    return flag in release.item_flags and option.get(flag) is True


def user_allowed(option: dict[str, Any], user_id: str) -> bool:
    """``BaseClient.SendWebhook``: an empty filter lets every user through.

    ``[plugin v21] Destinations/BaseClient.cs:19-38``: Guids compared as values.
    """
    user_filter = option["UserFilter"]
    if user_filter is None:
        raise TypeError("UserFilter is null")  # NullReferenceException
    return not user_filter or uuid.UUID(user_id).hex in user_filter


def destination_matches(option: dict[str, Any], notification_type: str) -> bool:
    """``o.NotificationTypes.Contains(notificationType)`` (``WebhookSender.cs:87``)."""
    types = option["NotificationTypes"]
    if types is None:
        raise TypeError("NotificationTypes is null")  # NullReferenceException
    return notification_type in types
