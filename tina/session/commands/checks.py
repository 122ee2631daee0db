"""``tina-session check verify | complexity | plan``: the phase gates (reference §3.19-3.21).

The team lead runs ``verify`` and ``complexity`` in its worktree and reads only the exit code
(and the first 500 characters of output when it blocks), so those are the contract; the lines
are the original's. The rules live in :mod:`tina.session.checks`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from .._common import EXIT_FAILED, EXIT_OK, CommandError, command_parser, warn
from ..checks import complexity, plan, verify

__all__ = ["register"]

TOKEI_TIMEOUT = 120.0
KILL_GRACE = 5.0


def _wrap(text: str) -> str:
    """Fills each line of ``text`` to 79 columns (the help formatter keeps text as given); lines
    that start with spaces (a table) stay as they are."""
    return "\n".join(
        line if line.startswith(" ") else textwrap.fill(line, 79) for line in text.split("\n")
    )


def register(commands: Any) -> None:
    """Adds ``check`` and its subcommands to ``commands``."""
    group = command_parser(
        commands,
        "check",
        help="phase gates: run a project's tests and lint, measure its size, validate a plan",
        description=_wrap(
            "Phase gates. Each prints PASS or FAIL lines and exits 0 (pass) or 1 (fail)."
        ),
        examples=[
            'tina-session check verify --cwd "$WORKTREE_PATH"',
            'tina-session check complexity --cwd "$WORKTREE_PATH" --max-total-lines 3000',
            "tina-session check plan --path docs/plans/phase-1.md",
        ],
    )
    sub = group.add_subparsers(dest="check_command", required=True, metavar="CHECK")

    p = command_parser(
        sub,
        "verify",
        help="run the project's tests, then its linter",
        description=_wrap(
            "Detect the project in DIR (the first of Cargo.toml, package.json, pyproject.toml or "
            "setup.py, go.mod) and run its test command, then its lint command, with their output "
            "shown as they run:\n"
            "  Rust     cargo test --no-fail-fast; cargo clippy -- -D warnings\n"
            "  Node.js  npm test; npm run lint (skipped when package.json has no lint script)\n"
            "  Python   pytest; flake8 . (the project's .venv/bin ones when it has them)\n"
            "  Go       go test ./...; golangci-lint run\n"
            "A failing command prints FAIL and exits 1. A test command that cannot be started is "
            "an error (exit 1); a missing linter is skipped with a note, except clippy. An unknown "
            "project prints a warning and exits 0."
        ),
        examples=[
            'tina-session check verify --cwd "$WORKTREE_PATH"',
            "tina-session check verify --cwd . --timeout 1800",
        ],
    )
    p.add_argument("--cwd", required=True, metavar="DIR", help="the project directory to verify")
    p.add_argument(
        "--timeout",
        type=_positive_seconds,
        metavar="SECS",
        help="stop each command after SECS seconds and fail (default: no limit)",
    )
    p.set_defaults(handler=cmd_verify)

    p = command_parser(
        sub,
        "complexity",
        help="check the size budget: total code lines, file lengths, function lengths",
        description=_wrap(
            "Measure DIR/src (or DIR when it has no src) against three budgets, in order: total "
            "code lines (tokei's count when tokei is installed, else non-blank, non-comment lines "
            "of .rs .ts .tsx .js .jsx .py .go files), lines per source file, and lines per "
            "function (Rust and Python). The first budget exceeded prints FAIL with the "
            "offenders (paths relative to DIR) and exits 1. Names starting with '.', target and "
            "node_modules are skipped."
        ),
        examples=[
            'tina-session check complexity --cwd "$WORKTREE_PATH"',
            'tina-session check complexity --cwd "$WORKTREE_PATH" --max-file-lines 400 '
            "--max-total-lines 3000 --max-function-lines 50",
        ],
    )
    p.add_argument("--cwd", required=True, metavar="DIR", help="the project directory to measure")
    p.add_argument(
        "--max-file-lines",
        type=_u32,
        default=400,
        metavar="N",
        help="most lines in one source file (default: %(default)s)",
    )
    p.add_argument(
        "--max-total-lines",
        type=_u32,
        default=2000,
        metavar="N",
        help="most code lines in the whole tree (default: %(default)s)",
    )
    p.add_argument(
        "--max-function-lines",
        type=_u32,
        default=50,
        metavar="N",
        help="most lines in one function (default: %(default)s)",
    )
    p.set_defaults(handler=cmd_complexity)

    p = command_parser(
        sub,
        "plan",
        help="validate a phase plan: model per task, a Complexity Budget table",
        description=_wrap(
            "Check a phase plan: at least as many '**Model:**' lines as '### Task' headings, each "
            "model opus or haiku, and a '## Complexity Budget' section holding a table. The first "
            "rule broken prints FAIL and exits 1."
        ),
        examples=["tina-session check plan --path docs/plans/2026-02-07-auth-phase-1.md"],
    )
    p.add_argument("--path", required=True, metavar="FILE", help="the plan (markdown) to validate")
    p.set_defaults(handler=cmd_plan)


def _u32(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid digit found in string: {text!r}") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 4294967295")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _directory(raw: str) -> Path:
    path = Path(raw)
    if not path.exists():
        raise CommandError(f"Directory not found: {raw}")
    if not path.is_dir():
        raise CommandError(f"Not a directory: {raw}")
    return path


# --- verify ----------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    cwd = _directory(args.cwd)
    _say(f"Running verification in {args.cwd}...")
    project = verify.detect(cwd)
    if project is None:
        _say("Warning: Unknown project type, skipping verification")
        return EXIT_OK
    _say(f"Detected {project.label} project")
    for step in project.steps:
        if step.skip is not None:
            warn(f"Note: {step.skip}")
            continue
        if not _run(step, cwd, args.timeout):
            return EXIT_FAILED
    _say("PASS: All verification checks passed")
    return EXIT_OK


def _run(step: verify.Step, cwd: Path, timeout: float | None) -> bool:
    """Runs one step with inherited stdio; False (after its FAIL line) if it failed."""
    _say(f"Running {step.title}...")
    sys.stderr.flush()
    try:
        # A timeout needs the whole tree of the command (npm -> node -> workers) in its own
        # process group to stop it; without one the command stays in ours, as a terminal expects.
        proc = subprocess.Popen(step.argv, cwd=cwd, start_new_session=timeout is not None)
    except OSError as exc:
        reason = "not found" if isinstance(exc, FileNotFoundError) else exc.strerror
        if step.required:
            raise CommandError(f"cannot run {step.argv[0]}: {reason}") from None
        warn(f"Note: {step.argv[0]} {reason}; skipping lint")
        return True
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        _say(f"FAIL: {step.failure} ({step.title} timed out after {timeout:g} s)")
        return False
    except BaseException:
        if timeout is not None:  # its own group: the terminal's Ctrl-C did not reach it
            _stop_group(proc)
        raise
    if code != 0:
        _say(f"FAIL: {step.failure}")
        return False
    return True


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the command's process group, SIGKILL what is left after a grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(KILL_GRACE)
            return
        except subprocess.TimeoutExpired:
            continue


# --- complexity ------------------------------------------------------------------------------


def cmd_complexity(args: argparse.Namespace) -> int:
    cwd = _directory(args.cwd)
    _say(f"Checking complexity in {args.cwd}...")
    root = complexity.scan_root(cwd)
    found = complexity.sources(cwd, root)
    total = _tokei_total(root)
    if total is None:
        total = complexity.total_code_lines(found)
    _say(f"Total lines: {total}")
    if total > args.max_total_lines:
        _say(f"FAIL: Total lines {total} exceeds budget {args.max_total_lines}")
        return EXIT_FAILED

    long_files = [
        (s.path, n) for s in found if (n := complexity.line_count(s.text)) > args.max_file_lines
    ]
    if long_files:
        _say(f"FAIL: Files exceeding {args.max_file_lines} lines:")
        for path, n in long_files:
            _say(f"  {path} ({n} lines)")
        return EXIT_FAILED

    unparsable: list[str] = []
    long_functions = complexity.long_functions(found, args.max_function_lines, unparsable)
    for path in unparsable:
        warn(f"Note: {path} is not valid Python; its functions were not measured")
    if long_functions:
        _say(f"FAIL: Functions exceeding {args.max_function_lines} lines:")
        for fn in long_functions:
            _say(f"  {fn.path}::{fn.name} ({fn.lines} lines)")
        return EXIT_FAILED

    _say("PASS: Complexity checks passed")
    return EXIT_OK


def _tokei_total(root: Path) -> int | None:
    """tokei's total code lines, as the original read them; None without a usable tokei."""
    tokei = shutil.which("tokei")
    if tokei is None:
        return None
    try:
        done = subprocess.run(
            [tokei, "--output", "json", str(root)],
            capture_output=True,
            timeout=TOKEI_TIMEOUT,
            check=False,
        )
        doc = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        doc = None
    total = doc.get("Total") if isinstance(doc, dict) else None
    code = total.get("code") if isinstance(total, dict) else None
    if isinstance(code, int) and code >= 0:
        return code
    warn("Warning: tokei failed; counting code lines without it")
    return None


# --- plan ------------------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.exists():
        raise CommandError(f"File not found: {args.path}")
    _say(f"Validating plan: {args.path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{args.path}: stream did not contain valid UTF-8") from None
    except IsADirectoryError:
        raise CommandError(f"{args.path}: Is a directory") from None
    failure = plan.failure(text)
    if failure is not None:
        _say(f"FAIL: {failure}")
        return EXIT_FAILED
    _say("PASS: Plan validation passed")
    return EXIT_OK
