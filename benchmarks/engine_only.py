"""Load the sync engine and client without Home Assistant (imported for its effect).

``custom_components.jellyfin_sync`` is the integration package: importing any module
below it runs its ``__init__``, which imports Home Assistant (about 110,000 objects
that every full pass of Python's garbage collector scans, 50-70 ms per pass on
these machines). The engine and the client import no Home Assistant code (see
``tests/test_client_boundary.py``), so the benchmark registers the two parent
packages as bare namespaces first: its stalls and memory are then the sync's own.

Set ``JELLYFIN_SYNC_BENCH_WITH_HA=1`` (``scripts/bench --with-home-assistant``) to
import the integration normally instead, to see a Home Assistant process. Nothing
is replaced when the package is imported already (tests).
"""

import os
from pathlib import Path
import sys
import types

ROOT = Path(__file__).resolve().parents[1]
WITH_HA_ENV = "JELLYFIN_SYNC_BENCH_WITH_HA"


def engine_only() -> bool:
    """Register the bare parent packages unless asked not to; whether it did.

    Only in a process started as ``python -m benchmarks.sync_bench``: a test that
    imports the benchmark keeps the real integration package.
    """
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if (
        getattr(main_spec, "name", None) != "benchmarks.sync_bench"
        or os.environ.get(WITH_HA_ENV)
        or "custom_components.jellyfin_sync" in sys.modules
    ):
        return False
    for name, path in (
        ("custom_components", ROOT / "custom_components"),
        ("custom_components.jellyfin_sync", ROOT / "custom_components/jellyfin_sync"),
    ):
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules.setdefault(name, module)
    return True


ACTIVE = engine_only()
"""Whether this process runs the engine without Home Assistant."""
