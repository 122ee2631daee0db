from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tina.convex.actions import action_from_wire, result_to_wire
from tina.daemon.actions import (
    ActionRejected,
    HandlerEnv,
    InboundAction,
    _handlers,
    build_cli_args,
    run_action,
)
from tina.dev.fakes import BRACKETED_PASTE_AGENT
from tina.session import tmux as tmux_rules

from .tmux_rig import Tmux, eventually


def doc(type_: str, **payload: Any) -> dict[str, Any]:
    return {"_id": "act1", "type": type_, "payload": payload, "expiresAt": 1.9e12}


@pytest.mark.parametrize(
    ("type_", "event"),
    [
        ("approve_plan", "plan_approved"),
        ("pause", "pause"),
        ("resume", "resume"),
        ("retry", "retry"),
    ],
)
def test_state_machine_actions_build_flag_style_argv(type_: str, event: str) -> None:
    action = action_from_wire(doc(type_, feature="billing-export", phase="1.5"))
    assert build_cli_args(action, "/x/tina-session") == [
        "/x/tina-session",
        "orchestrate",
        "advance",
        "--feature=billing-export",
        "--phase=1.5",
        f"--event={event}",
    ]


@pytest.mark.parametrize(
    "feedback", ["split the migration; $(rm -rf ~) `x` && y, z", "-h", "--event=retry", "--"]
)
def test_reject_plan_glues_feedback_to_its_flag(feedback: str) -> None:
    action = action_from_wire(doc("reject_plan", feature="f", phase="2", feedback=feedback))
    argv = build_cli_args(action)
    assert argv[-1] == f"--issues={feedback}"
    # Every value is glued to its flag: nothing that follows can be read as an option.
    assert all(arg.startswith("--") and "=" in arg for arg in argv[3:])


@pytest.mark.parametrize(
    ("document", "code", "needle"),
    [
        ("nope", "payload_invalid", "expected an object"),
        ({"type": "pause", "payload": {}}, "payload_invalid", "missing or invalid _id"),
        (doc("format_disk", feature="f", phase="1"), "unknown_action_type", "format_disk"),
        (doc("pause", phase="1"), "payload_missing_field", "payload.feature"),
        (doc("pause", feature="f"), "payload_missing_field", "payload.phase"),
        (doc("pause", feature="../etc", phase="1"), "payload_invalid", "Invalid feature name"),
        (doc("pause", feature="f", phase="1-retry"), "payload_invalid", "Invalid phase"),
        (doc("pause", feature="f", phase="1.5.5.5"), "payload_invalid", "remediation depth"),
        (doc("reject_plan", feature="f", phase="1"), "payload_missing_field", "payload.feedback"),
        (
            doc("reject_plan", feature="f", phase="1", feedback="x" * 4001),
            "payload_invalid",
            "feedback",
        ),
        (
            doc("send_message", teamDir="../../x", agentName="a", text="hi"),
            "payload_invalid",
            "teamDir",
        ),
        (
            doc("send_message", teamDir="t", agentName="a b", text="hi"),
            "payload_invalid",
            "agentName",
        ),
        (
            doc("send_message", teamDir="t", agentName="a", text="\x1b[2Jboom"),
            "payload_invalid",
            "control characters",
        ),
        (
            doc("send_message", teamDir="t", agentName="a", text=7),
            "payload_invalid",
            "expected a string",
        ),
    ],
)
def test_bad_actions_are_rejected_with_a_code(document: Any, code: str, needle: str) -> None:
    with pytest.raises(ActionRejected) as info:
        action_from_wire(document)
    assert info.value.code == code
    assert needle in info.value.message


# --- handlers against a fake tina-session script and a real tmux server -------------------------


