"""The layers of each service are honest, as docs/architecture.md says: the domain imports nothing
outward, the application knows its ports and not the adapters, generated protobuf code stops at the
presentation and the gRPC adapter, and neither service imports the other."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import common
import order
import product

SERVICES = {package.__name__: Path(str(package.__file__)).resolve().parent for package in (product, order)}
# Libraries that belong to adapters and the edge, never to the domain or the use cases.
ADAPTER_LIBRARIES = ("grpc", "google", "sqlalchemy", "alembic", "opentelemetry", "dependency_injector")
GENERATED = "common.generated"


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):  # deferred imports count too
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _modules(service: str, layer: str = "") -> list[tuple[str, list[str]]]:
    root = SERVICES[service]
    return [
        (str(path.relative_to(root.parent)), _imports(path))
        for path in sorted((root / layer).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_imports_only_the_standard_library_the_kernels_errors_and_itself(service: str) -> None:
    outward = [
        f"{module} imports {name}"
        for module, names in _modules(service, "domain")
        for name in names
        if name.split(".")[0] not in sys.stdlib_module_names
        and not _within(name, "__future__", "common.errors", f"{service}.domain")
    ]
    assert outward == []


@pytest.mark.parametrize("service", SERVICES)
def test_the_application_knows_ports_not_adapters(service: str) -> None:
    edge = ("infrastructure", "presentation", "container", "server")
    adapters = tuple(f"{service}.{part}" for part in edge)
    outward = [
        f"{module} imports {name}"
        for module, names in _modules(service, "application")
        for name in names
        if _within(name, *adapters, *ADAPTER_LIBRARIES, GENERATED)
    ]
    assert outward == []


@pytest.mark.parametrize("service", SERVICES)
def test_generated_code_stops_at_the_presentation_and_the_grpc_adapter(service: str) -> None:
    allowed = (f"{service}/presentation/", f"{service}/server.py", f"{service}/infrastructure/grpc_")
    leaking = [
        module
        for module, names in _modules(service)
        if any(_within(name, GENERATED) for name in names) and not module.startswith(allowed)
    ]
    assert leaking == []


@pytest.mark.parametrize(("service", "other"), [("product", "order"), ("order", "product")])
def test_a_service_never_imports_the_other(service: str, other: str) -> None:
    assert [m for m, names in _modules(service) if any(_within(n, other) for n in names)] == []


def test_the_walk_sees_every_layer() -> None:
    # Guards the tests above against passing vacuously (a wrong root finds no modules).
    for service in SERVICES:
        for layer in ("domain", "application", "infrastructure", "presentation"):
            assert _modules(service, layer), f"{service}/{layer}"


COMMON = Path(str(common.__file__)).resolve().parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(COMMON.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _common_graph() -> dict[str, set[str]]:
    """Module -> the modules of ``common`` it imports (deferred imports too: a cycle an import inside a
    function hides is still a cycle)."""
    paths = {_module_name(p): p for p in COMMON.rglob("*.py") if GENERATED.split(".")[1] not in p.parts}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{parent}.{base}" if base else parent
                found.update([base, *(f"{base}.{alias.name}" for alias in node.names)])
        graph[name] = set()
        for imported in found:
            module = imported
            while module and module not in paths:
                module = module.rpartition(".")[0]
            if module not in ("", name, "common"):
                graph[name].add(module)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import one another, directly or not (Tarjan's strongly connected
    components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_inside_common() -> None:
    """Modules of ``common`` import one another one way only, so each can be read (and imported) on its
    own terms: what two modules both need lives in a third."""
    assert _cycles(_common_graph()) == []


def test_the_cycle_check_sees_the_modules_and_a_cycle() -> None:
    graph = _common_graph()
    assert "common.grpc.server_interceptors" in graph
    assert "common.errors" in graph["common.grpc.status"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
