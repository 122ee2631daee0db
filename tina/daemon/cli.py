"""`tina daemon ...`: run, debug, status, install, uninstall, doctor, enroll."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import structlog
import trio

from tina.daemon import config as config_mod
from tina.daemon import control, credentials, service
from tina.log import RECENT, configure_logging
from tina.supervision import ChildStatus, TooManyRestarts

log = structlog.get_logger("tina.daemon")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
START_HINT = (
    "start one with `tina daemon run` (in this terminal) or `tina daemon install` "
    "(at every login, restarted if it fails)"
)


def add_daemon(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "daemon",
        help="the per-laptop daemon: run it, watch it, install it",
        description="The tina daemon mirrors this laptop's orchestrations into Convex and runs operator actions.",
    )
    sub = parser.add_subparsers(dest="daemon_command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            type=Path,
            metavar="PATH",
            help="config file (default: the first of the standard places)",
        )

    run = sub.add_parser(
        "run", help="run in the foreground with JSON logs on stderr (what launchd starts)"
    )
    common(run)
    run.set_defaults(handler=cmd_run)

    debug = sub.add_parser("debug", help="run in the foreground with a live actor tree")
    common(debug)
    debug.add_argument(
        "--plain",
        action="store_true",
        help="console log lines instead of the live tree (the default when stderr is not a terminal)",
    )
    debug.set_defaults(handler=cmd_debug)

    status = sub.add_parser(
        "status", help="show the service's state and the actor tree of the running daemon"
    )
    common(status)
    status.add_argument("--json", action="store_true", help="print the raw status JSON")
    status.set_defaults(handler=cmd_status)

    for name, fn, text in (
        (
            "install",
            cmd_install,
            "install and start the daemon as a user service (launchd on macOS, systemd on Linux)",
        ),
        ("uninstall", cmd_uninstall, "stop the user service and remove what install added"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--dry-run", action="store_true", help="print what would be done")
        p.set_defaults(handler=fn)

    doctor = sub.add_parser(
        "doctor", help="check config, credential, connectivity, paths, tmux and tina-session"
    )
    common(doctor)
    doctor.set_defaults(handler=cmd_doctor)

    enroll = sub.add_parser(
        "enroll",
        help="get this laptop's credential from the deployment",
        description=(
            "Exchange the deployment's enrollment secret (or a one-time code from the dashboard) for "
            "this laptop's own credential, stored with mode 0600. The secret is read from "
            "--secret-file, the TINA_ENROLLMENT_SECRET environment variable, or a hidden prompt."
        ),
    )
    common(enroll)
    enroll.add_argument(
        "--secret-file", type=Path, metavar="PATH", help="file holding the secret or code"
    )
    enroll.add_argument(
        "--name", help="laptop name (default: node_name from the config, else the host name)"
    )
    enroll.set_defaults(handler=cmd_enroll)


# --- helpers --------------------------------------------------------------------------------


def _load(args: argparse.Namespace) -> config_mod.Config:
    return config_mod.load(getattr(args, "config", None))


def _fail(message: str, code: int = EXIT_CONFIG) -> int:
    print(f"tina daemon: {message}", file=sys.stderr)
    return code


def _load_all(args: argparse.Namespace) -> tuple[config_mod.Config, credentials.Credential]:
    cfg = _load(args)
    cred = credentials.load(cfg.credential_file)
    if cfg.convex_url is None:
        cfg = config_mod.Config(**{**_asdict(cfg), "convex_url": cred.convex_url})
    elif cfg.convex_url != cred.convex_url:
        raise config_mod.ConfigError(
            f"the credential in {cfg.credential_file} is for {cred.convex_url}, but convex_url is "
            f"{cfg.convex_url}: run `tina daemon enroll` for this deployment"
        )
    return cfg, cred


def _asdict(cfg: config_mod.Config) -> dict[str, Any]:
    return attrs.asdict(cfg, recurse=False)


@attrs.define
class _Serving:
    """What `_serve` and its signal task share: the config the next daemon starts with, why the
    running one is being stopped, and the scope that stops it."""

    cfg: config_mod.Config
    cred: credentials.Credential
    scope: trio.CancelScope | None = None
    reload: bool = False
    stop_reason: str | None = None

    def stop_running(self) -> None:
        if self.scope is not None:
            self.scope.cancel()


async def _serve(
    cfg: config_mod.Config,
    cred: credentials.Credential,
    live: bool,
    make_daemon: Callable[[config_mod.Config, credentials.Credential], Any] | None = None,
) -> int:
    """Run daemons one after another until a stop signal: SIGHUP reads the config again and
    restarts the daemon with it. The signal handlers stay installed across restarts, so a signal
    that arrives while a daemon stops (which takes a while: its actors stop one by one) is handled
    like any other, never left to the default action (which for SIGHUP ends the process)."""
    if make_daemon is None:
        from tina.daemon.app import Daemon

        make_daemon = Daemon
    state = _Serving(cfg, cred)
    async with trio.open_nursery() as outer:
        await outer.start(_take_signals, state)
        code = await _run_daemons(state, make_daemon, live)
        outer.cancel_scope.cancel()
    return code


async def _take_signals(
    state: _Serving, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as received:
        task_status.started()
        async for signum in received:
            if signum != signal.SIGHUP:
                state.stop_reason = f"shutdown: {signal.Signals(signum).name}"
                log.info("daemon.stopping", reason=state.stop_reason)
                state.stop_running()
                # Leaving the receiver restores the default actions: a second stop signal while
                # this one is carried out ends the process at once (the outbox is on disk).
                return
            try:
                state.cfg, state.cred = _load_all(argparse.Namespace(config=state.cfg.source))
            except (config_mod.ConfigError, credentials.CredentialError) as exc:
                log.error("config.reload_failed", error=str(exc))
                continue
            log.info("config.reloaded", source=str(state.cfg.source))
            # During a restart already under way, the next daemon simply starts with this config.
            state.reload = True
            state.stop_running()


async def _run_daemons(
    state: _Serving,
    make_daemon: Callable[[config_mod.Config, credentials.Credential], Any],
    live: bool,
) -> int:
    while True:
        state.reload = False
        daemon = make_daemon(state.cfg, state.cred)
        failed = False
        with trio.CancelScope() as state.scope:
            try:
                async with trio.open_nursery() as nursery:
                    if live:
                        from tina.daemon.debug.live import run_live

                        nursery.start_soon(run_live, daemon)
                    await daemon.run()
                    nursery.cancel_scope.cancel()
            except* TooManyRestarts as group:  # raised inside the nursery: it arrives in a group
                gave_up: BaseException = group
                while isinstance(gave_up, BaseExceptionGroup):
                    gave_up = gave_up.exceptions[0]
                log.critical("daemon.gave_up", error=str(gave_up))
                failed = True
        state.scope = None
        if failed:
            return EXIT_FAILED
        if state.stop_reason is not None or not state.reload:
            log.info("daemon.stopped", reason=state.stop_reason or "shutdown")
            return EXIT_OK


def _run(args: argparse.Namespace, *, mode: str, live: bool) -> int:
    configure_logging("quiet" if live else mode)  # type: ignore[arg-type]
    try:
        cfg, cred = _load_all(args)
        cfg.require_url()
    except (config_mod.ConfigError, credentials.CredentialError) as exc:
        log.error("daemon.config_error", error=str(exc))
        return _fail(str(exc))
    return trio.run(_serve, cfg, cred, live)


def cmd_run(args: argparse.Namespace) -> int:
    return _run(args, mode="json", live=False)


def cmd_debug(args: argparse.Namespace) -> int:
    # The live tree redraws a terminal; piped or redirected, plain log lines say the same.
    return _run(args, mode="console", live=not args.plain and sys.stderr.isatty())


def cmd_status(args: argparse.Namespace) -> int:
    if not args.json:  # the raw JSON stays the daemon's own snapshot
        svc = service.for_this_os()
        print(service.status_line(svc) if svc else f"service: {service.unsupported()}", flush=True)
    try:
        cfg = _load(args)
        snapshot = control.request_status(cfg.control_socket)
    except control.NotRunning as exc:
        return _fail(f"{exc}; {START_HINT}", EXIT_FAILED)
    except (config_mod.ConfigError, control.ControlError) as exc:
        return _fail(str(exc), EXIT_FAILED)
    if args.json:
        print(json.dumps(snapshot, indent=2))
        return EXIT_OK
    from rich.console import Console

    from tina.daemon.debug.tree import render_header, render_tree

    tree = tuple(ChildStatus.from_json(c) for c in snapshot.get("tree", []))
    console = Console()
    console.print(render_header(snapshot.get("info", {})))
    console.print(render_tree("tina daemon", tree))
    return EXIT_OK


def cmd_install(args: argparse.Namespace) -> int:
    svc = service.for_this_os()
    if svc is None:
        return _fail(service.unsupported(), EXIT_FAILED)
    outcome = svc.install(dry_run=args.dry_run)
    print("\n".join(outcome.lines), file=sys.stdout if outcome.code == 0 else sys.stderr)
    return outcome.code


def cmd_uninstall(args: argparse.Namespace) -> int:
    svc = service.for_this_os()
    if svc is None:
        return _fail(service.unsupported(), EXIT_FAILED)
    outcome = svc.uninstall(dry_run=args.dry_run)
    print("\n".join(outcome.lines), file=sys.stdout if outcome.code == 0 else sys.stderr)
    return outcome.code


def _read_secret(args: argparse.Namespace) -> str:
    if args.secret_file is not None:
        return str(args.secret_file.read_text()).strip()
    if os.environ.get("TINA_ENROLLMENT_SECRET"):
        return os.environ["TINA_ENROLLMENT_SECRET"].strip()
    if sys.stdin.isatty():
        return getpass.getpass("enrollment secret or one-time code: ").strip()
    raise config_mod.ConfigError(
        "no enrollment secret: pass --secret-file, set TINA_ENROLLMENT_SECRET, or run in a terminal"
    )


def cmd_enroll(args: argparse.Namespace) -> int:
    configure_logging("console", level="warning")
    try:
        cfg = _load(args)
        url = cfg.require_url()
        secret = _read_secret(args)
    except (config_mod.ConfigError, OSError) as exc:
        return _fail(str(exc))
    name = args.name or cfg.node_name
    if not config_mod.NODE_NAME_RE.match(name):
        return _fail(
            f"--name: expected a laptop name of letters, digits, '.', '_', '-' (at most 63), got {name!r}"
        )

    async def go() -> credentials.Credential:
        from tina.convex import open_convex_client
        from tina.convex.gateway import enroll
        from tina.daemon.actors.presence import os_name

        async with open_convex_client(url, timeout=15.0) as client:
            got = await enroll(client, secret, name, os_name())
        return credentials.Credential(
            convex_url=url, node_id=got.node_id, node_name=got.name, token=got.credential
        )

    from tina.convex import ConvexClientError, ConvexError

    try:
        cred = trio.run(go)
    except ConvexError as exc:
        data = exc.data if isinstance(exc.data, dict) else {}
        return _fail(f"enrollment refused: {data.get('message', exc)}", EXIT_FAILED)
    except ConvexClientError as exc:
        return _fail(f"cannot reach {url}: {exc}", EXIT_FAILED)
    credentials.save(cfg.credential_file, cred)
    print(
        f"enrolled laptop {cred.node_name} ({cred.node_id}); credential saved to {cfg.credential_file} (mode 0600)"
    )
    return EXIT_OK


# --- doctor ---------------------------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace) -> int:
    configure_logging("console", level="error")
    checks: list[tuple[bool, str, str]] = []  # (ok, what, how to fix)
    notes: list[tuple[str, str]] = []  # (what, why it is fine): reported, never a failure

    def check(ok: bool, what: str, fix: str = "") -> bool:
        checks.append((ok, what, fix))
        return ok

    cfg = None
    try:
        cfg = _load(args)
        check(True, f"config: {cfg.source or 'no file (environment and defaults)'}")
    except config_mod.ConfigError as exc:
        check(False, f"config: {exc}", "fix the file or the TINA_* variable named above")
    cred = None
    if cfg is not None:
        try:
            cred = credentials.load(cfg.credential_file)
            check(True, f"credential: {cfg.credential_file} (laptop {cred.node_name})")
            check(
                not credentials.loose_permissions(cfg.credential_file),
                f"credential file permissions: {oct(cfg.credential_file.stat().st_mode & 0o777)}",
                f"chmod 600 {cfg.credential_file}",
            )
        except credentials.CredentialError as exc:
            check(False, f"credential: {exc}", "run `tina daemon enroll`")
        url = cfg.convex_url or (cred.convex_url if cred else None)
        if (
            check(
                url is not None,
                f"convex_url: {url or 'not set'}",
                "set convex_url or TINA_CONVEX_URL",
            )
            and url
            and cred
        ):
            ok, message = trio.run(_probe, url, cred.token)
            check(
                ok,
                f"connectivity and credential: {message}",
                "" if ok else "check the URL and network; if refused, run `tina daemon enroll`",
            )
        for label, path in (
            ("claude dir", cfg.claude_dir),
            *((("claude config dir", cfg.claude_config_dir),) if cfg.claude_config_dir else ()),
            ("teams", cfg.teams_dir),
            ("tasks", cfg.tasks_dir),
            ("tina sessions", cfg.tina_sessions_dir),
            *(("transcripts", root) for root in cfg.transcript_roots),
        ):
            # Claude Code and tina-session make these on first use (the daemon waits for them):
            # a fresh home is no failure.
            if path.is_dir():
                check(True, f"{label}: {path}")
            else:
                notes.append(
                    (
                        f"{label}: {path} does not exist yet",
                        "Claude Code or tina-session creates it on first use; the daemon waits for it",
                    )
                )
        # The service does not see this shell's environment: a CLAUDE_CONFIG_DIR here is where
        # Claude Code started from it keeps its teams and transcripts, which the daemon reads
        # only once a hook from a session there names it, unless it is told of it.
        shell_config = os.environ.get("CLAUDE_CONFIG_DIR", "").strip()
        if shell_config and Path(shell_config).expanduser() != cfg.claude_code_dir:
            where = cfg.source or config_mod.candidate_files()[0]  # the first place looked
            notes.append(
                (
                    f"this shell's CLAUDE_CONFIG_DIR is {shell_config}: Claude Code started here "
                    f"keeps its teams and transcripts there; the daemon watches "
                    f"{cfg.claude_code_dir}, and another config dir only from the first hook of "
                    "a session there (tina's hooks installed)",
                    f'to read it from the start, set claude_config_dir = "{shell_config}" in '
                    f"{where} (or TINA_CLAUDE_CONFIG_DIR) and restart the daemon",
                )
            )
        session = shutil.which(cfg.tina_session) or (
            cfg.tina_session if Path(cfg.tina_session).exists() else None
        )
        check(
            session is not None,
            f"tina-session: {session or 'not found'}",
            "install tina (pip install -e .) so tina-session is on PATH",
        )
        tmux = shutil.which("tmux")
        version = (
            subprocess.run([tmux, "-V"], capture_output=True, text=True, check=False).stdout.strip()
            if tmux
            else ""
        )
        check(
            tmux is not None,
            f"tmux: {version or 'not found'}",
            "install tmux (brew install tmux) to deliver messages to agents",
        )
        try:
            snap = control.request_status(cfg.control_socket, timeout=2)
            refused = snap.get("info", {}).get("refused")
            check(
                not refused,
                f"daemon: running ({snap.get('info', {}).get('connection')})"
                + (f", refused: {refused}" if refused else ""),
                "run `tina daemon enroll`, then restart the daemon",
            )
        except control.ControlError as exc:
            check(False, f"daemon: {exc}", START_HINT)
    from tina.hooks.cli import doctor_check as hooks_check

    # Hooks are optional (the files alone are enough to see the agents): reported, never a failure.
    hooks_ok, hooks_what, hooks_fix = hooks_check()
    svc = service.for_this_os()
    if svc is None:
        check(True, f"service: {service.unsupported()}")
    else:
        for c in service.checks(svc):
            check(c.ok, c.what, c.fix)
    for ok, what, fix in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {what}" + ("" if ok or not fix else f"\n     -> {fix}"))
    for what, fix in notes:
        print(f"note {what}\n     -> {fix}")
    hint = "" if hooks_ok or not hooks_fix else f"\n     -> {hooks_fix}"
    print(f"{'ok  ' if hooks_ok else 'note'} {hooks_what}{hint}")
    return EXIT_OK if all(ok for ok, _, _ in checks) else EXIT_FAILED


async def _probe(url: str, token: str) -> tuple[bool, str]:
    from tina.convex import ConvexClientError, ConvexError, open_convex_client
    from tina.convex.gateway import Gateway

    started = time.monotonic()
    try:
        async with open_convex_client(url, timeout=5.0, connect_timeout=5.0) as client:
            await Gateway(client, token, timeout=5.0).check_credential()
    except ConvexError as exc:
        data = exc.data if isinstance(exc.data, dict) else {}
        return False, f"refused: {data.get('message', exc)}"
    except ConvexClientError as exc:
        return False, f"cannot reach {url}: {exc}"
    return True, f"{url} answered in {(time.monotonic() - started) * 1000:.0f} ms"


__all__ = ["RECENT", "add_daemon"]
