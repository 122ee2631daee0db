"""Steady state: the daemon's CPU with nothing changing, and the cost of one task file change.

The laptop is the cold-start population (`_population.populate`: a simulator pass, real
`tina-session init` worktrees, 100 teams, 5,000 task files by default). The real daemon starts,
syncs everything (`_population.cold_start`) and is left until its counters have not moved for
3 s. Then:

- **idle CPU**: the daemon's user + system CPU time (psutil, read from outside the process) over
  `--seconds` (60) of wall time with nothing changing on disk, in windows of 5 s; the figure is
  CPU seconds / wall seconds of the whole span, in % of one core; the windows give the median and
  p99. Heartbeats and the backend's pings happen as they would on a laptop; nothing queries the
  daemon during the span.
- **idle wake-ups**: over the same span, the context switches (voluntary + involuntary) of every
  thread of the daemon, read from `/proc/<pid>/task/*/status` once a second (from outside: reading
  them does not wake the daemon), summed per thread as deltas from the first reading of that thread
  (a thread born during the span counts from 0). A thread that ends between two readings loses at
  most its last second. Per thread name (`comm`) too, to see who wakes. Linux only.
- **one task file changes**: `--changes` (20) times, one task file of a random team is written
  again (atomically, as Claude Code does) with a new subject. The deltas of the daemon's own
  counters (`tina daemon status --json`: the claude actor's `reads`, the syncer's `sent`) are
  read once the new subject is in Convex and the counters have been still for 0.5 s.

Targets (DESIGN §8): ≤ 0.2 % of one core and ≤ 2 wake-ups a second (200 worktrees, 100 teams);
one task file change = 1 file read, 1 mutation.

    .venv/bin/python bench/idle_cpu.py [--seconds 60] [--changes 20] [--teams 100] [--tasks 5000]
                                       [--orchestrations 200] [--record] [--json PATH]
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]
from _common import (
    add_output_args,
    backend_and_laptop,
    machine,
    record,
    summary,
    target,
    today,
    write_result,
)
from _population import (
    add_population_args,
    cold_start,
    counters,
    populate_as,
    rewrite_task,
    tasks_by_team,
    wait_idle,
)

from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import Laptop
from tina.log import configure_logging

WINDOW = 5.0
SAMPLE = 1.0  # context switches are read this often
CPU_TARGET = 0.2  # % of one core
WAKE_TARGET = 2.0  # wake-ups (context switches) a second, all threads


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def thread_switches(pid: int) -> dict[int, tuple[str, int]]:
    """{tid: (thread name, voluntary + involuntary context switches)} of a process's live threads."""
    out: dict[int, tuple[str, int]] = {}
    task_dir = Path(f"/proc/{pid}/task")
    for entry in task_dir.iterdir():
        try:
            text = (entry / "status").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        switches = int(fields["voluntary_ctxt_switches"]) + int(
            fields["nonvoluntary_ctxt_switches"]
        )
        out[int(entry.name)] = (fields["Name"].strip(), switches)
    return out


