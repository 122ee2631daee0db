"""The benchmarks must not rot: each Python benchmark runs through `bench/run.py --smoke` (a tiny
configuration, seconds each: real backend, real daemon, real sandbox laptop) and records into a
temporary document. These tests check the shape of what comes out, never the timings: figures
from a shared machine do not belong in assertions."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = REPO_ROOT / "bench"
sys.path.insert(0, str(BENCH))

import run as bench_run  # noqa: E402  (bench/ is not a package)


def run_bench(
    tmp_path: Path, *args: str, timeout: float = 240
) -> tuple[subprocess.CompletedProcess[str], Path]:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nSmoke run.\n")
    out = tmp_path / "outcomes.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), *args, "--json", str(out)],
        cwd=REPO_ROOT,
        env={**os.environ, "TINA_BENCH_DOC": str(doc)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc, out


def check_target(t: dict[str, Any]) -> None:
    assert set(t) == {"measure", "measured", "target", "met"}
    assert all(isinstance(t[k], str) and t[k] for k in ("measure", "measured", "target"))
    assert isinstance(t["met"], bool)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("name", "targets", "data_keys"),
    [
        ("cold-start", 2, {"runs", "counts"}),
        ("idle-cpu", 3, {"overall", "windows", "wakeups", "reads", "mutations"}),
        ("burst", 1, {"synced_after_last_write", "mutations", "task_events", "write_span"}),
        ("cost-growth", 0, {"sizes"}),
        ("ingest-latency", 1, {"ingest", "events", "rtt"}),
        ("client-vs-official", 0, set()),
        ("hook-cost", 1, {"ms"}),
        ("needs-latency", 2, {"visible", "decided", "query"}),
        ("convex-cost", 2, {"windows", "assumptions", "components", "functions", "total"}),
        ("usage-tail", 4, {"latency", "idle", "watched", "rss", "messages", "floor"}),
        ("usage-parse", 0, {"shapes"}),
    ],
)
def test_benchmark_runs_and_records(
    tmp_path: Path, name: str, targets: int, data_keys: set[str]
) -> None:
    proc, out = run_bench(tmp_path, "--smoke", "--only", name, "--record")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    (outcome,) = json.loads(out.read_text())
    assert outcome["name"] == name
    assert outcome["status"] == "ok", outcome["note"]
    assert len(outcome["targets"]) == targets
    for t in outcome["targets"]:
        check_target(t)
    assert data_keys <= set(outcome["data"])
    doc = (tmp_path / "benchmarks.md").read_text()
    # The summary goes first (below the intro), the benchmark's own section after it.
    assert (
        doc.index("<!-- summary:start -->")
        < doc.index(f"<!-- {name}:start -->")
        < doc.index(f"<!-- {name}:end -->")
    )
    assert "| Measure | Target | Measured | Result |" in doc
    assert doc.count("<!-- summary:start -->") == 1


def test_cost_growth_rows_have_every_size(tmp_path: Path) -> None:
    proc, out = run_bench(tmp_path, "--smoke", "--only", "cost-growth")
    assert proc.returncode == 0, proc.stdout[-4000:]
    (outcome,) = json.loads(out.read_text())
    sizes = outcome["data"]["sizes"]
    assert [s["teams"] for s in sizes] == [2, 4]
    for s in sizes:
        assert {"sync", "ready", "cpu", "peak", "settled", "runs"} <= set(s)
        assert s["counts"]["teams"] == s["teams"]
        assert len(s["runs"]) == 1


def test_quick_runs_are_not_recorded(tmp_path: Path) -> None:
    proc, _ = run_bench(tmp_path, "--quick", "--record", timeout=30)
    assert proc.returncode != 0
    assert "not recorded" in proc.stderr


def test_unknown_names_are_refused(tmp_path: Path) -> None:
    proc, _ = run_bench(tmp_path, "--only", "no-such-benchmark", timeout=30)
    assert proc.returncode != 0
    assert "unknown benchmark" in proc.stderr


def test_every_benchmark_is_listed() -> None:
    names = [b.name for b in bench_run.BENCHES]
    assert names == sorted(set(names), key=names.index)  # no duplicates
    for script in BENCH.glob("*.py"):
        if (
            script.name.startswith("_")
            or script.name == "run.py"
            or script.name in bench_run.NOT_RUN
        ):
            continue
        assert any(script.name in " ".join(b.argv) for b in bench_run.BENCHES), script.name
    for script in BENCH.glob("*.ts"):
        if script.name.startswith("_"):  # shared helpers (_common.ts)
            continue
        assert any(script.name in " ".join(b.argv) for b in bench_run.BENCHES), script.name


def test_with_args_replaces_options() -> None:
    base = ["py", "x.py", "--runs", "3", "--flag"]
    assert bench_run.with_args(base, ["--runs", "1", "--teams", "2"]) == [
        "py",
        "x.py",
        "--flag",
        "--runs",
        "1",
        "--teams",
        "2",
    ]
    assert bench_run.with_args(base, []) == base


def test_web_latency_table_is_parsed() -> None:
    stdout = (
        "| Measure | n | p50 | p90 | p99 | max | target (p99) |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        "| change → visible in the page | 200 | 80.0 | 120.0 | 180.5 | 200.0 | ≤ 300 |\n"
        "| tapped → handler started on the laptop | 200 | 90.0 | 150.0 | 260.0 | 300.0 | ≤ 250 |\n"
    )
    visible, tapped = bench_run.parse_web_latency(stdout)
    check_target(visible)
    check_target(tapped)
    assert visible["met"] is True
    assert tapped["met"] is False

    push = "| item created on the laptop → push received | 120 | 305.0 | 410.0 | 1051.0 | 1200.0 | ≤ 1000 |\n"
    (late,) = bench_run.parse_web_latency(push, bench_run.PUSH_LATENCY_ROWS)
    check_target(late)
    assert late["met"] is False and late["measured"] == "p50 305 ms, p99 1051 ms (n=120)"


def test_summary_lists_failures_and_misses() -> None:
    ok = bench_run.Outcome(
        "burst", "ok", 1.0, [{"measure": "m", "measured": "x", "target": "≤ 3 s", "met": False}]
    )
    failed = bench_run.Outcome("cold-start", "failed", 1.0, [], "exit status 1: boom")
    text = bench_run.render_summary([ok, failed], "host", "bench/run.py", "abc", 1.0)
    assert "| m | ≤ 3 s | x | **NOT met** |" in text
    assert "**failed**: exit status 1: boom" in text
    assert "Not met: m." in text


def test_convex_cost_extrapolates_time_and_work_apart() -> None:
    """The month of `bench/convex_cost.py`: the idle rate all month, the active window's excess
    scaled by the work factor, heartbeats and crons by wall-clock time; bandwidth with each
    document rounded up to 1 KiB."""
    import convex_cost as cc

    active = cc.Window(
        100.0,
        {
            "nodes:heartbeat": {"calls": 10, "documentsWritten": 10, "bytesWritten": 1000},
            "teams:syncTeam": {"calls": 50, "documentsRead": 100, "bytesRead": 409600},
            "users:me": {"calls": 1, "rerun": 20},
            "nodes:markStaleOffline": {"cron": 4},
        },
    )
    idle = cc.Window(
        50.0,
        {
            "nodes:heartbeat": {"calls": 2},
            "users:me": {"rerun": 5},
            "nodes:markStaleOffline": {"cron": 2},
        },
    )
    # 10 orchestrations x 8 h x 30 days / 1 h a phase = 2,400 phases; the run had 24: factor 100.
    a = cc.Assumptions(orchestrations=10, active_hours=8, phase_hours=1, sim_phases=24)
    assert a.work_factor == pytest.approx(100)
    comps, fns = cc.extrapolate(active, idle, a, {"users:me"})
    month, busy = 30 * 86400, 30 * 8 * 3600
    quiet = month - busy
    assert comps[cc.PRESENCE].month == pytest.approx(2 / 50 * quiet + 10 / 100 * busy)
    assert comps[cc.PRESENCE].written == pytest.approx(10 / 100 * busy * 1024)  # 100 B → 1 KiB
    assert comps[cc.SYNC].month == pytest.approx(50 * 100)
    assert comps[cc.SYNC].read == pytest.approx(409600 * 100)  # bigger than 100 docs x 1 KiB
    # First run (work only) + re-runs: 0.1 a second all month, and 20 - 0.1 x 100 more.
    assert comps[cc.DASHBOARD].month == pytest.approx(100 + 0.1 * month + 10 * 100)
    assert comps[cc.CRONS].month == pytest.approx(2 / 50 * quiet + 4 / 100 * busy)
    assert fns["users:me"].month == pytest.approx(comps[cc.DASHBOARD].month)
    assert comps[cc.ACTIONS].month == 0


def test_convex_cost_dashboards_subscribe_what_the_pages_do() -> None:
    """The benchmark's dashboards stand for the web pages: every query the orchestrations page
    and the detail page subscribe to is in their lists (or opened only on demand)."""
    import convex_cost as cc

    views = REPO_ROOT / "web" / "src" / "views"

    def queries(files: list[Path]) -> set[str]:
        pattern = r"use(?:Paginated)?Query\(\s*api\.(\w+)\.(\w+)"
        return {f"{m}:{f}" for p in files for m, f in re.findall(pattern, p.read_text())}

    detail = queries([p for p in (views / "detail").glob("*.tsx") if ".test." not in p.name])
    listing = queries([views / "OrchestrationsView.tsx"])
    assert detail and listing
    subscribed = (
        {path for path, _ in cc.detail_page("o")}
        | {cc.DETAIL_QUERY}
        | {path for path, _, _ in cc.team_queries("t")}
    )
    assert detail - subscribed - cc.ON_DEMAND == set()
    rows = {path for path, _, _ in cc.row_queries("o")}
    assert listing - {path for path, _ in cc.ORCHESTRATIONS_PAGE} - rows == set()


def test_convex_cost_replays_a_run(tmp_path: Path) -> None:
    """`--replay` extrapolates an earlier run's measured windows again (other assumptions)."""
    import convex_cost as cc

    pages = cc.Pages(paths={"users:me"}, teams={"t1", "t2"})
    counts = {"users:me": {"calls": 1.0, "rerun": 30.0}, "teams:syncTeamDelta": {"calls": 40.0}}
    m = cc.Measured(
        active=cc.Window(120.0, counts),
        idle=cc.Window(60.0, {"nodes:heartbeat": {"calls": 3.0}}),
        sim_phases=6,
        finished=2,
        orchestrations=2,
        cut_short=False,
        pages=pages,
    )
    a = cc.Assumptions(orchestrations=2, active_hours=8, phase_hours=1, sim_phases=6)
    comps, fns = cc.extrapolate(m.active, m.idle, a, pages.paths)
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps({"data": cc.as_data(m, a, comps, fns, "host")}))
    again, host = cc.replay(saved)
    assert host == "host"
    assert (again.active.seconds, again.idle.seconds) == (120.0, 60.0)
    assert again.active.counts == counts
    assert (again.sim_phases, again.finished, len(again.pages.teams)) == (6, 2, 2)
    comps2, _ = cc.extrapolate(again.active, again.idle, a, again.pages.paths)
    assert comps2[cc.DASHBOARD].month == pytest.approx(comps[cc.DASHBOARD].month)
    assert comps2[cc.SYNC].work == pytest.approx(40 * a.work_factor)


