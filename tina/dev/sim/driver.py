"""Drives orchestrations the way tina's orchestrator and Claude Code do.

Each simulated orchestrator loops on `tina-session orchestrate next` and performs the action
it gets, as the real `/tina:orchestrate` skill does. Its own team, `<feature>-orchestration`,
is the driver's: a task board (validate-design, plan-phase-N, execute-phase-N,
review-phase-N) and teammates that join as they are spawned, each in a tmux pane of its own,
so the dashboard can message them. The validator, planner and reviewer are simulated here (in
the real tool they are the orchestrator's teammates): they wait a while, the planner writes a
plan file, the reviewer passes or finds gaps that open a remediation phase.

Execution is what the phase-executor agent does: `tina-session start --feature F --phase P
--plan PLAN` (exit code only), `orchestrate advance --event execute_started`, then
`tina-session wait --stream` read line by line until it exits: 0 → `execute_complete` with the
git range of the last line, 1 (blocked) → `error` with the lead's reason, 2 (timeout) and 3
(the session died) → `error`. `start` opens the phase's tmux session and types `claude`, which
on a sandbox laptop is the stand-in (`tina.dev.sim.standin_claude`): it plays the phase lead, makes
the phase team and its tasks, commits in the worktree and writes the phase status. What it does
is scripted per launch: the driver writes the laptop's stand-in scenario just before `start`
(complete, or blocked with a gate's reason; task count and step delays from the config).

A blocked phase waits for an operator's retry from the dashboard (or the driver's own, if
configured); the retried phase comes back from `orchestrate next` as executing with nobody at
work, and the driver starts its lead again. The plan-approval gate waits for an operator's
approve/reject; a paused orchestration waits to be resumed. Deterministic for a seed, up to the
processes' timing; the `speed` factor scales every delay.
"""

from __future__ import annotations

import json
import random
import subprocess
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import structlog
import trio

from tina.usage import load_prices

from .account import ACCOUNT_NAME, Account
from .claude_hooks import HookRunner, transcript_path
from .sandbox import BIN, Laptop, SandboxError
from .standin_claude import MODEL
from .transcripts import TEAMMATE_MODEL, Transcript, Usage, subagent_path, write_subagent_meta

log = structlog.get_logger("tina.sim")

FEATURES = [
    "billing-export",
    "search-reindex",
    "audit-trail",
    "rate-limiter",
    "sso-login",
    "csv-import",
    "push-notify",
    "dark-mode",
    "usage-metering",
    "webhooks",
    "pdf-reports",
    "geo-routing",
]
TASK_SUBJECTS = [
    "Write the migration",
    "Add the API endpoint",
    "Cover edge cases with tests",
    "Wire up the UI",
    "Update the docs",
    "Refactor the service layer",
    "Add metrics",
    "Handle retries",
    "Fix lint",
    "Review error messages",
    "Add feature flag",
    "Benchmark the hot path",
]
# What a blocked phase lead writes (`reason`, and the gate that failed): the skill's wording.
BLOCKS = [
    ("Verification gate failed", "verify"),
    ("Complexity gate failed", "complexity"),
    ("Phase reviewer rejected 3 times", None),
]
# The orchestrator's teammates (name, agent type): one of each, reused from phase to phase.
VALIDATOR = ("design-validator", "tina:design-validator")
PLANNER = ("phase-planner", "tina:phase-planner")
EXECUTOR = ("phase-executor", "tina:phase-executor")
REVIEWER = ("phase-reviewer", "tina:phase-reviewer")
# The stand-in's teammates (in-process, as Claude Code runs them by default).
PHASE_TEAMMATES = ["worker", "spec-reviewer", "code-quality-reviewer"]

# Actions an event's report may print that the loop takes as they are; any other (a wait, an
# error, a remediation) makes it ask `orchestrate next`.
ACT_ON = ("spawn_validator", "spawn_planner", "spawn_executor", "reuse_plan", "spawn_reviewer",
          "finalize", "complete", "stopped")  # fmt: skip

# How long the phase lead may take to pick up its init line (write its first status) after
# `start` returns; past it the driver goes on, and `wait` decides.
LEAD_PICKUP_TIMEOUT = 30.0