@pytest.fixture
def henv(tmp_path: Path) -> HandlerEnv:
    script = tmp_path / "fake-tina-session"
    script.write_text(
        "#!/bin/sh\n"
        'printf \'%s\\n\' "$@" > "$(dirname "$0")/argv.txt"\n'
        'env > "$(dirname "$0")/env.txt"\n'
        "if [ \"$4\" = --phase=9 ]; then echo 'Error: phase 9 not found tina_node_SECRETSECRET' >&2; exit 1; fi\n"
        "if [ \"$4\" = --phase=7 ]; then printf 'Warning: slow disk\\nError: Invalid phase 7:\\n\\nuse 1\\n' >&2; exit 1; fi\n"
        'if [ "$4" = --phase=8 ]; then sleep 5; fi\n'
        'echo \'{"action":"spawn_executor","phase":"1","plan_path":"/w/p.md"}\'\n'
    )
    script.chmod(0o755)
    return HandlerEnv.build(
        claude_dir=tmp_path / "claude", tina_session=str(script), tmux_socket=None, timeout=2.0
    )


async def test_tina_session_success_and_fixed_environment(
    henv: HandlerEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "leak-me")
    result = await run_action(action_from_wire(doc("retry", feature="f", phase="1")), henv)
    assert result.ok
    assert result.code == "ok"
    assert result.exit_code == 0
    # stdout is the bare next action, passed through
    assert json.loads(result.output or "") == {
        "action": "spawn_executor",
        "phase": "1",
        "plan_path": "/w/p.md",
    }
    assert result.message == "retry applied to phase 1 of f; next action: spawn_executor"
    assert (tmp_path / "argv.txt").read_text().split() == [
        "orchestrate",
        "advance",
        "--feature=f",
        "--phase=1",
        "--event=retry",
    ]
    env = (tmp_path / "env.txt").read_text()
    assert "leak-me" not in env
    assert f"TINA_CLAUDE_DIR={tmp_path / 'claude'}" in env
    assert result.duration_ms is not None


async def test_tina_session_failure_is_reported_with_secrets_masked(henv: HandlerEnv) -> None:
    result = await run_action(action_from_wire(doc("retry", feature="f", phase="9")), henv)
    assert not result.ok
    assert result.code == "cli_exit_non_zero"
    assert result.exit_code == 1
    assert result.message == "phase 9 not found ***"
    assert "SECRET" not in (result.output or "")


async def test_tina_session_multi_line_error_is_the_reason(henv: HandlerEnv) -> None:
    result = await run_action(action_from_wire(doc("retry", feature="f", phase="7")), henv)
    assert (result.ok, result.code, result.exit_code) == (False, "cli_exit_non_zero", 1)
    assert result.message == "Invalid phase 7:\n\nuse 1"


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        (
            "Error: Phase '3' not found in supervisor state\n",
            "Phase '3' not found in supervisor state",
        ),
        ("Warning: x\nError: a\n\nb\n", "a\n\nb"),
        (
            "Error: internal error: KeyError: 'x'\nTraceback (most recent call last):\n  File\n",
            "internal error: KeyError: 'x'",
        ),
        ("usage: tina-session ...\ntina-session: error: unrecognized arguments\n", None),
        ("", None),
    ],
)
def test_error_reason(stderr: str, reason: str | None) -> None:
    assert _handlers.error_reason(stderr) == reason


async def test_timeout_and_missing_binary(henv: HandlerEnv, tmp_path: Path) -> None:
    slow = await run_action(
        action_from_wire(doc("retry", feature="f", phase="8")),
        HandlerEnv.build(
            claude_dir=tmp_path, tina_session=henv.tina_session, tmux_socket=None, timeout=0.5
        ),
    )
    assert (slow.ok, slow.code) == (False, "timeout")
    missing = await run_action(
        action_from_wire(doc("retry", feature="f", phase="1")),
        HandlerEnv.build(
            claude_dir=tmp_path, tina_session=str(tmp_path / "nope"), tmux_socket=None, timeout=1
        ),
    )
    assert (missing.ok, missing.code) == (False, "cli_spawn_failed")


