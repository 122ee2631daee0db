"""The chaos harness: a recorded stream of realistic local changes, a daemon that gets killed,
suspended or cut off while they happen, and a comparison of Convex with the local truth.

Shared by the pytest suite (`tests/chaos/`) and the standalone runner (`bench/chaos.py`). It
uses only the sandbox `Laptop` (real files, real `tina-session`, a real `tina daemon run`
process) and the local backend's test-only `dump` endpoint.

Sizes come from `TINA_CHAOS`: unset or `short` is the CI form (every scenario, small numbers);
`full` is the form recorded in `docs/reliability.md` (5,000 changes, a 30 s outage, a SIGSTOP
longer than the real 60 s offline threshold).

How "lost" is decided. The driver records every state it writes, with monotonic timestamps,
and the kill controller records when the daemon was up (from the moment its status showed the
Claude watcher running to the moment just before the SIGKILL). A state that stayed on disk
for at least `OBSERVE_MARGIN` seconds of up time must have been observed (the watcher groups
writes within ~30 ms and appends each observation to the durable outbox at once), so it must
appear as exactly one `taskEvents` row; a state written and replaced while the daemon was
dead may legitimately never appear. Every state a task goes through is unique to that task
(status and owner), so each event names the write it came from: an event that matches no
write is a phantom, two events for one write are a duplicate, a decreasing write index is a
reordering.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import attrs
import psutil

from tests.dashboard_api import Api
from tests.dashboard_api import eventually as _eventually
from tina.daemon.projection import orchestration_snapshot
from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import Laptop, SandboxError
from tina.local import parse_journal, parse_supervisor_state
from tina.local.models import canonical_json

ENROLLMENT_SECRET = "chaos-enrollment-secret-0123456789"
KEYS = Path(__file__).resolve().parents[1] / "fixtures" / "auth-keys"
# A state on disk this long while the daemon watched must have been observed.
OBSERVE_MARGIN = 0.5


# --- sizes ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Sizes:
    form: str
    changes: int  # file changes in the SIGKILL scenario
    kills: int
    lanes: int  # concurrent writers (orchestrations and plain teams)
    pace: float  # mean pause of a lane between two changes, in seconds
    outage_secs: float
    suspend_secs: float  # how long the daemon is SIGSTOPped
    heartbeat_secs: float  # the daemon's heartbeat in the SIGSTOP scenario
    offline_after_ms: int  # the deployment's offline threshold (TINA_OFFLINE_AFTER_MS)
    fuzz_examples: int  # hypothesis examples per fuzz test


SHORT = Sizes(
    form="short",
    changes=400,
    kills=4,
    lanes=6,
    pace=0.4,
    outage_secs=6.0,
    suspend_secs=8.0,
    heartbeat_secs=1.0,
    offline_after_ms=3000,
    fuzz_examples=200,
)
FULL = Sizes(
    form="full",
    changes=5000,  # one kill per 100 changes: a kill, its downtime and restart take about 3 s
    kills=50,
    lanes=6,
    pace=0.35,
    outage_secs=30.0,
    suspend_secs=75.0,
    heartbeat_secs=30.0,
    offline_after_ms=60_000,
    fuzz_examples=3000,
)


def sizes() -> Sizes:
    form = os.environ.get("TINA_CHAOS", "short").strip().lower() or "short"
    if form not in ("short", "full"):
        raise ValueError(f"TINA_CHAOS={form!r}: expected 'short' or 'full'")
    return FULL if form == "full" else SHORT


def record_figures(scenario: str, figures: dict[str, Any]) -> None:
    """Append one scenario's figures to `$TINA_CHAOS_REPORT` (JSON lines), if set."""
    target = os.environ.get("TINA_CHAOS_REPORT")
    if not target:
        return
    with open(target, "a") as f:
        f.write(json.dumps({"scenario": scenario, "form": sizes().form, **figures}) + "\n")


# --- the dashboard user's HTTP API, and polling --------------------------------------------------


