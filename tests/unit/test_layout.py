"""How the tests and benchmarks are laid out (issue 16, "Names and homes"), checked on
their source so a new file that breaks a rule fails here, naming the file and line:
shared fixtures and helpers live in fixture/support modules, never in a conftest or a
test module that others import; bench/ stands on its own; one tenants-file factory
(switchboard/tenantsfile.py); tests do not reach into private state of objects."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS, BENCH = REPO / "tests", REPO / "bench"

# Private attributes tests still set to inject a fake, each with why it is not gone yet.
# A new entry needs the same justification; better, an injection point in the code.
KNOWN_PRIVATE_WRITES = {
    # KafkaPublisher builds its confluent producer itself: no injection point yet.
    ("tests/unit/gateway/test_publisher.py", "_producer"),
    ("tests/unit/gateway/test_publisher.py", "_reachable"),
    ("tests/unit/gateway/test_publisher.py", "_deadlines"),
    ("tests/unit/gateway/test_publisher.py", "_check_reachable"),
    # BatchingProducer wraps Faust's aiokafka producer (a Faust internal, issue 16's adapter).
    ("tests/unit/streams/test_producer.py", "_producer"),
    # BatchingProducer reads the loop's clock: the test ages its oldest record instead.
    ("tests/unit/streams/test_producer.py", "_oldest"),
    # Direct delivery's tests put the consumer (and Faust's assignor and ack bookkeeping)
    # in the state a rebalance or the fetch loop leaves, to test each branch of _deliver.
    ("tests/unit/streams/test_consumer.py", "_sought"),
    ("tests/unit/streams/test_consumer.py", "_acked"),
    ("tests/unit/streams/test_consumer.py", "_acked_index"),
    ("tests/unit/streams/test_consumer.py", "_active_tps"),
    ("tests/unit/streams/test_consumer.py", "_direct"),
    # ...and Faust's commit and fetch bookkeeping the worker's positions stand in for.
    ("tests/unit/streams/test_consumer.py", "_committed_offset"),
    ("tests/unit/streams/test_consumer.py", "_read_offset"),
    ("tests/unit/streams/test_consumer.py", "_gap"),
    ("tests/unit/streams/test_consumer.py", "_spared"),
    # The fence's canaries: what Producer.on_start sets, and a database Faust opened.
    ("tests/unit/streams/test_faustfence.py", "_producer"),
    ("tests/unit/streams/test_store_rocksdb.py", "_dbs"),
    # aiohttp's test request has no public way to carry a route's match info.
    ("tests/unit/streams/test_views.py", "_match_info"),
}


def sources(root: Path) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(root.rglob("*.py")):
        yield str(path.relative_to(REPO)), ast.parse(path.read_text(encoding="utf-8"))


def imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every absolute import; `from a import b` gives a.b (b may be a
    module), `from a import b, c` one of them per line is enough to name the line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def offending(root: Path, rule: Callable[[str], bool]) -> list[str]:
    """One line per import statement under `root` that names a module `rule` refuses."""
    found: dict[tuple[str, int], str] = {}
    for path, tree in sources(root):
        for line, name in imports(tree):
            if rule(name) and (path, line) not in found:
                found[path, line] = name
    return [f"{path}:{line} imports {name}" for (path, line), name in sorted(found.items())]


def is_test_or_conftest(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "tests" and any(p == "conftest" or p.startswith("test_") for p in parts)


def test_no_test_imports_a_conftest_or_another_test_module() -> None:
    found = offending(TESTS, is_test_or_conftest)
    assert found == [], "move what is shared into a support or fixture module:\n" + "\n".join(found)


def test_bench_imports_nothing_from_tests() -> None:
    found = offending(BENCH, lambda name: name.split(".")[0] == "tests")
    assert found == [], "bench/ shares code with tests through switchboard/:\n" + "\n".join(found)


def test_tenants_files_are_written_by_the_one_factory() -> None:
    found = [
        f"{path}:{node.lineno} defines {node.name}"
        for root in (TESTS, BENCH)
        for path, tree in sources(root)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("write_tenants")
    ]
    assert found == [], "use switchboard.tenantsfile.write_tenants:\n" + "\n".join(found)


def private_writes(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, attribute) of `x._name = ...` and `x._name.clear()`-style resets, x not self."""
    mutators = {"clear", "pop", "popitem", "update", "discard", "remove"}
    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = [t for target in node.targets for t in ast.walk(target)]
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in mutators
        ):
            targets = [node.func.value]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and target.attr.startswith("_")
                and not target.attr.startswith("__")
                and not (isinstance(target.value, ast.Name) and target.value.id in {"self", "cls"})
            ):
                yield target.lineno, target.attr


def test_tests_do_not_reset_private_state() -> None:
    found = sorted(
        f"{path}:{line} writes {attr}"
        for path, tree in sources(TESTS)
        for line, attr in private_writes(tree)
        if (path, attr) not in KNOWN_PRIVATE_WRITES
    )
    assert found == [], "use the code's own API, or a fresh object:\n" + "\n".join(found)