def write_team(claude: Path, team: str, members: list[dict[str, Any]]) -> None:
    d = claude / "teams" / team
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(
        json.dumps(
            {
                "name": team,
                "createdAt": 1770480842000,
                "leadAgentId": f"team-lead@{team}",
                "leadSessionId": "s",
                "members": members,
            }
        )
    )


def member(name: str, pane: str, cwd: Path | None, team: str = "t") -> dict[str, Any]:
    doc: dict[str, Any] = {
        "agentId": f"{name}@{team}",
        "name": name,
        "joinedAt": 1770480842000,
        "tmuxPaneId": pane,
    }
    if cwd is not None:
        doc["cwd"] = str(cwd)
    return doc


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    """Where the agents work (the team config's member cwd)."""
    path = tmp_path / "wt"
    path.mkdir()
    return path


def message(agent: str, text: str, **payload: Any) -> InboundAction:
    return action_from_wire(doc("send_message", teamDir="t", agentName=agent, text=text, **payload))


def tmux_henv(claude: Path, tmux: Tmux) -> HandlerEnv:
    return HandlerEnv.build(
        claude_dir=claude, tina_session="tina-session", tmux_socket=tmux.socket, timeout=5
    )


async def test_send_message_reaches_a_real_tmux_pane(
    tmp_path: Path, tmux: Tmux, worktree: Path
) -> None:
    pane = await tmux.open("agents", "exec cat", worktree)
    await tmux.running(pane, "cat")
    claude = tmp_path / "claude"
    write_team(
        claude,
        "t",
        [
            member("executor-1", pane, worktree),
            member("helper", "in-process", worktree),
            member("ghost", "%999", worktree),
        ],
    )
    henv = tmux_henv(claude, tmux)
    text = "please rebase; $(echo no)"
    result = await run_action(message("executor-1", text), henv)
    assert result.ok, result
    assert pane in result.message

    async def echoed() -> bool:  # typed, then echoed back by cat after Enter
        return (await tmux.screen(pane)).count(text) >= 2

    await eventually(echoed)
    # An in-process teammate has no pane: without a route it gets the message in its inbox,
    # and asking for its pane is refused with the reason.
    inproc = await run_action(message("helper", "hi"), henv)
    assert (inproc.ok, inproc.via) == (True, "inbox"), inproc
    no_pane = await run_action(message("helper", "hi", via="pane"), henv)
    assert (no_pane.ok, no_pane.code) == (False, "in_process_teammate")
    ghost = await run_action(message("ghost", "hi"), henv)
    assert (ghost.ok, ghost.code) == (False, "pane_gone")
    nobody = await run_action(message("nobody", "hi"), henv)
    assert (nobody.ok, nobody.code) == (False, "agent_gone")
    noteam = await run_action(
        action_from_wire(doc("send_message", teamDir="gone", agentName="x", text="hi")), henv
    )
    assert (noteam.ok, noteam.code) == (False, "team_gone")


async def test_a_stale_pane_id_now_running_a_shell_is_refused_and_the_shell_gets_nothing(
    tmp_path: Path, tmux: Tmux, worktree: Path
) -> None:
    # After a tmux server restart %N ids are reused: the recorded pane is now a plain shell,
    # even in the right directory. Typing the message there would run it.
    pane = await tmux.open("stale", "exec bash --norc --noprofile", worktree)
    await tmux.running(pane, "bash")
    claude = tmp_path / "claude"
    write_team(claude, "t", [member("executor-1", pane, worktree)])
    henv = tmux_henv(claude, tmux)
    marker, second = tmp_path / "message-ran", tmp_path / "second-line-ran"
    for text in (f"touch {marker}", f"please look\ntouch {second}"):
        result = await run_action(message("executor-1", text), henv)
        assert (result.ok, result.code) == (False, "pane_is_shell"), result
        assert "bash" in result.message and pane in result.message
    # Positive sentinel: the shell runs what is typed in order, so once our own command has
    # run, a message typed before it would have run too.
    sentinel = tmp_path / "sentinel"
    await tmux("send-keys", "-t", pane, "-l", f"touch {sentinel}")
    await tmux("send-keys", "-t", pane, "Enter")

    async def sentinel_ran() -> bool:
        return sentinel.exists()

    await eventually(sentinel_ran)
    assert not marker.exists()
    assert not second.exists()


