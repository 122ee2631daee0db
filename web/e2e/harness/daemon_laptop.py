"""One simulated laptop running the real tina daemon, driven by the dashboard's e2e tests.

    .venv/bin/python web/e2e/harness/daemon_laptop.py --root DIR --name NAME --url URL --secret S

A JSON-lines RPC server on stdin/stdout for `daemon.ts` (`{"id", "method", "params"}` in,
`{"id", "result"}` or `{"id", "error"}` out). The laptop is `tina.dev.sim.sandbox.Laptop`: a
sandbox home, real git worktrees made by `tina-session init`, Claude Code team and task files,
its own tmux server, and `tina daemon run`. State changes are written the way tina-session
writes them (its store: atomic state file, append-only journal); operator actions are run by
the daemon with the real tina-session and tmux.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from tina.daemon.projection import orchestration_snapshot
from tina.dev.sim.claude_hooks import run_status_line, status_line_command, transcript_path
from tina.dev.sim.sandbox import BIN, Laptop
from tina.dev.sim.transcripts import Transcript, subagent_path
from tina.local import append_inbox_message, mark_inbox_read
from tina.local.models import (
    ApprovalPolicy,
    Breakdown,
    JournalEntry,
    OrchestrationStatus,
    PhaseState,
    PhaseStatus,
    PlanApproval,
    SupervisorState,
)
from tina.session import store

PAUSED_REASON = "paused by operator"


def write_json(path: Path, doc: Any) -> None:
    """Atomically, as Claude Code does: the daemon never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)


