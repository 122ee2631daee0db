"""Populating a sandbox laptop for the daemon benchmarks, and measuring a daemon's cold start.

`populate()` builds a laptop's files the way tina's orchestrator and Claude Code do:

1. a short **simulator** pass (`tina.dev.sim.driver.Simulator`): a few orchestrations run their whole
   life through real `tina-session` calls (validate, plan, execute: `tina-session start` runs the
   stand-in `claude` as the phase lead, which makes a team and its task board and commits; review,
   finalize), so their state files and event journals are real ones;
2. the remaining orchestrations are made by real `tina-session init` calls (real git worktrees,
   several repositories worked on in parallel threads), with the simulator's feature names and
   phase counts;
3. the Claude Code teams (one per phase of an orchestration, its members working in the worktree)
   and their task files, written with the sandbox's atomic writers (the ones the simulator uses),
   with the simulator's task subjects and a realistic mix of statuses, owners, dependencies and
   metadata.

`cold_start()` starts the real `tina daemon run` on such a laptop against an emptied local
backend and measures how long it takes until Convex holds everything, and the daemon's memory.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import trio

from tina.dev.backend import BackendProcess
from tina.dev.sim.driver import TASK_SUBJECTS, SimConfig, Simulator
from tina.dev.sim.sandbox import Laptop

STATUS_MIX = ("completed", "completed", "completed", "in_progress", "pending", "pending")
DESCRIPTION = (
    "Context: {subject} for {feature}. Follow the phase plan in docs/plans; keep the change small, "
    "cover it with tests (unit and one end-to-end case), update the docs that mention it, and run "
    "the linters before marking the task complete. Ask the team lead before changing a public API."
)


@dataclass(frozen=True)
class Counts:
    """What Convex should hold for a laptop: orchestrations, live teams, live tasks."""

    orchestrations: int
    teams: int
    tasks: int

    def text(self) -> str:
        return f"{self.orchestrations:,} orchestrations, {self.teams:,} teams, {self.tasks:,} task files"


@dataclass
class Population:
    counts: Counts
    simulated: int
    seconds: float
    worktrees: dict[str, Path] = field(default_factory=dict)  # feature -> worktree
    teams: list[str] = field(default_factory=list)  # team names (dir names have dots as dashes)


def counts_on_disk(laptop: Laptop) -> Counts:
    """What the daemon will find: session lookups, team configs, task files of those teams."""
    sessions = laptop.claude / "tina-sessions"
    orchestrations = len(list(sessions.glob("*.json"))) if sessions.exists() else 0
    team_dirs = [p.parent.name for p in (laptop.claude / "teams").glob("*/config.json")]
    tasks = sum(len(list((laptop.claude / "tasks" / d).glob("*.json"))) for d in team_dirs)
    return Counts(orchestrations=orchestrations, teams=len(team_dirs), tasks=tasks)


def run_simulator(laptop: Laptop, plan: Simulator, *, timeout: float) -> None:
    """Run the plan's orchestrations to the end (or until `timeout`: their files stay as they are)."""

    async def main() -> None:
        with trio.move_on_after(timeout):
            await plan.run(stagger=0.3)

    trio.run(main)


