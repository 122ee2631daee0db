"""Cold start: a laptop with 200 worktrees, 100 teams and 5,000 task files; the daemon starts.

The laptop is populated once (`_population.populate`): a short simulator pass runs a few
orchestrations through their whole life with real `tina-session` calls, the others are made by
real `tina-session init` (real git worktrees), and 100 Claude Code teams with 5,000 task files
are written in their worktrees with the sandbox's atomic writers.

Each run starts from nothing on the Convex side: the local backend is emptied, the laptop enrolls
again and the daemon's state directory (outbox) is deleted. Then the real `tina daemon run` process
is started and the clock runs until a dump of the backend holds every orchestration, team and task
(`_population.cold_start`). Measured per run:

- **full sync**: seconds from starting the daemon process (interpreter start-up and imports
  included) until Convex holds everything;
- **daemon ready**: until the daemon's status (its control socket, which answers once the whole
  supervision tree has started) shows every team, task and worktree read: the daemon's own share,
  the rest is the mutations' way through the backend;
- **RSS**: the daemon's resident memory sampled every 20 ms (psutil): the peak during the sync and
  the 2 s after it, and the value 2 s after the sync;
- the daemon's CPU time until synced, the local backend's (Node) CPU time over the same span, the
  daemon's mutations (the syncer's `sent`) and file reads (the claude actor's `reads`).

Target (DESIGN §8): full sync ≤ 10 s; RSS ≤ 120 MB (MB = 10⁶ bytes; we report MiB as well).

    .venv/bin/python bench/cold_start.py [--runs 3] [--orchestrations 200] [--teams 100]
                                         [--tasks 5000] [--record] [--json PATH]
"""

from __future__ import annotations

import argparse

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
    ColdStart,
    Population,
    add_population_args,
    cold_start,
    mib,
    populate_as,
)

from tina.log import configure_logging

# The cost meter's counters of function executions (the others are documents, bytes and errors).
CALL_KINDS = ("calls", "rerun", "scheduled", "cron")
SYNC_TARGET_S = 10.0
RSS_TARGET_B = 120e6


def render(
    pop: Population,
    runs: list[ColdStart],
    costs: list[dict[str, int]],
    args: argparse.Namespace,
    host: str,
) -> tuple[str, list[dict[str, object]]]:
    secs = [r.seconds for r in runs]
    peaks = [float(r.peak_rss) for r in runs]
    settled = [float(r.settled_rss) for r in runs]
    s_secs, s_peak = summary(secs), summary(peaks)
    rows = "\n".join(
        f"| {i + 1} | {r.seconds:.2f} | {r.ready:.2f} | {mib(r.peak_rss)} | {mib(r.settled_rss)} "
        f"| {r.cpu_seconds:.2f} | {r.backend_cpu_seconds:.2f} | {r.mutations:,} | {r.reads:,} |"
        for i, r in enumerate(runs)
    )
    sync_met = s_secs["p99"] <= SYNC_TARGET_S
    rss_met = s_peak["p99"] <= RSS_TARGET_B
    body = f"""## Cold start: {pop.counts.text()}

Measured {today()} on {host}; `bench/cold_start.py --runs {args.runs} --orchestrations {args.orchestrations} --teams {args.teams} --tasks {args.tasks}`.
The laptop: {pop.counts.text()} ({pop.simulated} orchestrations run to the end by the simulator,
the others made by `tina-session init`, real git worktrees; teams and tasks written by the sandbox's
atomic writers; populated in {pop.seconds:.0f} s, outside the measurement). Each run empties the
local backend, enrolls the laptop again, deletes the daemon's state directory and starts
`tina daemon run`; **full sync** is from starting the process until a dump of the backend holds
every orchestration, team and task; **daemon ready** is until the daemon's own status shows every
team, task and worktree read. RSS is sampled every 20 ms (peak: during the sync and the 2 s
after; settled: 2 s after). The backend and the daemon share the machine's cores.

| run | full sync (s) | daemon ready (s) | peak RSS (MiB) | settled RSS (MiB) | daemon CPU (s) | backend CPU (s) | mutations | file reads |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{rows}

Full sync median **{s_secs["median"]:.2f} s**, p99 {s_secs["p99"]:.2f} s (target ≤ {SYNC_TARGET_S:.0f} s:
**{"met" if sync_met else "NOT met"}**). Peak RSS median **{s_peak["median"] / 1e6:.0f} MB**
({mib(s_peak["median"])} MiB), p99 {s_peak["p99"] / 1e6:.0f} MB; settled median
{summary(settled)["median"] / 1e6:.0f} MB (target ≤ 120 MB: **{"met" if rss_met else "NOT met"}**).
"""
    ready, cpu = summary([r.ready for r in runs]), summary([r.cpu_seconds for r in runs])
    backend_cpu = summary([r.backend_cpu_seconds for r in runs])
    body += f"""
Where the time goes (medians): the daemon had read every file and started every watcher after
**{ready["median"]:.2f} s**, and spent {cpu["median"]:.1f} CPU-seconds in all; the local backend
spent {backend_cpu["median"]:.1f} CPU-seconds applying the {runs[0].mutations:,} mutations. The rest of the wall
time is the mutations' way through the backend, which runs one transaction at a time.
"""
    if costs:
        calls = summary([float(sum(c[k] for k in CALL_KINDS)) for c in costs])["median"]
        written = summary([float(c["documentsWritten"]) for c in costs])["median"]
        mb = summary([float(c["bytesWritten"]) for c in costs])["median"] / 1e6
        body += f"""
In Convex terms (the local backend's cost meter, `/api/local/metrics`, reset before each cold
start): **{calls:,.0f} function calls**, {written:,.0f} documents and {mb:.1f} MB written (medians).
"""
    targets = [
        target(
            f"cold start ({pop.counts.text()}): full sync",
            f"median {s_secs['median']:.2f} s, p99 {s_secs['p99']:.2f} s (n={len(runs)})",
            "≤ 10 s",
            sync_met,
        ),
        target(
            "cold start: daemon RSS (peak)",
            f"median {s_peak['median'] / 1e6:.0f} MB, p99 {s_peak['p99'] / 1e6:.0f} MB",
            "≤ 120 MB",
            rss_met,
        ),
    ]
    return body, targets


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    add_population_args(parser, orchestrations=200, teams=100, tasks=5000, simulated=3)
    add_output_args(parser)
    args = parser.parse_args()
    configure_logging("quiet")
    host = machine()
    with backend_and_laptop() as (_root, backend, _url, laptop):
        pop = populate_as(laptop, args)
        runs = []
        costs: list[dict[str, int]] = []
        for i in range(args.runs):
            backend.reset_metrics()
            result = cold_start(backend, laptop, pop.counts)
            costs.append(backend.metrics()["totals"])
            laptop.stop_daemon()
            print(
                f"run {i + 1}/{args.runs}: synced in {result.seconds:.2f} s, peak RSS {mib(result.peak_rss)} MiB",
                flush=True,
            )
            runs.append(result)
    body, targets = render(pop, runs, costs, args, host)
    print(body)
    if args.record:
        record("cold-start", body)
    write_result(
        args.json,
        "cold-start",
        body,
        targets,
        {"runs": [r.__dict__ for r in runs], "counts": pop.counts.__dict__, "costs": costs},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
