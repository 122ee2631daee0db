"""The ``tina`` command line.

Each subcommand is one ``_add_<name>(subparsers)`` function that declares its
arguments and sets ``handler`` (``Namespace -> int``); add new ones to
``_subcommands()``.

``tina hook`` is what Claude Code runs for every hook event, so it must start fast: it is
dispatched before anything else is imported (``tina.hooks.hook``), and the other subcommands'
modules are imported only when the parser is built.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from tina import __version__


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range 0-65535")
    return port


def _env_assignment(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _add_backend(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from tina.dev import backend

    parser = subparsers.add_parser(
        "backend",
        help="run the local Convex-compatible backend (tests, demo)",
        description=(
            "Run the local Convex-compatible backend: the project's convex/ functions in "
            "memory (or a --state-file) behind Convex's real client protocol. Prints "
            "`ready <url>` when clients can connect. Not a security boundary: keep it on "
            "localhost."
        ),
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=backend.DEFAULT_PORT,
        help=f"port to listen on; 0 picks a free one (default {backend.DEFAULT_PORT})",
    )
    parser.add_argument(
        "--host",
        default=backend.DEFAULT_HOST,
        help=f"address to listen on (default {backend.DEFAULT_HOST})",
    )
    parser.add_argument(
        "--env",
        type=_env_assignment,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=(
            "environment variable for the functions (repeatable); passed to the server in a "
            "private file, not on its command line"
        ),
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        metavar="PATH",
        help=(
            "a JSON object of strings with environment variables for the functions, e.g. the "
            "Convex Auth keys of `node --import tsx convex-local/make-auth-keys.ts --json PATH`; "
            "keeps secrets off every command line (--env values win)"
        ),
    )
    parser.add_argument(
        "--functions",
        type=Path,
        default=backend.DEFAULT_FUNCTIONS_DIR,
        metavar="DIR",
        help="Convex functions folder (default: the repository's convex/)",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        metavar="PATH",
        help="keep the database in this file across restarts (default: memory only)",
    )
    parser.add_argument(
        "--verify-tokens",
        action="store_true",
        help="verify user tokens against the functions' auth.config.ts (default: decode only)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help=(
            "a browser origin (scheme://host:port, or scheme://host:* for any port) whose pages "
            "may use the backend, e.g. the dashboard's (repeatable; default "
            f"{' and '.join(backend.dashboard_origins(backend.DEFAULT_DASHBOARD_PORT))}); pages "
            "from any other origin are refused, as are Host names other than localhost, "
            "127.0.0.1, [::1] and --host"
        ),
    )
    parser.add_argument(
        "--local-token-file",
        type=Path,
        metavar="PATH",
        help=(
            "write the token of the test-only /api/local/* endpoints, new at every start, to "
            f"PATH (mode 0600); requests send it in the {backend.LOCAL_TOKEN_HEADER} header "
            "(default: a private temporary file, named on stderr)"
        ),
    )
    parser.add_argument("--trace", action="store_true", help="log every protocol message to stderr")
    parser.set_defaults(handler=_run_backend)


def _read_env_file(path: Path) -> dict[str, str]:
    from tina.dev import backend

    """The ``--env-file`` object; a readable error names the file and what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise backend.BackendError(f"--env-file {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise backend.BackendError(f"--env-file {path}: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise backend.BackendError(f"--env-file {path}: expected a JSON object of strings")
    for key, value in data.items():
        if not key or "=" in key or not isinstance(value, str):
            raise backend.BackendError(
                f"--env-file {path}: field {key!r}: expected a name without '=' and a string value"
            )
    return data


def _run_backend(args: argparse.Namespace) -> int:
    from tina.dev import backend

    if args.env_file is not None:
        try:
            file_env = _read_env_file(args.env_file)
        except backend.BackendError as exc:
            print(f"tina backend: {exc}", file=sys.stderr)
            return 2
        args.env = [*file_env.items(), *args.env]
    options = backend.BackendOptions(
        port=args.port,
        host=args.host,
        functions_dir=args.functions,
        env=dict(args.env),
        trace=args.trace,
        state_file=args.state_file,
        verify_tokens=args.verify_tokens,
        allow_origins=tuple(args.allow_origin),
        local_token_file=args.local_token_file,
    )
    try:
        return backend.run(options)
    except backend.BackendError as error:
        print(f"tina backend: {error}", file=sys.stderr)
        return 1


def _add_hook(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # Listed for --help; `main` runs it before building any parser.
    subparsers.add_parser(
        "hook",
        help="what Claude Code runs for each hook event (reads the event on stdin)",
        add_help=False,
    )


def _subcommands() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    from tina.daemon.cli import add_daemon
    from tina.dev.demo import add_demo
    from tina.hooks.cli import add_hooks
    from tina.push import add_push

    return [_add_backend, add_daemon, add_demo, _add_hook, add_hooks, add_push]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tina",
        description="See and steer multi-agent Claude Code orchestrations.",
    )
    parser.add_argument("--version", action="version", version=f"tina {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _subcommands():
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status (argparse errors give 2)."""
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["hook"]:
        from tina.hooks.hook import main as hook_main

        return hook_main(args_list[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)
