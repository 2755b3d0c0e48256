"""The hassfest and HACS file checks, on this repository and on broken copies."""

import json
import os
from pathlib import Path
import shutil
import subprocess
import sys

from homeassistant.const import __version__ as ha_version
import pytest

from tests.validation import (
    check_brand,
    check_code_translation_keys,
    check_hacs,
    check_icons,
    check_manifest,
    check_services,
    check_translations,
    minimum_homeassistant,
    validate_repository,
)


def test_the_minimum_lane_runs_the_declared_minimum() -> None:
    """hacs.json's minimum is what the minimum lane installs, and no newer than this."""
    minimum = minimum_homeassistant(REPO)
    hacs = json.loads((REPO / "hacs.json").read_text(encoding="utf-8"))
    assert hacs["homeassistant"] == minimum

    def parts(version: str) -> tuple[int, ...]:
        return tuple(int(p) for p in version.split(".")[:3] if p.isdigit())

    assert parts(minimum) <= parts(ha_version)


REPO = Path(__file__).resolve().parents[1]
# The full-gate test validates the tree named here; the subprocess test below points it
# at a broken copy to show that `scripts/test` fails on one.
TARGET = Path(os.environ.get("JELLYFIN_SYNC_VALIDATE_REPO", REPO))


def test_repository_passes_hassfest_and_hacs_checks() -> None:
    minimum = minimum_homeassistant(REPO)
    problems = validate_repository(TARGET, min_homeassistant=minimum)
    assert not problems, "hassfest/HACS checks failed:\n" + "\n".join(problems)


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of the files the checks read, safe to break."""
    copy = tmp_path / "repo"
    shutil.copytree(
        REPO / "custom_components",
        copy / "custom_components",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for name in ("hacs.json", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, copy / name)
    return copy


def _integration(repo: Path) -> Path:
    return repo / "custom_components" / "jellyfin_sync"


def _edit_json(path: Path, edit: object) -> None:
    data = json.loads(path.read_text())
    edit(data)  # type: ignore[operator]
    path.write_text(json.dumps(data, indent=2))


def test_manifest_unsorted_keys_are_reported(repo_copy: Path) -> None:
    manifest = _integration(repo_copy) / "manifest.json"
    data = json.loads(manifest.read_text())
    reordered = {"name": data.pop("name"), "domain": data.pop("domain"), **data}
    manifest.write_text(json.dumps(reordered))
    assert (
        "manifest.json: keys are not sorted correctly (domain, name, then alphabetical)"
        in (check_manifest(_integration(repo_copy)))
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("version"), "manifest.json: required key 'version' is missing"),
        (lambda m: m.pop("issue_tracker"), "manifest.json: required key 'issue_tracker' is missing"),
        (lambda m: m.update(iot_class="local_magic"), "manifest.json: unknown iot_class 'local_magic'"),
        (lambda m: m.update(version="one"), "manifest.json: 'version' 'one' is not a valid version"),
        (lambda m: m.update(domain="jellyfin"), "manifest.json: domain 'jellyfin' differs from the folder name 'jellyfin_sync'"),
        (lambda m: m.update(documentation="http://x"), "manifest.json: 'documentation' must be an https URL"),
        (lambda m: m.update(codeowners=["someone"]), "manifest.json: 'codeowners' must be a non-empty list of @names"),
        (lambda m: m.update(zzz_unknown=1), "manifest.json: unknown key 'zzz_unknown'"),
    ],
)  # fmt: skip
def test_manifest_problems_are_reported(
    repo_copy: Path, edit: object, message: str
) -> None:
    _edit_json(_integration(repo_copy) / "manifest.json", edit)
    assert message in check_manifest(_integration(repo_copy))


def test_missing_translation_is_reported(repo_copy: Path) -> None:
    en = _integration(repo_copy) / "translations" / "en.json"
    _edit_json(en, lambda t: t["config"]["step"]["user"]["data"].pop("url"))
    problems = check_translations(_integration(repo_copy))
    assert (
        "translations/en.json differs from strings.json at config.step.user.data.url"
        in problems
    )
    assert (
        "translations/en.json: config.step.user.data_description.url has no matching data.url"
        in problems
    )


def test_translation_text_rules(repo_copy: Path) -> None:
    integration = _integration(repo_copy)
    for name in ("strings.json", "translations/en.json"):
        _edit_json(
            integration / name,
            lambda t: t["config"]["step"]["user"].update(
                title=" <b>x</b>", description="[%key:common::config_flow::data::url%]"
            ),
        )
    problems = check_translations(integration)
    assert (
        "translations/en.json: config.step.user.title has leading or trailing spaces"
        in problems
    )
    assert "translations/en.json: config.step.user.title contains HTML" in problems
    assert any("uses a [%key:...%] reference" in p for p in problems)


def test_code_translation_key_without_text_is_reported(repo_copy: Path) -> None:
    integration = _integration(repo_copy)
    (integration / "extra.py").write_text(
        'raise ValueError(translation_key="no_such_key")\n'
        'errors["base"] = "no_such_error"\n'
        'self.async_abort(reason="no_such_reason")\n'
    )
    problems = check_code_translation_keys(integration)
    assert (
        "extra.py: translation_key 'no_such_key' has no text in translations/en.json"
        in problems
    )
    assert (
        "extra.py: error 'no_such_error' has no text in translations/en.json"
        in problems
    )
    assert (
        "extra.py: abort 'no_such_reason' has no text in translations/en.json"
        in problems
    )


def test_undescribed_action_is_reported(repo_copy: Path) -> None:
    integration = _integration(repo_copy)
    (integration / "services.yaml").write_text(
        "extra_action:\n  fields:\n    thing:\n      required: true\n"
    )
    problems = check_services(integration)
    assert (
        "services.yaml: action 'extra_action' has no name (in services.yaml or translations/en.json)"
        in problems
    )
    assert "services.yaml: field extra_action.thing has no description" in problems


def test_brand_image_problems_are_reported(repo_copy: Path) -> None:
    brand = _integration(repo_copy) / "brand"
    (brand / "logo.png").unlink()
    shutil.copy(brand / "icon@2x.png", brand / "icon.png")
    (brand / "dark_icon.png").write_bytes(b"GIF89a not a png")
    problems = check_brand(_integration(repo_copy))
    assert "brand/logo.png: file is missing" in problems
    assert "brand/icon.png: is 512x512, must be 256x256" in problems
    assert "brand/dark_icon.png: not a PNG file" in problems


def test_hacs_json_problems_are_reported(repo_copy: Path) -> None:
    _edit_json(
        repo_copy / "hacs.json",
        lambda h: h.update(render_readme=True, homeassistant="2024.1.0"),
    )
    (repo_copy / "LICENSE").unlink()
    problems = check_hacs(repo_copy, min_homeassistant=minimum_homeassistant(REPO))
    assert (
        "hacs.json: unknown key 'render_readme'" not in problems
    )  # still in the schema
    assert (
        "hacs.json: 'render_readme' is stale (HACS 2 always renders README)" in problems
    )
    assert (
        "hacs.json: 'homeassistant' is '2024.1.0', but the minimum lane runs "
        f"{minimum_homeassistant(REPO)}" in problems
    )
    assert "LICENSE is missing (HACS 'license' check)" in problems


def test_icon_problems_are_reported(repo_copy: Path) -> None:
    (_integration(repo_copy) / "icons.json").write_text(
        json.dumps(
            {
                "services": {"run": "mdi:sync"},
                "entity": {"sensor": {"x": {"default": "sync"}}},
            }
        )
    )
    problems = check_icons(_integration(repo_copy))
    assert (
        "icons.json: entity.sensor.x.default must be an mdi: icon, got 'sync'"
        in problems
    )
    assert (
        "icons.json: services.run must be an object with a 'service' icon" in problems
    )


def test_scripts_test_fails_on_a_broken_manifest(repo_copy: Path) -> None:
    """The gate in `scripts/test` (this module's first test) fails on a broken copy."""
    _edit_json(_integration(repo_copy) / "manifest.json", lambda m: m.pop("version"))
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--no-cov",
            f"{REPO}/tests/test_validation.py::test_repository_passes_hassfest_and_hacs_checks",
        ],
        cwd=REPO,
        env={**os.environ, "JELLYFIN_SYNC_VALIDATE_REPO": str(repo_copy)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "manifest.json: required key 'version' is missing" in result.stdout
