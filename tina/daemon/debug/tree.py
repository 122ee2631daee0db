"""Render status snapshots as a rich tree. Pure: snapshots in, renderable out."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from tina.daemon.debug.durations import duration
from tina.supervision import ChildState, ChildStatus

STATE_STYLE = {
    ChildState.RUNNING: "green",
    ChildState.STARTING: "yellow",
    ChildState.BACKING_OFF: "bold red",
    ChildState.STOPPING: "yellow",
    ChildState.STOPPED: "dim",
    ChildState.FAILED: "bold red",
}


def ago(since: float, now: float) -> str:
    return duration(now - since)


def _label(status: ChildStatus, now: float) -> Text:
    text = Text()
    text.append(status.id, style="bold")
    text.append("  ")
    text.append(status.state.value, style=STATE_STYLE[status.state])
    text.append(f" {ago(status.since, now)}", style="dim")
    if status.restarts:
        text.append(f"  restarts={status.restarts}", style="yellow")
    for key, value in status.detail.items():
        if isinstance(value, list | tuple):  # e.g. usage's directories: `status --json` lists them
            value = len(value)
        text.append(f"  {key}={value}", style="cyan")
    if status.last_error:
        text.append(f"\n  last error: {status.last_error}", style="red")
    return text


def _add(tree: Tree, statuses: Iterable[ChildStatus], now: float) -> None:
    for status in statuses:
        branch = tree.add(_label(status, now))
        _add(branch, status.children, now)


def render_tree(title: str, statuses: Iterable[ChildStatus], now: float | None = None) -> Tree:
    now = time.time() if now is None else now
    tree = Tree(Text(title, style="bold magenta"))
    _add(tree, statuses, now)
    return tree


def render_header(info: Mapping[str, Any]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for key, value in info.items():
        if value not in ("", None):
            table.add_row(str(key), str(value))
    return table


LOG_LINES = 12
"""Log lines the live view shows when the terminal has room (fewer when it has not)."""


def log_lines_that_fit(terminal_height: int, used: int) -> int:
    """How many log lines to show under `used` lines of header and tree: the newest ones are
    kept, so a short terminal drops the oldest (at least 3; 2 lines go to the panel's border)."""
    return max(3, min(LOG_LINES, terminal_height - used - 2))


def render_logs(lines: Iterable[Mapping[str, Any]], limit: int = LOG_LINES) -> Panel:
    """The newest `limit` log lines; each whole (an error's reason is never cut: it wraps)."""
    rows = list(lines)[-limit:]
    text = Text()
    for row in rows:
        level = str(row.get("level", "info"))
        style = {"error": "red", "warning": "yellow", "critical": "bold red"}.get(level, "")
        extras = " ".join(
            f"{k}={v}"
            for k, v in row.items()
            if k not in {"event", "level", "timestamp", "logger", "exc_info", "session_id"}
        )
        text.append(
            f"{str(row.get('timestamp', ''))[11:19]} {level[:4]:4} {row.get('event', '')} ",
            style=style,
        )
        text.append(extras + "\n", style="dim")
    return Panel(text, title="recent log lines", border_style="dim")


def render_screen(
    title: str,
    info: Mapping[str, Any],
    statuses: Iterable[ChildStatus],
    logs: Iterable[Mapping[str, Any]] = (),
    now: float | None = None,
    console: Console | None = None,
) -> RenderableType:
    """Header, tree and log lines; with `console`, as many of the newest log lines as its
    height leaves room for."""
    head = Group(render_header(info), render_tree(title, statuses, now))
    limit = LOG_LINES
    if console is not None:
        used = len(console.render_lines(head, console.options, pad=False))
        limit = log_lines_that_fit(console.height, used)
    return Group(head, render_logs(logs, limit))
