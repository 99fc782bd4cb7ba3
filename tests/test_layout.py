"""The package's shape, checked from its imports: no cycles, no domain service using another
domain's, the seat engine importing only models and common helpers, no test switches."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "evently"
DOMAINS = ("analytics", "auth", "bookings", "events", "notifications", "tickets", "waitlist")
# What the seat engine may import besides itself: models, and helpers below every domain.
ENGINE_MAY_IMPORT = ("evently.extensions", "evently.errors", "evently.common.", "evently.ops.metrics",
                     "evently.notifications.outbox", "evently.audit.log")


def modules():
    """{dotted module name: path} of every module under evently/."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name, path, known):
    """Every evently module `name` imports, lazy (in-function) imports included
    (`from package import module` counts as the module, not the package)."""
    is_package = path.name == "__init__.py"
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = name if is_package else name.rpartition(".")[0]
            if node.level:
                base = ".".join(base.split(".")[: len(base.split(".")) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            names = [f"{module}.{alias.name}" for alias in node.names]
            submodules = [candidate for candidate in names if candidate in known]
            targets.update(submodules or [module])
    return {target for target in targets if target.startswith("evently")}


def graph():
    known = modules()
    edges = {}
    for name, path in known.items():
        resolved = set()
        for target in imports(name, path, known):
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                resolved.add(target)
        edges[name] = resolved
    return edges


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_there_is_no_import_cycle_inside_evently():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def domain(name):
    parts = name.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in DOMAINS else None


def test_no_domain_service_imports_another_domains_service():
    """Services and tasks use other domains' models only (and the engine, which is no domain)."""
    edges = graph()
    crossing = [(name, target) for name, targets in edges.items() for target in targets
                if domain(name) and name.rpartition(".")[2] in ("services", "tasks")
                and domain(target) not in (None, domain(name)) and not target.endswith(".models")
                and target not in ENGINE_MAY_IMPORT]
    assert crossing == []


def test_the_seat_engine_imports_only_models_and_common_helpers():
    edges = graph()
    outside = [(name, target) for name, targets in edges.items() if name.startswith("evently.seats")
               for target in targets
               if not target.startswith("evently.seats") and not target.endswith(".models")
               and not any(target == allowed or target.startswith(allowed) for allowed in ENGINE_MAY_IMPORT)]
    assert outside == []


def test_production_modules_carry_no_test_switches():
    """Faults are injected from the tests (monkeypatch, tests/patched.py, test-only strategies)."""
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        for switch in ('config["TESTING"]', "config.get(\"TESTING\")", "UNSAFE_", "TEST_PAUSE", "faults."):
            assert switch not in source, f"{path.relative_to(PACKAGE.parent)} carries {switch}"
