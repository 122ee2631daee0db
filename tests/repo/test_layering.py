"""Only ``tina/convex/`` knows Convex's wire: a guard over the source of every other module.

Outside ``tina/convex/`` a module must not

- name a Convex function: a string literal such as ``"actions:claimAction"`` (``module:function``,
  letters only); the gateway has a typed method for each call;
- import the wire converter (``tina.convex.wire``, or its names re-exported by ``tina.convex``);
  how a model looks on the wire is the gateway's business;
- read a Convex system field out of a document: ``doc["_id"]``, ``doc.get("_id")`` (the same for
  ``_creationTime``); documents are structured into attrs models in ``tina/convex/``.

The modules are parsed with ``ast``, so prose (comments) never counts; string literals (docstrings
included) and subscripts do. The scanner is tested on small snippets below, so a clean tree means
something.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINA = ROOT / "tina"

FUNCTION_REFERENCE = re.compile(r"^[a-zA-Z]+:[a-zA-Z]+$")
SYSTEM_FIELDS = frozenset({"_id", "_creationTime"})
WIRE_MODULE = "tina.convex.wire"
#: The converter as ``tina/convex/__init__.py`` re-exports it (``WireError``, an error a caller
#: may catch, is not the wire's shape).
WIRE_NAMES = frozenset({"wire", "WIRE_NAME", "WireConverter", "make_converter"})
DICT_READS = frozenset({"get", "pop", "setdefault"})

#: String literals that look like ``module:function`` but are not Convex functions, each with
#: the one file it may appear in and why it is not one.
NOT_CONVEX_FUNCTIONS: dict[tuple[str, str], str] = {
    # Claude Code's agent type of a tina implementer teammate (the `subagent_type` the stand-in
    # lead spawns), written into the simulated team's member list.
    ("tina/dev/sim/standin_claude.py", "tina:implementer"): "a Claude Code agent type",
}


def _module_name(relpath: str) -> list[str]:
    parts = relpath.removesuffix(".py").split("/")
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported_module(node: ast.ImportFrom, relpath: str) -> str:
    if node.level == 0:
        return node.module or ""
    package = _module_name(relpath)
    if not relpath.endswith("__init__.py"):
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def violations(source: str, relpath: str) -> list[str]:
    """Every place in ``source`` (the module at ``relpath``, from the repository root) that knows
    Convex's wire, as ``path:line: what``."""
    found: list[str] = []

    def add(node: ast.AST, what: str) -> None:
        found.append(f"{relpath}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(ast.parse(source, relpath)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if (
                FUNCTION_REFERENCE.match(node.value)
                and (relpath, node.value) not in NOT_CONVEX_FUNCTIONS
            ):
                add(node, f"names the Convex function {node.value!r}")
        elif isinstance(node, ast.Subscript):
            key = node.slice
            if isinstance(key, ast.Constant) and key.value in SYSTEM_FIELDS:
                add(node, f"indexes the system field [{key.value!r}]")
        elif isinstance(node, ast.Call):
            func, args = node.func, node.args
            if (
                isinstance(func, ast.Attribute)
                and func.attr in DICT_READS
                and args
                and isinstance(args[0], ast.Constant)
                and args[0].value in SYSTEM_FIELDS
            ):
                add(node, f"reads the system field .{func.attr}({args[0].value!r})")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == WIRE_MODULE or alias.name.startswith(WIRE_MODULE + "."):
                    add(node, f"imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = _imported_module(node, relpath)
            names = {alias.name for alias in node.names}
            if module == WIRE_MODULE or module.startswith(WIRE_MODULE + "."):
                add(node, f"imports from {module}")
            elif module == "tina.convex" and names & WIRE_NAMES:
                add(node, f"imports {sorted(names & WIRE_NAMES)} from tina.convex")
    return found


def _modules_outside_convex() -> list[Path]:
    return sorted(
        path
        for path in TINA.rglob("*.py")
        if path.relative_to(TINA).parts[0] != "convex" and "__pycache__" not in path.parts
    )


def test_only_tina_convex_knows_the_convex_wire() -> None:
    modules = _modules_outside_convex()
    assert len(modules) > 20  # the walk found the tree
    found: list[str] = []
    for path in modules:
        relpath = path.relative_to(ROOT).as_posix()
        found.extend(violations(path.read_text(encoding="utf-8"), relpath))
    assert found == [], "Convex wire knowledge outside tina/convex/:\n" + "\n".join(found)


def test_the_allowlist_names_literals_that_exist() -> None:
    for relpath, literal in NOT_CONVEX_FUNCTIONS:
        tree = ast.parse((ROOT / relpath).read_text(encoding="utf-8"), relpath)
        literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
        assert literal in literals, (relpath, literal)


# --- the scanner itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        'await client.query("actions:pendingActions", {"nodeToken": token})',
        'body = {"path": "auth:signIn", "format": "convex_encoded_json"}',
        'PATH = "nodes:heartbeat"',
        'action_id = doc["_id"]',
        'action_id = doc.get("_id") if isinstance(doc, dict) else None',
        'created = doc.pop("_creationTime")',
        "from tina.convex.wire import WIRE_NAME",
        "from tina.convex.wire import make_converter as mc",
        "import tina.convex.wire",
        "import tina.convex.wire as wire",
        "from tina.convex import WIRE_NAME",
        "from tina.convex import make_converter, LatestValue",
        "from tina.convex import wire",
        "from ...convex.wire import WIRE_NAME",  # relative, from tina/daemon/actors/
        "from ...convex import wire",
    ],
)
def test_the_scanner_finds(source: str) -> None:
    assert violations(source, "tina/daemon/actors/example.py"), source


