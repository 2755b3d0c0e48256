"""The client package imports no Home Assistant code (checked in a fresh interpreter).

Importing ``custom_components.jellyfin_sync.jellyfin`` normally runs the integration's
``__init__`` (which imports Home Assistant), so the check registers the parent
packages as bare namespaces first and then imports only the client.
"""

from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys, types
root = sys.argv[1]
for name, path in (
    ("custom_components", root + "/custom_components"),
    ("custom_components.jellyfin_sync", root + "/custom_components/jellyfin_sync"),
):
    module = types.ModuleType(name)
    module.__path__ = [path]
    sys.modules[name] = module
import custom_components.jellyfin_sync.jellyfin as client
assert client.JellyfinClient.__module__.endswith("jellyfin.client")
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] == "homeassistant")))
"""


def test_client_imports_no_home_assistant() -> None:
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", PROBE, str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
