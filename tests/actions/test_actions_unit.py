from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tina.actions import (
    Action,
    ActionRejected,
    HandlerEnv,
    build_cli_args,
    parse_action,
    run_action,
)


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
    action = parse_action(doc(type_, feature="billing-export", phase="1.5"))
    assert build_cli_args(action, "/x/tina-session") == [
        "/x/tina-session",
        "orchestrate",
        "advance",
        "--feature",
        "billing-export",
        "--phase",
        "1.5",
        "--event",
        event,
    ]


def test_reject_plan_passes_feedback_as_one_argument() -> None:
    feedback = "split the migration; $(rm -rf ~) `x` && y, z"
    action = parse_action(doc("reject_plan", feature="f", phase="2", feedback=feedback))
    assert build_cli_args(action)[-2:] == ["--issues", feedback]


@pytest.mark.parametrize(
    ("document", "code", "needle"),
    [
        ("nope", "payload_invalid", "expected an object"),
        ({"type": "pause", "payload": {}}, "payload_invalid", "missing _id"),
        (doc("format_disk", feature="f", phase="1"), "unknown_action_type", "format_disk"),
        (doc("pause", phase="1"), "payload_missing_field", "payload.feature"),
        (doc("pause", feature="f"), "payload_missing_field", "payload.phase"),
        (doc("pause", feature="../etc", phase="1"), "payload_invalid", "invalid feature name"),
        (doc("pause", feature="f", phase="1-retry"), "payload_invalid", "invalid phase"),
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
        parse_action(document)
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
        "if [ \"$6\" = 9 ]; then echo 'Error: phase 9 not found tina_node_SECRETSECRET' >&2; echo '{\"ok\":false}'; exit 1; fi\n"
        'if [ "$6" = 8 ]; then sleep 5; fi\n'
        'echo \'{"ok":true,"action":{"action":"spawn_executor"}}\'\n'
    )
    script.chmod(0o755)
    return HandlerEnv.build(
        claude_dir=tmp_path / "claude", tina_session=str(script), tmux_socket=None, timeout=2.0
    )


async def test_tina_session_success_and_fixed_environment(
    henv: HandlerEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "leak-me")
    result = await run_action(parse_action(doc("retry", feature="f", phase="1")), henv)
    assert result.ok
    assert result.code == "ok"
    assert result.exit_code == 0
    assert json.loads(result.output or "")["ok"] is True
    assert (tmp_path / "argv.txt").read_text().split() == [
        "orchestrate",
        "advance",
        "--feature",
        "f",
        "--phase",
        "1",
        "--event",
        "retry",
    ]
    env = (tmp_path / "env.txt").read_text()
    assert "leak-me" not in env
    assert f"TINA_CLAUDE_DIR={tmp_path / 'claude'}" in env
    assert result.duration_ms is not None


async def test_tina_session_failure_is_reported_with_secrets_masked(henv: HandlerEnv) -> None:
    result = await run_action(parse_action(doc("retry", feature="f", phase="9")), henv)
    assert not result.ok
    assert result.code == "cli_exit_non_zero"
    assert result.exit_code == 1
    assert "phase 9 not found" in result.message
    assert "SECRET" not in result.message


async def test_timeout_and_missing_binary(henv: HandlerEnv, tmp_path: Path) -> None:
    slow = await run_action(
        parse_action(doc("retry", feature="f", phase="8")),
        HandlerEnv.build(
            claude_dir=tmp_path, tina_session=henv.tina_session, tmux_socket=None, timeout=0.5
        ),
    )
    assert (slow.ok, slow.code) == (False, "timeout")
    missing = await run_action(
        parse_action(doc("retry", feature="f", phase="1")),
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


def member(name: str, pane: str, team: str = "t") -> dict[str, Any]:
    return {
        "agentId": f"{name}@{team}",
        "name": name,
        "joinedAt": 1770480842000,
        "tmuxPaneId": pane,
        "cwd": "/tmp",
    }


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[str]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is required (make test installs it)")
    sock = str(tmp_path / "tmux.sock")
    subprocess.run(
        ["tmux", "-S", sock, "new-session", "-d", "-s", "agents", "-x", "200", "-y", "50", "cat"],
        check=True,
    )
    try:
        yield sock
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], check=False)


async def test_send_message_reaches_a_real_tmux_pane(tmp_path: Path, tmux: str) -> None:
    shown = await trio.run_process(
        ["tmux", "-S", tmux, "display-message", "-p", "-t", "agents", "#{pane_id}"],
        capture_stdout=True,
    )
    pane = shown.stdout.decode().strip()
    claude = tmp_path / "claude"
    write_team(
        claude,
        "t",
        [member("executor-1", pane), member("helper", "in-process"), member("ghost", "%999")],
    )
    henv = HandlerEnv.build(
        claude_dir=claude, tina_session="tina-session", tmux_socket=tmux, timeout=5
    )
    result = await run_action(
        parse_action(
            doc(
                "send_message",
                teamDir="t",
                agentName="executor-1",
                text="please rebase; $(echo no)",
            )
        ),
        henv,
    )
    assert result.ok, result
    assert pane in result.message
    for _ in range(50):
        captured = await trio.run_process(
            ["tmux", "-S", tmux, "capture-pane", "-p", "-t", pane], capture_stdout=True
        )
        screen = captured.stdout.decode()
        if (
            screen.count("please rebase; $(echo no)") >= 2
        ):  # typed, then echoed back by cat after Enter
            break
        await trio.sleep(0.05)
    assert screen.count("please rebase; $(echo no)") >= 2
    inproc = await run_action(
        parse_action(doc("send_message", teamDir="t", agentName="helper", text="hi")), henv
    )
    assert (inproc.ok, inproc.code) == (False, "in_process_teammate")
    ghost = await run_action(
        parse_action(doc("send_message", teamDir="t", agentName="ghost", text="hi")), henv
    )
    assert (ghost.ok, ghost.code) == (False, "pane_gone")
    nobody = await run_action(
        parse_action(doc("send_message", teamDir="t", agentName="nobody", text="hi")), henv
    )
    assert (nobody.ok, nobody.code) == (False, "agent_gone")
    noteam = await run_action(
        parse_action(doc("send_message", teamDir="gone", agentName="x", text="hi")), henv
    )
    assert (noteam.ok, noteam.code) == (False, "team_gone")


def test_results_go_on_the_wire_as_float64_and_truncated() -> None:
    from tina.actions import ActionResult
    from tina.actions._model import truncate

    wire = ActionResult(
        ok=False, code="x", message="m" * 5000, exit_code=2, duration_ms=3
    ).to_wire()
    assert wire["exitCode"] == 2.0
    assert isinstance(wire["exitCode"], float)
    assert len(wire["message"]) == 4000
    assert "output" not in wire
    cut = truncate("y" * 10_000)
    assert len(cut) < 8100
    assert cut.endswith("characters cut]")
    assert Action(id="x", type="pause").feature is None
