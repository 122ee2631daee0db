"""``tina-session``: the orchestration CLI the original tool's skills and agents call.

A drop-in for the original ``tina-session`` (``reference/tina-session-cli.md``): the same
subcommands, long flags, outputs and exit codes, with the deliberate differences listed in
``docs/tina-session.md``. The subcommands live in :mod:`tina.session.commands`.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable

from .. import __version__
from ._common import EXIT_FAILED, CommandError
from .commands import checks, daemon, orchestration, phase

__all__ = ["build_parser", "main"]

VERSION = "0.1.1"
"""The original CLI's version, which ``--version`` reports (with tina's own)."""

_DESCRIPTION = """\
tina orchestration sessions: the worktree, the phase state machine, the phase leads' tmux
sessions and the phase gates. Every option is a long flag; run `tina-session COMMAND --help`
for a command's options and examples.

operator events (from the dashboard, or by hand):
  tina-session orchestrate advance --feature F --phase P --event pause [--issues REASON]
  tina-session orchestrate advance --feature F --phase P --event resume
  tina-session orchestrate advance --feature F --phase P --event retry
  tina-session orchestrate advance --feature F --phase P --event plan_approved
  tina-session orchestrate advance --feature F --phase P --event plan_rejected --issues FEEDBACK
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tina-session",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"tina-session {VERSION} (tina {__version__})"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (orchestration, phase, checks, daemon):
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # usage errors: message on stderr, exit 2
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except CommandError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"Error: {exc.message}\n")
        return exc.exit_code
    except OSError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: one line that says so, the traceback after it
        sys.stderr.write(f"Error: internal error: {type(exc).__name__}: {exc}\n")
        traceback.print_exc()
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
