from __future__ import annotations

from rich.console import Console

from tina.daemon.debug.tree import ago, render_screen
from tina.supervision import ChildState, ChildStatus


def text_of(renderable: object) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_tree_shows_state_restarts_errors_details_and_nesting() -> None:
    now = 1_000_000.0
    statuses = (
        ChildStatus(
            id="gateway",
            state=ChildState.RUNNING,
            restarts=0,
            since=now - 75,
            detail={"connection": "connected", "rtt_ms": 3.2},
        ),
        ChildStatus(
            id="worktrees",
            state=ChildState.RUNNING,
            restarts=0,
            since=now - 5,
            children=(
                ChildStatus(
                    id="wt:billing",
                    state=ChildState.BACKING_OFF,
                    restarts=2,
                    since=now - 1,
                    last_error="ReadError: state.json: truncated",
                ),
            ),
        ),
    )
    out = text_of(
        render_screen(
            "tina daemon",
            {"node": "laptop-a", "outbox": 0},
            statuses,
            [
                {
                    "event": "actor.crashed",
                    "level": "error",
                    "timestamp": "2026-11-21T12:00:01Z",
                    "actor": "wt:billing",
                }
            ],
            now=now,
        )
    )
    assert "gateway  running 1m15s  connection=connected  rtt_ms=3.2" in out
    assert "wt:billing  backing_off 1s  restarts=2" in out
    assert "last error: ReadError: state.json: truncated" in out
    assert "node" in out and "laptop-a" in out
    assert "12:00:01 erro actor.crashed actor=wt:billing" in out
    # nesting: the worktree line is indented under "worktrees"
    lines = out.splitlines()
    parent = next(i for i, line in enumerate(lines) if "worktrees  running" in line)
    child = next(
        i for i, line in enumerate(lines) if "wt:billing" in line and "backing_off" in line
    )
    assert child > parent
    assert lines[child].index("wt:billing") > lines[parent].index("worktrees")


def test_ago() -> None:
    assert [ago(0, s) for s in (5, 65, 3700)] == ["5s", "1m05s", "1h01m"]