def populate(
    laptop: Laptop,
    *,
    orchestrations: int,
    teams: int,
    tasks: int,
    simulated: int = 3,
    seed: int = 7,
    workers: int = 4,
    simulator_timeout: float = 90.0,
) -> Population:
    """Fill `laptop` with `orchestrations` worktrees, `teams` teams and `tasks` task files."""
    started = time.perf_counter()
    simulated = min(simulated, orchestrations)
    cfg = SimConfig(
        seed=seed,
        speed=25.0,
        tasks_per_phase=(3, 5),
        tmux_panes=False,
        auto_retry_after=0.2,
        auto_approve_after=0.2,
    )
    plan = Simulator([laptop], orchestrations=orchestrations, cfg=cfg, phases=(1, 3))
    live, bulk = plan.sims[:simulated], plan.sims[simulated:]
    pop = Population(counts=Counts(0, 0, 0), simulated=simulated, seconds=0.0)

    # 1. The simulator runs a few orchestrations through their whole life.
    if live:
        plan.sims = live
        run_simulator(laptop, plan, timeout=simulator_timeout)
        for sim in live:
            if sim.worktree is not None:
                pop.worktrees[sim.feature] = sim.worktree

    # 2. The rest: real `tina-session init` (real git worktrees), a few repositories in parallel;
    # one repository per thread, since git serialises worktree changes within a repository.
    by_repo: dict[str, list[tuple[str, int]]] = defaultdict(list)
    repos = max(1, min(workers * 2, len(bulk)))
    for i, sim in enumerate(bulk):
        by_repo[f"bench-repo-{i % repos}"].append((sim.feature, sim.phases))

    def init_repo(repo: str) -> dict[str, Path]:
        out = {}
        for feature, phases in by_repo[repo]:
            out[feature] = laptop.init_orchestration(feature, phases=phases, repo=repo)
        return out

    for repo in by_repo:
        laptop.make_repo(repo)  # before the threads: `make_repo` is not safe to race
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for made in pool.map(init_repo, list(by_repo)):
            pop.worktrees.update(made)

    # 3. Teams and task boards, in the worktrees of the orchestrations still running.
    rng = random.Random(seed)
    working = [(s.feature, pop.worktrees[s.feature]) for s in bulk if s.feature in pop.worktrees]
    working = working or list(pop.worktrees.items())
    left_over = counts_on_disk(laptop)  # teams the simulator's orchestrations left behind count too
    teams, tasks = max(0, teams - left_over.teams), max(0, tasks - left_over.tasks)
    if tasks and not teams:
        teams = 1  # the simulator left enough teams, not enough tasks: one more team holds them
    per_team, extra = divmod(tasks, teams) if teams else (0, 0)
    next_phase: dict[str, int] = defaultdict(lambda: 1)
    for i in range(teams):
        feature, worktree = working[i % len(working)]
        while (laptop.claude / "teams" / f"{feature}-phase-{next_phase[feature]}").exists():
            next_phase[feature] += 1  # a team the simulator left behind
        phase = str(next_phase[feature])
        next_phase[feature] += 1
        name = f"{feature}-phase-{phase}"
        laptop.write_team(
            name,
            [
                {"name": "team-lead", "agentType": "team-lead"},
                {"name": "executor-1"},
                {"name": "executor-2"},
            ],
            cwd=worktree,
        )
        for t in range(1, per_team + (1 if i < extra else 0) + 1):
            subject = f"{rng.choice(TASK_SUBJECTS)} ({t})"
            status = STATUS_MIX[rng.randrange(len(STATUS_MIX))]
            laptop.write_task(
                name,
                str(t),
                subject=subject,
                status=status,
                owner=None if status == "pending" else f"executor-{rng.randint(1, 2)}",
                blocked_by=[str(t - 1)] if t > 1 and rng.random() < 0.3 else [],
                description=DESCRIPTION.format(subject=subject.lower(), feature=feature),
                metadata={"phase_num": phase, "feature_name": feature},
            )
        pop.teams.append(name)
    pop.counts = counts_on_disk(laptop)
    pop.seconds = time.perf_counter() - started
    return pop


# --- the daemon ----------------------------------------------------------------------------------


def add_population_args(
    parser: argparse.ArgumentParser,
    *,
    orchestrations: int,
    teams: int,
    tasks: int,
    simulated: int,
    tasks_help: str | None = None,
) -> None:
    """The options `populate_as` reads, with this benchmark's defaults."""
    parser.add_argument("--orchestrations", type=int, default=orchestrations)
    parser.add_argument("--teams", type=int, default=teams)
    parser.add_argument("--tasks", type=int, default=tasks, help=tasks_help)
    parser.add_argument(
        "--simulated",
        type=int,
        default=simulated,
        help="orchestrations the simulator runs to the end",
    )


