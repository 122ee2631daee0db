"""What every ``tina-session`` command shares: errors, names, the lookup, the state, output.

The conventions follow the original CLI (``reference/tina-session-cli.md`` §1): usage errors are
argparse's message on stderr and exit 2; any other failure prints ``Error: <message>`` on stderr
and exits 1 (or the code a command chooses); machine-read output is one value or one compact JSON
document per line on stdout; warnings and progress go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..local import paths
from ..local.models import SupervisorState
from ..local.names import InvalidName, validate_feature
from . import store

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandError",
    "add_feature",
    "add_phase",
    "check_feature",
    "check_phase",
    "command_parser",
    "load_state",
    "now",
    "print_json",
    "warn",
    "worktree_for",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """A failed command: ``Error: <message>`` on stderr and ``exit_code`` (1 unless said)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def now() -> datetime:
    return datetime.now(UTC)


def print_json(value: Any) -> None:
    """One compact JSON document on one line (serde_json's compact form), flushed."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def check_feature(value: str) -> str:
    """The feature name, or :class:`CommandError` saying what is unsafe about it."""
    try:
        return validate_feature(value)
    except InvalidName as exc:
        raise CommandError(str(exc)) from None


def check_phase(value: str) -> str:
    """The phase, or :class:`CommandError` (exit 1) with the original's multi-line advice."""
    from ..local.names import validate_phase

    try:
        return validate_phase(value)
    except InvalidName as exc:
        raise CommandError(str(exc)) from None


def worktree_for(feature: str) -> Path:
    """The worktree recorded in ``~/.claude/tina-sessions/<feature>.json``."""
    try:
        lookup = store.load_lookup(feature)
    except store.UnknownFeature:
        raise CommandError(
            f"Feature '{feature}' not initialized. Run 'tina-session init' first."
        ) from None
    except store.StoreError as exc:
        raise CommandError(str(exc)) from None
    return Path(lookup.worktree_path)


def load_state(feature: str, worktree: Path) -> SupervisorState:
    try:
        state = store.load_state(worktree)
    except store.StoreError as exc:
        raise CommandError(str(exc)) from None
    if state.feature != feature:
        raise CommandError(
            f"{paths.state_path(worktree)} belongs to feature {state.feature!r}, not {feature!r}"
        )
    return state


def command_parser(
    commands: Any, name: str, *, help: str, description: str, examples: list[str]
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` has a description and worked examples."""
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def add_feature(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--feature",
        required=True,
        metavar="NAME",
        help="the orchestration's feature name (as given to `tina-session init`)",
    )


def add_phase(parser: argparse.ArgumentParser, *, help: str | None = None) -> None:
    parser.add_argument(
        "--phase",
        required=True,
        metavar="N",
        help=help or "phase number: 1, 2, ... or a remediation phase 1.5, 1.5.5",
    )
