"""The README states each default, limit and option name once, and the code agrees.

The options table, the Safety figures, the undo limits and the action tables are
parsed from README.md and compared with ``const.py``, the options defaults, the
translated labels (``strings.json``), ``services.yaml`` and the action schemas. A
changed default fails here until the README follows.
"""

import json
from pathlib import Path
import re
from typing import Any

import pytest
import yaml

from custom_components.jellyfin_sync import const
from custom_components.jellyfin_sync.group import UNDO_HISTORY
from custom_components.jellyfin_sync.jellyfin.exceptions import ErrorReason
from custom_components.jellyfin_sync.options import default_options
from custom_components.jellyfin_sync.services import RUN_SCHEMA, UNDO_SCHEMA
from custom_components.jellyfin_sync.sync import GuardLimits, Stage, SyncOptions

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
INTEGRATION = ROOT / "custom_components" / "jellyfin_sync"
STRINGS = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
SERVICES = yaml.safe_load((INTEGRATION / "services.yaml").read_text(encoding="utf-8"))

#: Option steps whose fields the options table documents.
OPTION_STEPS = ("init", "users", "libraries")
#: Options documented in their own section instead (with their default there).
ELSEWHERE = {const.CONF_PROGRESS_DELAY, const.CONF_WEBHOOK_REMOTE}
#: Lists that the row of their mode documents ("only the chosen ones").
PART_OF = {
    const.CONF_USERS: const.CONF_USER_MODE,
    const.CONF_LIBRARIES: const.CONF_LIBRARY_MODE,
}
DASH = "\N{EN DASH}"


def section(heading: str) -> str:
    """The README text under a heading, up to the next heading of any level."""
    start = README.index(f"{heading}\n")
    rest = README[start + len(heading) + 1 :]
    following = re.search(r"^#{1,6} ", rest, flags=re.MULTILINE)
    return rest[: following.start()] if following else rest


def table(text: str) -> list[dict[str, str]]:
    """The first Markdown table of ``text`` as rows keyed by the header cells."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            break
    assert len(lines) >= 3, "no table"
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [
        dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
        for line in lines[2:]
    ]


def labels() -> dict[str, str]:
    """Translated label -> option key, for the options flow's steps."""
    return {
        label: key
        for step in OPTION_STEPS
        for key, label in STRINGS["options"]["step"][step]["data"].items()
    }


def expected_default(key: str, value: Any) -> str:
    """How the options table writes the default of one option."""
    units = {
        const.CONF_SCAN_INTERVAL: " min",
        const.CONF_FULL_LISTING_HOURS: " h",
        const.CONF_MAX_CHANGES: "",
        const.CONF_MAX_CHANGE_PERCENT: " %",
    }
    if key in units:
        return f"{value}{units[key]}"
    if key == const.CONF_PRIMARY_SERVER:
        return "first server"
    if isinstance(value, bool):
        return "on" if value else "off"
    if value in ("", []):
        return "\N{EM DASH}"
    if key in (const.CONF_FIELDS, const.CONF_KINDS) or value == "all":
        return "all"
    if key in (const.CONF_DIRECTION, const.CONF_FIRST_SYNC):
        return str(value).replace("_", "-")
    raise AssertionError(f"no rendering for {key}={value!r}")


def test_options_table_names_every_option_with_its_default() -> None:
    rows = table(section("### Options (⋮ → Configure)"))
    by_label = labels()
    defaults = default_options([{const.CONF_SERVER_ID: "a"}])
    defaults[const.CONF_EDIT_SERVERS] = False
    listed = {}
    for row in rows:
        assert row["Option"] in by_label, f"README option {row['Option']!r} is no label"
        listed[by_label[row["Option"]]] = row
    missing = set(by_label.values()) - set(listed) - ELSEWHERE - set(PART_OF)
    assert not missing, f"options missing from the README table: {sorted(missing)}"
    for part, mode in PART_OF.items():
        assert "chosen ones" in listed[mode]["Meaning"], part
    for key, row in listed.items():
        assert row["Default"] == expected_default(key, defaults[key]), key


