from __future__ import annotations

from rich.console import Console

from tina.daemon.debug.durations import duration
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
            id="usage",
            state=ChildState.RUNNING,
            restarts=0,
            since=now - 5,
            detail={"directories": ["/h/.claude/projects", "/h/.claude-work/projects"], "sent": 4},
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
    # a list (usage's directories: `status --json` has them) shows as its length
    assert "usage  running 5s  directories=2  sent=4" in out
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


def log_row(i: int, **extra: object) -> dict[str, object]:
    return {"timestamp": f"2026-12-03T12:00:{i:02d}Z", "level": "info", "event": f"e{i}", **extra}


def test_a_short_terminal_keeps_the_newest_log_lines() -> None:
    statuses = tuple(
        ChildStatus(id=f"actor{i}", state=ChildState.RUNNING, restarts=0, since=0.0)
        for i in range(8)
    )
    logs = [log_row(i) for i in range(20)]
    short = Console(width=100, height=20, record=True, color_system=None)
    short.print(render_screen("tina daemon", {"node": "a"}, statuses, logs, 10.0, console=short))
    out = short.export_text()
    assert "e19" in out and "e18" in out  # the newest survive
    assert "e8 " not in out  # the oldest of the twelve made room
    tall = Console(width=100, height=80, record=True, color_system=None)
    tall.print(render_screen("tina daemon", {"node": "a"}, statuses, logs, 10.0, console=tall))
    assert "e8 " in tall.export_text()  # with room, the last twelve


def test_an_error_reason_is_never_cut() -> None:
    reason = "the deployment refused the credential: " + "x" * 300 + " END"
    out = text_of(render_screen("tina daemon", {}, (), [log_row(1, error=reason)], 10.0))
    assert "END" in out
    assert "".join(out.replace("│", "").split()).count("x" * 300) == 1  # wrapped, whole


def test_uptime_and_actor_ages_share_one_format() -> None:
    assert [duration(s) for s in (5, 65, 3700)] == ["5s", "1m05s", "1h01m"]
    assert ago(0, 3700) == duration(3700)
