"""The stand-in lead runs Claude Code's hooks as Claude Code does, and its scenario's stories
write what a person would be asked for in Claude Code's shapes (reference §5, §6, §8)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from tina.daemon import control
from tina.daemon.actors.hooks import Hooks
from tina.dev.sim import standin_claude
from tina.dev.sim.claude_hooks import (
    HookRun,
    HookRunner,
    handlers_for,
    permission_decision,
    settings_files,
    transcript_path,
)
from tina.dev.sim.sandbox import BIN
from tina.hooks import settings as hs
from tina.messages import HookEvent

from .standin_world import StandinWorld

FAST = {"step_secs": 0.0}
FIRED = (
    "SessionStart", "SessionEnd", "UserPromptSubmit", "PreToolUse", "PostToolUse",
    "PermissionRequest", "Stop", "StopFailure", "TaskCreated", "TaskCompleted", "TeammateIdle",
)  # fmt: skip
COMMON = {"session_id", "transcript_path", "cwd", "hook_event_name", "permission_mode"}

# A hook that records what it got: argv, stdin, cwd, the environment Claude Code sets; and, for
# a PermissionRequest, prints the decision in $DECISION_FILE if there is one.
RECORDER = """\
import json, os, sys
doc = json.load(sys.stdin)
with open(os.environ["RECORD_FILE"], "a") as f:
    f.write(json.dumps({"argv": sys.argv, "input": doc, "cwd": os.getcwd(),
                        "project": os.environ.get("CLAUDE_PROJECT_DIR")}) + "\\n")
decision = os.environ.get("DECISION_FILE")
if doc["hook_event_name"] == "PermissionRequest" and decision and os.path.exists(decision):
    sys.stdout.write(open(decision).read())
