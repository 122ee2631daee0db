"""`tina hooks install | uninstall | status`: tina's entries in Claude Code's settings.

`add_hooks(subparsers)` declares the subcommand; each leaf sets ``handler`` (``Namespace -> int``).
The rules for changing a settings file are in `tina.hooks.settings`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from tina.hooks import settings as hs

EXIT_OK, EXIT_FAILED = 0, 1

#: How often a write is planned again when the file changes under it before giving up.
_ATTEMPTS = 3

_TARGETS = (
    "The file is ~/.claude/settings.json ($CLAUDE_CONFIG_DIR/settings.json when that is set) "
    "unless --project or --settings says otherwise."
)


def add_hooks(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "hooks",
        help="install tina's hooks into Claude Code's settings, remove them, check them",
        description=(
            "Claude Code runs `tina hook` on its session, permission, notification, stop, "
            "subagent, task, teammate and compaction events, so the daemon learns of them at "
            "once. These commands add tina's entries to a Claude Code settings file, remove "
            f"them, or show whether they are there; the user's own hooks, other tools' entries "
            f"and every other setting are left as they are. Events: {', '.join(hs.EVENTS)}."
        ),
    )
    sub = parser.add_subparsers(dest="hooks_command", required=True, metavar="COMMAND")

    def target(p: argparse.ArgumentParser) -> None:
        where = p.add_mutually_exclusive_group()
        where.add_argument(
            "--project",
            type=Path,
            metavar="DIR",
            help="the project's shared settings, DIR/.claude/settings.json",
        )
        where.add_argument(
            "--settings", type=Path, metavar="PATH", help="this settings file instead"
        )

    def command(p: argparse.ArgumentParser, text: str) -> None:
        p.add_argument("--command", metavar="CMD", help=text)

    install = sub.add_parser(
        "install",
        help="add tina's hooks to Claude Code's settings (idempotent)",
        description=(
            "Add one command hook per event, running `<absolute path of tina> hook`, to a "
            f"Claude Code settings file. {_TARGETS} Events that already run the same command get "
            "nothing new; tina hooks with another command (an older install) are replaced. "
            "The previous file is kept as <file>.tina-backup-<UTC time>, the change is printed "
            "as a diff, and the file is replaced atomically with its mode kept (0600 when new). "
            "Sessions started afterwards load the hooks; running ones may not."
        ),
    )
    target(install)
    command(
        install,
        "command to install instead of `<path of tina> hook` (run by Claude Code through a shell)",
    )
    install.add_argument(
        "--permission-timeout",
        type=_seconds,
        default=hs.DEFAULT_PERMISSION_TIMEOUT,
        metavar="SECS",
        help=(
            "how long Claude Code waits for tina on PermissionRequest, where tina may wait for a "
            f"decision from the phone (default {hs.DEFAULT_PERMISSION_TIMEOUT}); the other events "
            f"get {hs.DEFAULT_TIMEOUT}"
        ),
    )
    install.add_argument("--dry-run", action="store_true", help="print the diff and write nothing")
    install.set_defaults(handler=cmd_install)

    uninstall = sub.add_parser(
        "uninstall",
        help="remove tina's hooks from Claude Code's settings",
        description=(
            f"Remove tina's hooks from a Claude Code settings file. {_TARGETS} tina's hooks are "
            "the command hooks whose command is `<...>/tina ... hook` (or --command); a group, an "
            "event or a `hooks` object they leave empty goes too. Nothing else is touched. The "
            "previous file is kept as <file>.tina-backup-<UTC time>."
        ),
    )
    target(uninstall)
    command(uninstall, "also remove handlers running exactly this command")
    uninstall.add_argument(
        "--dry-run", action="store_true", help="print the diff and write nothing"
    )
    uninstall.set_defaults(handler=cmd_uninstall)

    status = sub.add_parser(
        "status",
        help="show whether tina's hooks are installed (exit 0 if all are, and hooks are enabled)",
        description=(
            "For the user's settings (and the project's with --project, or only PATH with "
            "--settings): which events run tina's hook, which are missing, the command, and "
            "whether disableAllHooks turns them off. Then when the running daemon last received "
            "a hook event. Exit 0 when every event has tina's hook in one of the files and no "
            "file sets disableAllHooks; 1 otherwise."
        ),
    )
    target(status)
    command(status, "also count handlers running exactly this command as tina's")
    status.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="the daemon's config file, to find its control socket (default: the standard places)",
    )
    status.set_defaults(handler=cmd_status)


def _seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value}")
    return value


def _target(args: argparse.Namespace) -> Path:
    if args.settings is not None:
        return Path(args.settings)
    if args.project is not None:
        project = Path(args.project)
        if not project.is_dir():
            raise hs.SettingsError(f"--project {project}: not a directory")
        return hs.project_settings_path(project)
    return hs.user_settings_path()


def _fail(message: str) -> int:
    print(f"tina hooks: {message}", file=sys.stderr)
    return EXIT_FAILED


def _change(
    args: argparse.Namespace,
    plan: Callable[[hs.JSONObject, str], hs.JSONObject],
    *,
    unchanged: str,
    done: str,
) -> int:
    """Read, plan, print the diff, and (unless --dry-run) write; plans again if the file changes
    before the write."""
    try:
        path = _target(args)
        for _ in range(_ATTEMPTS):
            loaded = hs.load(path)
            after = plan(loaded.settings, str(path))
            if after == loaded.settings:
                print(f"{path}: {unchanged}")
                return EXIT_OK
            indent = loaded.indent
            print(
                hs.diff(loaded.settings if loaded.raw else None, after, str(path), indent), end=""
            )
            if args.dry_run:
                print(f"{path}: dry run, nothing written")
                return EXIT_OK
            try:
                backup = hs.write(loaded, hs.render(after, indent))
            except hs.Conflict:
                print(f"{path}: changed while tina was writing it; planning again", file=sys.stderr)
                continue
            print(f"{path}: {done}" + (f" (previous file kept as {backup})" if backup else ""))
            if after.get("disableAllHooks") is True:
                print(f"{path}: note: disableAllHooks is true, so Claude Code runs none of them")
            return EXIT_OK
        return _fail(f"{path}: kept changing while tina was writing it; nothing written")
    except hs.SettingsError as exc:
        return _fail(str(exc))
    except BrokenPipeError:
        raise  # stdout closed (`| head`): not a file problem
    except OSError as exc:
        return _fail(f"{exc}; the settings file was not changed")


def cmd_install(args: argparse.Namespace) -> int:
    try:
        command = args.command or hs.default_command()
    except hs.SettingsError as exc:
        return _fail(str(exc))
    return _change(
        args,
        lambda s, source: hs.install(
            s, command, permission_timeout=args.permission_timeout, source=source
        ),
        unchanged=f"tina's hooks are already installed ({command}); nothing to change",
        done=(
            f"installed tina's hooks for {len(hs.EVENTS)} events ({command}); sessions started "
            "from now on run them"
        ),
    )


def cmd_uninstall(args: argparse.Namespace) -> int:
    extra = (args.command,) if args.command else ()
    return _change(
        args,
        lambda s, source: hs.uninstall(s, commands=extra, source=source),
        unchanged="no tina hooks there; nothing to remove",
        done="removed tina's hooks",
    )


# --- status --------------------------------------------------------------------------------------


def candidate_files(args: argparse.Namespace) -> list[Path]:
    if args.settings is not None:
        return [Path(args.settings)]
    files = [hs.user_settings_path()]
    if args.project is not None:
        files.append(hs.project_settings_path(Path(args.project)))
    return files


@attrs.frozen(kw_only=True)
class FileHooks:
    """One settings file's share of tina's hooks."""

    path: Path
    exists: bool
    status: hs.HooksStatus | None  # None when the file could not be read or was refused
    error: str = ""


def check_files(paths: list[Path], commands: tuple[str, ...] = ()) -> list[FileHooks]:
    found = []
    for path in paths:
        try:
            loaded = hs.load(path)
        except hs.SettingsError as exc:
            found.append(FileHooks(path=path, exists=True, status=None, error=str(exc)))
            continue
        found.append(
            FileHooks(
                path=path,
                exists=loaded.raw is not None,
                status=hs.status(loaded.settings, commands=commands),
            )
        )
    return found


def missing_events(files: list[FileHooks]) -> tuple[str, ...]:
    """Events no file gives tina's hook (Claude Code runs the hooks of every file together)."""
    covered = {e for f in files if f.status for e in f.status.installed}
    return tuple(e for e in hs.EVENTS if e not in covered)


