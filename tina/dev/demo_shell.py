"""A terminal on a demo laptop: `tina demo shell LAPTOP` and `tina demo env LAPTOP`.

Each simulated laptop of a running `tina demo` is a sandbox: its own home, state directory,
Claude Code folder and tmux server, told apart by environment variables. The demo writes each
laptop's environment to `laptops.json` in its work directory; these commands read it, so that
`tina daemon status`, `tina-session` and `tmux attach` work against that laptop as they would
on a real one. Nothing in that environment is secret (paths, names and the local backend's URL;
a laptop's credential stays in its own file).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LAPTOPS_FILE = "laptops.json"
VERSION = 1


class DemoShellError(Exception):
    """What went wrong, in words a person can act on."""


def write_laptops(work: Path, laptops: Mapping[str, Mapping[str, str]]) -> Path:
    """Writes each laptop's environment (name → variables) for the commands below."""
    path = work / LAPTOPS_FILE
    doc = {"version": VERSION, "laptops": {name: dict(env) for name, env in laptops.items()}}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)
    return path


def laptop_env(work: Path, name: str) -> dict[str, str]:
    """The environment of demo laptop `name` in the demo whose work directory is `work`."""
    path = work / LAPTOPS_FILE
    try:
        doc: Any = json.loads(path.read_text())
    except FileNotFoundError:
        raise DemoShellError(
            f"no demo in {work} ({LAPTOPS_FILE} is missing): start one with `make demo` "
            "(or `tina demo --dir DIR`), then run this in another terminal"
        ) from None
    except (OSError, ValueError) as exc:
        raise DemoShellError(f"{path}: not a demo's laptop list ({exc})") from None
    laptops = doc.get("laptops") if isinstance(doc, dict) else None
    if not isinstance(laptops, dict) or doc.get("version") != VERSION:
        raise DemoShellError(
            f"{path}: expected version {VERSION} with a 'laptops' object; "
            "restart the demo with this version of tina"
        )
    env = laptops.get(name)
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        known = ", ".join(sorted(laptops)) or "none"
        raise DemoShellError(f"no demo laptop named {name!r} (the demo's laptops: {known})")
    return dict(env)


def export_lines(env: Mapping[str, str]) -> str:
    """`export NAME=value` lines, quoted for a POSIX shell's `eval`."""
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))


def _hint(name: str) -> str:
    return (
        f"a shell on demo laptop {name} (exit to leave). Try:\n"
        "  tina daemon status\n"
        "  tina-session list\n"
        '  tmux -S "$TINA_TMUX_SOCKET" attach    (detach again with Ctrl-b d)\n'
    )


def shell_env(name: str, laptop: Mapping[str, str], base: Mapping[str, str]) -> dict[str, str]:
    """This terminal's environment with the laptop's laid over it; the shell stays the user's."""
    env = {**base, **laptop, "TINA_DEMO_LAPTOP": name, "PS1": f"(tina demo: {name}) $ "}
    env["SHELL"] = base.get("SHELL", "/bin/sh")
    return env


def add_subcommands(parser: argparse.ArgumentParser, default_dir: Path) -> None:
    sub = parser.add_subparsers(
        dest="demo_command", metavar="{shell,env}", title="against a running demo"
    )
    for command, summary in (
        ("shell", "open a shell (or run COMMAND) with a demo laptop's environment"),
        ("env", "print a demo laptop's environment as export lines for eval"),
    ):
        p = sub.add_parser(
            command,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}. " + __doc__.split("\n\n")[1],
            epilog=(
                "examples:\n"
                "  tina demo shell mbp-alex\n"
                "  tina demo shell mbp-alex -- tina daemon status\n"
                '  eval "$(tina demo env mbp-alex)"'
            ),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("laptop", help="the demo laptop's name, as the demo's banner lists it")
        p.add_argument(
            "--dir",
            type=Path,
            default=default_dir,
            help="the running demo's work directory (default: the one `make demo` uses)",
        )
        if command == "shell":
            p.add_argument(
                "command",
                nargs=argparse.REMAINDER,
                help="a command to run instead of a shell (after --)",
            )
            p.set_defaults(handler=run_shell)
        else:
            p.set_defaults(handler=run_env)


def _laptop_or_say(args: argparse.Namespace, command: str) -> dict[str, str] | None:
    """The laptop's environment, or None once the error is printed."""
    try:
        return laptop_env(args.dir.resolve(), args.laptop)
    except DemoShellError as exc:
        print(f"tina demo {command}: {exc}", file=sys.stderr)
        return None


def run_env(args: argparse.Namespace) -> int:
    env = _laptop_or_say(args, "env")
    if env is None:
        return 1
    env["TINA_DEMO_LAPTOP"] = args.laptop
    sys.stdout.write(export_lines(env))
    return 0


def run_shell(args: argparse.Namespace) -> int:
    laptop = _laptop_or_say(args, "shell")
    if laptop is None:
        return 1
    env = shell_env(args.laptop, laptop, os.environ)
    command: list[str] = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        command = [env["SHELL"]]
        print(_hint(args.laptop), file=sys.stderr, flush=True)
    try:
        os.execvpe(command[0], list(command), env)
    except OSError as exc:
        print(f"tina demo shell: cannot run {command[0]}: {exc.strerror}", file=sys.stderr)
        return 127
    return 0  # not reached: exec replaced this process