@pytest.mark.parametrize(
    ("key", "low", "high"),
    [
        (const.CONF_SCAN_INTERVAL, const.MIN_SCAN_INTERVAL, const.MAX_SCAN_INTERVAL),
        (
            const.CONF_FULL_LISTING_HOURS,
            const.MIN_FULL_LISTING_HOURS,
            const.MAX_FULL_LISTING_HOURS,
        ),
    ],
)
def test_options_table_states_the_ranges(key: str, low: int, high: int) -> None:
    rows = {
        labels()[r["Option"]]: r for r in table(section("### Options (⋮ → Configure)"))
    }
    assert f"({low}{DASH}{high})" in rows[key]["Meaning"]


def test_options_documented_elsewhere_state_their_default() -> None:
    label = STRINGS["options"]["step"]["init"]["data"][const.CONF_PROGRESS_DELAY]
    found = re.search(rf"\*\*{label}\*\* \((\d+) s by default", README)
    assert found is not None
    assert int(found.group(1)) == const.DEFAULT_PROGRESS_DELAY
    remote = STRINGS["options"]["step"]["init"]["data"][const.CONF_WEBHOOK_REMOTE]
    assert remote.split()[0] in README
    assert default_options([])[const.CONF_WEBHOOK_REMOTE] is False


def test_safety_figures_are_the_defaults() -> None:
    text = " ".join(section("### Safety").split())
    guard = re.search(
        r"more than (\d+) for one user on one server, or more than (\d+) % of the "
        r"user's items with data there once at least (\d+) are affected",
        text,
    )
    assert guard is not None, "the guard sentence changed: update this test"
    assert int(guard.group(1)) == const.DEFAULT_MAX_CHANGES
    assert int(guard.group(2)) == const.DEFAULT_MAX_CHANGE_PERCENT
    assert int(guard.group(3)) == GuardLimits().min_changes
    undo = re.search(r"keeps the last (\d+) syncs, up to ([\d,]+) writes", text)
    assert undo is not None
    assert int(undo.group(1)) == SyncOptions().history_cycles
    assert int(undo.group(2).replace(",", "")) == SyncOptions().history_max_writes


def test_undo_limits_are_the_same_everywhere() -> None:
    cycles = SyncOptions().history_cycles
    for match in re.finditer(r"last (\d+) syncs", README):
        assert int(match.group(1)) == cycles, match.group(0)
    found = re.search(r"Diagnostics list the last\s+(\d+) undos", README)
    assert found is not None
    assert int(found.group(1)) == UNDO_HISTORY


def _schema_fields(schema: Any) -> dict[str, tuple[bool, Any]]:
    """Field -> (required, default or None) of an action's voluptuous schema."""
    found: dict[str, tuple[bool, Any]] = {}
    for marker in schema.schema:
        default = marker.default() if callable(marker.default) else None
        found[str(marker)] = (type(marker).__name__ == "Required", default)
    return found


@pytest.mark.parametrize(
    ("action", "schema"), [("run", RUN_SCHEMA), ("undo", UNDO_SCHEMA)]
)
def test_action_tables_match_services_yaml_and_the_schema(
    action: str, schema: Any
) -> None:
    rows = table(section(f"### `jellyfin_sync.{action}`"))
    documented = {row["Field"].strip("`"): row for row in rows}
    declared = SERVICES[action]["fields"]
    accepted = _schema_fields(schema)
    assert set(documented) == set(declared) == set(accepted)
    for name, row in documented.items():
        required = declared[name].get("required", False)
        assert (row["Required"] == "yes") is required, name
        assert accepted[name][0] is required, name
        yaml_default = declared[name].get("default")
        schema_default = accepted[name][1]
        assert yaml_default == schema_default, name
        if isinstance(schema_default, bool):
            assert row["Default"] == str(schema_default).lower(), name
        else:
            # No literal default: the README says what stands in for it.
            assert row["Default"] not in ("false", "true", ""), name


def test_documented_error_keys_are_the_codes() -> None:
    """The ``run`` response's error stages and reasons in README are the enums'."""
    block = README.split("errors:  # the first 50 failures", 1)[1].split("```", 1)[0]
    stage = block.split("stage:", 1)[1].split("reason:", 1)[0]
    reason = block.split("reason:", 1)[1].split("subject:", 1)[0]
    words = re.compile(r"[a-z_]+")
    assert set(words.findall(stage)) == {s.value for s in Stage} | {"write"}
    assert set(words.findall(reason)) == {r.value for r in ErrorReason}
