"""The chaos suite at full size, with its figures recorded in `docs/reliability.md`.

Runs `tests/chaos/` (pytest) with `TINA_CHAOS=full`: SIGKILL at 50 random points of 5,000
changes, a 30 s backend outage, a SIGSTOP longer than the real 60 s offline threshold, a
deployment restored from a backup (team deltas on a lost base, then reconciles), faults injected
into every actor, a daemon killed mid-action, and the fuzzers. Each scenario writes its
figures as JSON lines (`TINA_CHAOS_REPORT`); this script adds them up over `--runs` runs and
replaces the matching section of `docs/reliability.md`. Nothing is recorded unless every run
passed.

    .venv/bin/python bench/chaos.py                  # full form, one run, recorded
    .venv/bin/python bench/chaos.py --runs 3         # three runs, added up
    .venv/bin/python bench/chaos.py --form short     # the CI form (also recorded, in its own section)
    .venv/bin/python bench/chaos.py --no-record -k outage
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from _common import REPO_ROOT, machine, today

RELIABILITY_MD = REPO_ROOT / "docs" / "reliability.md"


def run_suite(form: str, keyword: str | None) -> tuple[list[dict[str, Any]], float]:
    """One run of the suite; its figures and wall time. Exits on a failure."""
    with tempfile.TemporaryDirectory(prefix="tina-chaos-") as tmp:
        report = Path(tmp) / "figures.jsonl"
        env = {**os.environ, "TINA_CHAOS": form, "TINA_CHAOS_REPORT": str(report)}
        argv = [sys.executable, "-m", "pytest", "tests/chaos", "-q", "-p", "no:cacheprovider"]
        if keyword:
            argv += ["-k", keyword]
        started = time.monotonic()
        proc = subprocess.run(argv, cwd=REPO_ROOT, env=env, check=False)
        elapsed = time.monotonic() - started
        if proc.returncode != 0:
            sys.exit(f"the chaos suite failed (pytest exit {proc.returncode}); nothing recorded")
        lines = report.read_text().splitlines() if report.exists() else []
        return [json.loads(line) for line in lines], elapsed


def summarize(runs: list[list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per scenario: counts added up over the runs, times and sizes as their maximum."""
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for figures in runs:
        for fig in figures:
            agg = out[fig["scenario"]]
            agg["runs"] = agg.get("runs", 0) + 1
            for key, value in fig.items():
                if (
                    key in ("scenario", "form")
                    or not isinstance(value, int | float)
                    or isinstance(value, bool)
                ):
                    continue
                if key.endswith(("_secs", "_mib", "_ms")) or key.startswith("peak"):
                    agg[key] = max(agg.get(key, value), value)
                else:
                    agg[key] = agg.get(key, 0) + value
            if fig["scenario"] == "faults":
                agg["actors"] = fig["actors"]
            if "actions_by_status" in fig:
                merged = agg.setdefault("actions_by_status", {})
                for status, n in fig["actions_by_status"].items():
                    merged[status] = merged.get(status, 0) + n
    return dict(out)


def render(form: str, runs: int, seconds: float, s: dict[str, dict[str, Any]]) -> str:
    kill, outage, stop = s.get("sigkill", {}), s.get("outage", {}), s.get("sigstop", {})
    faults, actions, resync = s.get("faults", {}), s.get("actions", {}), s.get("resync", {})
    lost = sum(
        x.get("lost", 0) + x.get("lost_orchestration_events", 0)
        for x in (kill, outage, stop, resync)
    )
    dups = sum(
        x.get("duplicates", 0) + x.get("duplicate_orchestration_events", 0)
        for x in (kill, outage, stop, resync)
    )
    rows = [
        ("runs of the suite", f"{runs} ({seconds / max(runs, 1):.0f} s each)"),
        ("SIGKILLs (random points, restarted each time)", kill.get("kills", "–")),
        (
            "changes under SIGKILL (task writes, team configs and removals, orchestration steps)",
            kill.get("changes", "–"),
        ),
        (
            "task states written / certainly observed / task events in Convex",
            f"{kill.get('task_writes', '–')} / {kill.get('must_observe', '–')} / {kill.get('task_events', '–')}",
        ),
        (
            "journal lines / orchestration events in Convex",
            f"{kill.get('journal_lines', '–')} / {kill.get('orchestration_events', '–')}",
        ),
        (
            "operator actions during the kills (completed / interrupted / run twice)",
            f"{kill.get('actions_by_status', {}).get('completed', 0)} / "
            f"{kill.get('actions_by_status', {}).get('interrupted', 0)} / {kill.get('actions_run_twice', 0)}",
        ),
        (
            "longest restart, SIGKILL → watching again",
            f"{kill.get('restart_to_ready_secs_max', 0):.2f} s",
        ),
        (
            "backend outage (changes made meanwhile)",
            f"{outage.get('outage_secs', 0):.0f} s ({outage.get('changes_during_outage', '–')} changes)",
        ),
        (
            "reconnect after the backend returned (worst)",
            f"{outage.get('reconnect_secs', 0):.2f} s",
        ),
        ("peak daemon RSS during the outage", f"{outage.get('peak_rss_mib', 0):.1f} MiB"),
        (
            "deployment restored from a backup: teams reconciled (changes the restore took back)",
            f"{resync.get('teams_resynced', '–')} ({resync.get('changes_lost_by_the_restore', '–')})",
        ),
        (
            "SIGSTOP (threshold; shown offline after; online again after resume)",
            f"{stop.get('suspended_secs', 0):.0f} s ({stop.get('offline_threshold_ms', 0) / 1000:.0f} s; "
            f"{stop.get('shown_offline_after_secs', 0):.1f} s; {stop.get('shown_online_after_resume_secs', 0):.2f} s)",
        ),
        (
            "actors with injected faults (each restarted alone, with backoff)",
            len(faults.get("actors", {})) or "–",
        ),
        (
            "crash loop: supervisor gave up after, exit status",
            f"{faults.get('crash_loop_gave_up_after_secs', 0):.0f} s, {faults.get('crash_loop_exit_code', '–')}",
        ),
        (
            "action killed mid-run: interrupted after restart (handler runs)",
            f"{actions.get('interrupted_after_kill_secs', 0):.2f} s ({actions.get('handler_runs', '–')})",
        ),
        ("**observations lost**", f"**{lost}**"),
        ("**duplicate task or orchestration events**", f"**{dups}**"),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return (
        f"Recorded {today()} by `bench/chaos.py --form {form}` on {machine()}.\n\n"
        f"| Measure | Result |\n|---|---|\n{table}\n"
    )


def record(section: str, body: str) -> None:
    """Replace (or append) the block between `<!-- section:start -->` and `<!-- section:end -->`."""
    text = RELIABILITY_MD.read_text() if RELIABILITY_MD.exists() else "# Reliability\n"
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RELIABILITY_MD.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--form", choices=["full", "short"], default="full")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--no-record", action="store_true", help="print the figures, leave the docs alone"
    )
    parser.add_argument(
        "-k", dest="keyword", help="only the scenarios matching this pytest -k expression"
    )
    args = parser.parse_args()
    results, total = [], 0.0
    for i in range(args.runs):
        print(f"== run {i + 1} of {args.runs} ({args.form} form)", flush=True)
        figures, seconds = run_suite(args.form, args.keyword)
        results.append(figures)
        total += seconds
    summary = summarize(results)
    body = render(args.form, args.runs, total, summary)
    print(body)
    print(json.dumps(summary, indent=1))
    if not args.no_record and not args.keyword:
        record(f"chaos-{args.form}", body)
        print(f"recorded in {RELIABILITY_MD.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
