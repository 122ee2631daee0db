"""An isolated tmux server for the action tests: real panes, real programs, polled screens."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10) -> Any:
    """Poll `check` until it returns something truthy (real clock: tmux and processes)."""
    with trio.fail_after(timeout):
        while not (value := await check()):
            await trio.sleep(0.02)
    return value


class Tmux:
    """An isolated tmux server on its own socket (the daemon is pointed at it with -S)."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    async def __call__(self, *args: str) -> str:
        proc = await trio.run_process(
            ["tmux", "-S", self.socket, *args], capture_stdout=True, capture_stderr=True
        )
        return str(proc.stdout.decode().strip())

    async def open(self, session: str, command: str, cwd: Path, *, runs: str | None = None) -> str:
        """A detached session running `command` in `cwd`; returns its pane id (`%N`). With
        `runs`, waits until the pane's current command is that program."""
        await self(
            "new-session", "-d", "-s", session, "-x", "200", "-y", "50", "-c", str(cwd), command
        )
        pane = await self("display-message", "-p", "-t", f"={session}:", "#{pane_id}")
        if runs is not None:
            await self.running(pane, runs)
        return pane

    async def running(self, pane: str, command: str) -> None:
        async def check() -> bool:
            shown = await self("display-message", "-p", "-t", pane, "#{pane_current_command}")
            return shown == command

        await eventually(check)

    async def screen(self, pane: str) -> str:
        return await self("capture-pane", "-p", "-t", pane)


def tmux_server(tmp_path: Path) -> Iterator[Tmux]:
    """The body of the `tmux` fixture: a server on a socket under `tmp_path`, killed after."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is required (make test installs it)")
    sock = str(tmp_path / "tmux.sock")
    try:
        yield Tmux(sock)
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], check=False, capture_output=True)
