"""`tina-session name/exists/stop/capture/attach/start` against a real tmux server (private
socket), a real git worktree and a temporary HOME."""

from __future__ import annotations

from pathlib import Path

import pytest

from .phase_support import FEATURE, Env, Proc, env, needs_tmux, wait_for, worktree

__all__ = ["env", "worktree"]  # fixtures

pytestmark = needs_tmux
S1 = f"tina-{FEATURE}-phase-1"


def missing_session_error(session: str, phase: str) -> str:
    return (
        f"Error: Session '{session}' does not exist.\n\n"
        "To list active sessions: tina-session list\n"
        f"To start a new session: tina-session start --feature {FEATURE} --phase {phase} "
        "--plan <path>\n"
    )


def test_name_replaces_dots_in_the_phase(env: Env) -> None:
    run = env.run("name", "--feature", FEATURE, "--phase", "1.5.5")
    assert (run.code, run.out, run.err) == (0, f"tina-{FEATURE}-phase-1_5_5\n", "")
    assert env.run("name", "--feature", FEATURE, "--phase", "2").out == f"tina-{FEATURE}-phase-2\n"


def test_name_rejects_a_bad_phase(env: Env) -> None:
    run = env.run("name", "--feature", FEATURE, "--phase", "1-retry")
    assert run.code == 1 and run.out == "" and run.err.startswith("Error: ")


def test_exists_and_stop_use_exact_session_names(env: Env, tmp_path: Path) -> None:
    # tmux alone would resolve "tina-billing-export-phase-1" to either of these by prefix
    env.session(f"{S1}_5", "exec cat", tmp_path)
    env.session(f"{S1}0", "exec cat", tmp_path)
    exists = env.run("exists", "--feature", FEATURE, "--phase", "1")
    assert (exists.code, exists.out, exists.err) == (1, "", "")
    stop = env.run("stop", "--feature", FEATURE, "--phase", "1")
    assert (stop.code, stop.out) == (0, f"Session '{S1}' does not exist.\n")
    assert sorted(env.sessions()) == [f"{S1}0", f"{S1}_5"]

    assert env.run("exists", "--feature", FEATURE, "--phase", "1.5").code == 0
    stop = env.run("stop", "--feature", FEATURE, "--phase", "1.5")
    assert (stop.code, stop.out, stop.err) == (0, f"Stopped session '{S1}_5'\n", "")
    assert env.sessions() == [f"{S1}0"]
    assert env.run("exists", "--feature", FEATURE, "--phase", "1.5").code == 1
    assert env.run("exists", "--feature", FEATURE, "--phase", "10").code == 0


def test_exists_without_a_server(env: Env) -> None:
    assert env.run("exists", "--feature", FEATURE, "--phase", "1").code == 1
    stop = env.run("stop", "--feature", FEATURE, "--phase", "1")
    assert (stop.code, stop.out) == (0, f"Session '{S1}' does not exist.\n")


def test_capture_prints_the_pane(env: Env, tmp_path: Path) -> None:
    env.session(f"{S1}0", "printf 'wrong session\\n'; exec cat", tmp_path)
    pane = env.session(S1, "printf 'line one\\nline two\\n'; exec cat", tmp_path)
    env.running(pane, "cat")
    run = env.run("capture", "--feature", FEATURE, "--phase", "1")
    assert run.code == 0, run
    assert run.out.startswith("line one\nline two\n") and "wrong" not in run.out
    assert run.out == env.tmux("capture-pane", "-t", f"={S1}:", "-p", "-S", "-100")
    short = env.run("capture", "--feature", FEATURE, "--phase", "1", "--lines", "0")
    assert short.code == 0 and short.out.startswith("line one\n")


@pytest.mark.parametrize("command", ["capture", "attach"])
def test_capture_and_attach_a_missing_session(env: Env, tmp_path: Path, command: str) -> None:
    env.session(f"{S1}_5", "exec cat", tmp_path)
    run = env.run(command, "--feature", FEATURE, "--phase", "1")
    assert (run.code, run.out, run.err) == (1, "", missing_session_error(S1, "1"))


def test_attach_exits_with_tmux_code(env: Env, tmp_path: Path) -> None:
    env.session(S1, "exec cat", tmp_path)
    run = env.run("attach", "--feature", FEATURE, "--phase", "1")  # no terminal here
    assert run.code == 1 and "terminal" in run.err


def test_capture_rejects_negative_lines(env: Env) -> None:
    run = env.run("capture", "--feature", FEATURE, "--phase", "1", "--lines", "-3")
    assert run.code == 2 and "usage:" in run.err


# --- start ------------------------------------------------------------------------------------


