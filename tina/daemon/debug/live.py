"""The live actor tree for `tina daemon debug`: rich.Live driven from the trio loop.

`Live(auto_refresh=False)` because auto refresh starts a thread; we refresh ourselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
from rich.console import Console
from rich.live import Live

from tina.daemon.debug.tree import render_screen
from tina.log import RECENT

if TYPE_CHECKING:
    from tina.daemon.app import Daemon


async def run_live(
    daemon: Daemon, *, interval: float = 0.5, console: Console | None = None
) -> None:
    console = console or Console(stderr=True)
    with Live(console=console, auto_refresh=False, screen=False, transient=False) as live:
        while True:
            live.update(
                render_screen(
                    "tina daemon",
                    daemon.info(),
                    daemon.statistics(),
                    RECENT.lines,
                    console=console,
                ),
                refresh=True,
            )
            await trio.sleep(interval)