class Wakeups:
    """Context switches of every thread of a process, accumulated across readings."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.last = thread_switches(pid)
        self.by_name: dict[str, int] = {}

    def read(self) -> int:
        """Switches since the previous reading (all threads)."""
        now = thread_switches(self.pid)
        total = 0
        for tid, (name, count) in now.items():
            delta = count - self.last.get(tid, (name, 0))[1]
            self.by_name[name] = self.by_name.get(name, 0) + delta
            total += delta
        self.last = now
        return total


@dataclass
class Idle:
    cpu: float  # % of one core over the whole span
    windows: list[float]  # % per window
    wakeups: float  # per second over the whole span
    wake_windows: list[float]  # per second, per window
    by_thread: dict[str, float]  # per second, per thread name


def measure_idle(pid: int, seconds: float) -> Idle:
    proc = psutil.Process(pid)
    wake = Wakeups(pid)
    windows: list[float] = []
    wake_windows: list[float] = []
    start_cpu, start = cpu_seconds(proc), time.perf_counter()
    cpu, t = start_cpu, start
    switches = total_switches = 0
    next_window = start + WINDOW
    end = start + seconds
    while True:
        now = time.perf_counter()
        if now >= end - 1e-6:
            break
        time.sleep(max(0.0, min(SAMPLE, end - now, next_window - now)))
        got = wake.read()
        switches += got
        total_switches += got
        now = time.perf_counter()
        if now >= next_window - 1e-6 or now >= end - 1e-6:
            cpu2 = cpu_seconds(proc)
            windows.append(100 * (cpu2 - cpu) / (now - t))
            wake_windows.append(switches / (now - t))
            cpu, t, switches = cpu2, now, 0
            next_window = now + WINDOW
    span = t - start
    return Idle(
        cpu=100 * (cpu - start_cpu) / span,
        windows=windows,
        wakeups=total_switches / span,
        wake_windows=wake_windows,
        by_thread={k: v / span for k, v in sorted(wake.by_name.items(), key=lambda kv: -kv[1])},
    )


def one_change(
    backend: BackendProcess, laptop: Laptop, team: str, task_id: str, n: int, timeout: float = 30.0
) -> tuple[int, int]:
    """Change one task's subject; returns (file reads, mutations) the daemon spent on it."""
    before = counters(laptop.status())
    subject = f"one change {n} {time.time_ns()}"
    rewrite_task(laptop, team, task_id, subject=subject)
    deadline = time.monotonic() + timeout
    dir_name = team.replace(".", "-")
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = counters(laptop.status())
        if now.get("sent", 0) > before["sent"] and now.get("pending", 1) == 0:
            row = tasks_by_team(backend).get(dir_name, {}).get(task_id)
            if row is not None and row["subject"] == subject:
                after = wait_idle(laptop, quiet=0.5)
                return after["reads"] - before["reads"], after["sent"] - before["sent"]
    raise RuntimeError(f"the change of {team}/{task_id} was not synced within {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="idle span measured")
    parser.add_argument("--changes", type=int, default=20, help="single task file changes measured")
    add_population_args(parser, orchestrations=200, teams=100, tasks=5000, simulated=3)
    add_output_args(parser)
    args = parser.parse_args()
    configure_logging("quiet")
    host = machine()
    rng = random.Random(11)
    with backend_and_laptop() as (_root, backend, _url, laptop):
        pop = populate_as(laptop, args)
        synced = cold_start(backend, laptop, pop.counts)
        print(f"synced in {synced.seconds:.1f} s", flush=True)
        wait_idle(laptop, quiet=3.0, timeout=120)
        assert laptop.daemon is not None
        print(f"daemon pid {laptop.daemon.pid}", flush=True)
        idle = measure_idle(laptop.daemon.pid, args.seconds)
        overall, windows = idle.cpu, idle.windows
        print(
            f"idle: {overall:.2f} % of one core, {idle.wakeups:.2f} wake-ups/s over "
            f"{args.seconds:.0f} s; per thread: "
            + ", ".join(f"{k} {v:.2f}/s" for k, v in idle.by_thread.items()),
            flush=True,
        )
        reads: list[float] = []
        mutations: list[float] = []
        for n in range(args.changes):
            team = rng.choice(pop.teams)
            ids = sorted(
                p.stem for p in (laptop.claude / "tasks" / team.replace(".", "-")).glob("*.json")
            )
            r, m = one_change(backend, laptop, team, rng.choice(ids), n)
            reads.append(r)
            mutations.append(m)
    s_win, s_reads, s_muts = summary(windows), summary(reads), summary(mutations)
    s_wake = summary(idle.wake_windows)
    cpu_met = overall <= CPU_TARGET
    wake_met = idle.wakeups <= WAKE_TARGET
    threads = ", ".join(f"{k} {v:.2f}" for k, v in idle.by_thread.items() if v >= 0.005) or "none"
    one_met = all(r == 1 for r in reads) and all(m == 1 for m in mutations)
    body = f"""## Steady state: idle CPU, and one task file change

Measured {today()} on {host}; `bench/idle_cpu.py --seconds {args.seconds:.0f} --changes {args.changes}`.
The laptop: {pop.counts.text()} (populated as for the cold start), fully synced by the real
daemon, then left alone until the daemon's counters had been still for 3 s.

**Idle CPU**: the daemon's user + system CPU time over {args.seconds:.0f} s of wall time with
nothing changing (heartbeats every 30 s and the backend's pings included; read with psutil from
outside): **{overall:.2f} % of one core** overall; per {WINDOW:.0f} s window median
{s_win["median"]:.2f} %, p99 {s_win["p99"]:.2f} %, max {s_win["max"]:.2f} % (n={s_win["n"]:.0f}).
Target ≤ {CPU_TARGET:g} %: **{"met" if cpu_met else "NOT met"}**.

**Idle wake-ups**: context switches (voluntary + involuntary) of all the daemon's threads over the
same span (`/proc/<pid>/task/*/status`, read once a second): **{idle.wakeups:.2f} a second**; per
{WINDOW:.0f} s window median {s_wake["median"]:.2f}, max {s_wake["max"]:.2f}. Per thread (a second):
{threads}. Target ≤ {WAKE_TARGET:g} a second: **{"met" if wake_met else "NOT met"}**.

**One task file changes** ({args.changes} times, a random task of a random team gets a new
subject; the deltas of the daemon's own counters once Convex has the new subject):
file reads median {s_reads["median"]:.0f}, max {s_reads["max"]:.0f}; mutations median
{s_muts["median"]:.0f}, max {s_muts["max"]:.0f}. Target 1 file read, 1 mutation:
**{"met" if one_met else "NOT met"}**.
"""
    print(body)
    if args.record:
        record("idle-cpu", body)
    targets = [
        target(
            "steady state, nothing changing: daemon CPU",
            f"{overall:.2f} % over {args.seconds:.0f} s (5 s windows: median {s_win['median']:.2f} %, "
            f"p99 {s_win['p99']:.2f} %)",
            f"≤ {CPU_TARGET:g} % of one core",
            cpu_met,
        ),
        target(
            "steady state, nothing changing: daemon wake-ups",
            f"{idle.wakeups:.2f}/s over {args.seconds:.0f} s (5 s windows: median "
            f"{s_wake['median']:.2f}/s, max {s_wake['max']:.2f}/s)",
            f"≤ {WAKE_TARGET:g} a second",
            wake_met,
        ),
        target(
            "one task file changes",
            f"reads {s_reads['median']:.0f} (max {s_reads['max']:.0f}), mutations {s_muts['median']:.0f} "
            f"(max {s_muts['max']:.0f}), n={len(reads)}",
            "1 file read, 1 mutation",
            one_met,
        ),
    ]
    write_result(
        args.json,
        "idle-cpu",
        body,
        targets,
        {
            "overall": overall,
            "windows": windows,
            "wakeups": idle.wakeups,
            "wake_windows": idle.wake_windows,
            "by_thread": idle.by_thread,
            "reads": reads,
            "mutations": mutations,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