def all_installed(files: list[FileHooks]) -> bool:
    """Every event has tina's hook in some file, and no file turns hooks off."""
    return not missing_events(files) and not any(f.status and f.status.disabled for f in files)


def describe(file: FileHooks) -> list[str]:
    if file.status is None:
        return [f"{file.path}: cannot tell: {file.error}"]
    st = file.status
    if not file.exists:
        lines = [f"{file.path}: no such file, so no tina hooks"]
    elif st.complete:
        lines = [f"{file.path}: installed for all {len(hs.EVENTS)} events"]
    elif st.installed:
        lines = [
            f"{file.path}: installed for {len(st.installed)} of {len(hs.EVENTS)} events: "
            f"{', '.join(st.installed)}",
            f"  missing: {', '.join(st.missing)}",
        ]
    else:
        lines = [f"{file.path}: not installed"]
    lines += [f"  command: {c}" for c in st.commands]
    if st.disabled:
        lines.append("  disableAllHooks is true: Claude Code runs none of these hooks")
    return lines


def daemon_hooks_line(config: Path | None = None) -> str:
    """When the running daemon last received a hook event, from its status reply."""
    from tina.daemon import config as config_mod
    from tina.daemon import control

    try:
        cfg = config_mod.load(config)
        snapshot = control.request_status(cfg.control_socket, timeout=2)
    except config_mod.ConfigError as exc:
        return f"daemon: cannot read its config: {exc}"
    except (control.ControlError, OSError) as exc:
        return f"daemon: {exc}"  # "no daemon is running (...)", "... did not answer ..."
    hooks = snapshot.get("hooks") if isinstance(snapshot, dict) else None
    events = hooks.get("events") if isinstance(hooks, dict) else None
    last_at = hooks.get("last_at") if isinstance(hooks, dict) else None
    if not isinstance(events, int) or events <= 0 or not isinstance(last_at, int | float):
        return "daemon: running; the daemon has received no hook events yet"
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(last_at / 1000))
    return f"daemon: running; last hook event at {when} ({events} since it started)"