def launched(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def start(env: Env, *args: str, cwd: Path | None = None) -> Proc:
    return env.run("start", "--feature", FEATURE, *args, cwd=cwd)


def test_start_launches_claude_then_the_team_lead_skill(
    env: Env, worktree: Path, tmp_path: Path
) -> None:
    log = tmp_path / "claude.log"
    env.fake_claude("claude", log)
    plan = worktree / "docs" / "plans" / "2026-02-07-billing-export-phase-1.5.md"
    plan.parent.mkdir(parents=True)
    plan.write_text("# plan\n")
    env.session(f"tina-{FEATURE}-phase-1", "exec cat", tmp_path)  # a prefix of the new name
    run = env.run("start", "--feature", FEATURE, "--phase", "1.5", "--plan", str(plan))
    session = f"tina-{FEATURE}-phase-1_5"
    command = f"/tina:team-lead-init team_name: {FEATURE}-phase-1.5 plan_path: {plan}"
    assert run.code == 0, run
    assert run.out == (
        f"Creating session '{session}' in {worktree}\n"
        "Starting Claude (claude) in session...\n"
        "Waiting for Claude to be ready (up to 60s)...\n"
        "Claude is ready.\n"
        f"Sending: {command}\n"
        f"Started phase 1.5 execution in session '{session}'\n"
    )
    assert run.err == ""
    assert wait_for(lambda: launched(log) == ["argv --dangerously-skip-permissions", f"line {command}"])  # fmt: skip
    start_commit = worktree / ".claude" / "tina" / "phase-1.5" / "start-commit"
    assert len(start_commit.read_text().strip()) == 40

    again = env.run("start", "--feature", FEATURE, "--phase", "1.5", "--plan", str(plan))
    assert again.code == 0, again
    assert again.out == (
        f"Session '{session}' already exists. Resuming.\nClaude is ready in existing session.\n"
    )
    assert launched(log)[-1] == f"line {command}"  # nothing typed again
    assert env.run("capture", "--feature", FEATURE, "--phase", "1").out.strip() == ""


def test_start_prefers_claudesp(env: Env, worktree: Path, tmp_path: Path) -> None:
    log = tmp_path / "claudesp.log"
    env.fake_claude("claudesp", log)
    plan = tmp_path / "plan.md"
    plan.write_text("# plan\n")
    run = env.run("start", "--feature", FEATURE, "--phase", "2", "--plan", str(plan))
    assert run.code == 0, run
    assert "Starting Claude (claudesp) in session...\n" in run.out
    assert wait_for(lambda: len(launched(log)) == 2)


def test_start_resolves_a_relative_plan_in_the_worktree_first(
    env: Env, worktree: Path, tmp_path: Path
) -> None:
    env.fake_claude("claude", tmp_path / "claude.log")
    (worktree / "docs" / "plans").mkdir(parents=True)
    (worktree / "docs" / "plans" / "p.md").write_text("# in the worktree\n")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "docs" / "plans").mkdir(parents=True)
    (elsewhere / "docs" / "plans" / "p.md").write_text("# beside the caller\n")
    (elsewhere / "only-here.md").write_text("# beside the caller\n")

    run = start(env, "--phase", "1", "--plan", "docs/plans/p.md", cwd=elsewhere)
    assert run.code == 0, run
    assert f"plan_path: {worktree / 'docs' / 'plans' / 'p.md'}\n" in run.out

    run = start(env, "--phase", "2", "--plan", "only-here.md", cwd=elsewhere)
    assert run.code == 0, run
    assert f"plan_path: {elsewhere.resolve() / 'only-here.md'}\n" in run.out


def test_start_with_a_missing_plan(env: Env, worktree: Path) -> None:
    run = env.run("start", "--feature", FEATURE, "--phase", "1", "--plan", "docs/nope.md")
    assert (run.code, run.out, run.err) == (1, "", "Error: File not found: docs/nope.md\n")
    assert env.sessions() == []