def test_the_scanner_resolves_relative_imports() -> None:
    assert violations("from ..convex import WIRE_NAME", "tina/daemon/example.py")
    assert violations("from ..convex import WIRE_NAME", "tina/daemon/__init__.py")
    assert violations("from .convex import wire", "tina/__init__.py")
    assert violations("from .convex import wire", "tina/daemon/__init__.py") == []  # not ours


@pytest.mark.parametrize(
    "source",
    [
        # Prose and other colons: a comment, a sentence, a URL, a time, a tmux target.
        '# calls "actions:claimAction" through the gateway\nx = 1',
        'log.info("sent: ok")',
        'URL = "http://127.0.0.1:3210"',
        'target = f"{session}:{window}"',
        'STAMP = "12:30"',
        'KEY = "a:b:c"',
        # Ids that are the daemon's own, and the public client API.
        'name = doc["id"]',
        'value = doc.get("_idx")',
        "from tina.convex import ConvexClientError, LatestValue, WireError",
        "from tina.convex.gateway import GatewayProtocol",
        "from tina.convex.actions import action_from_wire",
    ],
)
def test_the_scanner_lets_pass(source: str) -> None:
    assert violations(source, "tina/daemon/actors/example.py") == []


def test_the_allowlist_is_per_file() -> None:
    literal = 'kind = "tina:implementer"'
    assert violations(literal, "tina/dev/sim/standin_claude.py") == []
    assert violations(literal, "tina/daemon/actors/example.py")


# Which packages each lower layer may import from tina (besides itself): dependencies point
# down, so the daemon's parts can be read (and tested) from the bottom up.
LOWER_LAYERS: dict[str, frozenset[str]] = {
    "tina.messages": frozenset(),
    "tina.local": frozenset(),
    "tina.supervision": frozenset(),
    "tina.convex": frozenset({"tina.messages", "tina.local"}),
}


def _tina_imports(path: Path) -> set[str]:
    relpath = path.relative_to(ROOT).as_posix()
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), relpath)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _imported_module(node, relpath)
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in out if m == "tina" or m.startswith("tina.")}


def _layer_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def test_lower_layers_import_only_what_is_below_them() -> None:
    found: list[str] = []
    for layer, allowed in LOWER_LAYERS.items():
        base = TINA.joinpath(*layer.split(".")[1:])
        paths = [base.with_suffix(".py")] if base.with_suffix(".py").exists() else []
        paths += sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)
        assert paths, layer
        for path in paths:
            for module in _tina_imports(path):
                target = _layer_of(module)
                # `from tina import __version__` and the like name the package itself.
                if target in ("tina", layer) or target in allowed or module == "tina.__version__":
                    continue
                found.append(f"{path.relative_to(ROOT).as_posix()}: imports {module}")
    assert found == [], "an import that points up:\n" + "\n".join(sorted(found))