@attrs.define(kw_only=True)
class SimConfig:
    seed: int = 7
    speed: float = 1.0  # > 1 runs faster
    tasks_per_phase: tuple[int, int] = (3, 6)
    p_review_gaps: float = 0.25
    p_error: float = 0.1  # a phase lead blocks (a gate fails)
    require_plan_approval_every: int = 3  # every Nth orchestration uses the approval gate
    auto_retry_after: float | None = None  # seconds; None: wait for an operator
    auto_approve_after: float | None = None  # seconds; None: wait for an operator
    tmux_panes: bool = True  # the orchestrator's teammates get tmux panes (messages reach them)
    wait_stream_secs: int = 1  # `tina-session wait --stream N`
    # Claude Code's hooks: `tina hooks install` on each laptop first, as a user does; the
    # stand-in leads then run `tina hook` for their events.
    hooks: bool = True
    # What a person is asked for (the stand-in's stories, see `standin_claude.Scenario`): the
    # chance that a phase lead's launch has each, and how long it lasts (seconds, before `speed`).
    p_permission_prompt: float = 0.0  # the lead's own PermissionRequest (dashboard answers it)
    p_rate_limit: float = 0.0  # StopFailure rate_limit, resumed after the story's time
    p_teammate_permission: float = 0.0  # a pane teammate's permission_request in the lead's inbox
    p_plan_approval: float = 0.0  # a plan-mode teammate's plan_approval_request
    p_idle_with_task: float = 0.0  # a teammate idle with an open task
    p_stalled: float = 0.0  # a working teammate that goes silent
    story_secs: tuple[float, float] = (20.0, 60.0)
    stall_secs: tuple[float, float] = (120.0, 180.0)  # past DEMO_STALL_AFTER_MINS + a 30 s tick

    @classmethod
    def demo(cls, *, seed: int = 7, speed: float = 1.0) -> SimConfig:
        """What `tina demo` runs: every kind of "Needs you" item turns up now and then."""
        return cls(
            seed=seed,
            speed=speed,
            p_permission_prompt=0.35,
            p_rate_limit=0.25,
            p_teammate_permission=0.35,
            p_plan_approval=0.3,
            p_idle_with_task=0.35,
            p_stalled=0.25,
        )


DEMO_STALL_AFTER_MINS = 1
DEMO_LAPTOP_ENV = {"TINA_STALL_AFTER_MINS": str(DEMO_STALL_AFTER_MINS)}
"""The demo laptops' daemons call a silent agent stalled after a minute, not ten: the demo's
stalled teammates need not hold a phase for ten minutes."""