def test_convex_cost_bandwidth_verdict_and_rerun_causes(tmp_path: Path) -> None:
    """Bandwidth is judged against the current free tier, 5 GiB with each document rounded up
    to 1 KiB; the raw bytes against an older page's 1 GiB are a note. What re-ran the
    dashboard's queries is reported, and survives `--replay`."""
    import argparse

    import convex_cost as cc

    assert cc.FREE_BANDWIDTH == 5 << 30
    assert cc.OLD_FREE_BANDWIDTH == 1 << 30
    pages = cc.Pages(paths={"orchestrations:listOrchestrations"}, teams={"t1"})
    # 2 GiB a month raw (20 MiB in the active window x a work factor of 100).
    counts = {
        "orchestrations:listOrchestrations": {"calls": 1.0, "rerun": 9.0},
        "teams:syncTeamDelta": {"calls": 10.0, "documentsRead": 10.0, "bytesRead": 20 << 20},
    }
    reruns = {
        "orchestrations:listOrchestrations": {
            "orchestrations:syncOrchestration orchestrations[lastSeq]": 6.0,
            "teams:syncTeamDelta orchestrations[agents]": 3.0,
        }
    }
    m = cc.Measured(
        active=cc.Window(100.0, counts, reruns),
        idle=cc.Window(60.0, {}),
        sim_phases=24,
        finished=10,
        orchestrations=10,
        cut_short=False,
        pages=pages,
    )
    a = cc.Assumptions(orchestrations=10, active_hours=8, phase_hours=1, sim_phases=24)
    comps, fns = cc.extrapolate(m.active, m.idle, a, pages.paths)
    args = argparse.Namespace(
        orchestrations=10, laptops=3, speed=1.0, idle=60.0, max_active=900.0, replay=None,
        active_hours=8.0, phase_hours=1.0,
    )  # fmt: skip
    body = cc.render(m, a, comps, fns, args, "host")
    assert "against the\nfree tier's 5,120.0 MiB (5 GiB, **met**)" in body
    assert "are\nabove the 1 GiB (1,024.0 MiB)" in body
    assert (
        "| `orchestrations:listOrchestrations` | 9 | "
        "`orchestrations:syncOrchestration orchestrations[lastSeq]` 6, "
        "`teams:syncTeamDelta orchestrations[agents]` 3 |"
    ) in body
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps({"data": cc.as_data(m, a, comps, fns, "host")}))
    again, _ = cc.replay(saved)
    assert again.active.reruns == reruns
    assert cc.rerun_delta({"q": {"a": 5.0, "b": 2.0}}, {"q": {"a": 3.0, "b": 2.0}}) == {
        "q": {"a": 2.0}
    }