def populate_as(laptop: Laptop, args: argparse.Namespace) -> Population:
    """`populate` as `add_population_args`' options say, printing what it made."""
    pop = populate(
        laptop,
        orchestrations=args.orchestrations,
        teams=args.teams,
        tasks=args.tasks,
        simulated=args.simulated,
    )
    print(f"populated: {pop.counts.text()} in {pop.seconds:.1f} s", flush=True)
    return pop


def find_child(tree: list[dict[str, Any]], actor: str) -> dict[str, Any] | None:
    for node in tree:
        if node.get("id") == actor:
            return node
        found = find_child(node.get("children") or [], actor)
        if found is not None:
            return found
    return None


def counters(status: dict[str, Any] | None) -> dict[str, int]:
    """The daemon's own counters from its status tree (`tina daemon status --json`)."""
    if status is None:
        return {}
    tree = status.get("tree") or []
    claude = (find_child(tree, "claude") or {}).get("detail") or {}
    syncer = (find_child(tree, "syncer") or {}).get("detail") or {}
    worktrees = find_child(tree, "worktrees") or {}
    return {
        "teams": int(claude.get("teams", 0)),
        "tasks": int(claude.get("tasks", 0)),
        "reads": int(claude.get("reads", 0)),
        "sent": int(syncer.get("sent", 0)),
        "pending": int(syncer.get("pending", 0)),
        "failed": int(syncer.get("failed", 0)),
        "worktrees": len(worktrees.get("children") or []),
    }


def live_counts(backend: BackendProcess) -> Counts:
    rows = backend.dump("orchestrations", "teams", "tasks")
    return Counts(
        orchestrations=len(rows["orchestrations"]),
        teams=sum(1 for r in rows["teams"] if r.get("removedAt") is None),
        tasks=sum(1 for r in rows["tasks"] if r.get("removedAt") is None),
    )


