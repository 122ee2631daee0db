"""``tina-session daemon start | stop | status | run`` (reference §3.22), on the tina daemon.

The original recorded a pid file and started an embedded daemon that had been removed. Here the
daemon is tina's own: it is running when it answers on its control socket (its pid comes from
the socket's peer credentials) or when its service manager says so. ``start`` and ``stop`` go
through the installed service (systemd user unit, launchd agent) when there is one and its
manager answers; otherwise ``start`` spawns ``tina daemon run`` detached, logging to
``<state dir>/daemon.log``, and ``stop`` sends that process SIGTERM. ``run`` runs the daemon in
the foreground.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...daemon import config as config_mod
from .._common import EXIT_FAILED, EXIT_OK, CommandError, command_parser

if TYPE_CHECKING:
    from ...daemon import service

__all__ = ["register"]

START_TIMEOUT = 20.0
"""How long ``start`` waits for the daemon to answer on its control socket."""
STOP_TIMEOUT = 60.0
"""How long ``stop`` waits for the daemon to exit (its ordered shutdown takes 45 s at worst)."""
ASK_TIMEOUT = 3.0
POLL = 0.1
LOG_ROTATE_BYTES = 10 * 1024 * 1024


def _wrap(text: str) -> str:
    """Fills each line of ``text`` to 79 columns (the help formatter keeps text as given); lines
    that start with spaces (a table) stay as they are."""
    return "\n".join(
        line if line.startswith(" ") else textwrap.fill(line, 79) for line in text.split("\n")
    )


def register(commands: Any) -> None:
    """Adds ``daemon`` and its subcommands to ``commands``."""
    group = command_parser(
        commands,
        "daemon",
        help="start, stop or ask about the tina daemon (the Convex sync)",
        description=_wrap(
            "The tina daemon mirrors this machine's orchestrations into Convex and runs the "
            "dashboard's operator actions. These commands start and stop it through its installed "
            "service (`tina daemon install`) when there is one, otherwise as a background process."
        ),
        examples=["tina-session daemon status", "tina-session daemon start"],
    )
    sub = group.add_subparsers(dest="daemon_command", required=True, metavar="ACTION")
    for name, handler, text, description in (
        (
            "start",
            cmd_start,
            "start the daemon in the background",
            "Start the daemon: through its installed service if there is one, otherwise as a "
            "detached `tina daemon run` logging to <state dir>/daemon.log. Waits until it answers "
            f"(at most {START_TIMEOUT:g} s), then prints `Daemon started (pid N)`. Fails if it "
            "already runs.",
        ),
        (
            "stop",
            cmd_stop,
            "stop the running daemon",
            "Stop the daemon: through its service manager if the service runs it, otherwise with "
            f"SIGTERM, and wait for it to exit (at most {STOP_TIMEOUT:g} s). Fails if it is not "
            "running.",
        ),
        (
            "status",
            cmd_status,
            "say whether the daemon runs (exit 0) or not (exit 1)",
            "Print `Daemon is running (pid N)` and exit 0, or `Daemon is not running` and exit 1. "
            "For the daemon's actors and connection, run `tina daemon status`.",
        ),
        (
            "run",
            cmd_run,
            "run the daemon in the foreground (`tina daemon run`)",
            "Run the daemon in this terminal, logging JSON lines to stderr, until Ctrl-C or "
            "SIGTERM. Fails if a daemon already runs.",
        ),
    ):
        p = command_parser(
            sub,
            name,
            help=text,
            description=_wrap(description),
            examples=[f"tina-session daemon {name}"],
        )
        p.set_defaults(handler=handler)


# --- what runs --------------------------------------------------------------------------------


def _socket() -> Path:
    try:
        return config_mod.load().control_socket
    except config_mod.ConfigError as exc:
        raise CommandError(str(exc)) from None


def _service() -> service.ServiceManager | None:
    """The installed service, if there is one."""
    from ...daemon import service  # imported late: trio is slow to load

    svc = service.for_this_os()
    return svc if svc is not None and svc.path.exists() else None


def _answering(sock: Path) -> int | None:
    """The pid of the daemon answering on ``sock`` (0 if its pid cannot be told), else None."""
    from ...daemon import control  # imported late: trio is slow to load

    try:
        pid = control.daemon_pid(sock, timeout=ASK_TIMEOUT)
    except control.ControlError:
        return None
    return pid or 0


def _running(sock: Path, svc: service.ServiceManager | None) -> tuple[int | None, bool]:
    """(pid, whether its service manager runs it): pid None when nothing runs, 0 if unknown."""
    state = svc.state() if svc is not None else None
    managed = state is not None and state.active is True
    pid = _answering(sock)
    if pid is None and managed:
        assert state is not None
        pid = state.pid or 0
    return pid, managed


def _pid_text(pid: int) -> str:
    return f"pid {pid}" if pid else "pid unknown"


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting for a parent that never reaps."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS, where launchd reaps orphans at once)
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _tina_argv() -> list[str]:
    from ...daemon import service  # imported late: trio is slow to load

    tina = service.tina_executable()
    if os.path.isabs(tina):
        return [tina, "daemon", "run"]
    return [sys.executable, "-m", "tina", "daemon", "run"]  # no `tina` script: this Python's


# --- commands ---------------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    pid, _ = _running(_socket(), _service())
    if pid is None:
        print("Daemon is not running", flush=True)
        return EXIT_FAILED
    print(f"Daemon is running ({_pid_text(pid)})", flush=True)
    return EXIT_OK


def cmd_start(args: argparse.Namespace) -> int:
    from ...daemon import service  # imported late: trio is slow to load

    sock = _socket()
    svc = _service()
    pid, _ = _running(sock, svc)
    if pid is not None:
        raise CommandError(f"Daemon already running ({_pid_text(pid)})")
    if svc is not None and svc.state().active is not None:  # installed, and its manager answers
        try:
            svc.start()
        except service.ServiceError as exc:
            raise CommandError(str(exc)) from None
        pid = _wait_answer(sock, None, None, f"see: {svc.start_hint()}")
    else:
        log = sock.parent / "daemon.log"
        pid = _wait_answer(sock, _spawn(log), log, f"its log: {log}")
    print(f"Daemon started ({_pid_text(pid)})", flush=True)
    return EXIT_OK


def _spawn(log: Path) -> subprocess.Popen[bytes]:
    """``tina daemon run`` in its own session, stdin from /dev/null, output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileNotFoundError):
        if log.stat().st_size > LOG_ROTATE_BYTES:
            os.replace(log, log.with_name(log.name + ".1"))
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        return subprocess.Popen(
            _tina_argv(),
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,  # no terminal's Ctrl-C or hangup reaches it
            cwd=Path.home(),  # not the caller's directory, which may be a worktree removed later
        )
    finally:
        os.close(fd)


