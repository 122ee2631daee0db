"""A burst: 1,000 task file writes within 1 s; how long until Convex has every final state.

The laptop is populated as for the cold start, at a smaller scale (`_population.populate`: a
simulator pass, `--orchestrations` real `tina-session init` worktrees, `--teams` teams with
`--tasks` task files). Every run starts from the same state: the backend is emptied, the real
daemon starts, syncs everything and goes idle (its counters still for 1 s). The run then writes
`--writes` (1,000) task files, evenly paced over `--span` (1 s), round-robin over every task of
every team (so with 5 teams × 20 tasks each file is written 10 times), each write with a new
subject and the next status of pending → in_progress → completed, atomically as Claude Code
does. Measured per run:

- **time to fully synced**: from the end of the last write until a dump of the backend shows
  every task's final subject and status (polled every 25 ms; the time is taken when the dump
  that shows it returns);
- **mutations**: the daemon's syncer `sent` delta over the run (its counters are read before the
  burst and once it is idle again), against the number of writes: the syncer coalesces what one
  team's files did while a mutation was in flight;
- **task events**: `taskEvents` rows the run added (every state the daemon saw, in order).

Target (DESIGN §8): all synced ≤ 3 s after the last write.

    .venv/bin/python bench/burst.py [--runs 5] [--writes 1000] [--span 1.0] [--teams 5] [--tasks 100]
                                    [--record] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

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
    counts_on_disk,
    populate_as,
    tasks_by_team,
    wait_idle,
)

from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import Laptop
from tina.log import configure_logging

TARGET_S = 3.0
STATUSES = ("pending", "in_progress", "completed")


def burst(
    laptop: Laptop, files: list[tuple[str, str, dict[str, Any]]], writes: int, span: float, run: int
) -> tuple[dict[tuple[str, str], tuple[str, str]], float, float]:
    """Write `writes` task files paced over `span` seconds. Returns (final state per file, start, end)."""
    final: dict[tuple[str, str], tuple[str, str]] = {}
    start = time.perf_counter()
    for i in range(writes):
        due = start + span * i / writes
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        team, task_id, fields = files[i % len(files)]
        round_ = i // len(files)
        subject, status = f"burst {run}.{i}", STATUSES[(run + round_) % len(STATUSES)]
        laptop.write_task(
            team,
            task_id,
            **{
                **fields,
                "subject": subject,
                "status": status,
                "owner": None if status == "pending" else "executor-1",
            },
        )
        final[(team.replace(".", "-"), task_id)] = (subject, status)
    return final, start, time.perf_counter()


def task_fields(laptop: Laptop, team: str, task_id: str) -> dict[str, Any]:
    """The fields of a task file as `Laptop.write_task` takes them (read once, before the burst)."""
    doc = json.loads(
        (laptop.claude / "tasks" / team.replace(".", "-") / f"{task_id}.json").read_text()
    )
    return {
        "subject": doc["subject"],
        "status": doc["status"],
        "owner": doc.get("owner"),
        "blocked_by": doc.get("blockedBy", []),
        "description": doc.get("description", ""),
        "metadata": doc.get("metadata"),
    }


def wait_synced(
    backend: BackendProcess, final: dict[tuple[str, str], tuple[str, str]], timeout: float = 60.0
) -> float:
    """perf_counter time at which a dump showed every final state."""
    deadline = time.perf_counter() + timeout
    missing = len(final)
    while time.perf_counter() < deadline:
        rows = tasks_by_team(backend)
        seen = time.perf_counter()
        missing = sum(
            1
            for (d, t), (subject, status) in final.items()
            if (row := rows.get(d, {}).get(t)) is None
            or (row["subject"], row["status"]) != (subject, status)
        )
        if missing == 0:
            return seen
        time.sleep(0.025)
    raise RuntimeError(
        f"{missing} of {len(final)} tasks not in their final state after {timeout:.0f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument(
        "--span", type=float, default=1.0, help="seconds the writes are spread over"
    )
    add_population_args(
        parser,
        orchestrations=10,
        teams=5,
        tasks=100,
        simulated=2,
        tasks_help="task files in all (the burst rewrites them)",
    )
    add_output_args(parser)
    args = parser.parse_args()
    configure_logging("quiet")
    host = machine()
    times: list[float] = []
    mutations: list[float] = []
    events: list[float] = []
    spans: list[float] = []
    with backend_and_laptop() as (_root, backend, _url, laptop):
        pop = populate_as(laptop, args)
        # Every live team's task files: those populate made and those the simulator left.
        teams = sorted(p.parent.name for p in (laptop.claude / "teams").glob("*/config.json"))
        files = [
            (team, p.stem, task_fields(laptop, team, p.stem))
            for team in teams
            for p in sorted((laptop.claude / "tasks" / team).glob("*.json"))
        ]
        if not files:
            raise SystemExit("burst: the laptop has no task files to write")
        for run in range(args.runs):
            # Every run starts from the same database: an emptied backend, a full sync, idle.
            cold_start(backend, laptop, counts_on_disk(laptop), settle=0.0)
            before = wait_idle(laptop, quiet=1.0)
            events_before = len(backend.dump("taskEvents")["taskEvents"])
            final, start, end = burst(laptop, files, args.writes, args.span, run)
            synced = wait_synced(backend, final)
            after = wait_idle(laptop, quiet=1.0)
            times.append(synced - end)
            spans.append(end - start)
            mutations.append(after["sent"] - before["sent"])
            events.append(len(backend.dump("taskEvents")["taskEvents"]) - events_before)
            print(
                f"run {run + 1}/{args.runs}: {args.writes} writes in {end - start:.2f} s, synced "
                f"{times[-1]:.2f} s after the last, {mutations[-1]:.0f} mutations",
                flush=True,
            )
        laptop.stop_daemon()
    s_t, s_m, s_e, s_span = summary(times), summary(mutations), summary(events), summary(spans)
    met = s_t["p99"] <= TARGET_S
    rows = "\n".join(
        f"| {i + 1} | {spans[i]:.2f} | {times[i]:.2f} | {mutations[i]:.0f} | {events[i]:.0f} |"
        for i in range(len(times))
    )
    body = f"""## Burst: {args.writes:,} task writes in {args.span:g} s