async def test_a_program_outside_the_agents_directory_is_refused(
    tmp_path: Path, tmux: Tmux, worktree: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    pane = await tmux.open("other", "exec cat", elsewhere)
    await tmux.running(pane, "cat")
    claude = tmp_path / "claude"
    write_team(claude, "t", [member("executor-1", pane, worktree)])
    result = await run_action(message("executor-1", "hello-elsewhere"), tmux_henv(claude, tmux))
    assert (result.ok, result.code) == (False, "pane_outside_worktree"), result
    assert str(elsewhere) in result.message and str(worktree) in result.message
    await tmux("send-keys", "-t", pane, "-l", "sentinel-line")
    await tmux("send-keys", "-t", pane, "Enter")

    async def sentinel_echoed() -> str | None:
        screen = await tmux.screen(pane)
        return screen if screen.count("sentinel-line") >= 2 else None

    screen = await eventually(sentinel_echoed)
    assert "hello-elsewhere" not in screen


async def test_the_pane_must_be_in_the_phase_session_when_tina_session_recorded_one(
    tmp_path: Path, tmux: Tmux, worktree: Path
) -> None:
    # The phase's lead was started in tina-<feature>-phase-<phase>: its teammates' panes live
    # there. A pane of the same program in the same directory but another session is not theirs.
    real = await tmux.open("tina-f-phase-1_5", "exec cat", worktree)
    other = await tmux.open("scratch", "exec cat", worktree)
    for pane in (real, other):
        await tmux.running(pane, "cat")
    claude = tmp_path / "claude"
    write_team(
        claude, "t", [member("executor-1", other, worktree), member("reviewer", real, worktree)]
    )
    henv = tmux_henv(claude, tmux)
    wrong = await run_action(message("executor-1", "hi", feature="f", phase="1.5"), henv)
    assert (wrong.ok, wrong.code) == (False, "pane_wrong_session"), wrong
    assert "tina-f-phase-1_5" in wrong.message and "scratch" in wrong.message
    right = await run_action(message("reviewer", "hi", feature="f", phase="1.5"), henv)
    assert right.ok, right


async def test_the_orchestration_worktree_or_the_member_cwd_proves_the_directory(
    tmp_path: Path, tmux: Tmux, worktree: Path
) -> None:
    sub = worktree / "pkg"
    sub.mkdir()
    pane = await tmux.open("agents", "exec cat", sub)
    await tmux.running(pane, "cat")
    claude = tmp_path / "claude"
    write_team(claude, "t", [member("executor-1", pane, None)])
    henv = tmux_henv(claude, tmux)
    # No cwd recorded and no orchestration to ask: nothing proves whose pane it is.
    unproven = await run_action(message("executor-1", "hi"), henv)
    assert (unproven.ok, unproven.code) == (False, "pane_unverifiable"), unproven
    sessions = claude / "tina-sessions"
    sessions.mkdir()
    (sessions / "f.json").write_text(
        json.dumps(
            {"feature": "f", "worktree_path": str(worktree), "created_at": "2026-02-07T16:00:00Z"}
        )
    )
    proven = await run_action(message("executor-1", "hi", feature="f", phase="1"), henv)
    assert proven.ok, proven


async def test_a_multi_line_message_is_one_bracketed_paste_then_one_enter(
    tmp_path: Path, tmux: Tmux, worktree: Path
) -> None:
    script, received = tmp_path / "agent.py", tmp_path / "received.bin"
    script.write_text(BRACKETED_PASTE_AGENT)
    pane = await tmux.open("agents", f"exec {sys.executable} {script} {received}", worktree)
    ready = Path(f"{received}.ready")

    async def agent_ready() -> bool:
        return ready.exists()

    await eventually(agent_ready)
    claude = tmp_path / "claude"
    write_team(claude, "t", [member("executor-1", pane, worktree)])
    text = "first line\nsecond line\twith a tab"
    result = await run_action(message("executor-1", text), tmux_henv(claude, tmux))
    assert result.ok, result

    async def submitted() -> bytes | None:
        data = received.read_bytes() if received.exists() else b""
        return data if data.endswith(b"\r") and b"second" in data else None

    data = await eventually(submitted)
    # The whole message arrives inside one paste (the line break is CR inside the brackets, a
    # new line in the input box, not a submit); the only Enter comes after the paste.
    assert data == b"\x1b[200~first line\rsecond line\twith a tab\x1b[201~\r"
    screen = await tmux.screen(pane)  # what the agent showed: both lines, one paste
    assert "<paste>first line" in screen
    assert "second line" in screen and "</paste>" in screen


async def test_the_pane_is_proven_again_before_enter(
    tmp_path: Path, worktree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pane turns into a shell between the paste and Enter: Enter is never pressed."""
    claude = tmp_path / "claude"
    write_team(claude, "t", [member("executor-1", "%7", worktree)])
    henv = HandlerEnv.build(claude_dir=claude, tina_session="x", tmux_socket="s", timeout=5)
    probes = iter(
        [f"%7\t0\t42\tagents\tclaude\t{worktree}\n", f"%7\t0\t42\tagents\t-bash\t{worktree}\n"]
    )
    calls: list[list[str]] = []

    async def fake_run(
        argv: list[str], henv: HandlerEnv, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        calls.append(argv[3:])  # after `tmux -L s`
        out = next(probes).encode() if argv[3] == "display-message" else b""
        return subprocess.CompletedProcess(argv, 0, out, b"")

    monkeypatch.setattr(_handlers, "_run", fake_run)
    monkeypatch.setattr(tmux_rules, "SEND_PAUSE", 0.0)
    result = await run_action(message("executor-1", "hi"), henv)
    assert (result.ok, result.code) == (False, "pane_is_shell"), result
    assert [c[0] for c in calls] == [
        "display-message",
        "load-buffer",
        "paste-buffer",
        "display-message",
    ]
    assert calls[1][-1] == "-" and calls[2][1:4] == ["-p", "-d", "-b"]  # text on stdin, not argv


@pytest.mark.parametrize("bad", ["\x9b31m", "a\x85b", "\x90x", "\x1b[201~", "a\rb", "\x00"])
async def test_control_characters_other_than_tab_and_lf_are_refused(
    bad: str, tmp_path: Path, tmux: Tmux, worktree: Path
) -> None:
    with pytest.raises(ActionRejected) as info:
        message("executor-1", f"hello {bad}")
    assert info.value.code == "payload_invalid"
    # The handler checks again before it touches tmux, whoever built the action.
    pane = await tmux.open("agents", "exec cat", worktree)
    await tmux.running(pane, "cat")
    claude = tmp_path / "claude"
    write_team(claude, "t", [member("executor-1", pane, worktree)])
    built = InboundAction(
        id="x", type="send_message", team_dir="t", agent_name="executor-1", text=f"hello {bad}"
    )
    result = await run_action(built, tmux_henv(claude, tmux))
    assert (result.ok, result.code) == (False, "unsafe_text"), result
    assert "U+" in result.message


def test_results_go_on_the_wire_as_float64_and_truncated() -> None:
    from tina.daemon.actions import ActionResult
    from tina.daemon.actions._model import truncate

    wire = result_to_wire(
        ActionResult(ok=False, code="x", message="m" * 5000, exit_code=2, duration_ms=3)
    )
    assert wire["exitCode"] == 2.0
    assert isinstance(wire["exitCode"], float)
    assert len(wire["message"]) == 4000
    assert "output" not in wire
    cut = truncate("y" * 10_000)
    assert len(cut) < 8100
    assert cut.endswith("characters cut]")
    assert InboundAction(id="x", type="pause").feature is None
