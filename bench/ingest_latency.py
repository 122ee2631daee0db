"""Local file change → committed in Convex, next to its floor, measured in one run.

A real daemon watches a sandbox laptop (a real git worktree from tina-session, a Claude Code
team) and syncs to the local backend. Before it starts, the simulator runs `--simulated` (2)
orchestrations through their whole life on that laptop (`_population.populate`), so the daemon
and the backend hold a realistic history, as on a laptop that has been in use. Each sample rewrites one task file with a new subject
and measures until a live subscription (our trio client, signed in as a viewer) sees the new
subject in `orchestrations:getOrchestrationDetail`: file watch + read + parse + mutation +
commit + subscription update.

The floor, measured in the same run and alternating with the samples: the raw file-event
latency (the daemon's watch backend with the daemon's settings: write → event; inotify on
Linux, watchfiles elsewhere; watchfiles' is shown too where it is not the daemon's) plus one
mutation round trip seen the way the samples are seen: the same one-task `teams:syncTeamDelta`
a laptop sends, from our client (a second laptop enrolled for it, no daemon), timed until a live
subscription to that team's tasks sees it: mutation, commit, query re-run and update. What the
daemon adds on top is its own work (read, parse, plan, outbox, send).

Until 2026-12-03 part 2 was a `nodes:heartbeat` round trip. Since heartbeats stopped waking
dashboards (presence), that is a commit no subscription re-runs for, cheaper than any sample;
it is still shown, for comparison.

Target (DESIGN §8): p99 ≤ 150 ms and ≤ 1.5× the floor's p99.

    .venv/bin/python bench/ingest_latency.py [--samples 200] [--simulated 2] [--record] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio
import watchfiles
from _common import (
    SECRET,
    add_output_args,
    backend_and_laptop,
    fmt,
    machine,
    record,
    sign_up,
    summary,
    target,
    today,
    write_result,
)
from _population import populate

from tina.convex import open_convex_client
from tina.convex.gateway import Gateway, enroll
from tina.daemon.watch import default_backend
from tina.dev.sim.sandbox import Laptop
from tina.log import configure_logging
from tina.messages import TaskCounts, TaskSnapshot, TeamSnapshot

RATIO_TARGET = 1.5  # p99 of file change → committed over the floor's p99


async def file_event_latency(
    directory: Path, samples: int, awatch: Callable[..., Any] = watchfiles.awatch
) -> list[float]:
    """Raw latency of a watch backend with the daemon's settings (debounce 30 ms, step 10 ms)."""
    out: list[float] = []
    stop = trio.Event()
    seen = trio.Event()
    async with trio.open_nursery() as nursery:

        async def watch() -> None:
            nonlocal seen
            async for _ in awatch(
                directory, stop_event=stop, debounce=30, step=10, rust_timeout=500
            ):
                seen.set()

        nursery.start_soon(watch)
        await trio.sleep(0.5)
        for i in range(samples):
            seen = trio.Event()
            path = directory / "probe.json"
            t0 = time.perf_counter()
            path.write_text(json.dumps({"i": i}))
            with trio.fail_after(5):
                await seen.wait()
            out.append((time.perf_counter() - t0) * 1000)
            await trio.sleep(0.05)
        stop.set()
    return out


async def visible(sub: Any, subjects: Callable[[Any], set[str]], subject: str) -> None:
    with trio.fail_after(10):
        while subject not in subjects(await sub.next()):
            pass


def board_subjects(result: Any) -> set[str]:
    """The subjects on a page of `orchestrations:teamTasks`."""
    return {t["subject"] for t in result["page"]}


