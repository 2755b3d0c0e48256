"""Offline re-implementation of the file checks hassfest and HACS make.

hassfest (Home Assistant's integration validator) and HACS's GitHub action cannot run
here (no Docker, no network), so the checks they make on files are written out below,
after the sources named in ``shared/ha/NOTES.md`` §2-3 (core ``script/hassfest``:
manifest, translations, services, icons, config_schema; ``hacs/integration``
``validate/*.py``: hacs.json, integration manifest, brands, information, licence).

Every ``check_*`` function returns a list of human-readable problems; an empty list
means the check passed. ``validate_repository`` runs them all.
"""

from collections.abc import Iterator, Mapping
import json
from pathlib import Path
import re
import struct
import tomllib
from typing import Any

import yaml

DOMAIN = "jellyfin_sync"

MANIFEST_REQUIRED = (
    "domain",
    "name",
    "codeowners",
    "documentation",
    "issue_tracker",
    "version",
    "iot_class",
)
MANIFEST_ALLOWED = {
    "domain", "name", "integration_type", "config_flow", "mqtt", "zeroconf", "ssdp",
    "bluetooth", "homekit", "dhcp", "usb", "documentation", "quality_scale",
    "requirements", "dependencies", "after_dependencies", "codeowners", "loggers",
    "disabled", "iot_class", "single_config_entry", "version", "issue_tracker",
    "import_executor",
}  # fmt: skip
IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}
INTEGRATION_TYPES = {
    "device",
    "entity",
    "hardware",
    "helper",
    "hub",
    "service",
    "system",
    "virtual",
}
HACS_ALLOWED = {
    "name", "content_in_root", "zip_release", "filename", "hide_default_branch",
    "country", "homeassistant", "hacs", "persistent_directory", "render_readme",
}  # fmt: skip
TRANSLATION_TOP_LEVEL = {
    "title", "config", "options", "selector", "device_automation", "system_health",
    "config_panel", "application_credentials", "issues", "entity_component", "device",
    "entity", "exceptions", "services", "conversation", "common", "config_subentries",
}  # fmt: skip
BRAND_IMAGES = {
    "icon.png": (256, 256), "dark_icon.png": (256, 256),
    "icon@2x.png": (512, 512), "dark_icon@2x.png": (512, 512),
    "logo.png": (128, 256), "dark_logo.png": (128, 256),
    "logo@2x.png": (256, 512), "dark_logo@2x.png": (256, 512),
}  # fmt: skip
_KEY = re.compile(r"^(?!.*[-_]{2})[a-z0-9]([a-z0-9-_]*[a-z0-9])?$")
# AwesomeVersion accepts SemVer/CalVer/PEP 440; a dotted numeric version with an
# optional pre-release/build suffix covers what we publish.
_VERSION = re.compile(r"^\d+(\.\d+){1,3}([-.+]?[0-9A-Za-z.]+)?$")
_URL = re.compile(r"^https?://[^\s/$.?#].[^\s]*$")


def _load_json(path: Path, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path.name}: file is missing")
    except json.JSONDecodeError as err:
        problems.append(f"{path.name}: invalid JSON ({err})")
    return None