class RssSampler:
    """Samples a process's resident set size in a thread, every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self._proc = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self.samples: list[tuple[float, int]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.perf_counter(), self._proc.memory_info().rss))
            except psutil.Error:
                return
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> int:
        return max((rss for _, rss in self.samples), default=0)

    @property
    def last(self) -> int:
        return self.samples[-1][1] if self.samples else 0


@dataclass(frozen=True)
class ColdStart:
    seconds: float  # daemon process started -> Convex holds everything
    ready: float  # daemon process started -> its status shows every team, task and worktree read
    peak_rss: int  # bytes, during the sync and the settle time after it
    settled_rss: int  # bytes, at the end of the settle time
    cpu_seconds: float  # daemon's user + system CPU time until synced
    backend_cpu_seconds: float  # the local backend's (Node) CPU time over the same span
    mutations: int  # the syncer's `sent` when synced
    reads: int  # the claude actor's file reads when synced


def fresh_daemon_state(backend: BackendProcess, laptop: Laptop) -> None:
    """An empty deployment and a daemon that has never run: no outbox, a new enrollment."""
    laptop.stop_daemon()
    backend.reset()  # deletes the laptop's node too, so its credential is dead
    laptop.credential_file.unlink(missing_ok=True)
    shutil.rmtree(laptop.state_dir, ignore_errors=True)
    laptop.state_dir.mkdir(parents=True)
    laptop.enroll()


def cold_start(
    backend: BackendProcess,
    laptop: Laptop,
    expected: Counts,
    *,
    timeout: float = 180.0,
    settle: float = 2.0,
) -> ColdStart:
    """Start the daemon on a populated laptop against an emptied backend; wait for a full sync.

    Synced = a dump of the backend shows every orchestration, team and task. To keep dumps (which
    load the single-threaded backend) from slowing the sync, one is taken only when the daemon's
    status says it has read what is on disk and has nothing pending; the time is that dump's start.
    The status is polled every 2 % of the time elapsed (at least 20 ms): answering it costs the
    daemon CPU, which a fixed fast poll would add to what is measured over a long sync. The
    daemon keeps running (the caller stops it).
    """
    fresh_daemon_state(backend, laptop)
    node = psutil.Process(backend.pid)
    node_cpu0 = sum(node.cpu_times()[:2])
    t0 = time.perf_counter()
    proc = laptop.start_daemon(wait=False)
    sampler = RssSampler(proc.pid)
    ps = psutil.Process(proc.pid)
    synced: float | None = None
    ready: float | None = None
    cpu = backend_cpu = 0.0
    last_seen: Counts | None = None
    final: dict[str, int] = {}
    try:
        deadline = t0 + timeout
        while time.perf_counter() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the daemon exited with {proc.returncode}:\n{laptop.log_tail()}"
                )
            c = counters(laptop.status())
            read_all = (
                bool(c)
                and c["teams"] >= expected.teams
                and c["tasks"] >= expected.tasks
                and (c["worktrees"] >= expected.orchestrations)
            )
            if read_all and ready is None:
                ready = time.perf_counter() - t0
            if read_all and c["pending"] == 0:
                t_dump = time.perf_counter()
                times = ps.cpu_times()
                node_cpu = sum(node.cpu_times()[:2])
                last_seen = live_counts(backend)
                if last_seen == expected:
                    synced, cpu = t_dump - t0, times.user + times.system
                    backend_cpu = node_cpu - node_cpu0
                    final = counters(laptop.status())
                    break
            time.sleep(max(0.02, 0.02 * (time.perf_counter() - t0)))
        if synced is None:
            raise RuntimeError(
                f"not synced within {timeout:.0f} s: Convex holds {last_seen}, "
                f"expected {expected}; daemon: {counters(laptop.status())}\n{laptop.log_tail()}"
            )
        time.sleep(settle)
    finally:
        sampler.stop()
    return ColdStart(
        seconds=synced,
        ready=ready if ready is not None else synced,
        peak_rss=sampler.peak,
        settled_rss=sampler.last,
        cpu_seconds=cpu,
        backend_cpu_seconds=backend_cpu,
        mutations=final.get("sent", 0),
        reads=final.get("reads", 0),
    )


def wait_idle(laptop: Laptop, *, quiet: float = 1.0, timeout: float = 60.0) -> dict[str, int]:
    """Wait until the daemon's counters have not moved for `quiet` seconds and nothing is pending."""
    deadline = time.monotonic() + timeout
    last = counters(laptop.status())
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = counters(laptop.status())
        if now != last or now.get("pending", 1):
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    raise RuntimeError(f"the daemon did not go idle within {timeout:.0f} s: {last}")


def mib(n: float) -> str:
    return f"{n / 2**20:.1f}"


def dump_json(path: Path | None, doc: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(doc, indent=2) + "\n")


def rewrite_task(laptop: Laptop, team: str, task_id: str, **changes: Any) -> Path:
    """Write a task file again with some fields changed, the rest as they are on disk."""
    path = laptop.claude / "tasks" / team.replace(".", "-") / f"{task_id}.json"
    doc = json.loads(path.read_text())
    fields: dict[str, Any] = {
        "subject": doc["subject"],
        "status": doc["status"],
        "owner": doc.get("owner"),
        "blocked_by": doc.get("blockedBy", []),
        "description": doc.get("description", ""),
        "metadata": doc.get("metadata"),
    }
    fields.update(changes)
    return laptop.write_task(team, task_id, **fields)


def tasks_by_team(backend: BackendProcess) -> dict[str, dict[str, dict[str, Any]]]:
    """{team dir: {task id: task row}} of the live tasks in Convex."""
    rows = backend.dump("teams", "tasks")
    dirs = {t["_id"]: t["dirName"] for t in rows["teams"]}
    out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for task in rows["tasks"]:
        if task.get("removedAt") is None:
            out[dirs.get(task["teamId"], "?")][task["taskId"]] = task
    return out