async def measure(
    url: str,
    token: str,
    node_token: str,
    laptop: Laptop,
    orchestration_id: str,
    team: str,
    samples: int,
) -> tuple[list[float], list[float], list[float]]:
    """The samples (file change → visible), the floor's part 2 (one-task delta → visible) and,
    for comparison, the heartbeat round trip, alternating."""
    ingest: list[float] = []
    delta: list[float] = []
    rtt: list[float] = []
    async with (
        open_convex_client(url, timeout=10) as viewer,
        open_convex_client(url, timeout=10) as writer,
    ):
        viewer.set_auth(token)
        await viewer.wait_connected()
        await writer.wait_connected()
        # The team's tasks: in the detail itself, or (paginated detail) its first page of
        # `orchestrations:teamTasks`.
        async with viewer.subscribe(
            "orchestrations:getOrchestrationDetail", {"orchestrationId": orchestration_id}
        ) as sub:
            detail = await sub.next()
        entry = next(tm for tm in detail["teams"] if tm["team"]["dirName"] == team)
        args: dict[str, Any]
        subjects: Callable[[Any], set[str]]
        if "tasks" in entry:
            query, args = (
                "orchestrations:getOrchestrationDetail",
                {"orchestrationId": orchestration_id},
            )

            def subjects(result: Any) -> set[str]:
                return {
                    t["subject"]
                    for tm in result["teams"]
                    if tm["team"]["dirName"] == team
                    for t in tm["tasks"]
                }
        else:
            query = "orchestrations:teamTasks"
            args = {
                "teamId": entry["team"]["_id"],
                "paginationOpts": {"numItems": 200, "cursor": None},
            }
            subjects = board_subjects

        # The floor's team: a second laptop's, synced by our client alone.
        floor = Gateway(writer, (await enroll(writer, SECRET, "bench-floor", "linux")).credential)
        floor_team = TeamSnapshot(dir_name="bench-floor", team_name="bench-floor")
        counts = TaskCounts(pending=0, in_progress=1, completed=0, other=0)

        def floor_task(subject: str) -> TaskSnapshot:
            return TaskSnapshot(
                task_id="1", subject=subject, description="", status="in_progress", owner="lead"
            )

        revision = 1.0
        made = await floor.sync_team(floor_team, [], [floor_task("warm-up")], revision)
        floor_args = {"teamId": made.team_id, "paginationOpts": {"numItems": 200, "cursor": None}}

        async with (
            viewer.subscribe(query, args) as sub,
            viewer.subscribe("orchestrations:teamTasks", floor_args) as floor_sub,
        ):
            await sub.next()
            await floor_sub.next()
            health = {
                "daemonVersion": "bench",
                "startedAt": time.time() * 1000,
                "uptimeSecs": 1.0,
                "outboxDepth": 0.0,
                "actors": [],
            }
            for i in range(samples):
                subject = f"bench-{i}-{uuid.uuid4().hex[:6]}"
                t0 = time.perf_counter()
                laptop.write_task(
                    team, "1", subject=subject, status="in_progress", owner="team-lead"
                )
                await visible(sub, subjects, subject)
                ingest.append((time.perf_counter() - t0) * 1000)
                await trio.sleep(0.1)

                subject = f"floor-{i}-{uuid.uuid4().hex[:6]}"
                t1 = time.perf_counter()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(
                        floor.sync_team_delta,
                        floor_team,
                        revision,
                        revision + 1,
                        [(revision + 1, floor_task(subject))],
                        [],
                        counts,
                    )
                    await visible(floor_sub, board_subjects, subject)
                    delta.append((time.perf_counter() - t1) * 1000)
                revision += 1
                await trio.sleep(0.05)

                t2 = time.perf_counter()
                await writer.mutation(
                    "nodes:heartbeat", {"nodeToken": node_token, "health": health}
                )
                rtt.append((time.perf_counter() - t2) * 1000)
                await trio.sleep(0.05)
    return ingest, delta, rtt