def check_manifest(integration: Path) -> list[str]:
    """Hassfest ``manifest.py`` for a custom integration, plus HACS's manifest rules."""
    problems: list[str] = []
    manifest = _load_json(integration / "manifest.json", problems)
    if not isinstance(manifest, dict):
        return problems or ["manifest.json: not a JSON object"]
    for key in MANIFEST_REQUIRED:
        if key not in manifest:
            problems.append(f"manifest.json: required key {key!r} is missing")
    for key in manifest:
        if key not in MANIFEST_ALLOWED:
            problems.append(f"manifest.json: unknown key {key!r}")
    keys = list(manifest)
    expected = keys[:2] == ["domain", "name"] and keys[2:] == sorted(keys[2:])
    if not expected:
        problems.append(
            "manifest.json: keys are not sorted correctly (domain, name, then alphabetical)"
        )
    if manifest.get("domain") != integration.name:
        problems.append(
            f"manifest.json: domain {manifest.get('domain')!r} differs from the folder name {integration.name!r}"
        )
    if not isinstance(manifest.get("name"), str) or not manifest.get("name"):
        problems.append("manifest.json: 'name' must be a non-empty string")
    codeowners = manifest.get("codeowners")
    if (
        not isinstance(codeowners, list)
        or not codeowners
        or not all(
            isinstance(owner, str) and owner.startswith("@") for owner in codeowners
        )
    ):
        problems.append(
            "manifest.json: 'codeowners' must be a non-empty list of @names"
        )
    documentation = manifest.get("documentation", "")
    if not isinstance(documentation, str) or not documentation.startswith("https://"):
        problems.append("manifest.json: 'documentation' must be an https URL")
    elif documentation.startswith("https://www.home-assistant.io/integrations"):
        problems.append(
            "manifest.json: 'documentation' must not point at home-assistant.io"
        )
    tracker = manifest.get("issue_tracker", "")
    if not isinstance(tracker, str) or not _URL.match(tracker):
        problems.append("manifest.json: 'issue_tracker' must be a URL")
    version = manifest.get("version")
    if not isinstance(version, str) or not _VERSION.match(version):
        problems.append(f"manifest.json: 'version' {version!r} is not a valid version")
    if "iot_class" in manifest and manifest["iot_class"] not in IOT_CLASSES:
        problems.append(f"manifest.json: unknown iot_class {manifest['iot_class']!r}")
    if manifest.get("integration_type", "hub") not in INTEGRATION_TYPES:
        problems.append(
            f"manifest.json: unknown integration_type {manifest['integration_type']!r}"
        )
    for key in ("requirements", "dependencies", "after_dependencies", "loggers"):
        if key in manifest and (
            not isinstance(manifest[key], list)
            or not all(isinstance(item, str) for item in manifest[key])
        ):
            problems.append(f"manifest.json: {key!r} must be a list of strings")
    if "config_flow" in manifest and not isinstance(manifest["config_flow"], bool):
        problems.append("manifest.json: 'config_flow' must be true or false")
    if manifest.get("config_flow") and not (integration / "config_flow.py").is_file():
        problems.append(
            "manifest.json: config_flow is true but config_flow.py is missing"
        )
    return problems


def check_hacs(repo: Path, *, min_homeassistant: str) -> list[str]:
    """HACS ``hacsjson`` check plus the structural rules of an integration repository."""
    problems: list[str] = []
    hacs = _load_json(repo / "hacs.json", problems)
    if isinstance(hacs, dict):
        if not isinstance(hacs.get("name"), str) or not hacs.get("name"):
            problems.append("hacs.json: required key 'name' is missing")
        for key in hacs:
            if key not in HACS_ALLOWED:
                problems.append(f"hacs.json: unknown key {key!r}")
        if hacs.get("render_readme") is not None:
            problems.append(
                "hacs.json: 'render_readme' is stale (HACS 2 always renders README)"
            )
        if hacs.get("zip_release") and not hacs.get("filename"):
            problems.append("hacs.json: zip_release needs 'filename'")
        if hacs.get("homeassistant") != min_homeassistant:
            problems.append(
                f"hacs.json: 'homeassistant' is {hacs.get('homeassistant')!r}, but the minimum lane runs {min_homeassistant}"
            )
    elif not problems:
        problems.append("hacs.json: not a JSON object")
    integrations = [
        p
        for p in (repo / "custom_components").iterdir()
        if p.is_dir() and p.name != "__pycache__"
    ]
    if len(integrations) != 1:
        problems.append(
            f"custom_components/ must hold exactly one integration, found {len(integrations)}"
        )
    if not any((repo / name).is_file() for name in ("README.md", "README", "info.md")):
        problems.append("README.md is missing (HACS 'information' check)")
    licence = repo / "LICENSE"
    if not licence.is_file():
        problems.append("LICENSE is missing (HACS 'license' check)")
    elif not re.search(
        r"MIT License|Apache License|GNU GENERAL PUBLIC LICENSE|BSD",
        licence.read_text(encoding="utf-8"),
    ):
        problems.append("LICENSE is not a recognised OSI licence")
    return problems


