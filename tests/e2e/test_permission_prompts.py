"""A permission prompt answered from the dashboard, whole: `tina hook` run as Claude Code runs
it, the real daemon, the repository's Convex functions on the local backend, and the
dashboard's user answering over the HTTP API."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_api import Api, ApiError, eventually
from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import BIN, Laptop

pytestmark = pytest.mark.timeout(120)

WAIT_MS = "8000"
"""The daemon's deadline (and the hook's, plus 1.5 s): long enough for the test to answer."""
SUGGESTIONS: list[dict[str, Any]] = [
    {
        "type": "addRules",
        "rules": [{"toolName": "Bash", "ruleContent": "npm test:*"}],
        "behavior": "allow",
        "destination": "localSettings",
    }
]


def request(laptop: Laptop, command: str, cwd: Path) -> dict[str, Any]:
    return {
        "session_id": "0c9d7e21-4b5a-4f3e-8a2d-6e1f0b9c8d74",
        "transcript_path": str(laptop.home / "transcript.jsonl"),
        "cwd": str(cwd),
        "permission_mode": "default",
        "hook_event_name": "PermissionRequest",
        "tool_name": "Bash",
        "tool_input": {"command": command, "description": "Run it"},
        "permission_suggestions": SUGGESTIONS,
    }


def start_hook(laptop: Laptop, command: str, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    event = laptop.root / "hook-input.json"
    event.write_text(json.dumps(request(laptop, command, cwd or laptop.root)))
    with event.open("rb") as stdin:
        return subprocess.Popen(
            [str(BIN / "tina"), "hook"],
            env=laptop.env({"TINA_PERMISSION_WAIT_MS": WAIT_MS}),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=laptop.root,
        )


def finish(proc: subprocess.Popen[bytes]) -> bytes:
    with proc:
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert err == b""
    return out


def open_prompt(owner: Api, command: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        for p in owner.query("prompts:listOpen")["open"]:
            if json.loads(p["toolInput"]).get("command") == command:
                return dict(p)
        return None

    return dict(eventually(found))


def output(decision: dict[str, Any]) -> bytes:
    doc = {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}}
    return json.dumps(doc).encode() + b"\n"


def status_of(backend: BackendProcess, prompt_id: str) -> str:
    [row] = [r for r in backend.dump("prompts")["prompts"] if r["promptId"] == prompt_id]
    return str(row["status"])


def test_a_prompt_answered_from_the_dashboard_reaches_claude_code(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    laptop.start_daemon(env={"TINA_PERMISSION_WAIT_MS": WAIT_MS})
    wt = laptop.init_orchestration("search", phases=1)
    orch = eventually(
        lambda: [
            r
            for r in backend.dump("orchestrations")["orchestrations"]
            if r["featureName"] == "search"
        ]
    )[0]

    # Allow always: the laptop's own suggestions go back as Claude Code sent them. The session
    # runs in the orchestration's worktree, so the prompt names it.
    hook = start_hook(laptop, "npm test", wt / "src")
    prompt = open_prompt(owner, "npm test")
    assert prompt["nodeName"] == "laptop-a"
    assert prompt["orchestrationId"] == orch["_id"]
    assert prompt["featureName"] == "search"
    assert prompt["toolName"] == "Bash"
    assert prompt["description"] == "Run it"
    assert json.loads(prompt["suggestions"]) == SUGGESTIONS
    owner.mutation("prompts:answer", promptId=prompt["promptId"], decision="allow_always")
    assert finish(hook) == output({"behavior": "allow", "updatedPermissions": SUGGESTIONS})
    eventually(lambda: status_of(backend, prompt["promptId"]) == "applied")

    # Deny, with the reason Claude is told.
    hook = start_hook(laptop, "rm -rf /tmp/x")
    prompt = open_prompt(owner, "rm -rf /tmp/x")
    owner.mutation(
        "prompts:answer", promptId=prompt["promptId"], decision="deny", message="Not that"
    )
    assert finish(hook) == output({"behavior": "deny", "message": "Not that"})
    eventually(lambda: status_of(backend, prompt["promptId"]) == "applied")
    # Answered once: a second answer is refused.
    with pytest.raises(ApiError, match="already answered"):
        owner.mutation("prompts:answer", promptId=prompt["promptId"], decision="allow_once")

    # Nobody answers: nothing printed (Claude Code asks at the keyboard), the prompt expires.
    hook = start_hook(laptop, "make deploy")
    prompt = open_prompt(owner, "make deploy")
    assert finish(hook) == b""
    eventually(lambda: status_of(backend, prompt["promptId"]) == "expired")
    with pytest.raises(ApiError, match="expired"):
        owner.mutation("prompts:answer", promptId=prompt["promptId"], decision="allow_once")

    log = laptop.daemon_log.read_text()
    for event in ("prompt.opened", "prompt.applied", "prompt.expired"):
        assert event in log, event
