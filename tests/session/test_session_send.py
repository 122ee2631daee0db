"""`tina-session send` against a real tmux server on an isolated socket.

The original typed the text with `send-keys` (key names interpreted) into whatever the session
showed. Ours pastes it as one buffer into the session's pane after proving the pane is the
phase lead's (inside the worktree, not a plain shell), then presses Enter once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tina.dev.fakes import BRACKETED_PASTE_AGENT
from tina.session import tmux

from .phase_support import FEATURE, Env, env, needs_tmux, wait_for, worktree

__all__ = ["env", "worktree"]  # fixtures

pytestmark = needs_tmux
SESSION = f"tina-{FEATURE}-phase-1_5"


def send(env: Env, text: str, phase: str = "1.5", feature: str = FEATURE) -> tuple[int, str, str]:
    run = env.run("send", "--feature", feature, "--phase", phase, f"--text={text}")
    return run.code, run.out, run.err


def missing(session: str, phase: str, feature: str = FEATURE) -> str:
    return (
        f"Error: Session '{session}' does not exist.\n\n"
        "To list active sessions: tina-session list\n"
        f"To start a new session: tina-session start --feature {feature} --phase {phase} "
        "--plan <path>\n"
    )


def test_send_types_text_literally_then_enter(env: Env, worktree: Path, tmp_path: Path) -> None:
    out = tmp_path / "received.txt"
    pane = env.session(SESSION, f"exec cat > {out}", worktree)
    env.running(pane, "cat")
    text = "-n fix it; $(rm -rf /) `x` \"quoted\" 'single' Enter C-c"
    assert send(env, text) == (0, f"Sent to {SESSION}: {text}\n", "")
    assert wait_for(lambda: out.read_text() == text + "\n")


def test_send_delivers_several_lines_as_one_bracketed_paste_then_enter(
    env: Env, worktree: Path, tmp_path: Path
) -> None:
    script, received = tmp_path / "agent.py", tmp_path / "received.bin"
    script.write_text(BRACKETED_PASTE_AGENT)
    env.session(SESSION, f"exec {sys.executable} {script} {received}", worktree)
    wait_for(Path(f"{received}.ready").exists)
    code, out, _ = send(env, "rebase first\nthen test")
    assert (code, out) == (0, f"Sent to {SESSION}: rebase first\nthen test\n")
    data = wait_for(lambda: received.exists() and received.read_bytes().endswith(b"\r") and received.read_bytes())  # fmt: skip
    assert data == b"\x1b[200~rebase first\rthen test\x1b[201~\r"


def test_send_an_empty_text_presses_enter(env: Env, worktree: Path, tmp_path: Path) -> None:
    out = tmp_path / "received.txt"
    pane = env.session(SESSION, f"exec cat > {out}", worktree)
    env.running(pane, "cat")
    assert send(env, "") == (0, f"Sent to {SESSION}: \n", "")
    assert wait_for(lambda: out.read_text() == "\n")


def test_send_refuses_a_session_whose_pane_runs_a_plain_shell(
    env: Env, worktree: Path, tmp_path: Path
) -> None:
    # The agent exited (or never started) and left its shell behind: typing would run the text.
    pane = env.session(SESSION, "exec bash --norc --noprofile", worktree)
    env.running(pane, "bash")
    marker = tmp_path / "message-ran"
    code, out, err = send(env, f"touch {marker}")
    assert (code, out) == (1, "")
    assert err.startswith("Error: refused to type into tmux pane") and "plain shell (bash)" in err
    sentinel = tmp_path / "sentinel"
    env.tmux("send-keys", "-t", pane, "-l", f"touch {sentinel}")
    env.tmux("send-keys", "-t", pane, "Enter")
    wait_for(sentinel.exists)  # the shell ran what came after: the message never came
    assert not marker.exists()


def test_send_refuses_a_pane_outside_the_worktree(env: Env, worktree: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "received.txt"
    pane = env.session(SESSION, f"exec cat > {out}", elsewhere)
    env.running(pane, "cat")
    code, _, err = send(env, "hello")
    assert code == 1 and "is outside" in err and str(worktree) in err
    env.tmux("send-keys", "-t", pane, "-l", "sentinel")
    env.tmux("send-keys", "-t", pane, "Enter")
    assert wait_for(lambda: out.read_text()) == "sentinel\n"


def test_send_proves_the_pane_again_before_enter(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The pane turns into a shell between the paste and Enter: Enter is never pressed."""
    probes = iter(
        [f"%3\t0\t9\t{SESSION}\tclaude\t{tmp_path}\n", f"%3\t0\t9\t{SESSION}\tzsh\t{tmp_path}\n"]
    )
    calls: list[list[str]] = []

    def fake_run(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        calls.append(argv[3:])  # after `tmux -L s`
        out = next(probes) if argv[3] == "display-message" else ""
        return subprocess.CompletedProcess(argv, 0, out, "")

    monkeypatch.setattr(tmux, "_run", fake_run)
    env = {"PATH": os.environ.get("PATH", ""), "TINA_TMUX_SOCKET": "s"}
    with pytest.raises(tmux.PaneRefused) as info:
        tmux.send_text(SESSION, "hi\nthere", roots=[str(tmp_path)], env=env, pause=0)
    assert info.value.code == "pane_is_shell"
    assert [c[0] for c in calls] == [
        "has-session",
        "display-message",
        "load-buffer",
        "paste-buffer",
        "display-message",
    ]
    assert calls[0][-1] == f"={SESSION}"  # exact, never a prefix
    assert calls[3][-2:] == ["-t", "%3"]  # the pane proven first, not whatever is active now


@pytest.mark.parametrize("bad", ["\x9b2J", "a\x85b", "\x1b[201~", "a\rb", "\x07"])
def test_send_refuses_control_characters(
    env: Env, worktree: Path, tmp_path: Path, bad: str
) -> None:
    out = tmp_path / "received.txt"
    pane = env.session(SESSION, f"exec cat > {out}", worktree)
    env.running(pane, "cat")
    code, stdout, err = send(env, f"hi {bad}")
    assert (code, stdout) == (1, "") and "U+" in err


def test_send_to_a_missing_session(env: Env, worktree: Path, tmp_path: Path) -> None:
    # tmux would resolve "tina-billing-export-phase-1" to this session by prefix
    env.session(f"tina-{FEATURE}-phase-10", "exec cat", worktree)
    assert send(env, "hello", phase="1") == (1, "", missing(f"tina-{FEATURE}-phase-1", "1"))


def test_send_for_an_uninitialized_feature(env: Env, tmp_path: Path) -> None:
    env.session("tina-nobody-phase-1", "exec cat", tmp_path)
    code, _, err = send(env, "hello", phase="1", feature="nobody")
    assert (code, err) == (1, "Error: Feature 'nobody' not initialized. Run 'tina-session init' first.\n")  # fmt: skip


def test_send_without_tmux(env: Env, worktree: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env.vars["PATH"] = str(empty)
    assert send(env, "hello", phase="1") == (1, "", missing(f"tina-{FEATURE}-phase-1", "1"))


def test_send_validates_arguments(env: Env) -> None:
    assert send(env, "x", phase="1-retry")[0] == 1
    missing_text = env.run("send", "--feature", FEATURE, "--phase", "1")
    assert missing_text.code == 2 and "--text" in missing_text.err