def _png_size(path: Path) -> tuple[int, int] | None:
    header = path.read_bytes()[:24]
    if (
        len(header) < 24
        or header[:8] != b"\x89PNG\r\n\x1a\n"
        or header[12:16] != b"IHDR"
    ):
        return None
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def check_brand(integration: Path) -> list[str]:
    """Local brand images (HA 2026.3+, HACS ``brands``): present, PNG, right sizes."""
    problems: list[str] = []
    for name, (low, high) in BRAND_IMAGES.items():
        path = integration / "brand" / name
        if not path.is_file():
            problems.append(f"brand/{name}: file is missing")
            continue
        size = _png_size(path)
        if size is None:
            problems.append(f"brand/{name}: not a PNG file")
            continue
        width, height = size
        if name.removeprefix("dark_").startswith("icon"):
            if (width, height) != (low, high):
                problems.append(
                    f"brand/{name}: is {width}x{height}, must be {low}x{high}"
                )
        elif not low <= min(width, height) <= high:
            problems.append(
                f"brand/{name}: shortest side {min(width, height)} is outside {low}-{high}"
            )
    return problems


def _walk_strings(node: Any, path: str = "") -> Iterator[tuple[str, str | None, Any]]:
    """Yield (path, key, value) for every key of a nested translation mapping."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, str(key), value
            yield from _walk_strings(value, child)


def check_translations(integration: Path) -> list[str]:
    """Hassfest ``translations.py`` for a custom integration."""
    problems: list[str] = []
    strings = _load_json(integration / "strings.json", problems)
    english = _load_json(integration / "translations" / "en.json", problems)
    if not isinstance(english, dict):
        return problems or ["translations/en.json: not a JSON object"]
    if isinstance(strings, dict) and strings != english:
        problems.extend(
            f"translations/en.json differs from strings.json at {path}"
            for path in sorted(_differences(strings, english))
        )
    for key in english:
        if key not in TRANSLATION_TOP_LEVEL:
            problems.append(f"translations/en.json: unknown top-level section {key!r}")
    for path, key, value in _walk_strings(english):
        # Keys below these are free-form ids, not translation keys.
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        if (
            key is not None
            and not parent.endswith((".data", ".data_description"))
            and not _KEY.match(key)
        ):
            problems.append(
                f"translations/en.json: invalid key {path!r} (use lower-case letters, digits, '-' and '_')"
            )
        if isinstance(value, str):
            if value != value.strip():
                problems.append(
                    f"translations/en.json: {path} has leading or trailing spaces"
                )
            if not value:
                problems.append(f"translations/en.json: {path} is empty")
            if re.search(r"<[a-zA-Z/][^>]*>", value):
                problems.append(f"translations/en.json: {path} contains HTML")
            if "[%key:" in value:
                problems.append(
                    f"translations/en.json: {path} uses a [%key:...%] reference; custom integrations need full text"
                )
            if re.search(r"'\{[^}]*\}'", value):
                problems.append(
                    f"translations/en.json: {path} quotes a placeholder in single quotes"
                )
        elif not isinstance(value, dict):
            problems.append(f"translations/en.json: {path} must be text or a section")
    for section in ("config", "options"):
        for step_id, step in (english.get(section, {}).get("step", {}) or {}).items():
            data = step.get("data", {}) or {}
            for field in step.get("data_description", {}) or {}:
                if field not in data:
                    problems.append(
                        f"translations/en.json: {section}.step.{step_id}.data_description.{field} has no matching data.{field}"
                    )
    return problems


def _differences(left: Any, right: Any, path: str = "") -> set[str]:
    if isinstance(left, dict) and isinstance(right, dict):
        found: set[str] = set()
        for key in set(left) | set(right):
            child = f"{path}.{key}" if path else key
            if key not in left or key not in right:
                found.add(child)
            else:
                found |= _differences(left[key], right[key], child)
        return found
    return set() if left == right else {path or "<root>"}


def check_services(integration: Path) -> list[str]:
    """Hassfest ``services.py``: every action and field has a name and a description."""
    problems: list[str] = []
    services_file = integration / "services.yaml"
    registers = any(
        re.search(
            r"\.async_register(_entity_service|_admin_service)?\(",
            path.read_text(encoding="utf-8"),
        )
        for path in integration.rglob("*.py")
    )
    if not services_file.is_file():
        if registers:
            problems.append("services.yaml: registers actions but has no services.yaml")
        return problems
    services = yaml.safe_load(services_file.read_text(encoding="utf-8")) or {}
    if not isinstance(services, dict):
        return ["services.yaml: must be a mapping of actions"]
    english = json.loads(
        (integration / "translations" / "en.json").read_text(encoding="utf-8")
    )
    translated = english.get("services", {})
    for service, raw_spec in services.items():
        spec = raw_spec or {}
        text = translated.get(service, {})
        for attr in ("name", "description"):
            if not spec.get(attr) and not text.get(attr):
                problems.append(
                    f"services.yaml: action {service!r} has no {attr} (in services.yaml or translations/en.json)"
                )
        fields = dict(spec.get("fields", {}) or {})
        for section_name, section in list(fields.items()):
            if isinstance(section, dict) and "fields" in section:
                fields.pop(section_name)
                fields.update(section["fields"])
                if not text.get("sections", {}).get(section_name, {}).get("name"):
                    problems.append(
                        f"services.yaml: section {service}.{section_name} has no name"
                    )
        for field, field_spec in fields.items():
            field_text = text.get("fields", {}).get(field, {})
            for attr in ("name", "description"):
                if not (field_spec or {}).get(attr) and not field_text.get(attr):
                    problems.append(
                        f"services.yaml: field {service}.{field} has no {attr}"
                    )
            select = ((field_spec or {}).get("selector") or {}).get("select") or {}
            key = select.get("translation_key")
            if key and key not in english.get("selector", {}):
                problems.append(
                    f"services.yaml: selector translation_key {key!r} of {service}.{field} is not in translations/en.json"
                )
    for service in translated:
        if service not in services:
            problems.append(
                f"translations/en.json: services.{service} is not an action in services.yaml"
            )
    return problems


def check_icons(integration: Path) -> list[str]:
    """Hassfest ``icons.py``: valid icons.json, every icon an ``mdi:`` name."""
    problems: list[str] = []
    icons = _load_json(integration / "icons.json", problems)
    if icons is None:
        return problems
    if not isinstance(icons, dict):
        return ["icons.json: not a JSON object"]
    for path, _key, value in _walk_strings(icons):
        if isinstance(value, str) and not value.startswith("mdi:"):
            problems.append(f"icons.json: {path} must be an mdi: icon, got {value!r}")
    for service, spec in (icons.get("services") or {}).items():
        if not isinstance(spec, dict) or "service" not in spec:
            problems.append(
                f"icons.json: services.{service} must be an object with a 'service' icon"
            )
    for platform in (icons.get("entity") or {}).values():
        for key, spec in platform.items():
            state = spec.get("state", {}) if isinstance(spec, dict) else {}
            for state_name, icon in state.items():
                if icon == spec.get("default"):
                    problems.append(
                        f"icons.json: entity {key} state {state_name} repeats the default icon"
                    )
    return problems


_CODE_KEYS = (
    # (regex over Python sources, translation path template)
    (re.compile(r"translation_key\s*=\s*\"([a-z0-9_-]+)\""), "translation_key"),
    (re.compile(r"async_abort\(\s*reason\s*=\s*\"([a-z0-9_-]+)\""), "abort"),
    (re.compile(r"errors\[[^\]]+\]\s*=\s*\"([a-z0-9_-]+)\""), "error"),
    # The options flow's users/libraries steps name their errors in a description.
    (
        re.compile(r"(?:invalid_mapping|none_chosen)\s*=\s*\"([a-z0-9_-]+)\""),
        "error",
    ),
)


def check_code_translation_keys(integration: Path) -> list[str]:
    """Every translation key the code names exists in translations/en.json."""
    problems: list[str] = []
    english = json.loads(
        (integration / "translations" / "en.json").read_text(encoding="utf-8")
    )
    known: dict[str, set[str]] = {
        "translation_key": set(),
        "abort": set(),
        "error": set(),
    }
    for section in ("config", "options"):
        known["abort"] |= set(english.get(section, {}).get("abort", {}))
        known["error"] |= set(english.get(section, {}).get("error", {}))
    for sub in english.get("config_subentries", {}).values():
        known["abort"] |= set(sub.get("abort", {}))
        known["error"] |= set(sub.get("error", {}))
    for issue in english.get("issues", {}).values():
        fix = issue.get("fix_flow", {})
        known["abort"] |= set(fix.get("abort", {}))
        known["error"] |= set(fix.get("error", {}))
    known["translation_key"] |= set(english.get("exceptions", {})) | set(
        english.get("issues", {})
    )
    for platform in english.get("entity", {}).values():
        known["translation_key"] |= set(platform)
    # Home Assistant translates these abort reasons itself.
    known["abort"] |= {
        "reauth_successful",
        "reconfigure_successful",
        "already_configured",
        "already_in_progress",
    }
    for source in sorted(integration.rglob("*.py")):
        if source.parent.name in {"jellyfin", "sync"}:
            continue
        text = source.read_text(encoding="utf-8")
        for pattern, kind in _CODE_KEYS:
            for match in pattern.finditer(text):
                if match.group(1) not in known[kind]:
                    problems.append(
                        f"{source.name}: {kind} {match.group(1)!r} has no text in translations/en.json"
                    )
    return problems


def check_config_schema(integration: Path) -> list[str]:
    """Hassfest ``config_schema.py``: ``async_setup`` needs a ``CONFIG_SCHEMA``."""
    init = (integration / "__init__.py").read_text(encoding="utf-8")
    if "async def async_setup(" in init and "CONFIG_SCHEMA" not in init:
        return ["__init__.py: defines async_setup but no CONFIG_SCHEMA"]
    return []


def check_json_files(integration: Path) -> list[str]:
    """Hassfest ``json.py``: every JSON file in the integration parses."""
    problems: list[str] = []
    for path in sorted(integration.rglob("*.json")):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            problems.append(f"{path.relative_to(integration)}: invalid JSON ({err})")
    return problems


def validate_repository(repo: Path, *, min_homeassistant: str) -> list[str]:
    """Run every check on a repository checkout; returns all problems found."""
    integration = repo / "custom_components" / DOMAIN
    problems = check_json_files(integration)
    problems += check_manifest(integration)
    problems += check_hacs(repo, min_homeassistant=min_homeassistant)
    problems += check_brand(integration)
    problems += check_translations(integration)
    problems += check_services(integration)
    problems += check_icons(integration)
    problems += check_code_translation_keys(integration)
    problems += check_config_schema(integration)
    return problems


def minimum_homeassistant(repo: Path) -> str:
    """The Home Assistant the minimum lane pins (pyproject's ``minimum`` group)."""
    data = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    for requirement in data["dependency-groups"]["minimum"]:
        if isinstance(requirement, str) and requirement.startswith("homeassistant=="):
            return requirement.split("==", 1)[1]
    raise ValueError("pyproject.toml pins no homeassistant in the minimum group")
