"""Cost growth: how the daemon's full sync time and memory grow from 10 to 100 to 1,000 teams.

For each size a fresh laptop is populated (`_population.populate`: a simulator pass, one real
`tina-session init` worktree per `--teams-per-orchestration` (5) teams, every team working in its
orchestration's worktree with `--tasks-per-team` (10) task files), and the real daemon cold-starts
on it against an emptied local backend, `--runs` times (`_population.cold_start`). Measured per
size (medians over the runs):

- **full sync**: from starting `tina daemon run` until a dump of the backend holds everything;
- **daemon ready**: until the daemon's status shows every team and worktree read (its control
  socket answers once the whole supervision tree has started), i.e. the daemon's own share;
- the daemon's **CPU** time until synced (and the local backend's), its **peak** and **settled RSS**;
- per team: the marginal cost between one size and the previous one (time, CPU, memory), so
  constant costs (interpreter, imports, connection) do not hide the growth;
- what the sync cost in Convex terms, from the local backend's cost meter (`/api/local/metrics`,
  reset before each cold start, read after it): function calls, documents and bytes written.

No target of its own (DESIGN §8 sets the cold start at 100 teams); it shows whether the daemon's
costs grow linearly.

    .venv/bin/python bench/cost_growth.py [--sizes 10,100,1000] [--runs 2] [--record] [--json PATH]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import SECRET, add_output_args, auth_env, machine, record, summary, today, write_result
from _population import ColdStart, Counts, cold_start, mib, populate

from tina.dev.backend import BackendOptions, BackendProcess
from tina.dev.sim.sandbox import Laptop
from tina.log import configure_logging

# The meter's counters of function executions (the others are documents, bytes and errors).
CALL_KINDS = ("calls", "rerun", "scheduled", "cron")


def measure_size(
    root: Path, teams: int, args: argparse.Namespace
) -> tuple[Counts, list[ColdStart], list[dict[str, int]]]:
    backend = BackendProcess(
        BackendOptions(port=0, env=auth_env(SECRET)), log_path=root / f"backend-{teams}.log"
    )
    url = backend.start()
    laptop = Laptop(root / f"laptop-{teams}", f"bench-{teams}", url, enrollment_secret=SECRET)
    try:
        orchestrations = max(1, teams // args.teams_per_orchestration)
        pop = populate(
            laptop,
            orchestrations=orchestrations,
            teams=teams,
            tasks=teams * args.tasks_per_team,
            simulated=min(args.simulated, orchestrations),
        )
        print(f"{teams} teams: populated {pop.counts.text()} in {pop.seconds:.1f} s", flush=True)
        runs = []
        costs: list[dict[str, int]] = []
        for i in range(args.runs):
            backend.reset_metrics()
            runs.append(cold_start(backend, laptop, pop.counts, timeout=args.timeout))
            costs.append(backend.metrics()["totals"])
            laptop.stop_daemon()
            print(
                f"  run {i + 1}/{args.runs}: synced in {runs[-1].seconds:.2f} s (daemon ready "
                f"{runs[-1].ready:.2f} s), peak RSS {mib(runs[-1].peak_rss)} MiB",
                flush=True,
            )
        return pop.counts, runs, costs
    finally:
        laptop.close()
        backend.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000", help="team counts, comma-separated")
    parser.add_argument("--runs", type=int, default=2, help="cold starts per size")
    parser.add_argument("--tasks-per-team", type=int, default=10)
    parser.add_argument("--teams-per-orchestration", type=int, default=5)
    parser.add_argument(
        "--simulated", type=int, default=2, help="orchestrations the simulator runs to the end"
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds one cold start may take"
    )
    add_output_args(parser)
    args = parser.parse_args()
    configure_logging("quiet")
    host = machine()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results: list[tuple[int, Counts, list[ColdStart], list[dict[str, int]]]] = []
    with tempfile.TemporaryDirectory(prefix="tina-bench-") as tmp:
        for teams in sizes:
            counts, runs, costs = measure_size(Path(tmp), teams, args)
            results.append((teams, counts, runs, costs))
    lines = []
    data = []
    prev: tuple[int, dict[str, float]] | None = None
    for teams, counts, runs, costs in results:
        m = {
            "sync": summary([r.seconds for r in runs])["median"],
            "ready": summary([r.ready for r in runs])["median"],
            "cpu": summary([r.cpu_seconds for r in runs])["median"],
            "backend_cpu": summary([r.backend_cpu_seconds for r in runs])["median"],
            "peak": summary([float(r.peak_rss) for r in runs])["median"],
            "settled": summary([float(r.settled_rss) for r in runs])["median"],
            "sync_p99": summary([r.seconds for r in runs])["p99"],
            "calls": summary([float(sum(c[k] for k in CALL_KINDS)) for c in costs])["median"],
            "written": summary([float(c["documentsWritten"]) for c in costs])["median"],
            "bytes_written": summary([float(c["bytesWritten"]) for c in costs])["median"],
        }
        if prev is None:
            marginal = "–"
        else:
            dt = teams - prev[0]
            p = prev[1]
            marginal = (
                f"{1000 * (m['sync'] - p['sync']) / dt:.1f} ms / {1000 * (m['ready'] - p['ready']) / dt:.1f} ms / "
                f"{1000 * (m['cpu'] - p['cpu']) / dt:.1f} ms / {(m['settled'] - p['settled']) / dt / 1024:.0f} KiB"
            )
        lines.append(
            f"| {teams:,} | {counts.orchestrations:,} | {counts.tasks:,} | {m['sync']:.2f} | {m['sync_p99']:.2f} "
            f"| {m['ready']:.2f} | {m['cpu']:.2f} | {m['backend_cpu']:.2f} | {mib(m['peak'])} | {mib(m['settled'])} "
            f"| {m['calls']:,.0f} | {m['written']:,.0f} | {m['bytes_written'] / 1e6:.1f} | {marginal} |"
        )
        data.append(
            {
                "teams": teams,
                "counts": counts.__dict__,
                **m,
                "runs": [r.__dict__ for r in runs],
                "costs": costs,
            }
        )
        prev = (teams, m)
    table = "\n".join(lines)
    body = f"""## Cost growth: 10 → 100 → 1,000 teams

Measured {today()} on {host}; `bench/cost_growth.py --sizes {args.sizes} --runs {args.runs}`.
For each size a fresh laptop (a simulator pass, one real `tina-session` worktree per
{args.teams_per_orchestration} teams, {args.tasks_per_team} task files per team) and {args.runs} cold starts of the real daemon
against an emptied local backend. **Full sync**: until a dump of the backend holds everything;
**daemon ready**: until the daemon's status shows every team and worktree read (its own share);
CPU: the daemon's and the local backend's CPU time until synced. Medians over the runs; per team:
the marginal cost from the previous row (full sync / daemon ready / daemon CPU / settled RSS).
Convex cost of one cold start (the local backend's cost meter): function calls (all kinds),
documents and MB written.

| teams | orchestrations | tasks | full sync (s) | p99 | daemon ready (s) | daemon CPU (s) | backend CPU (s) | peak RSS (MiB) | settled RSS (MiB) | function calls | docs written | MB written | per team: sync / ready / daemon CPU / RSS |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
{table}
"""
    print(body)
    if args.record:
        record("cost-growth", body)
    write_result(args.json, "cost-growth", body, [], {"sizes": data})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
