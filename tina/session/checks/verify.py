"""``check verify``'s project detection (reference §3.19): which commands to run, and how each
failure reads. The first marker file found wins: Cargo.toml, package.json, pyproject.toml or
setup.py, go.mod.

Where this differs from the original, on purpose:

* A Node project whose package.json has no ``lint`` script skips lint (the original ran
  ``npm run lint``, which fails, so every such project failed verification).
* A Python project runs its own ``.venv/bin/pytest`` (and ``.venv/bin/flake8``) when it has
  them, else the ones on PATH.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs


@attrs.frozen(kw_only=True)
class Step:
    """One command. ``title`` names it as the original's ``Running <title>...`` line did;
    ``required``: a command that cannot be started is an error, not a skip."""

    title: str
    argv: tuple[str, ...]
    failure: str
    required: bool
    #: set when the step is skipped without running: the note to print on stderr
    skip: str | None = None


@attrs.frozen(kw_only=True)
class Project:
    label: str
    steps: tuple[Step, ...]


def _own_tool(cwd: Path, name: str) -> str:
    """The project's own ``.venv/bin/<name>`` if it has one, else the name (found on PATH)."""
    own = cwd / ".venv" / "bin" / name
    return str(own.absolute()) if own.is_file() else name


def _node_lint(cwd: Path) -> Step:
    step = Step(
        title="npm run lint",
        argv=("npm", "run", "lint"),
        failure="Lint errors found",
        required=False,
    )
    try:
        manifest = json.loads((cwd / "package.json").read_bytes())
    except (OSError, ValueError):
        return step  # npm reads it itself and says what is wrong
    scripts = manifest.get("scripts") if isinstance(manifest, dict) else None
    if isinstance(scripts, dict) and "lint" in scripts:
        return step
    return attrs.evolve(step, skip='package.json has no "lint" script; skipping lint')


def _title(cwd: Path, name: str) -> str:
    """The original's name for a tool, or ``.venv/bin/<name>`` for the project's own."""
    return f".venv/bin/{name}" if (cwd / ".venv" / "bin" / name).is_file() else name


def detect(cwd: Path) -> Project | None:
    """The project in ``cwd`` and its steps, or None for a project of no known type."""
    tests, lint = "Tests failed", "Lint errors found"
    if (cwd / "Cargo.toml").exists():
        clippy = ("cargo", "clippy", "--", "-D", "warnings")
        return Project(
            label="Rust",
            steps=(
                Step(
                    title="cargo test",
                    argv=("cargo", "test", "--no-fail-fast"),
                    failure=tests,
                    required=True,
                ),
                Step(
                    title="cargo clippy",
                    argv=clippy,
                    failure="Clippy warnings found",
                    required=True,
                ),
            ),
        )
    if (cwd / "package.json").exists():
        return Project(
            label="Node.js",
            steps=(
                Step(title="npm test", argv=("npm", "test"), failure=tests, required=True),
                _node_lint(cwd),
            ),
        )
    if (cwd / "pyproject.toml").exists() or (cwd / "setup.py").exists():
        pytest, flake8 = _own_tool(cwd, "pytest"), _own_tool(cwd, "flake8")
        return Project(
            label="Python",
            steps=(
                Step(title=_title(cwd, "pytest"), argv=(pytest,), failure=tests, required=True),
                Step(
                    title=_title(cwd, "flake8"),
                    argv=(flake8, "."),
                    failure="Flake8 errors found",
                    required=False,
                ),
            ),
        )
    if (cwd / "go.mod").exists():
        return Project(
            label="Go",
            steps=(
                Step(title="go test", argv=("go", "test", "./..."), failure=tests, required=True),
                Step(
                    title="golangci-lint",
                    argv=("golangci-lint", "run"),
                    failure=lint,
                    required=False,
                ),
            ),
        )
    return None
