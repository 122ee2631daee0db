"""Operator actions across daemon deaths: an action whose daemon is killed while it runs ends
`interrupted` and is never run again; a pause queued while the laptop is off expires instead of
running when the laptop comes back."""

from __future__ import annotations

import json
import re
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import BIN, Laptop

from .harness import (
    Api,
    eventually,
    kill_daemon,
    kill_pid,
    record_figures,
    wait_process_gone,
    wait_ready,
)

pytestmark = pytest.mark.timeout(300)

SLOW = 4.0  # seconds the wrapped tina-session sleeps before doing its work
TERMINAL = ("completed", "failed", "interrupted", "expired", "cancelled")


def action(backend: BackendProcess, action_id: str) -> dict[str, Any]:
    row: dict[str, Any] = next(
        a for a in backend.dump("inboundActions")["inboundActions"] if a["_id"] == action_id
    )
    return row


def invocations(calls: Path) -> list[tuple[int, str]]:
    if not calls.exists():
        return []
    out = []
    for line in calls.read_text().splitlines():
        pid, _, argv = line.partition(" ")
        out.append((int(pid), argv))
    return out


def events_of(calls: Path) -> list[str]:
    """The `--event` of every tina-session invocation, in order (pause, resume...)."""
    return [
        m.group(1) if (m := re.search(r"--event[= ](\S+)", argv)) else argv
        for _, argv in invocations(calls)
    ]


def phase_status(worktree: Path, phase: str) -> dict[str, Any]:
    state = json.loads((worktree / ".claude" / "tina" / "supervisor-state.json").read_text())
    found: dict[str, Any] = state["phases"][phase]
    return found


def test_a_killed_action_ends_interrupted_once_and_a_queued_pause_expires_unrun(
    backend: BackendProcess,
    laptop_factory: Callable[[str], Laptop],
    owner: Api,
    tmp_path: Path,
) -> None:
    calls = tmp_path / "tina-session-calls.log"
    wrapper = tmp_path / "slow-tina-session"
    wrapper.write_text(
        f'#!/bin/sh\necho "$$ $*" >> "{calls}"\nsleep {SLOW}\nexec "{BIN / "tina-session"}" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    env = {"TINA_SESSION_BIN": str(wrapper)}

    laptop = laptop_factory("actions")
    worktree = laptop.init_orchestration("act", phases=2)
    laptop.advance("act", "validation", "validation_pass")
    laptop.start_daemon(wait=False, env=env)
    wait_ready(laptop)
    orch = eventually(
        lambda: next(
            (
                o
                for o in backend.dump("orchestrations")["orchestrations"]
                if o["featureName"] == "act"
            ),
            None,
        )
    )
    eventually(lambda: any(p["phaseNumber"] == "1" for p in backend.dump("phases")["phases"]))
    orphans: list[int] = []
    try:
        # 1. The daemon dies while the handler runs.
        pause = owner.mutation(
            "actions:submitAction",
            action={"type": "pause", "orchestrationId": orch["_id"], "phase": "1"},
            idempotencyKey="chaos-pause-0001",
        )
        pause_id = pause["actionId"]
        eventually(lambda: action(backend, pause_id)["status"] == "running")
        eventually(lambda: len(invocations(calls)) == 1)
        orphans.extend(pid for pid, _ in invocations(calls))
        killed_at = time.monotonic()
        kill_daemon(laptop)
        laptop.start_daemon(wait=False, env=env)
        wait_ready(laptop)
        row = eventually(
            lambda: (
                action(backend, pause_id)["status"] == "interrupted" and action(backend, pause_id)
            )
        )
        interrupted_after = time.monotonic() - killed_at
        assert row["result"]["code"] == "interrupted"
        assert "not re-run" in row["result"]["message"]
        # The handler the dead daemon started finishes on its own (a SIGKILL cannot take its
        # children along); the state it leaves reaches Convex like any other local change.
        assert wait_process_gone(orphans[0], SLOW + 10)
        assert (
            phase_status(worktree, "1")["status"] == "blocked"
        )  # paused (kept blocked with paused_from)
        eventually(
            lambda: any(
                p["phaseNumber"] == "1" and p["status"] == "paused"
                for p in backend.dump("phases")["phases"]
            )
        )
        # The sentinel: a later action (a resume) runs to completion on the restarted daemon,
        # so the interrupted pause had every chance to run again before it.
        resume_id = owner.mutation(
            "actions:submitAction",
            action={"type": "resume", "orchestrationId": orch["_id"], "phase": "1"},
            idempotencyKey="chaos-resume-0001",
        )["actionId"]
        resumed = eventually(
            lambda: (
                action(backend, resume_id)["status"] in ("completed", "failed")
                and action(backend, resume_id)
            ),
            timeout=SLOW + 30,
        )
        assert resumed["status"] == "completed", resumed
        assert events_of(calls) == ["pause", "resume"], invocations(calls)  # never run again
        assert action(backend, pause_id)["status"] == "interrupted"
        started = [
            e
            for e in laptop.log_events()
            if e.get("event") == "action.started" and e.get("action_id") == pause_id
        ]
        assert len(started) == 1, started

        # 2. A pause queued while the laptop is off, with a short expiry, never runs late.
        eventually(
            lambda: any(
                p["phaseNumber"] == "1" and p["status"] == "planning"
                for p in backend.dump("phases")["phases"]
            )
        )
        assert laptop.stop_daemon() == 0
        queued = owner.mutation(
            "actions:submitAction",
            action={"type": "pause", "orchestrationId": orch["_id"], "phase": "1"},
            idempotencyKey="chaos-pause-0002",
            expiresInMs=5000,
        )
        queued_id = queued["actionId"]
        expires_at = action(backend, queued_id)["expiresAt"] / 1000
        time.sleep(max(0.0, expires_at - time.time()) + 0.5)
        laptop.start_daemon(wait=False, env=env)
        wait_ready(laptop)
        # The sentinel: an action submitted after the restart ends (however: a resume of a phase
        # that is not paused may fail), so the daemon has seen what was queued before it.
        later_id = owner.mutation(
            "actions:submitAction",
            action={"type": "resume", "orchestrationId": orch["_id"], "phase": "1"},
            idempotencyKey="chaos-resume-0002",
        )["actionId"]
        eventually(lambda: action(backend, later_id)["status"] in TERMINAL, timeout=SLOW + 30)
        row = action(backend, queued_id)
        assert row["status"] == "expired", row
        assert row["result"]["code"] == "expired"
        assert events_of(calls).count("pause") == 1, invocations(calls)
        assert phase_status(worktree, "1")["status"] == "planning"
        assert not [
            e
            for e in laptop.log_events()
            if e.get("action_id") == queued_id and e.get("event") == "action.started"
        ]
    finally:
        for pid, _ in invocations(calls):
            kill_pid(pid)
    record_figures(
        "actions",
        {
            "interrupted_after_kill_secs": round(interrupted_after, 2),
            "handler_runs": 1,
            "queued_pause": "expired, not run",
        },
    )