def dt(ms: float | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def whole(value: float | None) -> int | None:
    return None if value is None else int(value)


def orchestration_status_for(phase_status: str) -> OrchestrationStatus:
    if phase_status in ("planning", "planned", "awaiting_approval"):
        return OrchestrationStatus.PLANNING
    return OrchestrationStatus(phase_status)


def local_phase_status(status: str) -> PhaseStatus:
    return PhaseStatus.PLANNED if status == "awaiting_approval" else PhaseStatus(status)


def to_local_phase(p: dict[str, Any], now: datetime, worktree: Path) -> PhaseState:
    """The dashboard's phase (what the projection sends) back to what tina-session stores. A
    relative plan path is the worktree's (tina-session stores absolute ones)."""
    status = p["status"]
    plan_path = p.get("planPath")
    if plan_path and not os.path.isabs(plan_path):
        plan_path = str(worktree / plan_path)
    fields: dict[str, Any] = {
        "plan_path": plan_path,
        "git_range": p.get("gitRange"),
        "planning_started_at": dt(p.get("planningStartedAt")),
        "execution_started_at": dt(p.get("executionStartedAt")),
        "review_started_at": dt(p.get("reviewStartedAt")),
        "completed_at": dt(p.get("completedAt")),
        "duration_mins": whole(p.get("durationMins")),
        "blocked_reason": p.get("blockedReason"),
        "breakdown": Breakdown(
            planning_mins=whole(p.get("planningMins")),
            execution_mins=whole(p.get("executionMins")),
            review_mins=whole(p.get("reviewMins")),
        ),
        "plan_feedback": (p["feedback"],) if p.get("feedback") else (),
    }
    if status == "paused":
        fields.update(
            status=PhaseStatus.BLOCKED,
            paused_from=local_phase_status(p.get("pausedFrom") or "executing"),
            paused_at=now,
            blocked_reason=p.get("blockedReason") or PAUSED_REASON,
        )
    elif status == "awaiting_approval":
        fields.update(status=PhaseStatus.PLANNED, plan_approval=PlanApproval.PENDING)
    else:
        fields["status"] = PhaseStatus(status)
        if p.get("planPath") and status in ("executing", "reviewing", "complete"):
            fields["plan_approval"] = PlanApproval.APPROVED
    return PhaseState(**fields)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def snapshot_doc(value: Any) -> dict[str, Any]:
    return {camel(k): v for k, v in attrs.asdict(value).items() if v is not None}


class Server:
    def __init__(self, root: Path, name: str, url: str, secret: str) -> None:
        self.root = root
        self.laptop = Laptop(root, name, url, enrollment_secret=secret)
        self.worktrees: dict[str, Path] = {}
        # The tests' scenarios name worktrees that do not exist; the real ones are made by init.
        self.real_paths: dict[str, str] = {}
        self.panes = 0
        self.team_created: dict[str, int] = {}
        self.hooks: dict[int, subprocess.Popen[str]] = {}
        # Each team's lead session (config.json `leadSessionId`, the lead's transcript's name)
        # and each agent's transcript, kept so a session's context grows as it works.
        self.lead_sessions: dict[str, str] = {}
        self.transcripts: dict[tuple[str, str], Transcript] = {}

    def start(self) -> None:
        self.laptop.start_daemon()

    def open_pane(self, feature: str) -> str:
        self.panes += 1
        return self.laptop.open_pane(f"agent-{self.panes}", self.worktrees[feature])

    def capture_pane(self, pane: str) -> str:
        return self.laptop.capture(pane)

    def start_hook(self, feature: str, event: dict[str, Any], wait_ms: int) -> int:
        """Runs `tina hook` as Claude Code does (the event JSON on stdin, in the worktree, with
        `CLAUDE_PROJECT_DIR`); returns a handle for `hook_result`. It runs while the test acts."""
        worktree = str(self.worktrees[feature])
        env = self.laptop.env(
            {"CLAUDE_PROJECT_DIR": worktree, "TINA_PERMISSION_WAIT_MS": str(wait_ms)}
        )
        proc = subprocess.Popen(
            [str(BIN / "tina"), "hook"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=worktree,
            env=env,
            text=True,
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({**event, "cwd": worktree}))
        proc.stdin.close()
        self.hooks[proc.pid] = proc
        return proc.pid

    def hook_result(self, handle: int) -> dict[str, Any] | None:
        """None while the hook still runs; then its exit code, stdout and stderr."""
        proc = self.hooks[handle]
        if proc.poll() is None:
            return None
        assert proc.stdout is not None
        assert proc.stderr is not None
        return {"code": proc.returncode, "stdout": proc.stdout.read(), "stderr": proc.stderr.read()}

    def open_lead_session(self, feature: str, phase: str) -> str:
        return self.laptop.open_pane(Laptop.phase_session(feature, phase), self.worktrees[feature])

    def plan_file(self, feature: str, phase: str) -> Path:
        return self.worktrees[feature] / "docs" / "plans" / f"{feature}-phase-{phase}.md"

    def write_plan(self, feature: str, phase: str, markdown: str) -> None:
        path = self.plan_file(feature, phase)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(markdown)
        os.replace(tmp, path)

    def _inbox(self, team_dir: str, agent: str) -> Path:
        return self.laptop.claude / "teams" / team_dir / "inboxes" / f"{agent}.json"

    def read_inbox(self, team_dir: str, agent: str) -> list[dict[str, Any]]:
        path = self._inbox(team_dir, agent)
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []

    def append_inbox(self, team_dir: str, agent: str, entry: dict[str, Any]) -> None:
        append_inbox_message(
            self._inbox(team_dir, agent),
            sender=entry["from"],
            text=entry["text"],
            summary=entry.get("summary"),
            color=entry.get("color"),
        )

    def write_inbox_file(self, team_dir: str, agent: str, content: str) -> None:
        path = self._inbox(team_dir, agent)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")

    def mark_inbox_read(self, team_dir: str, agent: str) -> None:
        mark_inbox_read(self._inbox(team_dir, agent))

    def write_orchestration(self, state: dict[str, Any]) -> None:
        feature = state["feature"]
        wt = self.worktrees.get(feature)
        if wt is None:
            wt = self.laptop.init_orchestration(
                feature, phases=int(state["totalPhases"]), require_plan_approval=True
            )
            self.worktrees[feature] = wt
            self.real_paths[state["worktreePath"]] = str(wt)
        now = datetime.now(UTC)
        phases = {key: to_local_phase(p, now, wt) for key, p in state["phases"].items()}
        paused = next((p for p in state["phases"].values() if p["status"] == "paused"), None)
        status = state["status"]
        with store.locked(wt):
            current = store.load_state(wt)
            new = attrs.evolve(
                current,
                total_phases=int(state["totalPhases"]),
                current_phase=int(state["currentPhase"]),
                # The start time is part of an orchestration's identity: keep what init wrote.
                phases=phases,
                approval_policy=ApprovalPolicy(require_plan_approval=True),
                status=OrchestrationStatus.BLOCKED
                if paused or status == "paused"
                else OrchestrationStatus(status),
                paused_from=orchestration_status_for(paused.get("pausedFrom") or "executing")
                if paused
                else None,
                paused_at=now if paused else None,
                blocked_reason=PAUSED_REASON if paused else None,
            )
            store.save_state(wt, new)

    def read_orchestration(self, feature: str) -> dict[str, Any]:
        state: SupervisorState = store.load_state(self.worktrees[feature])
        snap, phases = orchestration_snapshot(state)
        doc = snapshot_doc(snap)
        out: dict[str, Any] = {
            "feature": doc["featureName"],
            "branch": doc["branch"],
            "worktreePath": doc["worktreePath"],
            "specDocPath": doc["specDocPath"],
            "totalPhases": doc["totalPhases"],
            "currentPhase": doc["currentPhase"],
            "status": doc["status"],
            "startedAt": doc["startedAt"],
            "phases": {},
        }
        if "completedAt" in doc:
            out["completedAt"] = doc["completedAt"]
        for phase in phases:
            p = snapshot_doc(phase)
            out["phases"][p.pop("phaseNumber")] = p
        return out

    def write_team(self, team: dict[str, Any]) -> None:
        now = int(time.time() * 1000)
        created = self.team_created.setdefault(team["dirName"], now)
        claude = self.laptop.claude
        members = [
            {
                "agentId": m["agentId"],
                "name": m["name"],
                "agentType": m.get("agentType", "general-purpose"),
                "model": m.get("model", "claude-opus-4-6"),
                "joinedAt": int(m.get("joinedAt", now)),
                "tmuxPaneId": m.get("tmuxPaneId", "in-process"),
                "cwd": self.real_paths.get(m.get("cwd", ""), m.get("cwd", "")),
                "subscriptions": [],
                **{k: m[k] for k in ("isActive", "backendType", "color") if k in m},
            }
            for m in team["members"]
        ]
        lead_session = self.lead_sessions.setdefault(
            team["dirName"], team.get("leadSessionId") or str(uuid.uuid4())
        )
        config = {
            "name": team["teamName"],
            "description": f"team {team['teamName']}",
            "createdAt": created,
            "leadAgentId": members[0]["agentId"] if members else None,
            "leadSessionId": lead_session,
            "members": members,
        }
        config_path = claude / "teams" / team["dirName"] / "config.json"
        # Only what changed is written, as Claude Code does: one task changed is one file written.
        if not config_path.exists() or json.loads(config_path.read_text()) != config:
            write_json(config_path, config)
        tasks_dir = claude / "tasks" / team["dirName"]
        wanted = set()
        for t in team["tasks"]:
            wanted.add(f"{t['id']}.json")
            doc = {
                "id": t["id"],
                "subject": t["subject"],
                "description": t.get("description") or t["subject"],
                "activeForm": t.get("activeForm") or f"Working on {t['subject']}",
                "status": t["status"],
                "owner": t.get("owner"),
                "blocks": t.get("blocks", []),
                "blockedBy": t.get("blockedBy", []),
            }
            path = tasks_dir / f"{t['id']}.json"
            if not path.exists() or json.loads(path.read_text()) != doc:
                write_json(path, doc)
        for stale in tasks_dir.glob("*.json"):
            if stale.name not in wanted:
                stale.unlink()

    def append_transcript(
        self, feature: str, team_dir: str, agent: str, messages: int, searches: int = 0
    ) -> dict[str, int]:
        """`messages` assistant messages of `agent` (a member of the team in `team_dir`, its
        first member the lead) appended to its Claude Code transcript as the simulator writes
        them: the lead's is its session's file, an in-process teammate's lies under the lead's
        session; every other message has a tool call and so is two lines with one message id,
        and the first `searches` call WebSearch (a web search each). Returns what was billed:
        the messages, their tokens of every kind and their web searches."""
        wt = self.worktrees[feature]
        config_path = self.laptop.claude / "teams" / team_dir / "config.json"
        members = json.loads(config_path.read_text(encoding="utf-8"))["members"]
        found = [m for m in members if m["name"] == agent]
        if not found:
            raise ValueError(f"{config_path}: no member named {agent!r}")
        transcript = self.transcripts.get((team_dir, agent))
        if transcript is None:
            session = self.lead_sessions[team_dir]
            claude = self.laptop.claude
            if found[0] is members[0]:
                agent_id = None
                path = transcript_path(claude, wt, session)
            else:
                agent_id = f"a{uuid.uuid4().hex[:16]}"
                path = subagent_path(claude, wt, session, agent_id)
            transcript = Transcript(
                path,
                session_id=session,
                cwd=wt,
                model=found[0]["model"],
                agent_id=agent_id,
                agent_name=None if agent_id is None else agent,
                git_branch=f"tina/{feature}",
            )
            self.transcripts[(team_dir, agent)] = transcript
        tokens = searched = 0
        for i in range(messages):
            if i < searches:
                tool, args = "WebSearch", {"query": "how others did it"}
            else:
                tool, args = ("Bash" if i % 2 else None), {"command": "ls"}
            usage = transcript.say("Working on the task.", tool=tool, tool_input=args)
            tokens += usage.input + usage.output + usage.cache_write + usage.cache_read
            searched += usage.web_searches
        return {"messages": messages, "tokens": tokens, "searches": searched}

    def report_quota(self, feature: str, five_hour_pct: float, seven_day_pct: float) -> None:
        """Claude Code runs the status line the worktree's settings name (the script
        `tina-session init` installed) with the account's rate limits (the account of
        ``~/.claude``, where the lead's transcript is): the 5-hour window resets in two hours, the
        7-day one in three days."""
        wt = self.worktrees[feature]
        env = self.laptop.env({"CLAUDE_PROJECT_DIR": str(wt)})
        command = status_line_command(env, wt)
        if command is None:
            raise ValueError(f"{wt}: no status line in the worktree's Claude Code settings")
        now = int(time.time())
        session = next(iter(self.lead_sessions.values()), str(uuid.uuid4()))
        status = {
            "session_id": session,
            "transcript_path": str(transcript_path(self.laptop.claude, wt, session)),
            "cwd": str(wt),
            "context_window": {"used_percentage": 10},
            "rate_limits": {
                "five_hour": {"used_percentage": five_hour_pct, "resets_at": now + 2 * 3600},
                "seven_day": {"used_percentage": seven_day_pct, "resets_at": now + 3 * 86400},
            },
        }
        run = run_status_line(command, status, env, wt)
        if run.returncode != 0:
            raise RuntimeError(f"the status line exited {run.returncode}: {run.stderr[-500:]}")

    def append_event(self, feature: str, event: dict[str, Any]) -> None:
        entry = JournalEntry(
            id=uuid.uuid4().hex,
            type=event["type"],
            source="tina-session",
            summary=event["summary"],
            detail=event.get("detail"),
            phase=event.get("phase"),
            feature=feature,
            recorded_at=datetime.now(UTC),
        )
        store.append_events(self.worktrees[feature], [entry])

    def log_tail(self) -> str:
        return self.laptop.log_tail(40)

    def go_offline(self) -> None:
        self.laptop.stop_daemon()

    def stop(self) -> None:
        for proc in self.hooks.values():
            if proc.poll() is None:
                proc.kill()
        self.laptop.close()
        shutil.rmtree(self.root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    server = Server(args.root, args.name, args.url, args.secret)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            result = getattr(server, request["method"])(*request.get("params", []))
            reply: dict[str, Any] = {"id": request["id"], "result": result}
        except Exception as error:  # one failed call is reported to the caller, the server goes on
            reply = {
                "id": request["id"],
                "error": f"{type(error).__name__}: {error}",
                "trace": traceback.format_exc(),
            }
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        if request["method"] == "stop":
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
