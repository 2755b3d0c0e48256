"""The package's rooms stay apart: no import cycle, one direction of imports.

Imports are read from the source (``ast``), those under ``TYPE_CHECKING`` included:
a cycle that only the type checker follows still ties two modules together.
"""

import ast
from pathlib import Path

PACKAGE = "custom_components.jellyfin_sync"
ROOT = Path(__file__).resolve().parent.parent / "custom_components" / "jellyfin_sync"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, name: str) -> set[str]:
    """Modules of the package that a module imports."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = (
                    package.rsplit(".", node.level - 1)[0]
                    if node.level > 1
                    else package
                )
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            # "from . import fields" names a module too.
            found.update(f"{target}.{a.name}" for a in node.names)
    return {m for m in found if m.startswith(PACKAGE)}


def graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    return {
        name: {m for m in _imports(path, name) if m in modules and m != name}
        for name, path in modules.items()
    }


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between modules, if any.

    A module that imports its own package (for what the package re-exports) is
    not counted: the package's ``__init__`` importing its modules is ordinary.
    """
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if node.startswith(nxt + "."):
                continue  # a module importing its own package's re-exports
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle() -> None:
    assert _cycle(graph()) is None


#: The rooms, innermost first. Data flows one way: the Home Assistant glue (every
#: other module of the package) drives the group, the group the engine, the engine
#: the client; a room imports only itself and the rooms after it here.
ROOMS = (f"{PACKAGE}.jellyfin", f"{PACKAGE}.sync", f"{PACKAGE}.group")


def _room(module: str) -> int:
    """Index of a module's room in :data:`ROOMS`; the glue is ``len(ROOMS)``."""
    for index, room in enumerate(ROOMS):
        if module == room or module.startswith(room + "."):
            return index
    return len(ROOMS)


def test_imports_flow_one_way_through_the_rooms() -> None:
    for name, targets in graph().items():
        wrong = {t for t in targets if _room(t) > _room(name)}
        assert not wrong, f"{name} imports {sorted(wrong)}"


def test_the_rooms_import_no_home_assistant() -> None:
    paths = {_module_name(p): p for p in ROOT.rglob("*.py")}
    for name, path in paths.items():
        if _room(name) == len(ROOMS):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                found = [node.module or ""]
            else:
                continue
            wrong = [m for m in found if m.split(".")[0] == "homeassistant"]
            assert not wrong, f"{name} imports {wrong}"


def test_the_room_check_sees_a_wrong_import() -> None:
    assert _room(f"{PACKAGE}.sync.engine") == 1
    assert _room(f"{PACKAGE}.coordinator") == len(ROOMS)
    assert _room(f"{PACKAGE}.group") > _room(f"{PACKAGE}.sync.engine")


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


#: The restructuring's limits: a module a reader can hold, a function one screen.
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _too_long(limit_module: int, limit_function: int) -> list[str]:
    found: list[str] = []
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT).as_posix()
        if (lines := text.count("\n")) > limit_module:
            found.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > limit_function:
                    found.append(f"{name}: {node.name} is {length} lines")
    return found


def test_no_module_or_function_too_long_to_read() -> None:
    assert _too_long(MAX_MODULE_LINES, MAX_FUNCTION_LINES) == []


def test_the_length_check_sees_a_long_module_and_function() -> None:
    found = _too_long(50, 10)
    assert any(f.startswith("coordinator.py: ") and "lines" in f for f in found)
    assert any(" is " in f for f in found)