def test_start_a_phase_beyond_the_total(env: Env, worktree: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text("# plan\n")
    run = env.run("start", "--feature", FEATURE, "--phase", "3", "--plan", str(plan))
    assert (run.code, run.out) == (1, "")
    assert run.err == (
        "Error: Phase 3 does not exist (total phases: 2).\n\n"
        "Valid phases: 1-2\n"
        "Remediation phases (e.g., 1.5, 2.5) are created dynamically.\n"
    )
    assert env.sessions() == []


def test_start_an_uninitialized_feature(env: Env, tmp_path: Path) -> None:
    run = env.run("start", "--feature", "nobody", "--phase", "1", "--plan", str(tmp_path))
    assert run.code == 1
    assert run.err == "Error: Feature 'nobody' not initialized. Run 'tina-session init' first.\n"


def test_start_does_not_take_a_shell_prompt_for_claude(
    env: Env, worktree: Path, tmp_path: Path
) -> None:
    """The shell's prompt starts with '>' and claude is missing: the original saw "ready" at
    once and typed the team-lead command into the shell."""
    rc = tmp_path / "shrc"
    rc.write_text("PS1='> '\n")
    env.vars["ENV"] = str(rc)
    env.vars["TINA_SESSION_READY_TIMEOUT"] = "3"
    ran = worktree / "typed-into-the-shell"  # no claude in env.bin
    plan = tmp_path / f"plan;touch {ran.name};.md"
    plan.write_text("# plan\n")
    run = env.run("start", "--feature", FEATURE, "--phase", "1", "--plan", str(plan))
    assert run.code == 1, run
    assert "Waiting for Claude to be ready (up to 3s)...\n" in run.out
    assert "Sending:" not in run.out
    assert run.err.startswith(
        "Warning: Claude not ready after 3 seconds\n"
        "Proceeding anyway, but Claude may not be ready.\n"
        f"Error: claude did not start in session '{S1}': its pane still runs a shell (sh)"
    )
    pane = env.run("capture", "--feature", FEATURE, "--phase", "1").out
    assert "not found" in pane and "team-lead-init" not in pane
    assert not ran.exists()


def test_start_proceeds_when_claude_shows_no_prompt(
    env: Env, worktree: Path, tmp_path: Path
) -> None:
    log = tmp_path / "claude.log"
    env.fake_claude("claude", log)
    env.vars.update({"TINA_SESSION_READY_TIMEOUT": "5", "FAKE_CLAUDE_SILENT": "1"})
    plan = tmp_path / "plan.md"
    plan.write_text("# plan\n")
    run = env.run("start", "--feature", FEATURE, "--phase", "1", "--plan", str(plan))
    assert run.code == 0, run
    assert "Claude is ready" not in run.out
    assert run.err == (
        "Warning: Claude not ready after 5 seconds\n"
        "Proceeding anyway, but Claude may not be ready.\n"
    )
    assert wait_for(lambda: len(launched(log)) == 2)


def test_start_install_deps(env: Env, worktree: Path, tmp_path: Path) -> None:
    env.fake_claude("claude", tmp_path / "claude.log")
    npm_log = tmp_path / "npm.log"
    npm = env.bin / "npm"
    npm.write_text(f'#!/bin/sh\necho "$PWD $*" >> {npm_log}\necho noise\nexit 3\n')
    npm.chmod(0o755)
    (worktree / "package.json").write_text("{}\n")
    plan = tmp_path / "plan.md"
    plan.write_text("# plan\n")
    run = start(env, "--phase", "1", "--plan", str(plan), "--install-deps")
    assert run.code == 0, run
    assert npm_log.read_text() == f"{worktree} install\n"
    assert run.err == (
        "Installing npm dependencies...\nWarning: npm install exited with exit status: 3\n"
    )
    assert "noise" not in run.out


def test_start_after_a_blocked_lead_starts_a_fresh_one(
    env: Env, worktree: Path, tmp_path: Path
) -> None:
    # The orchestrator's retry of a blocked phase: the phase executor runs `start` again. The
    # blocked lead (still alive, as real leads stay) is stopped, its verdict kept aside, and a
    # new lead gets the team-lead command, so `wait` follows the new attempt, not the old one.
    log = tmp_path / "claude.log"
    env.fake_claude("claude", log)
    plan = tmp_path / "plan.md"
    plan.write_text("# plan\n")
    first = env.run("start", "--feature", FEATURE, "--phase", "1", "--plan", str(plan))
    assert first.code == 0, first
    status = worktree / ".claude" / "tina" / "phase-1" / "status.json"
    status.write_text('{"status":"blocked","reason":"Verification gate failed"}')

    again = env.run("start", "--feature", FEATURE, "--phase", "1", "--plan", str(plan))
    assert again.code == 0, again
    assert again.out.startswith(
        f"Stopped session '{S1}': its lead had blocked the phase.\nBlocked status kept as "
    )
    assert "Resuming" not in again.out
    assert f"Started phase 1 execution in session '{S1}'\n" in again.out
    assert not status.exists()
    (kept,) = status.parent.glob("status.blocked-*.json")
    assert "Verification gate failed" in kept.read_text()
    command = f"/tina:team-lead-init team_name: {FEATURE}-phase-1 plan_path: {plan}"
    assert wait_for(lambda: launched(log).count(f"line {command}") == 2)
    assert launched(log).count("argv --dangerously-skip-permissions") == 2  # a new claude
    assert env.run("status", "--feature", FEATURE, "--phase", "1").json()["status"] == "waiting"


def test_start_resumes_a_lead_that_is_still_working(
    env: Env, worktree: Path, tmp_path: Path
) -> None:
    env.fake_claude("claude", tmp_path / "claude.log")
    plan = tmp_path / "plan.md"
    plan.write_text("# plan\n")
    assert env.run("start", "--feature", FEATURE, "--phase", "1", "--plan", str(plan)).code == 0
    status = worktree / ".claude" / "tina" / "phase-1" / "status.json"
    status.write_text('{"status":"executing"}')
    again = env.run("start", "--feature", FEATURE, "--phase", "1", "--plan", str(plan))
    assert again.out.startswith(f"Session '{S1}' already exists. Resuming.\n"), again
    assert status.read_text() == '{"status":"executing"}'
