"""Signals while `tina daemon run` restarts itself for a reload (SIGHUP).

A reload stops the running daemon, which takes a while (actors stop one by one), then starts a new
one. A signal that arrives meanwhile must reach the daemon's own handling, not the default
disposition, which for SIGHUP ends the process. The daemon here is a stand-in whose stop the test
holds open; the signals, the config file and the serve loop are real.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import attrs
import pytest
import structlog
import trio
import trio.testing
from structlog.testing import LogCapture

from tina.daemon import cli as daemon_cli
from tina.daemon import config as config_mod
from tina.daemon import credentials


class Changes:
    """Wakes the test whenever something it waits for may have changed: a log line, a signal that
    met the default disposition, a stand-in daemon starting or stopping. `note` may be called from
    a signal handler (it goes through the trio token)."""

    def __init__(self, token: trio.lowlevel.TrioToken) -> None:
        self._token = token
        self._event = trio.Event()

    def note(self) -> None:
        self._token.run_sync_soon(self._wake)

    def _wake(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def until(self, condition: Callable[[], object], timeout: float = 10) -> None:
        with trio.fail_after(timeout):
            while not condition():
                await self._event.wait()


@pytest.fixture
async def changes() -> Changes:
    return Changes(trio.lowlevel.current_trio_token())


@attrs.define
class Daemons:
    """Stand-in daemons: each runs until cancelled, then stays stopping until `release`."""

    changes: Changes
    debounces: list[int] = attrs.Factory(list)
    running: trio.Event = attrs.Factory(trio.Event)
    stopping: trio.Event = attrs.Factory(trio.Event)
    release: trio.Event = attrs.Factory(trio.Event)

    def __call__(self, cfg: config_mod.Config, cred: credentials.Credential) -> Any:
        return _Daemon(self, cfg)


@pytest.fixture
def daemons(changes: Changes) -> Daemons:
    return Daemons(changes)


@attrs.define
class _Daemon:
    daemons: Daemons
    cfg: config_mod.Config

    async def run(self) -> None:
        self.daemons.debounces.append(self.cfg.debounce_ms)
        self.daemons.running.set()
        self.daemons.changes.note()
        try:
            await trio.sleep_forever()
        finally:
            self.daemons.running = trio.Event()
            self.daemons.stopping.set()
            self.daemons.changes.note()
            with trio.CancelScope(shield=True):
                await self.daemons.release.wait()


def _write_config(path: Path, debounce_ms: int | str) -> None:
    value = debounce_ms if isinstance(debounce_ms, int) else f"'{debounce_ms}'"
    folder = path.parent
    path.write_text(
        f'convex_url = "http://127.0.0.1:9"\ncredential_file = "{folder / "credential.json"}"\n'
        f'state_dir = "{folder / "state"}"\ndebounce_ms = {value}\n'
    )


@attrs.frozen
class Setup:
    cfg: config_mod.Config
    cred: credentials.Credential

    def write(self, debounce_ms: int | str) -> None:
        """Change the config file (the daemon reads it at the next SIGHUP)."""
        assert self.cfg.source is not None
        _write_config(self.cfg.source, debounce_ms)


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    for var in [v for v, _ in config_mod._KEYS.values()] + ["TINA_PROFILE", "TINA_CONFIG"]:
        monkeypatch.delenv(var, raising=False)
    cred = credentials.Credential(
        convex_url="http://127.0.0.1:9", node_id="n1", node_name="a", token="tina_node_x"
    )
    credentials.save(tmp_path / "credential.json", cred)
    _write_config(tmp_path / "config.toml", 30)
    return Setup(config_mod.load(tmp_path / "config.toml"), cred)


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch, changes: Changes) -> LogCapture:
    capture = LogCapture()

    def capture_and_wake(logger: Any, method: str, event: Any) -> Any:
        changes.note()
        return capture(logger, method, event)

    monkeypatch.setattr(
        daemon_cli, "log", structlog.wrap_logger(None, processors=[capture_and_wake])
    )
    return capture


@pytest.fixture
def default_disposition(changes: Changes) -> Iterator[list[int]]:
    """What the process would do with a signal nobody handles, recorded instead of done."""
    reached: list[int] = []

    def record(signum: int, _: FrameType | None) -> None:
        reached.append(signum)
        changes.note()

    saved = {s: signal.signal(s, record) for s in (signal.SIGHUP, signal.SIGTERM)}
    yield reached
    for s, handler in saved.items():
        signal.signal(s, handler)


def _events(logs: LogCapture, name: str) -> int:
    return sum(1 for e in logs.entries if e["event"] == name)


async def _stopping(daemons: Daemons, default_disposition: list[int]) -> None:
    await daemons.changes.until(lambda: daemons.stopping.is_set() or default_disposition)
    assert default_disposition == [], "the daemon did not take the signal"


@contextlib.asynccontextmanager
async def serving(setup: Setup, daemons: Daemons) -> AsyncIterator[list[int]]:
    """`_serve` with stand-in daemons, from its first daemon running; yields its exit code, once
    it returned, in a list."""
    codes: list[int] = []
    async with trio.open_nursery() as nursery:

        async def serve() -> None:
            codes.append(await daemon_cli._serve(setup.cfg, setup.cred, False, make_daemon=daemons))

        nursery.start_soon(serve)
        try:
            await daemons.running.wait()
            await trio.testing.wait_all_tasks_blocked()
            yield codes
        finally:  # a failed check must not leave the stand-in stopping forever
            daemons.release.set()


async def test_a_hangup_while_a_reload_restarts_the_daemon_updates_the_next_config(
    setup: Setup, daemons: Daemons, logs: LogCapture, default_disposition: list[int]
) -> None:
    until = daemons.changes.until
    async with serving(setup, daemons) as codes:
        setup.write(40)
        signal.raise_signal(signal.SIGHUP)
        await _stopping(daemons, default_disposition)  # held there by the test
        setup.write(50)
        signal.raise_signal(signal.SIGHUP)
        await until(lambda: _events(logs, "config.reloaded") == 2 or default_disposition)
        assert default_disposition == [], "a hangup during the restart met the default action"
        daemons.release.set()
        await until(lambda: daemons.debounces == [30, 50] and daemons.running.is_set())
        # A bad config during a restart is logged; the config already read stays.
        daemons.stopping = trio.Event()
        daemons.release = trio.Event()
        setup.write(60)
        signal.raise_signal(signal.SIGHUP)
        await _stopping(daemons, default_disposition)
        setup.write("fast")
        signal.raise_signal(signal.SIGHUP)
        await until(lambda: _events(logs, "config.reload_failed") == 1 or default_disposition)
        assert default_disposition == []
        daemons.release.set()
        await until(lambda: daemons.debounces == [30, 50, 60] and daemons.running.is_set())
        signal.raise_signal(signal.SIGTERM)
    assert codes == [daemon_cli.EXIT_OK]
    assert default_disposition == []
    assert _events(logs, "daemon.stopped") == 1


async def test_a_stop_while_a_reload_restarts_the_daemon_stops_it(
    setup: Setup, daemons: Daemons, logs: LogCapture, default_disposition: list[int]
) -> None:
    async with serving(setup, daemons) as codes:
        signal.raise_signal(signal.SIGHUP)
        await _stopping(daemons, default_disposition)
        signal.raise_signal(signal.SIGTERM)
        await daemons.changes.until(
            lambda: _events(logs, "daemon.stopping") == 1 or default_disposition
        )
        assert default_disposition == [], "a stop during the restart met the default action"
        daemons.release.set()
    assert codes == [daemon_cli.EXIT_OK]
    assert daemons.debounces == [30], "the daemon started again after it was told to stop"
    stopped = [e for e in logs.entries if e["event"] == "daemon.stopped"]
    assert [e["reason"] for e in stopped] == ["shutdown: SIGTERM"]