class OrchestrationTeam:
    """The orchestrator's team, `<feature>-orchestration`, as the orchestrate skill keeps it:
    one task per step, teammates joining as they are spawned (each in a tmux pane when
    `panes`), tasks moving pending → in progress → completed as the steps run, a teammate
    active while its step runs and idle after.

    The orchestrator is a Claude Code session (`session_id`, the team's `leadSessionId`): with
    `hooks`, it runs the installed hooks as Claude Code does (`claude_hooks.HookRunner`): it
    starts, creates the tasks, ends its turn while a teammate works (Stop), and each teammate
    completes its task and goes idle (TaskCompleted, TeammateIdle).

    Each session writes its transcript as Claude Code does (`transcripts.Transcript`): the
    orchestrator's under the worktree's project, a teammate's under the orchestrator's session
    (`subagents/`) when it runs in-process, or a session file of its own when it has a pane."""

    def __init__(
        self,
        laptop: Laptop,
        feature: str,
        worktree: Path,
        *,
        panes: bool,
        session_id: str | None = None,
        hooks: bool = False,
    ) -> None:
        self.laptop = laptop
        self.feature = feature
        self.worktree = worktree
        self.panes = panes
        self.name = f"{feature}-orchestration"
        self.session_id = session_id or str(uuid.uuid4())
        self.hooks = (
            HookRunner(laptop.env(), worktree, self.session_id, claude_dir=laptop.claude)
            if hooks
            else None
        )
        self.members: list[dict[str, Any]] = [
            {"name": "team-lead", "agentType": "team-lead", "tmuxPaneId": "", "model": MODEL}
        ]
        self.tasks: dict[str, dict[str, Any]] = {}  # subject → fields
        self.account = Account(laptop.claude / ACCOUNT_NAME)  # the laptop's, as the leads'
        self.prices = load_prices()
        self.transcript = Transcript(
            transcript_path(laptop.claude, worktree, self.session_id),
            session_id=self.session_id,
            cwd=worktree,
            model=MODEL,
            on_usage=self._spend,
        )
        self.mates: dict[str, Transcript] = {}  # each teammate's transcript, by name

    def _spend(self, usage: Usage, model: str) -> None:
        """A message's cost, spent from the laptop's account (the status lines' rate limits)."""
        cost = self.prices.cost_micros(
            model,
            input=usage.input,
            output=usage.output,
            cache_write=usage.cache_write,
            cache_read=usage.cache_read,
            web_searches=usage.web_searches,
        )
        self.account.spend(cost or 0)

    def _fire(self, event: str, **fields: Any) -> None:
        if self.hooks is not None:
            self.hooks.fire(event, **fields)

    def _write_team(self) -> None:
        self.laptop.write_team(
            self.name, self.members, cwd=self.worktree, lead_session_id=self.session_id
        )

    def _set_active(self, agent: str, active: bool) -> None:
        for member in self.members:
            if member["name"] == agent and member.get("isActive") != active:
                member["isActive"] = active
                self._write_team()

    def create(self, phases: int) -> None:
        self._fire("SessionStart", source="startup", model=MODEL)
        self._fire("UserPromptSubmit", prompt=f"/tina:orchestrate {self.feature}")
        self.transcript.touch()
        self.transcript.user(
            "<command-message>tina:orchestrate</command-message>\n"
            f"<command-name>/tina:orchestrate</command-name>\n<command-args>{self.feature}</command-args>"
        )
        self._write_team()
        self._add("validate-design", None, after=None)
        after = "validate-design"
        for n in range(1, phases + 1):
            for step in ("plan", "execute", "review"):
                subject = f"{step}-phase-{n}"
                self._add(subject, str(n), after=after)
                after = subject
        self.transcript.say(
            f"Creating the orchestration team and its {len(self.tasks)} tasks.",
            tool="TeamCreate",
            tool_input={"team_name": self.name, "description": f"Orchestrating {self.feature}"},
        )

    def _add(self, subject: str, phase: str | None, *, after: str | None) -> None:
        task_id = str(len(self.tasks) + 1)
        blocked_by = [self.tasks[after]["id"]] if after in self.tasks else []
        self.tasks[subject] = {
            "id": task_id,
            "status": "pending",
            "owner": None,
            "blocked_by": blocked_by,
            "phase": phase,
        }
        self._write(subject)
        self._fire(
            "TaskCreated", task_id=task_id, task_subject=subject, task_description=subject,
            team_name=self.name,
        )  # fmt: skip

    def _write(self, subject: str) -> None:
        task = self.tasks[subject]
        metadata: dict[str, Any] = {"feature_name": self.feature}
        if task["phase"] is not None:
            metadata["phase_num"] = task["phase"]
        else:
            metadata["worktree_path"] = str(self.worktree)
        self.laptop.write_task(
            self.name,
            task["id"],
            subject=subject,
            status=task["status"],
            owner=task["owner"],
            blocked_by=task["blocked_by"],
            metadata=metadata,
        )

    def _join(self, agent: str, agent_type: str) -> None:
        if any(m["name"] == agent for m in self.members):
            return
        pane = "in-process"
        if self.panes:
            session = f"{self.feature}-{agent}".replace(".", "_")
            try:
                pane = self.laptop.open_pane(session, self.worktree)
            except SandboxError:
                pane = "in-process"
        self.members.append(
            {
                "name": agent,
                "agentType": agent_type,
                "tmuxPaneId": pane,
                "isActive": False,
                "model": "sonnet",  # the alias given at spawn: TEAMMATE_MODEL
            }
        )
        self._write_team()
        if pane == "in-process":
            agent_id: str | None = f"a{uuid.uuid4().hex[:16]}"
            session = self.session_id
            path = subagent_path(self.laptop.claude, self.worktree, session, str(agent_id))
            write_subagent_meta(
                path,
                name=agent,
                team=self.name,
                agent_type=agent_type,
                description=f"{agent} on team {self.name}",
                model="sonnet",
            )
        else:  # a pane teammate is a Claude Code session of its own
            agent_id, session = None, str(uuid.uuid4())
            path = transcript_path(self.laptop.claude, self.worktree, session)
        self.mates[agent] = Transcript(
            path,
            session_id=session,
            cwd=self.worktree,
            model=TEAMMATE_MODEL,
            agent_id=agent_id,
            agent_name=agent,
            team_name=self.name,
            on_usage=self._spend,
        )
        self.mates[agent].user(_wrapped("team-lead", f"You are {agent} on team {self.name}."))

    def begin(self, step: str, phase: str | None, agent: str, agent_type: str) -> None:
        """A step starts: its teammate joins, its task goes in progress (a remediation phase's
        tasks are added when it first gets there)."""
        subject = "validate-design" if phase is None else f"{step}-phase-{phase}"
        if subject not in self.tasks:
            previous = [s for s in self.tasks if self.tasks[s]["phase"] is not None]
            self._add(subject, phase, after=previous[-1] if previous else None)
        self._join(agent, agent_type)
        task = self.tasks[subject]
        if task["status"] != "in_progress" or task["owner"] != agent:
            spawn = {"subagent_type": agent_type, "name": agent, "team_name": self.name,
                     "description": subject}  # fmt: skip
            self.transcript.say(f"Handing {subject} to {agent}.", tool="Task", tool_input=spawn)
            task.update(status="in_progress", owner=agent)
            self._write(subject)
            self._set_active(agent, True)
            mate = self.mates[agent]
            mate.user(_wrapped("team-lead", f"Please take task {task['id']}: {subject}."))
            if phase is None:  # the design's validation looks outside the repository too
                mate.say("Checking how others solved it.", tool="WebSearch",
                         tool_input={"query": "prior art for the design"})  # fmt: skip
            mate.say(f"Working on {subject}.", tool="Read", tool_input={"file_path": "docs/plans"})
            # The orchestrator's turn ends while its teammate works.
            self._fire("Stop", stop_hook_active=False,
                       last_assistant_message=f"{agent} is on {subject}.")  # fmt: skip

    def end(self, step: str, phase: str | None) -> None:
        subject = "validate-design" if phase is None else f"{step}-phase-{phase}"
        task = self.tasks.get(subject)
        if task is not None and task["status"] != "completed":
            owner = task["owner"]
            if owner:
                self._fire(
                    "TaskCompleted", task_id=task["id"], task_subject=subject,
                    task_description=subject, teammate_name=owner, team_name=self.name,
                )  # fmt: skip
            task["status"] = "completed"
            self._write(subject)
            if owner:
                mate = self.mates.get(owner)
                if mate is not None:
                    mate.say(f"Finished {subject}.", tool="SendMessage",
                             tool_input={"type": "message", "recipient": "team-lead"})  # fmt: skip
                self._fire("TeammateIdle", teammate_name=owner, team_name=self.name)
                self._set_active(owner, False)
                self.transcript.user(_wrapped(owner, f"Finished {subject}."))
                self.transcript.say(f"{subject} is done.")


