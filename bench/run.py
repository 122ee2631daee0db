"""Runs every benchmark and writes a dated summary table to `docs/benchmarks.md`.

Each benchmark runs as its own process, one after the other (never two at once: they would
measure each other), and prints its own medians and p99 and its target:

| name | script | measures |
|---|---|---|
| `ingest-latency` | `bench/ingest_latency.py` | file change → committed in Convex, vs the floor |
| `web-latency` | `bench/web_latency.ts` (Node, headless Chromium) | change → visible in the page; tap → handler started |
| `cold-start` | `bench/cold_start.py` | 200 worktrees, 100 teams, 5,000 task files: full sync time, RSS |
| `idle-cpu` | `bench/idle_cpu.py` | idle CPU and wake-ups over 60 s; one task file change = reads, mutations |
| `burst` | `bench/burst.py` | 1,000 task writes in 1 s: time to fully synced, mutations |
| `cost-growth` | `bench/cost_growth.py` | sync time and memory at 10, 100, 1,000 teams |
| `client-vs-official` | `bench/client_vs_official.py` | tina's Convex client vs the official one |
| `backend-fanout` | `bench/backend_fanout.ts` (Node) | the local backend's mutation → subscriber fan-out |
| `needs-latency` | `bench/needs_latency.py` | permission prompt: hook → visible in Needs you; tap → decision printed |
| `convex-cost` | `bench/convex_cost.py` | 3 laptops, 10 orchestrations, 2 dashboards: Convex calls and DB bandwidth a month |
| `push-latency` | `bench/push_latency.ts` (Node, the real daemon) | item created on a laptop → push request received by the push-service stand-in |
| `pwa-lighthouse` | `bench/pwa_lighthouse.ts` (Node, headless Chromium) | Lighthouse 11's installable-app audits of the built dashboard |
| `usage-tail` | `bench/usage_tail.py` | 200 active transcripts, 20 agent teams (a lead and 9 in-process teammates each): CPU (no dashboard open, and one open) and RSS the daemon adds; new assistant message → cost visible; the floor (`bench/usage_floor.py`): the least a quick round can cost on the machine, side by side |
| `usage-tail-sessions` | `bench/usage_tail.py --shape sessions` | the same, 200 sessions leading no team (the costliest to attribute) |
| `usage-parse` | `bench/usage_parse.py` | one transcript line read into its usage: the typed decoding vs the tolerant reading, three shapes of line |

With `--record` every benchmark replaces its own section of the document (between its
`<!-- name:start -->` / `<!-- name:end -->` markers) and this script writes the summary at the
top: the date, the machine, the commit, every target of DESIGN §8 with the measured figure and
whether it is met. A benchmark that fails or cannot run (no Chromium, say) is listed as such.
`bench/chaos.py` (the reliability suite, recorded in `docs/reliability.md`) is not run from here.

    .venv/bin/python bench/run.py [--quick | --smoke] [--only a,b] [--skip a,b] [--record] [--json PATH]

`--quick` is a fast smoke run of everything (minutes; figures are indicative only, and it
refuses `--record`); `--smoke` is the tiny configuration of the Python benchmarks the tests use
(seconds each; figures are meaningless).
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import BENCHMARKS_MD, REPO_ROOT, machine, record, today

PY = sys.executable
NODE = ["node", "--import", "tsx"]


@dataclass(frozen=True)
class Bench:
    name: str
    argv: list[str]  # without --record / --json
    quick: list[str]
    smoke: list[str] | None  # None: not part of --smoke
    timeout: float  # seconds, full run
    json: bool = True  # the script writes `--json PATH`
    targets: list[str] = field(
        default_factory=list
    )  # DESIGN §8 targets it reports (when it cannot run)


BENCHES = [
    Bench(
        "ingest-latency",
        [PY, "bench/ingest_latency.py", "--samples", "200"],
        ["--samples", "20"],
        ["--samples", "5", "--simulated", "0"],
        1200,
        targets=["local file change → committed in Convex (p99)"],
    ),
    Bench(
        "web-latency",
        [*NODE, "bench/web_latency.ts", "--iterations", "200"],
        ["--iterations", "10"],
        None,
        1800,
        json=False,
        targets=[
            "file change → visible in the dashboard (Chromium, p99)",
            "action tapped → handler started on the laptop (p99)",
        ],
    ),
    Bench(
        "cold-start",
        [PY, "bench/cold_start.py", "--runs", "3"],
        [
            "--runs",
            "1",
            "--orchestrations",
            "20",
            "--teams",
            "10",
            "--tasks",
            "500",
            "--simulated",
            "1",
        ],
        [
            "--runs",
            "1",
            "--orchestrations",
            "3",
            "--teams",
            "2",
            "--tasks",
            "20",
            "--simulated",
            "1",
        ],
        2400,
        targets=["cold start: full sync", "cold start: daemon RSS"],
    ),
    Bench(
        "idle-cpu",
        [PY, "bench/idle_cpu.py", "--seconds", "60", "--changes", "20"],
        [
            "--seconds",
            "10",
            "--changes",
            "3",
            "--orchestrations",
            "10",
            "--teams",
            "5",
            "--tasks",
            "100",
            "--simulated",
            "1",
        ],
        [
            "--seconds",
            "2",
            "--changes",
            "2",
            "--orchestrations",
            "2",
            "--teams",
            "2",
            "--tasks",
            "10",
            "--simulated",
            "0",
        ],
        1800,
        targets=[
            "steady state: daemon CPU",
            "steady state: daemon wake-ups",
            "one task file changes",
        ],
    ),
    Bench(
        "hook-cost",
        [PY, "bench/hook_cost.py", "--runs", "200"],
        ["--runs", "20"],
        ["--runs", "2"],
        600,
        targets=["`tina hook` with the daemon down (median)"],
    ),
    Bench(
        "needs-latency",
        [PY, "bench/needs_latency.py", "--runs", "100"],
        ["--runs", "10"],
        ["--runs", "2"],
        600,
        targets=[
            "permission prompt: hook invoked → visible in Needs you (p99)",
            "permission prompt: dashboard tap → decision printed by the hook (p99)",
        ],
    ),
    Bench(
        "convex-cost",
        [PY, "bench/convex_cost.py", "--orchestrations", "10", "--laptops", "3"],
        [
            "--orchestrations",
            "4",
            "--laptops",
            "2",
            "--speed",
            "2",
            "--idle",
            "30",
            "--max-active",
            "180",
        ],
        [
            "--orchestrations",
            "1",
            "--laptops",
            "1",
            "--speed",
            "4",
            "--idle",
            "2",
            "--max-active",
            "10",
        ],
        1800,
        targets=[
            "Convex function calls a month (reference fleet)",
            "Convex database bandwidth a month (reference fleet)",
        ],
    ),
    Bench(
        "burst",
        [PY, "bench/burst.py", "--runs", "5"],
        ["--runs", "1", "--simulated", "1"],
        [
            "--runs",
            "1",
            "--writes",
            "40",
            "--span",
            "0.2",
            "--orchestrations",
            "2",
            "--teams",
            "2",
            "--tasks",
            "10",
            "--simulated",
            "0",
        ],
        1200,
        targets=["1,000 task writes in 1 s: all synced"],
    ),
    Bench(
        "cost-growth",
        [PY, "bench/cost_growth.py", "--sizes", "10,100,1000", "--runs", "2"],
        ["--sizes", "5,10", "--runs", "1", "--simulated", "1"],
        ["--sizes", "2,4", "--runs", "1", "--simulated", "0"],
        3600,
    ),
    Bench(
        "client-vs-official",
        [PY, "bench/client_vs_official.py", "--samples", "600"],
        ["--samples", "40", "--block", "10", "--loop-rounds", "1", "--loop-ops", "300"],
        [
            "--samples",
            "4",
            "--block",
            "2",
            "--warmup",
            "1",
            "--loop-rounds",
            "1",
            "--loop-ops",
            "20",
        ],
        1200,
        json=False,
    ),
    Bench(
        "backend-fanout",
        [*NODE, "bench/backend_fanout.ts", "--iterations", "500"],
        ["--iterations", "50"],
        None,
        900,
        json=False,
    ),
    Bench(
        "push-latency",
        [*NODE, "bench/push_latency.ts", "--items", "120"],
        ["--items", "20"],
        None,
        1200,
        json=False,
        targets=["item created on a laptop → push received (p99)"],
    ),
    Bench(
        "usage-tail",
        [PY, "bench/usage_tail.py", "--samples", "50", "--transcripts", "200"],
        [
            *["--samples", "10", "--transcripts", "50", "--windows", "2", "--window", "5"],
            *["--idle-window", "10", "--idle-secs", "5"],
        ],
        [
            *["--samples", "3", "--transcripts", "12", "--windows", "1", "--window", "2"],
            *["--idle-window", "2", "--idle-secs", "1"],
        ],
        1800,
        targets=[
            "usage: new assistant message → cost visible (p99)",
            "usage: tailing active transcripts, CPU added, no dashboard open",
            "usage: tailing active transcripts, CPU added, a dashboard open",
            "usage: tailing active transcripts, RSS added",
        ],
    ),
    Bench(
        "usage-tail-sessions",
        [PY, "bench/usage_tail.py", "--shape", "sessions", "--samples", "50"],
        [
            *["--samples", "10", "--transcripts", "50", "--windows", "2", "--window", "5"],
            *["--idle-window", "10", "--idle-secs", "5"],
        ],
        None,  # the same script as usage-tail's smoke run
        1800,
        targets=[
            f"usage: {what} (sessions leading no team)"
            for what in (
                "new assistant message → cost visible (p99)",
                "tailing active transcripts, CPU added, no dashboard open",
                "tailing active transcripts, CPU added, a dashboard open",
                "tailing active transcripts, RSS added",
            )
        ],
    ),
    Bench(
        "usage-parse",
        [PY, "bench/usage_parse.py", "--repeats", "15", "--number", "2000"],
        ["--repeats", "3", "--number", "200"],
        ["--repeats", "1", "--number", "5"],
        300,
    ),
    Bench(
        "pwa-lighthouse",
        [*NODE, "bench/pwa_lighthouse.ts"],
        [],
        None,
        900,
        json=False,
        targets=["the dashboard is an installable app (Lighthouse 11's PWA audits)"],
    ),
]
BY_NAME = {b.name: b for b in BENCHES}
# Scripts in bench/ that this entry point leaves alone, and why.
NOT_RUN = {
    "chaos.py": "the reliability suite (SIGKILL, outages, faults): its own figures, in docs/reliability.md",
    "usage_floor.py": "run by usage_tail.py, beside the daemon it is the floor of",
}


def with_args(base: list[str], extra: list[str]) -> list[str]:
    """`base` with the options in `extra` replacing same-named ones (`--opt value` pairs or flags)."""
    out = list(base)
    i = 0
    while i < len(extra):
        opt = extra[i]
        has_value = i + 1 < len(extra) and not extra[i + 1].startswith("--")
        if opt in out:
            j = out.index(opt)
            if j + 1 < len(out) and not out[j + 1].startswith("--"):
                del out[j : j + 2]
            else:
                del out[j]
        out += extra[i : i + 2] if has_value else [opt]
        i += 2 if has_value else 1
    return out


WEB_LATENCY_ROWS = {
    "change → visible in the page": (
        "file change → visible in the dashboard (Chromium, p99)",
        300.0,
    ),
    "tapped → handler started on the laptop": (
        "action tapped → handler started on the laptop (p99)",
        250.0,
    ),
}
PUSH_LATENCY_ROWS = {
    "item created on the laptop → push received": (
        "item created on a laptop → push received (p99)",
        1000.0,
    ),
}


def parse_web_latency(
    stdout: str, rows: dict[str, tuple[str, float]] = WEB_LATENCY_ROWS
) -> list[dict[str, Any]]:
    """Targets from a TypeScript benchmark's table (`| measure | n | p50 | p90 | p99 | max |
    target |`): `rows` maps a measure to its target's name and p99 limit in ms."""
    out = []
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 6 and cells[0] in rows:
            measure, limit = rows[cells[0]]
            try:
                n, p50, p99 = int(cells[1]), float(cells[2]), float(cells[4])
            except ValueError:
                continue
            out.append(
                {
                    "measure": measure,
                    "measured": f"p50 {p50:.0f} ms, p99 {p99:.0f} ms (n={n})",
                    "target": f"≤ {limit:.0f} ms",
                    "met": p99 <= limit,
                }
            )
    return out


@dataclass
class Outcome:
    name: str
    status: str  # ok | failed | not run
    seconds: float
    targets: list[dict[str, Any]]
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def web_latency_blocker() -> str | None:
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not Path(chromium).exists():
        return f"no Chromium at {chromium} (set CHROMIUM_PATH)"
    return None


def run_one(bench: Bench, mode: str, record_it: bool, workdir: Path) -> Outcome:
    if shutil.which("node") is None and bench.argv[0] == "node":
        return Outcome(bench.name, "not run", 0.0, [], "node is not on PATH")
    if bench.name in ("web-latency", "pwa-lighthouse") and (blocker := web_latency_blocker()):
        return Outcome(bench.name, "not run", 0.0, [], blocker)
    extra = {"full": [], "quick": bench.quick, "smoke": bench.smoke or []}[mode]
    argv = with_args(bench.argv, extra)
    out_json = workdir / f"{bench.name}.json"
    if bench.json:
        argv += ["--json", str(out_json)]
    if record_it:
        argv.append("--record")
    timeout = bench.timeout if mode == "full" else bench.timeout / 2
    print(
        f"\n=== {bench.name}: {' '.join(Path(a).name if a == PY else a for a in argv)}", flush=True
    )
    started = time.perf_counter()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        proc = subprocess.run(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        text = (
            exc.stdout
            if isinstance(exc.stdout, str)
            else (exc.stdout or b"").decode(errors="replace")
        )
        print(text[-3000:])
        return Outcome(
            bench.name,
            "failed",
            time.perf_counter() - started,
            [],
            f"timed out after {timeout:.0f} s",
        )
    seconds = time.perf_counter() - started
    print(proc.stdout, flush=True)
    if proc.returncode != 0:
        tail = [line for line in proc.stdout.strip().splitlines() if line.strip()][-1:] or [
            "no output"
        ]
        return Outcome(
            bench.name, "failed", seconds, [], f"exit status {proc.returncode}: {tail[0][:300]}"
        )
    if bench.json:
        doc = json.loads(out_json.read_text())
        return Outcome(bench.name, "ok", seconds, doc["targets"], data=doc.get("data", {}))
    if bench.name == "web-latency":
        return Outcome(bench.name, "ok", seconds, parse_web_latency(proc.stdout))
    if bench.name == "push-latency":
        return Outcome(bench.name, "ok", seconds, parse_web_latency(proc.stdout, PUSH_LATENCY_ROWS))
    if bench.name == "pwa-lighthouse":  # exit status 0: every automated audit passed
        target = {
            "measure": bench.targets[0],
            "measured": "every automated audit passes",
            "target": "installable",
            "met": True,
        }
        return Outcome(bench.name, "ok", seconds, [target])
    return Outcome(bench.name, "ok", seconds, [])


def git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' with uncommitted changes' if dirty else ''}"


def render_summary(
    outcomes: list[Outcome], host: str, command: str, commit: str, minutes: float
) -> str:
    lines = [
        f"## Summary: {today()}",
        "",
        f"`{command}` on {host}; commit {commit}; {minutes:.1f} minutes in all. Every benchmark ran alone,",
        "one after the other, on the same machine as the local backend (and Chromium); its section below",
        "says exactly what it measures. Targets: DESIGN §8.",
        "",
        "| Measure | Target | Measured | Result |",
        "|---|---|---|---|",
    ]
    for o in outcomes:
        if o.status == "ok":
            for t in o.targets:
                lines.append(
                    f"| {t['measure']} | {t['target']} | {t['measured']} | "
                    f"{'met' if t['met'] else '**NOT met**'} |"
                )
        else:
            for measure in BY_NAME[o.name].targets:
                lines.append(f"| {measure} | – | – | **{o.status}**: {o.note} |")
    not_met = [
        t["measure"] for o in outcomes if o.status == "ok" for t in o.targets if not t["met"]
    ]
    problems = [f"`{o.name}` {o.status} ({o.note})" for o in outcomes if o.status != "ok"]
    lines.append("")
    if not_met:
        lines.append("Not met: " + "; ".join(not_met) + ". Why: see each benchmark's section.")
    else:
        lines.append("Every target that was measured is met.")
    if problems:
        lines.append("Did not run to the end: " + "; ".join(problems) + ".")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", action="store_true", help="a fast smoke run of every benchmark (indicative)"
    )
    mode.add_argument(
        "--smoke",
        action="store_true",
        help="the tiny configuration of the Python benchmarks (tests)",
    )
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names")
    parser.add_argument(
        "--record",
        action="store_true",
        help=f"write every section and the summary into {BENCHMARKS_MD}",
    )
    parser.add_argument("--json", type=Path, help="write every outcome as JSON")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args()
    if args.list:
        for b in BENCHES:
            print(f"{b.name:20} {' '.join(b.argv[1:] if b.argv[0] == PY else b.argv)}")
        return 0
    run_mode = "quick" if args.quick else "smoke" if args.smoke else "full"
    if args.record and run_mode == "quick":
        parser.error(
            "--quick figures are indicative only: not recorded (use --smoke with TINA_BENCH_DOC to test recording)"
        )
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    skip = {n.strip() for n in args.skip.split(",") if n.strip()}
    unknown = (only | skip) - set(BY_NAME)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; --list shows them")
    selected = [b for b in BENCHES if (not only or b.name in only) and b.name not in skip]
    if run_mode == "smoke":
        selected = [b for b in selected if b.smoke is not None]
    host = machine()  # before anything runs: the load average is the machine's, not ours
    commit = git_commit()
    started = time.perf_counter()
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="tina-bench-run-") as tmp:
        for bench in selected:
            outcomes.append(run_one(bench, run_mode, args.record, Path(tmp)))
    minutes = (time.perf_counter() - started) / 60
    command = "bench/run.py" + {"full": "", "quick": " --quick", "smoke": " --smoke"}[run_mode]
    if only:
        command += f" --only {args.only}"
    if skip:
        command += f" --skip {args.skip}"
    summary_text = render_summary(
        outcomes, host, command + (" --record" if args.record else ""), commit, minutes
    )
    print("\n" + summary_text)
    if args.record:
        record("summary", summary_text, top=True)
    if args.json is not None:
        args.json.write_text(
            json.dumps([o.__dict__ for o in outcomes], indent=2, default=str) + "\n"
        )
    return 0 if all(o.status != "failed" for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
