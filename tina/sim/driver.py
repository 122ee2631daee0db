"""Drives orchestrations the way tina's orchestrator and Claude Code do.

Each simulated orchestrator loops on `tina-session orchestrate next` and performs the action
it gets, as the real `/tina:orchestrate` skill does: validate, plan (a phase team appears with
a task board and writes a plan file), execute (tasks move pending → in progress → completed,
commits land in the worktree), review (pass, or gaps that open a remediation phase), finalize.
Errors block a phase until an operator retries it; the plan-approval gate waits for an
operator's approve/reject; a paused orchestration waits to be resumed. Deterministic for a
seed; the `speed` factor scales every delay.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import structlog
import trio

from .sandbox import Laptop, SandboxError

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


@attrs.define(kw_only=True)
class SimConfig:
    seed: int = 7
    speed: float = 1.0  # > 1 runs faster
    tasks_per_phase: tuple[int, int] = (3, 6)
    executors: int = 2
    p_review_gaps: float = 0.25
    p_error: float = 0.1
    require_plan_approval_every: int = 3  # every Nth orchestration uses the approval gate
    auto_retry_after: float | None = None  # seconds; None: wait for an operator
    auto_approve_after: float | None = None  # seconds; None: wait for an operator
    tmux_panes: bool = True


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
        self.done = False
        self.steps = 0
        self._commits = 0

    async def _sleep(self, lo: float, hi: float) -> None:
        await trio.sleep(self.rng.uniform(lo, hi) / self.cfg.speed)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await trio.to_thread.run_sync(partial(fn, *args, **kwargs))

    async def _next(self) -> dict[str, Any]:
        out: dict[str, Any] = await self._call(
            self.laptop.tina_session, "orchestrate", "next", "--feature", self.feature
        )
        return out  # {"ok": true, "action": "spawn_planner", "phase": "1", ...}

    async def _advance(self, phase: str, event: str, **flags: str) -> dict[str, Any]:
        self.steps += 1
        out: dict[str, Any] = await self._call(
            self.laptop.advance, self.feature, phase, event, check=False, **flags
        )
        return out

    def _team(self, phase: str) -> str:
        return f"{self.feature}-phase-{phase}"

    async def _open_team(self, phase: str) -> list[str]:
        assert self.worktree is not None
        names = ["team-lead"] + [f"executor-{i + 1}" for i in range(self.cfg.executors)]
        members = []
        for name in names:
            pane = "in-process"
            if self.cfg.tmux_panes and name != "team-lead":
                session = f"{self._team(phase)}-{name}".replace(".", "_")
                try:
                    pane = await self._call(self.laptop.open_pane, session, self.worktree)
                except SandboxError:
                    pane = "in-process"
            members.append(
                {
                    "name": name,
                    "agentType": "team-lead" if name == "team-lead" else "general-purpose",
                    "tmuxPaneId": pane,
                }
            )
        await self._call(self.laptop.write_team, self._team(phase), members, cwd=self.worktree)
        count = self.rng.randint(*self.cfg.tasks_per_phase)
        subjects = self.rng.sample(TASK_SUBJECTS, k=min(count, len(TASK_SUBJECTS)))
        for i, subject in enumerate(subjects, start=1):
            await self._call(
                self.laptop.write_task,
                self._team(phase),
                str(i),
                subject=subject,
                blocked_by=[str(i - 1)] if i > 1 and self.rng.random() < 0.4 else [],
                metadata={"phase_num": phase, "feature_name": self.feature},
            )
            await self._sleep(0.05, 0.2)
        return subjects

    async def _execute_tasks(self, phase: str) -> None:
        team_dir = self.laptop.claude / "tasks" / self._team(phase).replace(".", "-")
        ids = sorted(
            (p.stem for p in team_dir.glob("*.json")), key=lambda s: int(s) if s.isdigit() else 0
        )
        for task_id in ids:
            owner = f"executor-{self.rng.randint(1, self.cfg.executors)}"
            subject = self.rng.choice(TASK_SUBJECTS)
            await self._call(
                self.laptop.write_task,
                self._team(phase),
                task_id,
                subject=subject,
                status="in_progress",
                owner=owner,
            )
            await self._sleep(0.5, 2.0)
            await self._call(
                self.laptop.write_task,
                self._team(phase),
                task_id,
                subject=subject,
                status="completed",
                owner=owner,
            )
            await self._sleep(0.1, 0.5)

    async def _commit(self) -> str:
        assert self.worktree is not None
        self._commits += 1
        first = (
            await self._call(
                self.laptop.run, ["git", "rev-parse", "--short", "HEAD"], cwd=self.worktree
            )
        ).stdout.strip()
        (self.worktree / f"change-{self._commits}.txt").write_text(f"change {self._commits}\n")
        await self._call(self.laptop.run, ["git", "add", "."], cwd=self.worktree)
        await self._call(
            self.laptop.run,
            ["git", "commit", "-q", "-m", f"{self.feature}: change {self._commits}"],
            cwd=self.worktree,
        )
        last = (
            await self._call(
                self.laptop.run, ["git", "rev-parse", "--short", "HEAD"], cwd=self.worktree
            )
        ).stdout.strip()
        return f"{first}..{last}"

    async def run(self) -> None:
        self.worktree = await self._call(
            self.laptop.init_orchestration,
            self.feature,
            phases=self.phases,
            require_plan_approval=self.gated,
        )
        blocked_since: float | None = None
        waiting_since: float | None = None
        while True:
            action = await self._next()
            kind = action.get("action")
            phase = str(action.get("phase", "validation"))
            if kind == "spawn_validator":
                await self._sleep(1, 3)
                await self._advance("validation", "validation_pass")
            elif kind == "spawn_planner":
                if not (
                    self.laptop.claude / "teams" / self._team(phase).replace(".", "-")
                ).exists():
                    await self._open_team(phase)
                await self._sleep(1, 3)
                plan = await self._call(self.laptop.write_plan, self.worktree, self.feature, phase)
                await self._advance(phase, "plan_complete", plan_path=str(plan))
            elif kind in ("spawn_executor", "reuse_plan"):
                await self._advance(phase, "execute_started")
                if self.rng.random() < self.cfg.p_error:
                    await self._sleep(1, 2)
                    await self._advance(phase, "error", issues="tests failed in CI")
                    continue
                await self._execute_tasks(phase)
                git_range = await self._commit()
                await self._advance(phase, "execute_complete", git_range=git_range)
            elif kind == "spawn_reviewer":
                await self._sleep(1, 3)
                depth = phase.count(".5")
                if depth < 2 and self.rng.random() < self.cfg.p_review_gaps:
                    await self._advance(
                        phase, "review_gaps", issues="missing tests,unclear error messages"
                    )
                else:
                    await self._advance(phase, "review_pass")
                    await self._call(self.laptop.remove_team, self._team(phase))
            elif kind == "finalize":
                await self._sleep(0.5, 1.5)
                self.done = True
                log.info("sim.finished", feature=self.feature, steps=self.steps)
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
                # Executing with nobody at work (after a retry): the executors pick it up again.
                phase = _phase_in(action)
                await self._execute_tasks(phase)
                await self._advance(phase, "execute_complete", git_range=await self._commit())
            else:  # wait: paused, or a plan awaiting approval
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
            waiting_since = None


def _phase_in(action: dict[str, Any]) -> str:
    """`wait` actions name their phase only in the reason ("phase 2 plan awaiting approval")."""
    words = str(action.get("reason", "")).split()
    return words[words.index("phase") + 1] if "phase" in words[:-1] else "1"


class Simulator:
    """Many orchestrations across laptops; `run` returns when all have finished."""

    def __init__(
        self,
        laptops: list[Laptop],
        *,
        orchestrations: int,
        cfg: SimConfig | None = None,
        phases: tuple[int, int] = (2, 3),
    ) -> None:
        self.cfg = cfg or SimConfig()
        rng = random.Random(self.cfg.seed)
        self.sims: list[OrchestrationSim] = []
        for i in range(orchestrations):
            laptop = laptops[i % len(laptops)]
            base = FEATURES[i % len(FEATURES)]
            feature = base if i < len(FEATURES) else f"{base}-{i // len(FEATURES) + 1}"
            gated = (
                self.cfg.require_plan_approval_every > 0
                and i % self.cfg.require_plan_approval_every == 1
            )
            self.sims.append(
                OrchestrationSim(
                    laptop,
                    feature,
                    rng.randint(*phases),
                    self.cfg,
                    random.Random(rng.random()),
                    gated=gated,
                )
            )

    async def run(self, *, stagger: float = 2.0) -> None:
        async with trio.open_nursery() as nursery:
            for i, sim in enumerate(self.sims):
                nursery.start_soon(self._start, sim, i * stagger / self.cfg.speed)

    async def _start(self, sim: OrchestrationSim, delay: float) -> None:
        await trio.sleep(delay)
        try:
            await sim.run()
        except SandboxError as exc:
            log.error("sim.failed", feature=sim.feature, error=str(exc))