def run_floor(tmp_path: Path, seconds: int, *extra: str) -> tuple[dict[str, Any], str]:
    """`bench/usage_floor.py` for `seconds` at a round every 0.2 s, 20 transcripts written at
    about 20 messages a second, no fsync: its figures and what it printed."""
    out = tmp_path / "floor.json"
    proc = subprocess.run(
        [
            *[sys.executable, str(BENCH / "usage_floor.py")],
            *["--pace", "0.2", "--seconds", str(seconds), "--transcripts", "20", "--every", "1"],
            *["--no-fsync", *extra, "--json", str(out)],
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(out.read_text()), proc.stdout


def test_usage_floor_reads_what_is_written_in_rounds(tmp_path: Path) -> None:
    """The floor `usage-tail` reads its figure against counts the messages its writer writes,
    in rounds at its pace, and reports its CPU: a floor that read nothing would be no floor."""
    floor, stdout = run_floor(tmp_path, 3)
    assert floor["fsync"] is False and floor["pace"] == 0.2
    # About 20 messages a second for 3 s, read in rounds at most every 0.2 s.
    assert floor["messages"] >= 10, floor
    assert 2 <= floor["rounds"] <= floor["seconds"] / 0.2 + 1, floor
    assert floor["cpu"] > 0 and floor["per_round_ms"] > 0, floor
    assert f"{floor['rounds']} rounds" in stdout


def test_usage_floor_takes_the_reply_and_transition_in_one_read(tmp_path: Path) -> None:
    """A backend's reply and transition can reach the floor in one read (a busy machine): it
    takes both and goes on, rather than waiting for a second read that never comes."""
    floor, _ = run_floor(tmp_path, 2, "--answer-gap", "0")
    assert floor["rounds"] >= 2


def test_usage_floor_refuses_a_pace_of_zero() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "usage_floor.py"), "--pace", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--pace" in proc.stderr