def _wrapped(sender: str, text: str) -> str:
    """A teammate message as it reaches an agent's model (reference §7.1)."""
    return f'<teammate-message teammate_id="{sender}">\n{text}\n</teammate-message>'


class OrchestrationSim:
    def __init__(
        self,
        laptop: Laptop,
        feature: str,
        phases: int,
        cfg: SimConfig,
        rng: random.Random,
        *,
        gated: bool = False,
    ) -> None:
        self.laptop = laptop
        self.feature = feature
        self.phases = phases
        self.cfg = cfg
        self.rng = rng
        self.gated = gated
        self.worktree: Path | None = None
        self.team: OrchestrationTeam | None = None
        self.done = False
        self.steps = 0
        self.launches = 0
        self._bases: dict[str, str] = {}  # phase → HEAD before its first lead started
        # The stand-in reads the laptop's one scenario file when a lead starts: the
        # orchestrations of a laptop take turns writing it and starting a lead.
        self.launch_lock = trio.Lock()

    async def _sleep(self, lo: float, hi: float) -> None:
        await trio.sleep(self.rng.uniform(lo, hi) / self.cfg.speed)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await trio.to_thread.run_sync(partial(fn, *args, **kwargs))

    async def _next(self) -> dict[str, Any]:
        out: dict[str, Any] = await self._call(self.laptop.next_action, self.feature)
        return out  # the bare action: {"action": "spawn_planner", "phase": "1"}

    async def _advance(self, phase: str, event: str, **flags: str) -> dict[str, Any] | None:
        """An event, as the orchestrator reports it; a refused one (an operator paused the
        phase meanwhile, say) gives `None` and the loop asks `next` again."""
        self.steps += 1
        out: dict[str, Any] | None = await self._call(
            self.laptop.advance, self.feature, phase, event, check=False, **flags
        )
        return out

    async def _board(self, method: str, *args: str | None) -> None:
        if self.team is not None:
            await self._call(getattr(self.team, method), *args)

    # --- the phase executor ---------------------------------------------------------------------

    def _status_path(self, phase: str) -> Path:
        assert self.worktree is not None
        return self.worktree / ".claude" / "tina" / f"phase-{phase}" / "status.json"

    def _scenario(self) -> dict[str, Any]:
        """What the next lead does: the stand-in's scenario for one launch."""
        speed = self.cfg.speed
        launch: dict[str, Any] = {
            "outcome": "complete",
            "tasks": self.rng.randint(*self.cfg.tasks_per_phase),
            "step_secs": round(self.rng.uniform(0.3, 1.0) / speed, 3),
            "ready_delay_secs": round(self.rng.uniform(0.2, 0.8) / speed, 3),
            "commit": True,
            "teammates": PHASE_TEAMMATES,
        }
        if self.rng.random() < self.cfg.p_error:
            reason, gate = self.rng.choice(BLOCKS)
            launch.update(outcome="blocked", reason=reason, gate=gate)
        launch.update(self._stories())
        return {"default": launch}

    def _stories(self) -> dict[str, Any]:
        """The stand-in's stories for one launch (none draws from the seed unless asked for)."""
        cfg = self.cfg
        out: dict[str, Any] = {}

        def chance(p: float) -> bool:
            return p > 0 and self.rng.random() < p

        def secs(span: tuple[float, float]) -> float:
            return round(self.rng.uniform(*span) / cfg.speed, 3)

        if chance(cfg.p_permission_prompt):
            out["permission_request"] = True
        for field, p in (
            ("rate_limit_secs", cfg.p_rate_limit),
            ("teammate_permission_secs", cfg.p_teammate_permission),
            ("plan_approval_secs", cfg.p_plan_approval),
            ("idle_with_task_secs", cfg.p_idle_with_task),
        ):
            if chance(p):
                out[field] = secs(cfg.story_secs)
        if chance(cfg.p_stalled):
            out["stall_secs"] = secs(cfg.stall_secs)
        return out

    async def _session(self, *args: str, secs: float = 60) -> subprocess.CompletedProcess[str]:
        out: subprocess.CompletedProcess[str] = await self._call(
            self.laptop.tina_session, *args, check=False, timeout=secs
        )
        return out

    async def _git_head(self) -> str:
        assert self.worktree is not None
        proc = await self._call(
            self.laptop.run, ["git", "rev-parse", "--short", "HEAD"], cwd=self.worktree
        )
        return str(proc.stdout.strip())

    async def _launch(self, phase: str, plan: str) -> bool:
        """`tina-session start`, after writing the stand-in's scenario; returns whether it
        started (else the phase is reported as an error, as the phase executor does)."""
        fp = ("--feature", self.feature, "--phase", phase)
        status = self._status_path(phase)
        async with self.launch_lock:
            # A lead left from an earlier launch (blocked, then retried) would be resumed, not
            # restarted: end it first.
            await self._stop(phase)
            before = await _read(status)
            await self._call(self.laptop.write_standin_scenario, self._scenario())
            self.launches += 1
            started = await self._session("start", *fp, "--plan", plan, secs=180)
            if started.returncode != 0:
                log.warning(
                    "sim.start_failed",
                    feature=self.feature,
                    phase=phase,
                    code=started.returncode,
                    error=started.stderr.strip()[-300:],
                )
                await self._advance(
                    phase,
                    "error",
                    issues=f"tina-session start failed with exit code {started.returncode}",
                )
                return False
            # The lead has read its scenario once it writes its first status (and a stale
            # status from an earlier launch must not end the next `wait` at once).
            with trio.move_on_after(LEAD_PICKUP_TIMEOUT):
                while True:
                    if await _read(status) not in (None, before):
                        break
                    await trio.sleep(0.05)
        return True

    async def _stop(self, phase: str) -> None:
        """Ends a phase lead's tmux session, if there is one. Not a step of the real flow (its
        leads stay until someone stops them): the simulator's housekeeping, done with tmux."""
        session = self.laptop.phase_session(self.feature, phase)
        await self._call(self.laptop.tmux, "kill-session", "-t", f"={session}", check=False)

    async def _wait(self, phase: str) -> tuple[int, dict[str, Any]]:
        """`tina-session wait --stream`: its exit status and its last JSON line."""
        timeout = int(max(60, 1800 / self.cfg.speed))
        argv = [
            str(BIN / "tina-session"),
            "wait",
            "--feature",
            self.feature,
            "--phase",
            phase,
            "--stream",
            str(self.cfg.wait_stream_secs),
            "--timeout",
            str(timeout),
        ]
        last: dict[str, Any] = {}
        async with trio.open_nursery() as nursery:
            proc: trio.Process = await nursery.start(
                partial(
                    trio.run_process,
                    argv,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    check=False,
                    env=self.laptop.env(),
                    cwd=self.laptop.root,
                )
            )
            assert proc.stdout is not None
            pending = b""
            async for chunk in proc.stdout:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    try:
                        doc = json.loads(line)
                    except json.JSONDecodeError:
                        log.warning("sim.wait_garbled", feature=self.feature, line=line[:200])
                        continue
                    if isinstance(doc, dict):
                        last = doc
            code = await proc.wait()
        return code, last

    async def _blocked_reason(self, phase: str, last: dict[str, Any]) -> str:
        """What the lead said: the last line's reason, else its status file's (as the phase
        executor reads it: `jq -r '.reason // "blocked"'` and `.gate`)."""
        reason = last.get("blocked_reason") or last.get("reason")
        gate = None
        try:
            doc = json.loads(await trio.Path(self._status_path(phase)).read_text())
        except (OSError, ValueError):
            doc = {}
        if isinstance(doc, dict):
            reason = reason or doc.get("reason")
            gate = doc.get("gate")
        reason = str(reason or "blocked")
        return f"blocked at {gate} gate: {reason}" if gate else reason

    async def _execute(
        self, phase: str, plan: str, *, relaunch: bool = True
    ) -> dict[str, Any] | None:
        """The phase executor: start the lead (unless one is still at work), report it
        started, wait for it, report how it ended; returns the action that report gave."""
        await self._board("begin", "execute", phase, *EXECUTOR)
        base = self._bases.setdefault(phase, await self._git_head())
        if relaunch and not await self._launch(phase, plan):
            return None
        await self._advance(phase, "execute_started")
        code, last = await self._wait(phase)
        log.info("sim.waited", feature=self.feature, phase=phase, code=code, last=last)
        if code == 0:
            git_range = last.get("git_range") or f"{base}..{await self._git_head()}"
            done = await self._advance(phase, "execute_complete", git_range=str(git_range))
            await self._board("end", "execute", phase)
            return done
        if code == 1:
            issues = await self._blocked_reason(phase, last)
        elif code == 2:
            issues = "timeout waiting for the phase lead"
        elif code == 3:
            issues = "session_died"
        else:
            issues = f"tina-session wait failed with exit code {code}"
        return await self._advance(phase, "error", issues=issues)

    async def _resume_execution(self, phase: str) -> dict[str, Any] | None:
        """`next` says the phase is executing but nobody waits for it (a retry, a resume
        after a pause): wait for its lead if one is still at work or done, else start one."""
        shown = await self._call(
            self.laptop.session_json,
            "state", "show", "--feature", self.feature, "--phase", phase, "--format", "json",
            check=False,
        )  # fmt: skip
        plan = str((shown or {}).get("plan_path") or "")
        exists = await self._session("exists", "--feature", self.feature, "--phase", phase)
        lead = await self._call(
            self.laptop.session_json,
            "status", "--feature", self.feature, "--phase", phase,
            check=False,
        )  # fmt: skip
        relaunch = exists.returncode != 0 or (lead or {}).get("status") == "blocked"
        if relaunch and not plan:
            return await self._advance(phase, "error", issues="no plan to execute")
        return await self._execute(phase, plan, relaunch=relaunch)

    # --- the orchestrator -----------------------------------------------------------------------

    async def run(self) -> None:
        self.worktree = await self._call(
            self.laptop.init_orchestration,
            self.feature,
            phases=self.phases,
            require_plan_approval=self.gated,
        )
        self.team = OrchestrationTeam(
            self.laptop,
            self.feature,
            self.worktree,
            panes=self.cfg.tmux_panes,
            hooks=self.cfg.hooks,
        )
        await self._call(self.team.create, self.phases)
        blocked_since: float | None = None
        waiting_since: float | None = None
        # As the skill does, the action an event's report printed is the next one to take;
        # `orchestrate next` is asked when there is none (or it says to wait).
        given: dict[str, Any] | None = None
        while True:
            action = given if given is not None else await self._next()
            given = None
            kind = action.get("action")
            phase = str(action.get("phase", "validation"))
            if kind == "spawn_validator":
                await self._board("begin", "validate", None, *VALIDATOR)
                await self._sleep(1, 3)
                given = await self._advance("validation", "validation_pass")
                await self._board("end", "validate", None)
            elif kind == "spawn_planner":
                await self._board("begin", "plan", phase, *PLANNER)
                await self._sleep(1, 3)
                plan = await self._call(self.laptop.write_plan, self.worktree, self.feature, phase)
                given = await self._advance(phase, "plan_complete", plan_path=str(plan))
                await self._board("end", "plan", phase)
            elif kind in ("spawn_executor", "reuse_plan"):
                await self._board("end", "plan", phase)
                given = await self._execute(phase, str(action.get("plan_path") or ""))
            elif kind == "spawn_reviewer":
                await self._board("begin", "review", phase, *REVIEWER)
                await self._sleep(1, 3)
                depth = phase.count(".5")
                if depth < 2 and self.rng.random() < self.cfg.p_review_gaps:
                    given = await self._advance(
                        phase, "review_gaps", issues="missing tests,unclear error messages"
                    )
                else:
                    given = await self._advance(phase, "review_pass")
                await self._board("end", "review", phase)
                # Its lead's work is reviewed: end the lead's session.
                await self._stop(phase)
            elif kind == "finalize":
                await self._sleep(0.5, 1.5)
                self.done = True
                log.info(
                    "sim.finished", feature=self.feature, steps=self.steps, launches=self.launches
                )
                return
            elif kind in ("complete", "stopped"):
                self.done = True
                return
            elif kind == "error":
                # Blocked: an operator retries from the dashboard (or the sim does, if configured).
                now = trio.current_time()
                blocked_since = blocked_since or now
                if (
                    self.cfg.auto_retry_after is not None
                    and now - blocked_since >= self.cfg.auto_retry_after
                ):
                    await self._advance(phase, "retry")
                    blocked_since = None
                await self._sleep(0.5, 1.0)
            elif str(action.get("reason", "")).endswith(" executing"):
                # Executing with nobody waiting for it (after a retry or a resume).
                blocked_since = None
                given = await self._resume_execution(_phase_in(action))
            elif kind == "wait":  # paused, or a plan awaiting approval
                now = trio.current_time()
                waiting_since = waiting_since or now
                if (
                    "awaiting approval" in str(action.get("reason", ""))
                    and self.cfg.auto_approve_after is not None
                    and now - waiting_since >= self.cfg.auto_approve_after
                ):
                    await self._advance(
                        phase if phase != "validation" else _phase_in(action), "plan_approved"
                    )
                    waiting_since = None
                await self._sleep(0.5, 1.0)
                continue
            # else (remediate, consensus_disagreement...): `next` says what follows.
            if given is not None and given.get("action") not in ACT_ON:
                given = None
            waiting_since = None