def auth_env(**extra: str) -> dict[str, str]:
    env = {"TINA_ENROLLMENT_SECRET": ENROLLMENT_SECRET}
    for name in ("JWT_PRIVATE_KEY", "JWKS"):
        env[name] = (KEYS / name).read_text().strip()
    env.update(extra)
    return env


def sign_up(url: str, email: str, password: str = "chaos password 0123456789") -> Api:
    return Api(url).signed_in(email, password, flow="signUp")


def eventually(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """`tests.dashboard_api.eventually`, with the longer waits a daemon being killed needs."""
    return _eventually(check, timeout, interval)


# --- the daemon under test ---------------------------------------------------------------------


def make_laptop(root: Path, name: str, url: str) -> Laptop:
    return Laptop(root / name, name, url, enrollment_secret=ENROLLMENT_SECRET)


def is_ready(status: dict[str, Any] | None) -> bool:
    """Connected, and the Claude watcher has made its first full scan."""
    if status is None or status.get("info", {}).get("connection") != "connected":
        return False
    return any(c["id"] == "claude" and c["state"] == "running" for c in status.get("tree", []))


def wait_ready(laptop: Laptop, timeout: float = 30.0) -> float:
    """Block until the daemon is ready; returns the monotonic time it was seen ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = laptop.daemon
        if proc is not None and proc.poll() is not None:
            raise SandboxError(f"the daemon exited with {proc.returncode}:\n{laptop.log_tail(40)}")
        if is_ready(laptop.status()):
            return time.monotonic()
        time.sleep(0.03)
    raise SandboxError(f"the daemon was not ready within {timeout} s:\n{laptop.log_tail(40)}")


def wait_watching(laptop: Laptop, timeout: float = 30.0) -> float:
    """Like `wait_ready`, without the connection: the Claude watcher has made its first scan."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = laptop.daemon
        if proc is not None and proc.poll() is not None:
            raise SandboxError(f"the daemon exited with {proc.returncode}:\n{laptop.log_tail(40)}")
        status = laptop.status()
        if status is not None and any(
            c["id"] == "claude" and c["state"] == "running" for c in status["tree"]
        ):
            return time.monotonic()
        time.sleep(0.03)
    raise SandboxError(f"the daemon was not watching within {timeout} s:\n{laptop.log_tail(40)}")


def kill_daemon(laptop: Laptop) -> None:
    proc = laptop.daemon
    assert proc is not None, "no daemon to kill"
    if proc.poll() is not None:
        raise SandboxError(
            f"the daemon had already exited with {proc.returncode}:\n{laptop.log_tail(40)}"
        )
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    laptop.daemon = None


def daemon_pid(laptop: Laptop) -> int:
    assert laptop.daemon is not None
    return laptop.daemon.pid


class Uptime:
    """When the daemon was up and watching: [ready, killed) intervals (monotonic)."""

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []
        self._open: float | None = None
        self.last_up = 0.0
        self.kills = 0
        self.restarts = 0
        self.stalls: list[tuple[float, float]] = []  # the daemon did not answer (`Responsiveness`)

    def up(self, at: float) -> None:
        self._open = at
        self.last_up = at

    def down(self, at: float) -> None:
        if self._open is not None:
            self.intervals.append((self._open, at))
        self._open = None

    def overlap(self, start: float, end: float) -> float:
        """The longest stretch of [start, end) within one up interval, less the time the
        daemon did not answer at all then (`stalls`: a starved process observes nothing)."""
        spans = [*self.intervals, *([(self._open, float("inf"))] if self._open is not None else [])]
        best = 0.0
        for a, b in spans:
            lo, hi = max(start, a), min(end, b)
            if hi <= lo:
                continue
            stalled = sum(max(0.0, min(hi, sb) - max(lo, sa)) for sa, sb in self.stalls)
            best = max(best, hi - lo - stalled)
        return best


class Responsiveness:
    """Asks the daemon for its status over and over while it runs; each request that took
    longer than `slow` seconds (or failed) is a stall of the whole process, recorded in
    `uptime.stalls`. On a machine with a load of 20-40 on two cores the daemon may not run
    at all for seconds: what was on disk then could not be observed."""

    def __init__(self, laptop: Laptop, uptime: Uptime, slow: float = 0.25) -> None:
        self.laptop = laptop
        self.uptime = uptime
        self.slow = slow
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="responsiveness", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            proc = self.laptop.daemon
            if proc is None or proc.poll() is not None:
                continue
            t0 = time.monotonic()
            answered = self.laptop.status() is not None
            t1 = time.monotonic()
            if (not answered or t1 - t0 > self.slow) and self.laptop.daemon is proc:
                self.uptime.stalls.append((t0, t1))

    def __enter__(self) -> Responsiveness:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


class RssSampler:
    """Samples a process's resident set size in a thread; `peak` in bytes."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(self.proc.memory_info().rss)
            except psutil.Error:
                return
            self._stop.wait(self.interval)

    @property
    def peak(self) -> int:
        return max(self.samples, default=0)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


# --- the change stream --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TaskState:
    status: str
    owner: str | None
    subject: str
    description: str
    blocked_by: tuple[str, ...]
    metadata: dict[str, Any] | None

    def identity(self) -> tuple[str, str | None, str]:
        """What a `taskEvents` row says about the state it recorded."""
        return (self.status, self.owner, self.subject)


@attrs.define(kw_only=True)
class TaskWrite:
    state: TaskState
    at: float  # on disk from here (after the atomic rename)
    until: float = float("inf")  # replaced (or its team removed) here


@attrs.define(kw_only=True)
class TeamRecord:
    dir_name: str
    cwd: str
    members: list[str]
    created_at: float
    removed_at: float | None = None
    tasks: dict[str, list[TaskWrite]] = attrs.field(factory=dict)


class Budget:
    """A shared count of changes; lanes stop once it is spent. `hold(n)` makes lanes wait
    before change n + 1 until `release` (or a later `hold`): a controller that must act at a
    point of the stream (a planned kill) gets there however slow the machine is."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self.limit = total
        self._lock = threading.Lock()
        self._moved = threading.Condition(self._lock)
        self.kinds: Counter[str] = Counter()

    def take(self, kind: str, stop: threading.Event | None = None) -> bool:
        with self._moved:
            while self.used >= self.limit and self.used < self.total:
                if stop is not None and stop.is_set():
                    return False
                self._moved.wait(0.05)
            if self.used >= self.total:
                return False
            self.used += 1
            self.kinds[kind] += 1
            self._moved.notify_all()
            return True

    def hold(self, at: int) -> None:
        """Lanes wait once `at` changes are made (at least the ones made already)."""
        with self._moved:
            self.limit = max(at, self.used)
            self._moved.notify_all()

    def release(self) -> None:
        with self._moved:
            self.limit = self.total
            self._moved.notify_all()

    def reached(self, at: float, timeout: float) -> bool:
        """Wait until `at` changes are made (or the budget is spent); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._moved:
            while self.used < at and self.used < self.total:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._moved.wait(min(left, 0.05))
            return True

    @property
    def spent(self) -> bool:
        return self.used >= self.total


class Stopped(Exception):
    """The budget is spent or the stream was stopped: the lane ends."""


class ChangeStream:
    """Writes a realistic mix of changes from a few concurrent lanes and records all of it.

    Lanes: orchestrations driven through the real `tina-session` CLI (state file and events
    journal), each phase with its Claude Code team whose tasks go pending → in progress
    (→ reassigned) → completed and which is removed after review; and plain teams that belong
    to no orchestration. Successive writes of one task are at least `task_gap` apart.
    """

    def __init__(
        self,
        laptop: Laptop,
        budget: int,
        *,
        seed: int,
        lanes: int = 6,
        orchestrations: int = 2,
        pace: float = 0.2,
        task_gap: tuple[float, float] = (0.6, 1.2),
    ) -> None:
        self.laptop = laptop
        self.budget = Budget(budget)
        self.rng = random.Random(seed)
        self.lanes = lanes
        self.orchestrations = min(orchestrations, lanes)
        self.pace = pace
        self.task_gap = task_gap
        self.teams: dict[str, TeamRecord] = {}
        self.features: dict[str, Path] = {}  # feature -> worktree
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.plain_cwd = laptop.root / "scratch"
        self.plain_cwd.mkdir(parents=True, exist_ok=True)

    # -- running --------------------------------------------------------------------------------

    def start(self) -> None:
        for i in range(self.lanes):
            rng = random.Random(self.rng.random())
            target = self._orchestration_lane if i < self.orchestrations else self._plain_lane
            t = threading.Thread(
                target=self._guard, args=(target, i, rng), name=f"lane-{i}", daemon=True
            )
            self._threads.append(t)
            t.start()

    def _guard(
        self, target: Callable[[int, random.Random], None], lane: int, rng: random.Random
    ) -> None:
        try:
            target(lane, rng)
        except Stopped:
            pass
        except Exception as exc:  # reported by join(): a broken driver must fail the test
            self.errors.append(f"lane {lane}: {type(exc).__name__}: {exc}")

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            self._stop.set()
            raise AssertionError(f"driver lanes still running after {timeout} s: {alive}")
        if self.errors:
            raise AssertionError("the change driver failed:\n" + "\n".join(self.errors))

    @property
    def done(self) -> bool:
        return all(not t.is_alive() for t in self._threads)

    def _sleep(self, rng: random.Random, lo: float = 0.5, hi: float = 1.5) -> None:
        if self._stop.wait(rng.uniform(lo, hi) * self.pace):
            raise Stopped

    def _take(self, kind: str) -> None:
        if self._stop.is_set() or not self.budget.take(kind, self._stop):
            raise Stopped

    # -- primitive changes (each one counted) ----------------------------------------------------

    def _write_team(
        self, name: str, cwd: Path, members: list[str], panes: dict[str, str] | None = None
    ) -> None:
        self._take("team_config")
        docs = [
            {
                "name": m,
                "agentType": "team-lead" if m == "team-lead" else "general-purpose",
                "tmuxPaneId": (panes or {}).get(m, "in-process"),
            }
            for m in members
        ]
        self.laptop.write_team(name, docs, cwd=cwd)
        now = time.monotonic()
        dir_name = name.replace(".", "-")
        with self._lock:
            record = self.teams.get(dir_name)
            if record is None:
                self.teams[dir_name] = TeamRecord(
                    dir_name=dir_name, cwd=str(cwd), members=list(members), created_at=now
                )
            else:
                record.members = list(members)

    def _write_task(self, team: str, task_id: str, state: TaskState) -> None:
        self._take("task")
        dir_name = team.replace(".", "-")
        record = self.teams[dir_name]
        history = record.tasks.setdefault(task_id, [])
        before = time.monotonic()
        self.laptop.write_task(
            team,
            task_id,
            subject=state.subject,
            status=state.status,
            owner=state.owner,
            blocked_by=state.blocked_by,
            description=state.description,
            metadata=state.metadata,
        )
        now = time.monotonic()
        with self._lock:
            if history:
                history[-1].until = before  # certainly on disk until the new write began
            history.append(TaskWrite(state=state, at=now))

    def _remove_team(self, team: str) -> None:
        self._take("team_removal")
        dir_name = team.replace(".", "-")
        started = time.monotonic()
        self.laptop.remove_team(team)
        with self._lock:
            record = self.teams[dir_name]
            record.removed_at = started
            for history in record.tasks.values():
                if history and history[-1].until == float("inf"):
                    history[-1].until = started

    def _session(self, *args: str) -> str:
        """One tina-session command (a failure raises `SandboxError`); its stdout."""
        self._take("orchestration")
        return self.laptop.tina_session(*args).stdout

    # -- a team's task board ------------------------------------------------------------------

    def _run_board(
        self, rng: random.Random, team: str, feature: str | None, phase: str | None
    ) -> None:
        """Create 3-6 tasks, then move them through their lifecycle, interleaved."""
        count = rng.randint(3, 6)
        executors = ["executor-1", "executor-2"]
        subjects = {str(i): f"{rng.choice(SUBJECTS)} ({team} #{i})" for i in range(1, count + 1)}
        metadata = {"feature_name": feature, "phase_num": phase} if feature else None
        plans: dict[str, list[TaskState]] = {}
        for task_id, subject in subjects.items():
            blocked = (str(int(task_id) - 1),) if int(task_id) > 1 and rng.random() < 0.4 else ()
            base = TaskState(
                status="pending",
                owner=None,
                subject=subject,
                description=f"Do: {subject}",
                blocked_by=blocked,
                metadata=metadata,
            )
            first = rng.choice(executors)
            steps = [base, attrs.evolve(base, status="in_progress", owner=first)]
            if rng.random() < 0.3:
                steps.append(
                    attrs.evolve(
                        base, status="in_progress", owner=next(e for e in executors if e != first)
                    )
                )
            steps.append(attrs.evolve(steps[-1], status="completed"))
            plans[task_id] = steps
        # Creation, then progress in random interleaving with a minimum gap per task.
        next_at: dict[str, float] = {}
        for task_id in plans:
            self._write_task(team, task_id, plans[task_id].pop(0))
            next_at[task_id] = time.monotonic() + rng.uniform(*self.task_gap)
            self._sleep(rng)
        while plans:
            ready = [t for t in plans if next_at[t] <= time.monotonic()]
            if not ready:
                wait = min(next_at[t] for t in plans) - time.monotonic()
                if self._stop.wait(max(0.0, wait)):
                    raise Stopped
                continue
            task_id = rng.choice(ready)
            self._write_task(team, task_id, plans[task_id].pop(0))
            if plans[task_id]:
                next_at[task_id] = time.monotonic() + rng.uniform(*self.task_gap)
            else:
                del plans[task_id]
            self._sleep(rng)

    # -- lanes --------------------------------------------------------------------------------

    def _plain_lane(self, lane: int, rng: random.Random) -> None:
        n = 0
        while True:
            n += 1
            team = f"chat-{lane}-{n}"
            members = ["team-lead", "executor-1", "executor-2"]
            self._write_team(team, self.plain_cwd, members)
            self._sleep(rng)
            self._run_board(rng, team, None, None)
            if rng.random() < 0.5:  # a member joins late
                self._write_team(team, self.plain_cwd, [*members, "reviewer"])
            if rng.random() < 0.7:  # else removed right after its last write
                self._sleep(rng)
            self._remove_team(team)
            self._sleep(rng)

    def _orchestration_lane(self, lane: int, rng: random.Random) -> None:
        while True:  # one feature after another, each in a new worktree
            self._orchestrate(lane, rng)

    def _orchestrate(self, lane: int, rng: random.Random) -> None:
        feature = f"chaos-{lane}-{uuid.uuid4().hex[:6]}"
        phases = rng.randint(1, 3)
        repo = self.laptop.make_repo(f"repo-{feature}")
        out = self._session(  # prints the worktree path
            "init",
            "--feature",
            feature,
            "--cwd",
            str(repo),
            "--design-doc",
            str(repo / "docs" / "design.md"),
            "--total-phases",
            str(phases),
        )
        worktree = Path(out.strip())
        with self._lock:
            self.features[feature] = worktree
        self._sleep(rng)
        self._advance(feature, "validation", "validation_pass")
        for p in range(1, phases + 1):
            phase = str(p)
            team = f"{feature}-phase-{phase}"
            self._write_team(team, worktree, ["team-lead", "executor-1", "executor-2"])
            plan = self.laptop.write_plan(worktree, feature, phase)
            self._advance(feature, phase, "plan_complete", "--plan-path", str(plan))
            self._advance(feature, phase, "execute_started")
            self._run_board(rng, team, feature, phase)
            self._advance(
                feature, phase, "execute_complete", "--git-range", f"{p:07x}..{p + 1:07x}"
            )
            self._advance(feature, phase, "review_pass")
            self._remove_team(team)
            self._sleep(rng)

    def _advance(self, feature: str, phase: str, event: str, *flags: str) -> None:
        self._session(
            "orchestrate",
            "advance",
            "--feature",
            feature,
            "--phase",
            phase,
            "--event",
            event,
            *flags,
        )


SUBJECTS = [
    "Write the migration",
    "Add the API endpoint",
    "Cover edge cases with tests",
    "Wire up the UI",
    "Update the docs",
    "Refactor the service layer",
    "Add metrics",
    "Handle retries",
]


# --- the truth, and Convex compared with it -----------------------------------------------------


@attrs.define(kw_only=True)
class Verdict:
    """What the comparison found. Everything in `problems` fails the test."""

    problems: list[str] = attrs.field(factory=list)
    task_events: int = 0
    writes: int = 0
    must_observe: int = 0
    lost: int = 0
    duplicates: int = 0
    reordered: int = 0
    phantoms: int = 0
    journal_lines: int = 0
    orchestration_events: int = 0
    lost_orchestration_events: int = 0
    duplicate_orchestration_events: int = 0

    def add(self, problem: str) -> None:
        if len(self.problems) < 200:
            self.problems.append(problem)

    def figures(self) -> dict[str, int]:
        return {
            "task_writes": self.writes,
            "must_observe": self.must_observe,
            "task_events": self.task_events,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "reordered": self.reordered,
            "phantoms": self.phantoms,
            "journal_lines": self.journal_lines,
            "orchestration_events": self.orchestration_events,
            "lost_orchestration_events": self.lost_orchestration_events,
            "duplicate_orchestration_events": self.duplicate_orchestration_events,
        }


def _metadata_json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else canonical_json(value)


def compare(backend: BackendProcess, stream: ChangeStream, uptime: Uptime) -> Verdict:
    """Convex (the local backend's dump) against what the stream wrote and what the daemon saw."""
    db = backend.dump(
        "teams",
        "teamMembers",
        "tasks",
        "taskEvents",
        "orchestrations",
        "phases",
        "orchestrationEvents",
    )
    v = Verdict()
    teams = {t["dirName"]: t for t in db["teams"]}
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in db["teamMembers"]:
        members[m["teamId"]].append(m)
    task_rows: dict[tuple[str, str], dict[str, Any]] = {
        (t["teamId"], t["taskId"]): t for t in db["tasks"]
    }
    events: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    keys: Counter[str] = Counter()
    for e in db["taskEvents"]:  # oldest first
        events[(e["teamId"], e["taskId"])].append(e)
        keys[e["idempotencyKey"]] += 1
    v.task_events = len(db["taskEvents"])
    for key, n in keys.items():
        if n > 1:
            v.duplicates += n - 1
            v.add(f"idempotency key {key} appears {n} times in taskEvents")

    for dir_name, record in sorted(stream.teams.items()):
        row = teams.get(dir_name)
        observed_team = (
            uptime.overlap(record.created_at, record.removed_at or float("inf")) >= OBSERVE_MARGIN
        )
        if row is None:
            if observed_team:
                v.add(f"team {dir_name}: observed by the daemon but missing in Convex")
            v.writes += sum(len(h) for h in record.tasks.values())
            v.lost += sum(
                1
                for h in record.tasks.values()
                for w in h
                if uptime.overlap(w.at, w.until) >= OBSERVE_MARGIN
            )
            v.must_observe += sum(
                1
                for h in record.tasks.values()
                for w in h
                if uptime.overlap(w.at, w.until) >= OBSERVE_MARGIN
            )
            continue
        if record.removed_at is not None:
            if row.get("removedAt") is None:
                v.add(f"team {dir_name}: removed locally, still live in Convex")
        else:
            if row.get("removedAt") is not None:
                v.add(f"team {dir_name}: exists locally, marked removed in Convex")
            live = sorted(m["agentName"] for m in members[row["_id"]] if m.get("removedAt") is None)
            if live != sorted(record.members):
                v.add(
                    f"team {dir_name}: members {live} in Convex, {sorted(record.members)} locally"
                )
        for task_id, history in sorted(record.tasks.items()):
            _compare_task(
                v,
                uptime,
                dir_name,
                task_id,
                history,
                events.get((row["_id"], task_id), []),
                task_rows.get((row["_id"], task_id)),
                live_team=record.removed_at is None,
            )

    # Orchestrations: the state file is the truth; the journal lines are the events.
    orchestrations = {o["featureName"]: o for o in db["orchestrations"]}
    phases: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for p in db["phases"]:
        phases[p["orchestrationId"]][p["phaseNumber"]] = p
    journal_ids: Counter[str] = Counter()
    for feature, worktree in sorted(stream.features.items()):
        state_file = worktree / ".claude" / "tina" / "supervisor-state.json"
        state = parse_supervisor_state(state_file.read_bytes(), path=str(state_file))
        snapshot, want_phases = orchestration_snapshot(state)
        row = orchestrations.get(feature)
        if row is None:
            v.add(f"orchestration {feature}: missing in Convex")
            continue
        got = (row["status"], row["currentPhase"], row["totalPhases"], row["worktreePath"])
        want = (
            snapshot.status,
            snapshot.current_phase,
            snapshot.total_phases,
            snapshot.worktree_path,
        )
        if got != want:
            v.add(f"orchestration {feature}: Convex has {got}, the state file says {want}")
        got_phases = {
            k: (p["status"], p.get("planPath"), p.get("gitRange"))
            for k, p in phases[row["_id"]].items()
        }
        want_phase_map = {p.phase_number: (p.status, p.plan_path, p.git_range) for p in want_phases}
        if got_phases != want_phase_map:
            v.add(
                f"orchestration {feature}: phases {got_phases} in Convex, {want_phase_map} locally"
            )
        journal = worktree / ".claude" / "tina" / "events.jsonl"
        chunk = parse_journal(journal.read_bytes(), path=str(journal))
        assert not chunk.errors, chunk.errors
        journal_ids.update(e.id for e in chunk.entries)
    rows = Counter(e["idempotencyKey"] for e in db["orchestrationEvents"])
    v.journal_lines = sum(journal_ids.values())
    v.orchestration_events = sum(rows.values())
    for key in journal_ids:
        if key not in rows:
            v.lost_orchestration_events += 1
            v.add(f"journal line {key}: no orchestrationEvents row")
    for key, n in rows.items():
        if n > 1:
            v.duplicate_orchestration_events += n - 1
            v.add(f"journal line {key}: {n} orchestrationEvents rows")
        if key not in journal_ids:
            v.add(f"orchestrationEvents row {key}: in no journal")
    return v


def _compare_task(
    v: Verdict,
    uptime: Uptime,
    team: str,
    task_id: str,
    history: list[TaskWrite],
    events: list[dict[str, Any]],
    row: dict[str, Any] | None,
    *,
    live_team: bool,
) -> None:
    name = f"task {team}/{task_id}"
    index = {w.state.identity(): i for i, w in enumerate(history)}
    assert len(index) == len(history), f"{name}: the driver wrote a state twice"
    must = [i for i, w in enumerate(history) if uptime.overlap(w.at, w.until) >= OBSERVE_MARGIN]
    v.writes += len(history)
    v.must_observe += len(must)
    seen: list[int] = []
    for e in events:
        if e["kind"] == "removed":
            v.add(f"{name}: a 'removed' event, but the task file was never deleted on its own")
            continue
        i = index.get((e["status"], e.get("owner"), e["subject"]))
        if i is None:
            v.phantoms += 1
            v.add(f"{name}: event {e['status']}/{e.get('owner')} matches no state that was written")
            continue
        if seen and i == seen[-1]:
            v.duplicates += 1
            v.add(f"{name}: state #{i} ({e['status']}) recorded twice")
        elif seen and i < seen[-1]:
            v.reordered += 1
            v.add(f"{name}: state #{i} recorded after state #{seen[-1]}")
        seen.append(i)
    if events and events[0]["kind"] != "created":
        v.add(f"{name}: first event is {events[0]['kind']!r}, not 'created'")
    for i in must:
        if i not in seen:
            v.lost += 1
            w = history[i]
            v.add(
                f"{name}: state #{i} ({w.state.status}/{w.state.owner}) was on disk for "
                f"{uptime.overlap(w.at, w.until):.2f} s of up time but never reached Convex"
            )
    if row is None:
        if must:
            v.add(f"{name}: no tasks row")
        return
    if seen:
        last = history[seen[-1]].state
        got = (row["status"], row.get("owner"), row["subject"])
        if got != last.identity():
            v.add(
                f"{name}: tasks row {got} is not the last recorded event's state {last.identity()}"
            )
    if live_team:
        final = history[-1].state
        got_full = (
            row["status"],
            row.get("owner"),
            row["subject"],
            row["description"],
            tuple(row["blockedBy"]),
            row.get("metadata"),
        )
        want_full = (
            final.status,
            final.owner,
            final.subject,
            final.description,
            tuple(sorted(final.blocked_by)),
            _metadata_json(final.metadata),
        )
        if got_full != want_full:
            v.add(f"{name}: tasks row {got_full} differs from the file {want_full}")


def converged(
    backend: BackendProcess, stream: ChangeStream, uptime: Uptime, laptop: Laptop
) -> Verdict | None:
    """The verdict once the daemon has nothing pending and Convex agrees; None while not yet."""
    status = laptop.status()
    if status is None or status["info"].get("outbox") != 0:
        return None
    verdict = compare(backend, stream, uptime)
    return None if verdict.problems else verdict


def settle(
    backend: BackendProcess,
    stream: ChangeStream,
    uptime: Uptime,
    laptop: Laptop,
    timeout: float = 60.0,
) -> Verdict:
    """Wait for convergence; on timeout return the last verdict (with its problems)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        verdict = converged(backend, stream, uptime, laptop)
        if verdict is not None:
            return verdict
        time.sleep(0.5)
    return compare(backend, stream, uptime)


def log_events(laptop: Laptop, *names: str) -> list[dict[str, Any]]:
    wanted = set(names)
    return [e for e in laptop.log_events() if not wanted or e.get("event") in wanted]


# --- processes the tests start -------------------------------------------------------------------


@contextmanager
def stopped_process(pid: int) -> Iterator[None]:
    """SIGSTOP a process for the block; SIGCONT it even if the block fails."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def message_pane(laptop: Laptop, session: str, log: Path, cwd: Path) -> str:
    """A tmux pane in `cwd` (the agent's working directory, which the daemon checks before it
    types) that appends every line typed into it to `log`; returns its pane id."""
    cwd.mkdir(parents=True, exist_ok=True)
    laptop.tmux(
        "new-session", "-d", "-s", session, "-c", str(cwd), "-x", "200", "-y", "50",
        f"sh -c 'exec cat >> {log}'",
    )  # fmt: skip
    return laptop.tmux("display-message", "-p", "-t", session, "#{pane_id}")


def count_tokens(path: Path, pattern: str = r"<m\d{4}>") -> Counter[str]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return Counter()
    return Counter(re.findall(pattern, text))


def wait_process_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def kill_pid(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
