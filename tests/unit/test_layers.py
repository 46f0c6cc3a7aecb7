"""The layout is the architecture: a request goes web -> execution -> (the
mapping engine, Nova operations, the task engine, the store) and back, and
no module of a lower layer imports a higher one. Read from the sources."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "vnext_proxy"

#: Layers, lowest first. Modules in one layer may import each other, and
#: anything below; "siblings" of a layer must not import each other.
BASE = (
    "errors", "timeutil", "yamlsource", "aio", "calls", "templates", "validation", "schemacheck",
    "config", "server_groups", "tasks.model",
)  # fmt: skip
LAYERS: tuple[tuple[str, ...], ...] = (
    BASE,
    ("mapping", "nova", "stores"),
    ("tasks",),
    ("execution", "loading"),
    ("web",),
    ("cli", "client", "demo", "selfcheck", "devcloud", "__main__"),
)
#: Within the second layer each part stands alone: the pure mapping engine
#: does no I/O, Nova I/O knows nothing of mappings, the store neither.
SIBLINGS = ("mapping", "nova", "stores")


def _part(module: str) -> str:
    """The layer part a module belongs to: the longest listed prefix."""
    name = module.removeprefix("vnext_proxy.")
    parts = [p for layer in LAYERS for p in layer if name == p or name.startswith(p + ".")]
    assert parts, f"vnext_proxy.{name} is in no layer: add it to LAYERS"
    return max(parts, key=len)


def _rank(part: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if part in layer)


def _imports() -> list[tuple[str, str, int]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(relative.parts).removesuffix(".__init__")
        if module == "vnext_proxy":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vnext_proxy."):
                targets = [node.module]
                # "from vnext_proxy.mapping import engine" imports vnext_proxy.mapping.engine.
                targets += [f"{node.module}.{alias.name}" for alias in node.names]
                target = next((t for t in reversed(targets) if _exists(t)), node.module)
                found.append((module, target, node.lineno))
            elif isinstance(node, ast.Import):
                found += [(module, a.name, node.lineno) for a in node.names if a.name.startswith("vnext_proxy.")]
    return found


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").exists() or (PACKAGE / relative / "__init__.py").exists()


IMPORTS = _imports()


def test_the_import_graph_was_read() -> None:
    edges = {(_part(a), _part(b)) for a, b, _ in IMPORTS}
    assert {("web", "execution"), ("execution", "mapping"), ("execution", "tasks"), ("tasks", "stores")} <= edges


@pytest.mark.parametrize(("importer", "imported", "line"), IMPORTS, ids=[f"{a}->{b}" for a, b, _ in IMPORTS])
def test_no_layer_imports_a_higher_one(importer: str, imported: str, line: int) -> None:
    upper, lower = _part(importer), _part(imported)
    where = f"{importer.replace('.', '/')}.py:{line}"
    assert _rank(lower) <= _rank(upper), (
        f"{where}: {upper} (layer {_rank(upper)}) imports {lower} (layer {_rank(lower)})"
    )
    if upper in SIBLINGS and lower in SIBLINGS:
        assert upper == lower, f"{where}: {upper} imports {lower}; each stands alone"


def test_a_layer_rule_catches_an_upward_import() -> None:
    """The check itself can fail: the poller importing the web's metrics would."""
    assert _rank(_part("vnext_proxy.web.metrics")) > _rank(_part("vnext_proxy.tasks.poller"))
    assert _part("vnext_proxy.tasks.model") == "tasks.model"