async def _read(path: Path) -> bytes | None:
    try:
        return await trio.Path(path).read_bytes()
    except FileNotFoundError:
        return None


def _phase_in(action: dict[str, Any]) -> str:
    """`wait` actions name their phase only in the reason ("phase 2 plan awaiting approval")."""
    words = str(action.get("reason", "")).split()
    return words[words.index("phase") + 1] if "phase" in words[:-1] else "1"


class Simulator:
    """Many orchestrations across laptops; `run` returns when all have finished, or with
    `continuous` never: each finished orchestration is followed by a new one on its laptop."""

    def __init__(
        self,
        laptops: list[Laptop],
        *,
        orchestrations: int,
        cfg: SimConfig | None = None,
        phases: tuple[int, int] = (2, 3),
    ) -> None:
        self.cfg = cfg or SimConfig()
        self.laptops = laptops
        self.phases = phases
        self._rng = random.Random(self.cfg.seed)
        self.sims: list[OrchestrationSim] = [self._make(i) for i in range(orchestrations)]
        self._locks: dict[int, trio.Lock] = {}

    def _make(self, i: int) -> OrchestrationSim:
        """The `i`th orchestration: on laptop i mod n, a feature name no other one has."""
        laptop = self.laptops[i % len(self.laptops)]
        base = FEATURES[i % len(FEATURES)]
        feature = base if i < len(FEATURES) else f"{base}-{i // len(FEATURES) + 1}"
        gated = (
            self.cfg.require_plan_approval_every > 0
            and i % self.cfg.require_plan_approval_every == 1
        )
        return OrchestrationSim(
            laptop,
            feature,
            self._rng.randint(*self.phases),
            self.cfg,
            random.Random(self._rng.random()),
            gated=gated,
        )

    def _lock(self, sim: OrchestrationSim) -> None:
        # One launch lock per laptop: its stand-in scenario file is one file.
        sim.launch_lock = self._locks.setdefault(id(sim.laptop), trio.Lock())

    async def run(self, *, stagger: float = 2.0, continuous: bool = False) -> None:
        for sim in self.sims:
            self._lock(sim)
        if self.cfg.hooks:
            # A continuous run comes to every laptop in turn; otherwise only the sims' own.
            used = self.laptops if continuous else [s.laptop for s in self.sims]
            laptops = {id(lt): lt for lt in used}
            for laptop in laptops.values():
                await trio.to_thread.run_sync(laptop.install_hooks)
        slots = len(self.sims)
        async with trio.open_nursery() as nursery:
            for i, sim in enumerate(self.sims):
                delay = i * stagger / self.cfg.speed
                if continuous:
                    nursery.start_soon(self._slot, sim, delay, i, slots, stagger)
                else:
                    nursery.start_soon(self._start, sim, delay)

    async def _slot(
        self, sim: OrchestrationSim, delay: float, i: int, slots: int, stagger: float
    ) -> None:
        """One of `slots` lanes of a continuous run: orchestration i, then i + slots, ..."""
        while True:
            await self._start(sim, delay)
            i += slots
            sim = self._make(i)
            self._lock(sim)
            self.sims.append(sim)
            delay = stagger / self.cfg.speed
            log.info("sim.next", feature=sim.feature, laptop=sim.laptop.name)

    async def _start(self, sim: OrchestrationSim, delay: float) -> None:
        await trio.sleep(delay)
        try:
            await sim.run()
        except SandboxError as exc:
            log.error("sim.failed", feature=sim.feature, error=str(exc))