"""


# --- pure ----------------------------------------------------------------------------------------


def group(command: str, matcher: str | None = None) -> dict[str, Any]:
    g: dict[str, Any] = {"hooks": [{"type": "command", "command": command}]}
    if matcher is not None:
        g["matcher"] = matcher
    return g


def test_matchers_pick_the_groups_and_identical_commands_run_once() -> None:
    user = {"hooks": {"PreToolUse": [group("a"), group("b", "Edit|Write"), group("c", "Bash")]}}
    project = {"hooks": {"PreToolUse": [group("a", "*"), group("d", "")]}}
    names = [
        h["command"] for h in handlers_for("PreToolUse", {"tool_name": "Bash"}, [user, project])
    ]
    assert names == ["a", "c", "d"]
    # Matcherless events ignore the matcher; other events match their own field.
    stop = {"hooks": {"Stop": [group("s", "Nope")], "SessionEnd": [group("e", "clear")]}}
    assert [h["command"] for h in handlers_for("Stop", {}, [stop])] == ["s"]
    assert handlers_for("SessionEnd", {"reason": "other"}, [stop]) == []
    assert handlers_for("SessionEnd", {"reason": "clear"}, [stop])[0]["command"] == "e"
    # disableAllHooks anywhere: nothing runs. Non-command handlers are not run by the stand-in.
    assert handlers_for("Stop", {}, [stop, {"disableAllHooks": True}]) == []
    http = {"hooks": {"Stop": [{"hooks": [{"type": "http", "url": "http://x"}]}]}}
    assert handlers_for("Stop", {}, [http]) == []


def test_the_transcript_path_encodes_the_cwd(tmp_path: Path) -> None:
    path = transcript_path(tmp_path, Path("/home/dev/my.repo"), "abc")
    assert path == tmp_path / "projects" / "-home-dev-my-repo" / "abc.jsonl"


def test_a_session_with_a_config_dir_of_its_own_keeps_its_settings_and_transcript_there(
    tmp_path: Path,
) -> None:
    home, work, cwd = tmp_path / "home", tmp_path / "work", Path("/home/dev/repo")
    default = HookRunner({"HOME": str(home)}, cwd, "abc")
    assert default.transcript == transcript_path(home / ".claude", cwd, "abc")
    assert settings_files({"HOME": str(home)}, cwd)[0] == home / ".claude" / "settings.json"
    env = {"HOME": str(home), "CLAUDE_CONFIG_DIR": str(work)}
    assert HookRunner(env, cwd, "abc").transcript == transcript_path(work, cwd, "abc")
    assert HookRunner(env, cwd, "abc").payload("Stop", {})["transcript_path"] == str(
        work / "projects" / "-home-dev-repo" / "abc.jsonl"
    )
    assert settings_files(env, cwd)[0] == work / "settings.json"


def run_of(stdout: str, code: int | None = 0) -> HookRun:
    return HookRun(event="PermissionRequest", command="x", returncode=code, stdout=stdout,
                   stderr="", seconds=0.0)  # fmt: skip


def test_the_permission_decision_is_read_as_claude_code_reads_it() -> None:
    def out(decision: dict[str, Any]) -> str:
        doc = {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}}
        return json.dumps(doc)

    allow, deny = {"behavior": "allow"}, {"behavior": "deny", "message": "no"}
    assert permission_decision([run_of(out(allow))]) == allow
    assert permission_decision([run_of(out(allow)), run_of(out(deny))]) == deny
    assert permission_decision([run_of("")]) is None
    assert permission_decision([run_of(out(allow), code=2)]) is None
    assert permission_decision([run_of("not json")]) is None


# --- whole runs ----------------------------------------------------------------------------------


class World(StandinWorld):
    """A home whose Claude Code settings run `command` for every event the stand-in fires, a
    worktree with a plan, and the stand-in `claude`."""

    RUN_TIMEOUT = 120.0

    def __init__(self, root: Path) -> None:
        self.records = root / "hooks.jsonl"
        self.decision = root / "decision.json"
        self.recorder = root / "record.py"
        self.recorder.write_text(RECORDER)
        super().__init__(
            root,
            RECORD_FILE=str(self.records),
            DECISION_FILE=str(self.decision),
            TMUX_PANE="",
        )
        self.init_line = f"/tina:team-lead-init team_name: f-phase-1 plan_path: {self.plan}"

    def settings(self, command: str, events: tuple[str, ...] = FIRED) -> None:
        doc = {"hooks": {e: [{"hooks": [{"type": "command", "command": command}]}] for e in events}}
        (self.home / ".claude" / "settings.json").write_text(json.dumps(doc))

    def record_all(self) -> None:
        self.settings(f"{sys.executable} {self.recorder} recorded")

    def popen(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(self.claude), "--dangerously-skip-permissions"], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, cwd=self.worktree, env=self.env, text=True,
        )  # fmt: skip

    def recorded(self) -> list[dict[str, Any]]:
        if not self.records.exists():
            return []
        return [json.loads(line) for line in self.records.read_text().splitlines()]

    def inputs(self, event: str | None = None) -> list[dict[str, Any]]:
        docs = [r["input"] for r in self.recorded()]
        return [d for d in docs if event is None or d["hook_event_name"] == event]

    def config(self) -> dict[str, Any]:
        doc = json.loads((self.home / ".claude/teams/f-phase-1/config.json").read_text())
        assert isinstance(doc, dict)
        return doc

    def inbox(self, agent: str) -> list[dict[str, Any]]:
        path = self.home / ".claude/teams/f-phase-1/inboxes" / f"{agent}.json"
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            return []
        return [json.loads(e["text"]) | {"_from": e["from"]} for e in doc if e["text"][:1] == "{"]

    def tasks(self) -> list[dict[str, Any]]:
        directory = self.home / ".claude/tasks/f-phase-1"
        out = []
        for p in sorted(directory.glob("*.json")):
            try:
                out.append(json.loads(p.read_text()))
            except ValueError:  # being replaced
                continue
        return out

    def status(self) -> str | None:
        try:
            doc = json.loads((self.worktree / ".claude/tina/phase-1/status.json").read_text())
        except (OSError, ValueError):
            return None
        return str(doc["status"])

    def log(self) -> list[dict[str, Any]]:
        path = self.home / ".claude" / standin_claude.LOG_NAME
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def world() -> Iterator[World]:
    # Short: the daemon's AF_UNIX socket lives under it in the test with the real `tina hook`.
    with tempfile.TemporaryDirectory(prefix="tina-sh-") as d:
        yield World(Path(d))


def until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_each_event_runs_the_installed_command_with_claude_codes_input(world: World) -> None:
    world.record_all()
    world.scenario({"default": {**FAST, "tasks": 2}})
    result = world.run(world.init_line)
    assert result.returncode == 0, result.stderr
    records = world.recorded()
    # argv as the settings have it, run through a shell, in the project with CLAUDE_PROJECT_DIR.
    assert {tuple(r["argv"][1:]) for r in records} == {("recorded",)}
    assert {(r["cwd"], r["project"]) for r in records} == {(str(world.worktree),) * 2}
    docs = [r["input"] for r in records]
    session = world.config()["leadSessionId"]
    for doc in docs:
        assert set(doc) >= COMMON, doc
        assert doc["session_id"] == session
        assert doc["cwd"] == str(world.worktree)
        assert doc["permission_mode"] == "bypassPermissions"
    transcript = Path(docs[0]["transcript_path"])
    assert transcript.name == f"{session}.jsonl" and transcript.exists()

    events = [d["hook_event_name"] for d in docs]
    assert events[0] == "SessionStart" and events[-1] == "SessionEnd"
    assert events[1:4] == ["UserPromptSubmit", "TaskCreated", "TaskCreated"]
    assert events[-2] == "Stop"
    per_task = ["PreToolUse", "PostToolUse", "TaskCompleted", "TeammateIdle"]
    work = [e for e in events if e in per_task]
    assert work == per_task * 2

    start, *_ = world.inputs("SessionStart")
    assert (start["source"], start["model"]) == ("startup", standin_claude.MODEL)
    assert world.inputs("SessionEnd")[0]["reason"] == "prompt_input_exit"
    assert world.inputs("UserPromptSubmit")[0]["prompt"] == world.init_line
    created = world.inputs("TaskCreated")[0]
    assert created["task_id"] == "1" and created["task_subject"] == "Task 1: Add the parser"
    assert created["team_name"] == "f-phase-1" and created["task_description"]
    done = world.inputs("TaskCompleted")[0]
    assert (done["task_id"], done["teammate_name"], done["team_name"]) == (
        "1", "worker", "f-phase-1")  # fmt: skip
    idle = world.inputs("TeammateIdle")[0]
    assert (idle["teammate_name"], idle["team_name"]) == ("worker", "f-phase-1")
    pre, post = world.inputs("PreToolUse")[0], world.inputs("PostToolUse")[0]
    assert pre["tool_name"] == "Bash" and pre["tool_use_id"].startswith("toolu_")
    assert "git commit" in pre["tool_input"]["command"]
    assert post["tool_use_id"] == pre["tool_use_id"] and post["tool_input"] == pre["tool_input"]
    assert set(post["tool_response"]) == {"stdout", "stderr", "interrupted", "isImage"}
    assert isinstance(post["duration_ms"], int)
    stop = world.inputs("Stop")[0]
    assert stop["stop_hook_active"] is False
    assert stop["last_assistant_message"] == "Phase 1 complete."


def test_nothing_installed_nothing_run(world: World) -> None:
    world.scenario({"default": FAST})
    assert world.run(world.init_line).returncode == 0
    assert world.recorded() == []
    assert not [e for e in world.log() if e["event"] == "hook"]


def test_a_hangup_ends_the_session_with_session_end(world: World) -> None:
    world.record_all()
    world.scenario({"default": FAST})
    proc = world.popen()
    try:
        until(lambda: world.inputs("SessionStart"), "SessionStart")
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(60) == 128 + signal.SIGHUP
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdin is not None
        proc.stdin.close()
    assert [d["reason"] for d in world.inputs("SessionEnd")] == ["other"]


@pytest.mark.parametrize(
    ("decision", "keyboard", "committed", "source"),
    [
        ({"behavior": "allow"}, "deny", True, "hook"),
        ({"behavior": "deny", "message": "not now"}, "allow", False, "hook"),
        (None, "deny", False, "keyboard"),
        (None, "allow", True, "keyboard"),
    ],
)
def test_a_permission_request_waits_for_the_decision_and_honours_it(
    world: World, decision: dict[str, Any] | None, keyboard: str, committed: bool, source: str
) -> None:
    world.record_all()
    if decision is not None:
        out = {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}}
        world.decision.write_text(json.dumps(out))
    world.scenario({"default": {**FAST, "tasks": 2, "permission_request": True,
                                "keyboard_answer": keyboard}})  # fmt: skip
    assert world.run(world.init_line).returncode == 0
    [request] = world.inputs("PermissionRequest")
    assert set(request) >= COMMON
    assert request["tool_name"] == "Bash" and "tool_use_id" not in request
    assert "git commit" in request["tool_input"]["command"]
    assert request["permission_suggestions"][0]["type"] == "addRules"
    events = [d["hook_event_name"] for d in world.inputs()]
    first = events.index("PreToolUse")
    assert events[first + 1] == "PermissionRequest"
    # Allowed: the tool runs and PostToolUse follows; denied: neither.
    assert (events[first + 2] == "PostToolUse") is committed
    subjects = world.git("log", "--format=%s").splitlines()
    assert ("phase 1: Task 1: Add the parser" in subjects) is committed
    assert "phase 1: Task 2: simulated work item 2" in subjects  # only the first one asks
    [said] = [e for e in world.log() if e["event"] == "permission"]
    assert (said["behavior"] == "allow", said["source"]) == (committed, source)


def test_a_rate_limit_ends_the_turn_with_stop_failure_then_the_work_goes_on(world: World) -> None:
    world.record_all()
    world.scenario({"default": {**FAST, "tasks": 2, "rate_limit_secs": 0.2}})
    assert world.run(world.init_line).returncode == 0
    [failure] = world.inputs("StopFailure")
    assert set(failure) >= COMMON
    assert failure["error"] == "rate_limit"
    assert "reset at " in failure["last_assistant_message"]
    assert "resets " in failure["error_details"]
    events = [d["hook_event_name"] for d in world.inputs()]
    after = events[events.index("StopFailure") + 1 :]
    assert after[0] == "UserPromptSubmit" and "TaskCompleted" in after
    assert world.inputs("UserPromptSubmit")[-1]["prompt"] == "continue"
    status = json.loads((world.worktree / ".claude/tina/phase-1/status.json").read_text())
    assert status["status"] == "complete"


def test_the_stories_write_claude_codes_shapes_while_they_last(world: World) -> None:
    world.record_all()
    # Each state is read while it lasts (and the requests seen unanswered), so every story lasts
    # far longer than a busy machine could take to read them all; the test ends when they do.
    secs = 20.0
    world.scenario({"default": {
        **FAST, "tasks": 1, "teammate_permission_secs": secs, "plan_approval_secs": secs,
        "idle_with_task_secs": secs, "stall_secs": secs,
    }})  # fmt: skip
    proc = world.popen()
    assert proc.stdin is not None
    try:
        proc.stdin.write(world.init_line + "\n")
        proc.stdin.flush()

        def lead_has(kind: str) -> dict[str, Any] | None:
            return next((m for m in world.inbox("team-lead") if m["type"] == kind), None)

        # A pane teammate's permission_request, snake_case keys as a live capture has them.
        request = until(lambda: lead_has("permission_request"), "a permission_request")
        assert set(request) - {"_from"} == {
            "type", "request_id", "agent_id", "tool_name", "tool_use_id", "description",
            "input", "permission_suggestions"}  # fmt: skip
        assert request["_from"] == request["agent_id"] == standin_claude.PANE_TEAMMATE
        assert request["request_id"].startswith("perm-")
        assert isinstance(request["input"], dict) and request["tool_name"] == "Bash"
        members = {m["name"]: m for m in world.config()["members"]}
        pane = members[standin_claude.PANE_TEAMMATE]
        assert pane["backendType"] == "tmux" and pane["tmuxPaneId"].startswith("%")
        # A plan_approval_request from a teammate in plan mode.
        plan = until(lambda: lead_has("plan_approval_request"), "a plan_approval_request")
        assert set(plan) - {"_from"} == {"type", "from", "timestamp", "planContent", "requestId"}
        assert plan["from"] == standin_claude.PLAN_TEAMMATE and plan["planContent"]
        assert members[standin_claude.PLAN_TEAMMATE]["planModeRequired"] is True

        # An idle teammate owning an open task; a working one that has gone silent.
        def owned_open(name: str) -> list[dict[str, Any]]:
            return [t for t in world.tasks() if t.get("owner") == name
                    and t["status"] != "completed" and not t.get("metadata", {}).get("_internal")]  # fmt: skip

        def active(name: str) -> bool | None:
            member = next((m for m in world.config()["members"] if m["name"] == name), None)
            return None if member is None else member.get("isActive")

        until(lambda: owned_open(standin_claude.IDLE_TEAMMATE)
              and active(standin_claude.IDLE_TEAMMATE) is False, "an idle teammate with a task")  # fmt: skip
        # The stall story runs in its own thread: its task is owned a moment before its teammate is
        # marked working, so its state is waited for too, not read at one instant.
        until(lambda: owned_open(standin_claude.STALL_TEAMMATE)
              and active(standin_claude.STALL_TEAMMATE) is True, "a silent working teammate")  # fmt: skip
        # No answers yet: the requests are still open.
        assert not [m for m in world.inbox(standin_claude.PANE_TEAMMATE)
                    if m["type"] == "permission_response"]  # fmt: skip

        # The lead answers later, in the teammates' inboxes.
        def answered(agent: str, kind: str) -> dict[str, Any] | None:
            return next((m for m in world.inbox(agent) if m["type"] == kind), None)

        response = until(
            lambda: answered(standin_claude.PANE_TEAMMATE, "permission_response"), "the answer"
        )
        assert response["request_id"] == request["request_id"]
        assert response["subtype"] == "success" and "updated_input" in response["response"]
        approval = until(
            lambda: answered(standin_claude.PLAN_TEAMMATE, "plan_approval_response"), "approval"
        )
        assert approval["request_id"] == plan["requestId"] and approval["approve"] is True
        until(lambda: world.status() == "complete", "the phase to complete", timeout=120.0)
    finally:
        proc.communicate("", timeout=60)
    assert not owned_open(standin_claude.IDLE_TEAMMATE)
    assert not owned_open(standin_claude.STALL_TEAMMATE)
    completed = {d["teammate_name"] for d in world.inputs("TaskCompleted")}
    assert set(standin_claude.STORY_TEAMMATES) <= completed


async def test_the_real_tina_hook_as_installed_reaches_the_daemon_and_its_decision_is_honoured(
    world: World,
) -> None:
    # The settings `tina hooks install` writes: `<tina> hook` for each of its events.
    command = hs.default_command()
    assert command.endswith(" hook") and str(BIN / "tina") in command
    settings = hs.install({}, command=command, permission_timeout=60)
    (world.home / ".claude" / "settings.json").write_text(json.dumps(settings))
    state = world.root / "state"
    world.env["TINA_STATE_DIR"] = str(state)
    world.scenario({"default": {**FAST, "tasks": 1, "permission_request": True,
                                "keyboard_answer": "allow"}})  # fmt: skip
    hooks = Hooks(buffer=256)
    asked: list[HookEvent] = []

    async def decide(event: HookEvent) -> dict[str, Any] | None:
        asked.append(event)
        return {"behavior": "deny", "message": "not from the phone"}

    async with trio.open_nursery() as nursery:
        await nursery.start(
            partial(control.serve, state / "daemon.sock", dict, on_hook=hooks.offer,
                    on_permission=decide)
        )  # fmt: skip
        done = await trio.run_process(
            [str(world.claude), "--dangerously-skip-permissions"],
            stdin=(world.init_line + "\n").encode(), capture_stdout=True, capture_stderr=True,
            cwd=world.worktree, env=world.env, check=False,
        )  # fmt: skip
        nursery.cancel_scope.cancel()
    assert done.returncode == 0, done.stderr
    got: list[HookEvent] = []
    while True:
        try:
            got.append(hooks.receive.receive_nowait())
        except trio.WouldBlock:
            break
    session = world.config()["leadSessionId"]
    assert {e.session_id for e in got} == {session}
    assert {e.cwd for e in got} == {str(world.worktree)}
    names = [e.event for e in got]
    installed = set(hs.EVENTS)
    assert names[0] == "SessionStart" and names[-1] == "SessionEnd"
    assert set(names) <= installed  # only what is installed runs
    assert {"TaskCreated", "TaskCompleted", "TeammateIdle", "Stop", "PermissionRequest"} <= set(
        names
    )
    [request] = asked
    assert request.tool_name == "Bash" and request.permission_suggestions
    [said] = [e for e in world.log() if e["event"] == "permission"]
    assert (said["behavior"], said["source"], said["message"]) == (
        "deny", "hook", "not from the phone")  # fmt: skip
    assert "phase 1: Task 1: Add the parser" not in world.git("log", "--format=%s")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_in_tmux_the_pane_teammate_has_a_live_pane_until_it_shuts_down(world: World) -> None:
    socket = str(world.root / "tmux.sock")
    env = {**world.env, "TINA_TMUX_SOCKET": socket}
    del env["TMUX_PANE"]

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-S", socket, *args], env=env, capture_output=True, text=True, timeout=10,
            check=True,
        ).stdout.strip()  # fmt: skip

    # The pane lives as long as the request waits: long enough to be seen on a busy machine.
    world.scenario({"default": {**FAST, "tasks": 1, "teammate_permission_secs": 15.0}})
    tmux("new-session", "-d", "-s", "lead", "-c", str(world.worktree), "-x", "200", "-y", "50",
         f"{world.claude} --dangerously-skip-permissions")  # fmt: skip
    try:
        prompt = standin_claude.PROMPT.strip()  # capture-pane drops trailing blanks
        until(lambda: prompt in tmux("capture-pane", "-p", "-t", "lead"), "the prompt")
        tmux("send-keys", "-t", "lead", "-l", world.init_line)
        tmux("send-keys", "-t", "lead", "Enter")

        def pane_of_tester() -> str | None:
            try:
                members = world.config()["members"]
            except (OSError, ValueError):
                return None
            member = next((m for m in members if m["name"] == standin_claude.PANE_TEAMMATE), None)
            return None if member is None else str(member["tmuxPaneId"])

        pane = until(pane_of_tester, "the pane teammate")
        assert pane in tmux("list-panes", "-a", "-F", "#{pane_id}").split()
        lead_pane = tmux("display-message", "-p", "-t", "lead", "#{pane_id}")
        assert pane != lead_pane
        until(lambda: pane not in tmux("list-panes", "-a", "-F", "#{pane_id}").split(),
              "the pane to close after the shutdown")  # fmt: skip
        until(lambda: world.status() == "complete", "the phase to complete", timeout=120.0)
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, check=False)
