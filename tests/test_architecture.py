"""The import graph of ``bot/`` keeps the one-way arrows of DESIGN.md ("Dependencies point one
way"): ``cli``/``web``/``components`` -> ``slack/``, ``voipbin/``, ``nopublic/`` -> ``bridge/``
-> ``jobs/`` -> ``store/``. The domain imports no vendor adapter and no framework, storage never
imports the job runner, and VoIPbin's wire format stops in ``voipbin/``.

Every import counts, also one inside a function or under ``TYPE_CHECKING``: a lazy import is
still an arrow. Read with ``ast`` from the source, so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"

# Frameworks and HTTP clients that belong to the adapters and the composition root.
FRAMEWORKS = frozenset(
    {"slack_bolt", "slack_sdk", "httpx", "aiohttp", "starlette", "uvicorn", "websockets"}
)

# Lower layers first; a package may import its own layer and the ones below, never above.
# The shared leaves (config, phone, metrics, ...) sit below everything and import no layer.
LAYERS: dict[str, int] = {
    "bot.config": 0,
    "bot.phone": 0,
    "bot.region_names": 0,
    "bot.metrics": 0,
    "bot.exit_codes": 0,
    "bot.runtime": 0,
    "bot.store": 1,
    "bot.jobs": 2,
    "bot.bridge": 3,
    "bot.slack": 4,
    "bot.voipbin": 4,
    "bot.nopublic": 4,
    "bot.fakes": 4,
    "bot.logs": 4,
    "bot.components": 5,
    "bot.web": 5,
    "bot.worker": 5,
    "bot.doctor": 5,
    "bot.dependencies": 5,
    "bot.demo": 6,
    "bot.cli": 6,
}

# Arrows that point up on purpose. The no-public-URL mode is a way of serving, like
# ``web``: it builds the same components (the composition root) around its own transports,
# and watches the same dependencies at start (``bot.dependencies``, beside ``bot.doctor``).
UPWARD_ALLOWED = frozenset(
    {("bot.nopublic", "bot.components"), ("bot.nopublic", "bot.dependencies")}
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, module)`` of every import in the file, relative ones resolved."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            # ``from bot import web`` names a module too
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def _group(module: str) -> str:
    """``bot.bridge.service`` -> ``bot.bridge``; ``slack_sdk.web`` -> ``slack_sdk``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "bot" and len(parts) > 1 else parts[0]


def _graph() -> dict[str, set[tuple[str, str]]]:
    """Per package of ``bot``: ``(imported group, where)`` of each import of another group."""
    graph: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(BOT.rglob("*.py")):
        source = _group(_module_name(path))
        arrows = graph.setdefault(source, set())
        for line, module in _imports(path):
            target = _group(module)
            if target == "bot" or target == source:
                continue
            arrows.add((target, f"{path.relative_to(BOT.parent)}:{line}"))
    return graph


GRAPH = _graph()


def _bad(source: str, forbidden: set[str] | frozenset[str]) -> list[str]:
    return sorted(
        f"{where} imports {target}" for target, where in GRAPH[source] if target in forbidden
    )


def test_the_graph_is_read() -> None:
    """A parser that found nothing would pass every rule below."""
    assert {"bot.components", "bot.slack", "starlette"} <= {t for t, _ in GRAPH["bot.web"]}
    assert "bot.bridge" in {t for t, _ in GRAPH["bot.slack"]}
    assert "bot.bridge" in {t for t, _ in GRAPH["bot.voipbin"]}
    assert "bot.store" in {t for t, _ in GRAPH["bot.jobs"]}
    assert "httpx" in {t for t, _ in GRAPH["bot.voipbin"]}


def test_every_package_has_a_layer() -> None:
    missing = sorted(
        {t for arrows in GRAPH.values() for t, _ in arrows if t.startswith("bot.")} | set(GRAPH)
    )
    assert [name for name in missing if name not in LAYERS and name != "bot"] == []


def test_the_domain_imports_no_adapter_and_no_framework() -> None:
    adapters = {"bot.slack", "bot.voipbin", "bot.nopublic", "bot.fakes"}
    assert _bad("bot.bridge", adapters | FRAMEWORKS) == []


def test_storage_never_imports_the_job_runner_or_anything_above() -> None:
    above = {name for name, layer in LAYERS.items() if layer > LAYERS["bot.store"]}
    assert _bad("bot.store", above | FRAMEWORKS) == []


def test_the_job_runner_imports_no_domain_adapter_or_framework() -> None:
    above = {name for name, layer in LAYERS.items() if layer > LAYERS["bot.jobs"]}
    assert _bad("bot.jobs", above | FRAMEWORKS) == []


def test_the_wire_formats_stay_in_their_adapters() -> None:
    """VoIPbin's JSON stops in voipbin/ and Slack's in slack/: neither imports the other."""
    assert _bad("bot.slack", {"bot.voipbin", "httpx"}) == []
    assert _bad("bot.voipbin", {"bot.slack", "slack_bolt", "slack_sdk", "aiohttp"}) == []


@pytest.mark.parametrize("source", sorted(LAYERS))
def test_no_arrow_points_up(source: str) -> None:
    bad = sorted(
        f"{where} imports {target}"
        for target, where in GRAPH.get(source, set())
        if target in LAYERS
        and LAYERS[target] > LAYERS[source]
        and (source, target) not in UPWARD_ALLOWED
    )
    assert bad == []


def test_the_domains_closure_reaches_no_framework() -> None:
    """Not even through a shared module: everything bot/bridge imports, and what that
    imports, stays clear of the frameworks and the adapters."""
    reached: set[str] = set()
    todo = ["bot.bridge"]
    while todo:
        source = todo.pop()
        if source in reached:
            continue
        reached.add(source)
        todo.extend(t for t, _ in GRAPH.get(source, set()) if t.startswith("bot."))
    assert reached.isdisjoint({"bot.slack", "bot.voipbin", "bot.nopublic", "bot.web"})
    assert [bad for source in sorted(reached) for bad in _bad(source, FRAMEWORKS)] == []