def main() -> int:
    parser = argparse.ArgumentParser(description="file change → committed in Convex, vs the floor")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument(
        "--simulated", type=int, default=2, help="orchestrations the simulator runs first"
    )
    add_output_args(parser)
    args = parser.parse_args()
    configure_logging("quiet")
    host = machine()
    with backend_and_laptop() as (root, backend, url, laptop):
        token = sign_up(url, "bench@example.com")
        if args.simulated:
            populate(
                laptop,
                orchestrations=args.simulated,
                teams=0,
                tasks=0,
                simulated=args.simulated,
            )
        laptop.start_daemon()
        wt = laptop.init_orchestration("bench-ingest", phases=1)
        team = "bench-ingest-phase-1"
        laptop.write_team(team, [{"name": "team-lead"}], cwd=wt)
        laptop.write_task(team, "1", subject="warm-up")
        orchestration_id = None
        for _ in range(400):
            dumped = backend.dump("orchestrations", "tasks")
            mine = [o for o in dumped["orchestrations"] if o["featureName"] == "bench-ingest"]
            if mine and dumped["tasks"]:
                orchestration_id = mine[0]["_id"]
                break
            time.sleep(0.05)
        assert orchestration_id is not None, laptop.log_tail()
        node_token = json.loads(laptop.credential_file.read_text())["credential"]
        probe_dir = root / "probe"
        probe_dir.mkdir()
        watch_backend = default_backend()
        backend_name = "watchfiles" if watch_backend is watchfiles.awatch else "inotify"
        events = trio.run(file_event_latency, probe_dir, args.samples, watch_backend)
        wf_events = (
            trio.run(file_event_latency, probe_dir, args.samples)
            if watch_backend is not watchfiles.awatch
            else events
        )
        ingest, delta, rtt = trio.run(
            measure, url, token, node_token, laptop, orchestration_id, team, args.samples
        )
    floor = [e + r for e, r in zip(sorted(events), sorted(delta), strict=False)]
    s_ingest, s_events, s_delta, s_floor, s_rtt = (
        summary(ingest),
        summary(events),
        summary(delta),
        summary(floor),
        summary(rtt),
    )
    s_wf = summary(wf_events)
    ratio = s_ingest["p99"] / s_floor["p99"]
    verdict = "met" if s_ingest["p99"] <= 150 and ratio <= RATIO_TARGET else "NOT met"
    rows = [
        ("file change → committed and visible (daemon)", s_ingest),
        (
            f"floor part 1: raw file event (the daemon's backend, {backend_name}, 30/10 ms)",
            s_events,
        ),
        ("floor part 2: one-task delta → visible (our client, no daemon)", s_delta),
        ("floor: file event + delta", s_floor),
        (
            "for comparison: `nodes:heartbeat` round trip (the floor's part 2 until 2026-12-03)",
            s_rtt,
        ),
    ]
    if wf_events is not events:
        rows.append(("for comparison: raw file event with watchfiles (30/10 ms)", s_wf))
    table = "\n".join(
        f"| {name} | {fmt(s['median'])} | {fmt(s['p90'])} | {fmt(s['p99'])} | {fmt(s['max'])} |"
        for name, s in rows
    )
    body = f"""## Ingest latency: local file change → committed in Convex

Measured {today()} on {host}; `bench/ingest_latency.py --samples {args.samples} --simulated {args.simulated}`.
A real daemon, local backend, real git worktree and task files (after a simulator pass of
{args.simulated} orchestrations); each sample rewrites one task file and waits until a live
subscription sees the new subject. Milliseconds.

| | median | p90 | p99 | max |
|---|---:|---:|---:|---:|
{table}

p99 ratio daemon / floor: **{ratio:.2f}×**. Target p99 ≤ 150 ms and ≤ {RATIO_TARGET:g}× the floor: **{verdict}**.
"""
    print(body)
    if args.record:
        record("ingest-latency", body)
    write_result(
        args.json,
        "ingest-latency",
        body,
        [
            target(
                "local file change → committed in Convex (p99)",
                f"p99 {s_ingest['p99']:.0f} ms (median {s_ingest['median']:.0f}); floor p99 {s_floor['p99']:.0f} ms; "
                f"ratio {ratio:.2f}×",
                f"≤ 150 ms and ≤ {RATIO_TARGET:g}× the floor",
                verdict == "met",
            )
        ],
        {
            "ingest": ingest,
            "events": events,
            "watchfiles_events": wf_events,
            "backend": backend_name,
            "delta": delta,
            "rtt": rtt,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