def cmd_status(args: argparse.Namespace) -> int:
    extra = (args.command,) if args.command else ()
    files = check_files(candidate_files(args), extra)
    for file in files:
        print("\n".join(describe(file)))
    missing = missing_events(files)
    if len(files) > 1:
        print(
            f"together: missing {', '.join(missing)}"
            if missing
            else f"together: all {len(hs.EVENTS)} events run tina's hook"
        )
    print(daemon_hooks_line(args.config))
    ok = all_installed(files)
    if not ok:
        print("run `tina hooks install` (see `tina hooks install --help`)")
    return EXIT_OK if ok else EXIT_FAILED


def doctor_check() -> tuple[bool, str, str]:
    """`tina daemon doctor`'s line for the user's settings: (ok, what, how to fix)."""
    [file] = check_files([hs.user_settings_path()])
    fix = "run `tina hooks install`"
    if file.status is None:
        return False, f"Claude Code hooks: {file.error}", "fix the file named above"
    if file.status.disabled:
        return (
            False,
            f"Claude Code hooks: disableAllHooks is true in {file.path}",
            "remove disableAllHooks from that file",
        )
    if file.status.complete:
        return True, f"Claude Code hooks: installed ({file.path})", ""
    if file.status.installed:
        return (
            False,
            f"Claude Code hooks: not installed for {', '.join(file.status.missing)} ({file.path})",
            fix,
        )
    return False, f"Claude Code hooks: not installed ({file.path})", fix