Measured {today()} on {host}; `bench/burst.py --runs {args.runs} --writes {args.writes} --span {args.span:g} --teams {args.teams} --tasks {args.tasks}`.
The laptop: {pop.counts.text()} (a simulator pass, real `tina-session` worktrees). Every run
starts from an emptied backend, fully synced by a freshly started real daemon, idle. Each run writes {args.writes:,} task files evenly over {args.span:g} s, round-robin
over the {len(files)} task files of {len({f[0] for f in files})} teams (each file {args.writes // max(1, len(files))} times: a new subject and the next
status each time), atomically. **Synced** is from the end of the last write until a dump of the
backend shows every task's final subject and status (polled every 25 ms). Mutations: the daemon's
syncer `sent` over the run; task events: `taskEvents` rows the run added.

| run | writes took (s) | synced after the last write (s) | mutations | task events |
|---:|---:|---:|---:|---:|
{rows}

Synced after the last write: median **{s_t["median"]:.2f} s**, p99 {s_t["p99"]:.2f} s, max {s_t["max"]:.2f} s
(target ≤ {TARGET_S:.0f} s: **{"met" if met else "NOT met"}**). Mutations per run: median {s_m["median"]:.0f}
for {args.writes:,} writes, p99 {s_m["p99"]:.0f}; task events per run: median {s_e["median"]:.0f}.

The writes are paced to take {args.span:g} s; they took {s_span["median"]:.2f} s (median) because the
writer shares the machine's two cores with the daemon and the backend, both busy with the burst.
A file written again before the daemon read it is seen once, in its latest state, so task events
can be fewer than writes; no final state is ever missed.
"""
    print(body)
    if args.record:
        record("burst", body)
    targets = [
        target(
            f"{args.writes:,} task writes in {args.span:g} s: all synced after the last write",
            f"median {s_t['median']:.2f} s, p99 {s_t['p99']:.2f} s (n={len(times)}; the writes took "
            f"{min(spans):.2f}–{max(spans):.2f} s); {s_m['median']:.0f} mutations (median)",
            "≤ 3 s",
            met,
        )
    ]
    write_result(
        args.json,
        "burst",
        body,
        targets,
        {
            "synced_after_last_write": times,
            "mutations": mutations,
            "task_events": events,
            "write_span": s_span["median"],
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
