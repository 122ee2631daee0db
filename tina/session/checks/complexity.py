"""``check complexity``'s measurements (reference §3.20), without printing.

The walk: files ending in ``.rs .ts .tsx .js .jsx .py .go`` under the scan root, skipping every
name that starts with ``.`` and the directories ``target`` and ``node_modules``; symlinked
directories are not followed. Files that are not UTF-8 are skipped, as the original skipped
them. Everything comes back sorted by path, each path relative to the checked directory.

Code lines (the total budget, when ``tokei`` is not installed): a line counts unless it is
blank or only a comment. Comments are ``#`` lines in Python; ``//`` lines and ``/* ... */``
blocks in Rust, TypeScript, JavaScript and Go, where a block counts only when it starts its
line. Python docstrings count as code.

Function lengths: Rust with the original's brace-counting heuristic (from the ``fn`` line to
the line where the braces balance); Python with ``ast`` (``def`` line to last line, decorators
excluded; nested functions and methods named ``outer.inner`` / ``Class.method``).
"""

from __future__ import annotations

import ast
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import attrs

SUFFIXES = frozenset({".rs", ".ts", ".tsx", ".js", ".jsx", ".py", ".go"})
SKIPPED_NAMES = frozenset({"target", "node_modules"})
SLASH_COMMENTS = frozenset({".rs", ".ts", ".tsx", ".js", ".jsx", ".go"})


@attrs.frozen(kw_only=True)
class Source:
    """One source file: its path relative to the checked directory, and its text."""

    path: str
    suffix: str
    text: str


@attrs.frozen(kw_only=True)
class LongFunction:
    path: str
    name: str
    lines: int


def scan_root(cwd: Path) -> Path:
    """``cwd/src`` if it is a directory, else ``cwd``."""
    src = cwd / "src"
    return src if src.is_dir() else cwd


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_NAMES


def sources(cwd: Path, root: Path) -> list[Source]:
    """Every source file under ``root`` that reads as UTF-8, sorted by path."""
    found: list[Source] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _skipped(d))
        for name in filenames:
            path = Path(dirpath, name)
            if _skipped(name) or path.suffix not in SUFFIXES:
                continue
            try:
                text = path.read_bytes().decode("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            found.append(
                Source(path=path.relative_to(cwd).as_posix(), suffix=path.suffix, text=text)
            )
    return sorted(found, key=lambda s: s.path)


def lines(text: str) -> list[str]:
    """Rust's ``str::lines``: split on ``\\n``, drop a ``\\r`` before it, no empty last line."""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return [p.removesuffix("\r") for p in parts]


def line_count(text: str) -> int:
    return len(lines(text))


def code_lines(source: Source) -> int:
    """Lines that are neither blank nor only a comment (the rule in the module docstring)."""
    count = 0
    in_block = False
    slash = source.suffix in SLASH_COMMENTS
    for line in lines(source.text):
        rest = line.strip()
        if slash:
            if in_block:
                end = rest.find("*/")
                if end < 0:
                    continue
                in_block = False
                rest = rest[end + 2 :].strip()
            while rest.startswith("/*"):
                end = rest.find("*/", 2)
                if end < 0:
                    in_block = True
                    rest = ""
                    break
                rest = rest[end + 2 :].strip()
            if not rest or rest.startswith("//"):
                continue
        elif not rest or rest.startswith("#"):
            continue
        count += 1
    return count


def total_code_lines(found: Iterable[Source]) -> int:
    return sum(code_lines(s) for s in found)


def rust_function_lengths(text: str) -> list[tuple[str, int]]:
    """The original's heuristic, kept as it was: a line holding ``fn name(`` with more ``{``
    than ``}`` opens a function, which ends where the braces balance (lines that contain
    ``fn `` are not counted again, so a nested fn can end its outer one early)."""
    functions: list[tuple[str, int]] = []
    current: tuple[str, int] | None = None  # (name, first line)
    depth = 0
    for index, line in enumerate(lines(text)):
        trimmed = line.strip()
        at = trimmed.find("fn ")
        if at >= 0 and current is None:
            after = trimmed[at + 3 :]
            paren = after.find("(")
            if paren >= 0:
                name = after[:paren].strip()
                if name and " " not in name:
                    opened = trimmed.count("{") - trimmed.count("}")
                    if opened > 0:
                        current, depth = (name, index + 1), opened
        if current is not None:
            if "fn " not in trimmed:
                depth += trimmed.count("{") - trimmed.count("}")
            if depth == 0:
                functions.append((current[0], index + 1 - current[1] + 1))
                current = None
    return functions


def python_function_lengths(text: str) -> list[tuple[str, int]]:
    """``(qualified name, end_lineno - lineno + 1)`` for every def; SyntaxError if unparsable."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes and the like are not our business
        tree = ast.parse(text)
    functions: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                end = child.end_lineno or child.lineno
                functions.append((name, end - child.lineno + 1))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return functions


def long_functions(
    found: Iterable[Source], max_lines: int, unparsable: list[str] | None = None
) -> list[LongFunction]:
    """Rust and Python functions longer than ``max_lines``; Python files that do not parse are
    appended to ``unparsable``."""
    out: list[LongFunction] = []
    for source in found:
        if source.suffix == ".rs":
            measured = rust_function_lengths(source.text)
        elif source.suffix == ".py":
            try:
                measured = python_function_lengths(source.text)
            except (SyntaxError, ValueError, RecursionError):
                if unparsable is not None:
                    unparsable.append(source.path)
                continue
        else:
            continue
        out.extend(
            LongFunction(path=source.path, name=name, lines=n)
            for name, n in measured
            if n > max_lines
        )
    return out