def _wait_answer(
    sock: Path, child: subprocess.Popen[bytes] | None, log: Path | None, where: str
) -> int:
    """The daemon's pid once it answers on ``sock``; CommandError if ``child`` exits first or
    nothing answers in time."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        pid = _answering(sock)
        if pid is not None:
            return pid
        if child is not None and child.poll() is not None:
            raise CommandError(
                f"the daemon exited at once with status {child.returncode}; {where}"
                + _last_line(log)
            )
        if time.monotonic() >= deadline:
            running = f" (pid {child.pid} still runs)" if child is not None else ""
            raise CommandError(
                f"the daemon did not answer on {sock} within {START_TIMEOUT:g} s{running}; {where}"
            )
        time.sleep(POLL)


def _last_line(log: Path | None) -> str:
    """The log's last line, which says why a daemon exits at once (a config error)."""
    try:
        lines = log.read_text(errors="replace").strip().splitlines() if log else []
    except OSError:
        return ""
    return f"\n{lines[-1]}" if lines else ""


def cmd_stop(args: argparse.Namespace) -> int:
    from ...daemon import service  # imported late: trio is slow to load

    sock = _socket()
    svc = _service()
    pid, managed = _running(sock, svc)
    if pid is None:
        raise CommandError("Daemon is not running")
    if managed:
        assert svc is not None
        try:
            svc.stop()
        except service.ServiceError as exc:
            raise CommandError(str(exc)) from None
    elif not pid:
        raise CommandError(f"cannot tell the pid of the daemon answering on {sock}")
    else:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # it stopped meanwhile
        except PermissionError:
            raise CommandError(f"not allowed to stop the daemon (pid {pid})") from None
    deadline = time.monotonic() + STOP_TIMEOUT
    while (pid and _alive(pid)) or _answering(sock) is not None:
        if time.monotonic() >= deadline:
            raise CommandError(
                f"the daemon (pid {pid}) did not stop within {STOP_TIMEOUT:g} s; "
                f"kill it with: kill -KILL {pid}"
            )
        time.sleep(POLL)
    print("Daemon stopped", flush=True)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    pid, _ = _running(_socket(), _service())
    if pid is not None:
        raise CommandError(f"Daemon already running ({_pid_text(pid)})")
    argv = _tina_argv()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # the daemon takes this process over: its signals, its exit status
