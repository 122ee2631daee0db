"""What the reference fleet costs on Convex in a month: function calls and database bandwidth.

The reference fleet, all real processes against the local backend (`tina/dev/backend.py`):

- **3 laptops**, each a sandbox laptop (`tina.dev.sim.sandbox.Laptop`) running the real daemon
  (`tina daemon run`) with its default settings (heartbeat interval, debounce, ...);
- **10 orchestrations** driven by the simulator (`tina.dev.sim.driver.Simulator`, the demo's):
  real `tina-session` worktrees and phases, the orchestrator's team board, the stand-in Claude
  Code leading each phase (its team, 3-6 tasks moving pending → in progress → completed,
  commits), reviews that open remediation phases, phases that block and are retried, plans
  waiting for approval. Blocked phases are retried and plans approved by the simulator itself
  after 10 s (divided by `--speed`), so every orchestration finishes;
- **two dashboards**, each its own connection signed in as the owner (tina's Convex client,
  `tina.convex.client`, the sync protocol the web uses) and subscribed to the queries the web
  page subscribes to: the orchestrations page (`users:me`, the shell's `needs:needsYou` badge,
  `nodes:listNodes`, `orchestrations:listOrchestrations`, and each listed row's agents, phase
  tasks and last activity, `orchestrations:orchestrationProgress`, where the deployment has it) and
  one orchestration's detail page
  (`users:me`, `needs:needsYou`, `orchestrations:getOrchestrationDetail`, `actions:listActions`
  (20), the first page of `events:listEvents` (50), `teams:conversation` (50) of each of its
  teams, and, where the deployment has them, the first page of each team's tasks
  (`orchestrations:teamTasks`, 100)). The detail page is that of the first orchestration listed,
  opened as soon as it shows and kept open; the pages' queries are listed in `ORCHESTRATIONS_PAGE`
  / `DETAIL_PAGE` below (keep them in step with `web/src/views`).

Two measured windows, read from the backend's cost meter (`GET /api/local/metrics`: per function,
calls, subscription re-runs, scheduled and cron runs, documents and bytes read and written):

1. **active**: from the simulator's start until every orchestration has finished (at most
   `--max-active` seconds) and 3 s more;
2. **idle**: then `--idle` seconds with the laptops still online, the dashboards still open and
   nothing changing on the laptops.

**Extrapolation to a month** (30 days). Assumptions, all options:

- the laptops are online 24 h a day; the dashboards stay open 24 h a day (an upper bound: a tab
  left open);
- the orchestrations are active 8 h a day (`--active-hours`), the remaining 16 h the fleet is
  idle as in the idle window;
- a real orchestration goes through one phase an hour (`--phase-hours`: planning, a lead working
  through its 3-6 tasks, review), so the month has 10 × 8 × 30 = 2,400 phases; the simulator's
  churn per phase (task states, team changes, events, documents) is that of a real phase, only
  faster. The run counts its phases (the leads the simulator started) and scales by real phases
  / simulated phases (the "work factor");
- per function, the idle window's rate is the baseline of every hour of the month; what the
  active window adds above that baseline is work, scaled by the work factor — except for the
  time-driven components (heartbeat/presence, crons and scheduled functions), whose active
  rate is taken per wall-clock second for the 8 active hours (the accelerated run makes them no
  more frequent);
- database bandwidth as Convex meters it: each document read or written, rounded up to 1 KiB;
  the meter gives documents and bytes per function, so the figure used is
  max(bytes, documents × 1 KiB) (a lower bound of the rounded sum; index data is not counted);
- the database holds what this run made (10 orchestrations): a month's history makes the
  dashboard's unbounded-by-design queries no bigger (they read bounded pages), which this run
  cannot check.

A function call is what Convex bills: every query or mutation or action a client calls, every
subscription re-run, every scheduled and cron run ("Explicit client calls, scheduled executions,
subscription updates, and file accesses count as function calls", docs.convex.dev/production/
state/limits). **Targets**: ≤ 500,000 calls a month (DESIGN §8, half the free tier's 1,000,000),
and within the free tier's database bandwidth: **5 GiB a month**, each document rounded up to
1 KiB (the current docs.convex.dev/production/state/limits, Starter/free column, the version that
says "Per-document size is rounded up to the nearest 1 KiB": the metering applied here). An older
version of that page gave 1 GiB a month ("Document and index data transferred between Convex
functions and the underlying database") without the rounding; the report gives the raw bytes
against that figure as a note, not as the target.

The report also says what made the dashboard's queries re-run in the active window (the local
backend's meter names the writing function, the table and the fields a commit changed inside the
query's read set), so a write that changes nothing a page shows and still re-runs it stands out.

Components: heartbeat/presence (`nodes:*` the daemon calls, `presence:*`), team/orchestration
sync (`teams:*`, `orchestrations:sync*`, `events:*`, `documents:*`, `needs:*` the daemon calls),
dashboard queries (the pages' queries: first runs and re-runs), actions (`actions:*`,
`prompts:*`: the daemon's subscriptions and calls), crons and scheduled functions (every cron and
scheduled run, whatever the function), other (sign-in...).

    .venv/bin/python bench/convex_cost.py [--orchestrations 10] [--laptops 3] [--speed 1]
        [--max-active 900] [--idle 300] [--active-hours 8] [--phase-hours 1] [--record] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import attrs
import trio
from _common import SECRET, machine, record, sign_up, start_backend, target, today, write_result

from tina.convex import open_convex_client
from tina.daemon.config import Config
from tina.dev.backend import LOCAL_TOKEN_HEADER, BackendProcess
from tina.dev.sim.driver import SimConfig, Simulator
from tina.dev.sim.sandbox import Laptop
from tina.log import configure_logging

LAPTOP_NAMES = ["mbp-alex", "mbp-sam", "studio-kim", "air-lee", "mbp-jo"]
DAYS = 30
CALLS_TARGET = 500_000
FREE_CALLS = 1_000_000
FREE_BANDWIDTH = 5 << 30  # bytes a month, each document rounded up to 1 KiB (see the docstring)
OLD_FREE_BANDWIDTH = 1 << 30  # an older version of the limits page, raw bytes: a note only
KIB = 1024
SETTLE = 3.0  # seconds after the last orchestration finished, still in the active window
SIM_OPERATOR_AFTER = 10.0  # seconds (before --speed): the simulator retries / approves

# The web pages' subscriptions (web/src/views): (udf path, args).
ORCHESTRATIONS_PAGE: list[tuple[str, dict[str, Any]]] = [
    ("users:me", {}),
    ("needs:needsYou", {}),  # the shell's badge (useNeedsCount) and the page's summary
    ("nodes:listNodes", {}),  # laptop filter, fleet summary
    ("orchestrations:listOrchestrations", {}),  # listArgs({}) without filters
]
LIST_QUERY = "orchestrations:listOrchestrations"  # followed for the rows it lists


def row_queries(orchestration_id: str) -> list[tuple[str, dict[str, Any], bool]]:
    """A listed row's own subscriptions (web/src/views/OrchestrationsView.tsx
    LiveOrchestrationRow): (path, args, optional: the deployment may lack it)."""
    return [
        ("orchestrations:orchestrationProgress", {"orchestrationId": orchestration_id}, True),
        ("usage:orchestrationTotals", {"orchestrationId": orchestration_id}, True),  # its cost
    ]


# Queries of the detail page subscribed only when the person opens something: not here.
ON_DEMAND = {
    "documents:getDocument",  # a plan or the design opened, a plan awaiting approval
    "orchestrations:taskDescription",  # a task's description opened
}
RECENT_ACTIONS = 20  # web/src/views/detail/DetailView.tsx
EVENTS_PAGE = 50  # web/src/lib/events.ts FIRST_PAGE
CONVERSATION_PAGE = 50  # web/src/views/detail/Conversation.tsx PAGE
TASKS_PAGE = 100  # web/src/views/detail/TaskBoard.tsx TASK_PAGE


DETAIL_QUERY = "orchestrations:getOrchestrationDetail"  # followed for the teams it lists


def detail_page(orchestration_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("users:me", {}),
        ("needs:needsYou", {}),
        ("actions:listActions", {"orchestrationId": orchestration_id, "limit": RECENT_ACTIONS}),
        # web/src/views/detail/Usage.tsx: the Usage section's totals and its breakdown.
        ("usage:orchestrationTotals", {"orchestrationId": orchestration_id}),
        ("usage:orchestrationBreakdown", {"orchestrationId": orchestration_id}),
        (
            "events:listEvents",
            {
                "orchestrationId": orchestration_id,
                "paginationOpts": {"numItems": EVENTS_PAGE, "cursor": None},
            },
        ),
    ]


def team_queries(team_id: str) -> list[tuple[str, dict[str, Any], bool]]:
    """A team's panels on the detail page: (path, args, optional: the deployment may lack it)."""
    return [
        ("teams:conversation", {"teamId": team_id, "limit": CONVERSATION_PAGE}, False),
        (
            "orchestrations:teamTasks",
            {"teamId": team_id, "paginationOpts": {"numItems": TASKS_PAGE, "cursor": None}},
            True,
        ),
    ]


# --- the cost meter ---------------------------------------------------------------------------

COUNTERS = ("documentsRead", "bytesRead", "documentsWritten", "bytesWritten")
KINDS = ("calls", "rerun", "scheduled", "cron")


class NoMeter(Exception):
    """The backend has no cost meter."""


Counts = dict[str, dict[str, float]]


def read_meter(backend: BackendProcess) -> tuple[Counts, Counts]:
    """Per function, the backend's counters since its start (or last reset); and per subscribed
    query, its re-runs by cause (`reruns`: absent from older backends)."""
    reader = getattr(backend, "metrics", None)
    if callable(reader):
        doc = reader()
    else:
        request = urllib.request.Request(
            backend.url + "/api/local/metrics",
            headers={LOCAL_TOKEN_HEADER: backend.local_token},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                doc = json.loads(response.read())
        except urllib.error.HTTPError as error:
            error.close()
            raise NoMeter(
                f"GET /api/local/metrics answered HTTP {error.code}: this local backend has no "
                "cost meter"
            ) from None
    functions = doc.get("functions") if isinstance(doc, dict) else None
    if not isinstance(functions, dict):
        raise NoMeter(
            f"GET /api/local/metrics: expected an object with `functions`, got {doc!r:.200}"
        )
    return numbers(functions), numbers(doc.get("reruns") or {})


def numbers(table: Mapping[str, Any]) -> Counts:
    """{function: {key: number}} with the function names as `udf_name` spells them."""
    out: Counts = {}
    for path, counters in table.items():
        if isinstance(counters, dict):
            mine = out.setdefault(udf_name(str(path)), {})
            for k, v in counters.items():
                if isinstance(v, int | float):
                    mine[k] = mine.get(k, 0.0) + float(v)
    return out


def rerun_delta(
    after: Mapping[str, Mapping[str, float]], before: Mapping[str, Mapping[str, float]]
) -> Counts:
    """Re-runs by cause between two readings (causes that did not grow are left out)."""
    out: Counts = {}
    for path, causes in after.items():
        prev = before.get(path, {})
        d = {k: v - prev.get(k, 0.0) for k, v in causes.items() if v - prev.get(k, 0.0) > 0}
        if d:
            out[path] = d
    return out


def udf_name(path: str) -> str:
    """`nodes.js:heartbeat` or `nodes:heartbeat` -> `nodes:heartbeat`."""
    module, sep, name = path.partition(":")
    return f"{module.removesuffix('.js')}{sep}{name}"


def delta(
    after: Mapping[str, Mapping[str, float]], before: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, float]]:
    out = {}
    for path, counters in after.items():
        prev = before.get(path, {})
        d = {k: v - prev.get(k, 0.0) for k, v in counters.items()}
        if any(d.get(k, 0.0) for k in (*KINDS, *COUNTERS)):
            out[path] = d
    return out


# --- components --------------------------------------------------------------------------------

PRESENCE = "heartbeat/presence"
SYNC = "team/orchestration sync"
DASHBOARD = "dashboard queries"
ACTIONS = "actions"
CRONS = "crons and scheduled"
OTHER = "other"
COMPONENTS = [PRESENCE, SYNC, DASHBOARD, ACTIONS, CRONS, OTHER]
TIME_DRIVEN = {PRESENCE, CRONS}


def component(path: str, kind: str, dashboard_paths: set[str]) -> str:
    if kind in ("scheduled", "cron"):
        return CRONS
    if path in dashboard_paths:
        return DASHBOARD
    module = path.split(":", 1)[0]
    if module in ("nodes", "presence"):
        return PRESENCE
    if module in ("teams", "orchestrations", "events", "documents", "needs"):
        return SYNC
    if module in ("actions", "prompts"):
        return ACTIONS
    return OTHER


def buckets(
    counts: Mapping[str, Mapping[str, float]], dashboard_paths: set[str]
) -> dict[tuple[str, str], dict[str, float]]:
    """{(function, kind): {"n": runs, documentsRead...}}: a function's documents and bytes are
    shared among its kinds of runs in proportion to their number."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for path, c in counts.items():
        runs = {k: max(0.0, c.get(k, 0.0)) for k in KINDS}
        total = sum(runs.values())
        if total <= 0:
            continue
        for kind, n in runs.items():
            if n <= 0:
                continue
            share = n / total
            out[(path, kind)] = {"n": n, **{k: max(0.0, c.get(k, 0.0)) * share for k in COUNTERS}}
    return out


def billed_bytes(docs: float, raw: float) -> float:
    """Convex meters each document rounded up to 1 KiB: at least max(bytes, documents × 1 KiB)."""
    return max(raw, docs * KIB)


@dataclass
class Window:
    seconds: float
    counts: dict[str, dict[str, float]]
    reruns: dict[str, dict[str, float]] = field(default_factory=dict)  # query: {cause: re-runs}


@dataclass
class Assumptions:
    orchestrations: int
    active_hours: float
    phase_hours: float
    sim_phases: int

    @property
    def real_phases(self) -> float:
        return self.orchestrations * self.active_hours * DAYS / self.phase_hours

    @property
    def work_factor(self) -> float:
        return self.real_phases / max(1, self.sim_phases)


@dataclass
class Row:
    name: str
    active: float = 0.0  # runs in the active window
    idle: float = 0.0  # runs in the idle window
    month: float = 0.0  # runs a month
    read: float = 0.0  # billed bytes read a month
    written: float = 0.0
    raw_read: float = 0.0  # bytes as the meter counts them, a month
    raw_written: float = 0.0
    docs_read: float = 0.0
    docs_written: float = 0.0
    work: float = 0.0  # runs a month driven by the orchestrations' work (above the baseline)

    def add(self, other: Row) -> None:
        for k in ("active", "idle", "month", "read", "written", "raw_read", "raw_written",
                  "docs_read", "docs_written", "work"):  # fmt: skip
            setattr(self, k, getattr(self, k) + getattr(other, k))


def extrapolate(
    active: Window, idle: Window, a: Assumptions, dashboard_paths: set[str]
) -> tuple[dict[str, Row], dict[str, Row]]:
    """Per component and per function, the month (see the docstring)."""
    act = buckets(active.counts, dashboard_paths)
    idl = buckets(idle.counts, dashboard_paths)
    month_s = DAYS * 24 * 3600.0
    active_s = DAYS * a.active_hours * 3600.0
    idle_s = month_s - active_s
    by_component = {c: Row(c) for c in COMPONENTS}
    by_function: dict[str, Row] = {}
    for key in sorted(set(act) | set(idl)):
        path, kind = key
        comp = component(path, kind, dashboard_paths)
        ca = act.get(key, {})
        ci = idl.get(key, {})
        row = Row(path, active=ca.get("n", 0.0), idle=ci.get("n", 0.0))

        def month(
            name: str,
            ca: Mapping[str, float] = ca,
            ci: Mapping[str, float] = ci,
            time_driven: bool = comp in TIME_DRIVEN,
        ) -> float:
            rate_idle = ci.get(name, 0.0) / idle.seconds if idle.seconds > 0 else 0.0
            if time_driven:
                rate_active = ca.get(name, 0.0) / active.seconds if active.seconds > 0 else 0.0
                return rate_idle * idle_s + rate_active * active_s
            extra = max(0.0, ca.get(name, 0.0) - rate_idle * active.seconds)
            return rate_idle * month_s + extra * a.work_factor

        row.month = month("n")
        if comp not in TIME_DRIVEN:
            rate_idle = row.idle / idle.seconds if idle.seconds > 0 else 0.0
            row.work = max(0.0, row.active - rate_idle * active.seconds) * a.work_factor
        row.docs_read, row.docs_written = month("documentsRead"), month("documentsWritten")
        row.raw_read, row.raw_written = month("bytesRead"), month("bytesWritten")
        row.read = billed_bytes(row.docs_read, row.raw_read)
        row.written = billed_bytes(row.docs_written, row.raw_written)
        by_component[comp].add(row)
        fn = by_function.setdefault(path, Row(path))
        fn.add(row)
    return by_component, by_function


# --- the fleet ----------------------------------------------------------------------------------


@dataclass
class Pages:
    """What the dashboards subscribed to, for the classification and the report."""

    paths: set[str] = field(default_factory=set)
    detail_of: str | None = None
    teams: set[str] = field(default_factory=set)
    rows: set[str] = field(default_factory=set)  # orchestrations listed (their rows followed)
    skipped: set[str] = field(default_factory=set)  # optional queries the deployment lacks
    orchestrations_ready: trio.Event = field(default_factory=trio.Event)


async def hold(
    client: Any, path: str, args: dict[str, Any], pages: Pages, optional: bool = False,
    *, task_status: Any = trio.TASK_STATUS_IGNORED,
) -> None:  # fmt: skip
    """One subscription, held until cancelled; started once its first result is in (an optional
    query that fails, a function the deployment lacks, is dropped)."""
    async with client.subscribe(path, args) as sub:
        try:
            await sub.next(timeout=30)
        except Exception as exc:
            if not optional:
                raise RuntimeError(f"the dashboard's {path} failed: {exc}") from exc
            pages.skipped.add(path)
            task_status.started()
            return
        pages.paths.add(path)
        task_status.started()
        await trio.sleep_forever()


async def orchestrations_page(url: str, token: str, pages: Pages) -> None:
    """The page's queries; each row the list shows opens its own (`row_queries`)."""
    async with open_convex_client(url, auth_token=token, timeout=30) as client:
        await client.wait_connected()
        async with trio.open_nursery() as nursery:
            for path, args in ORCHESTRATIONS_PAGE:
                if path != LIST_QUERY:
                    await nursery.start(hold, client, path, args, pages)
            async with client.subscribe(LIST_QUERY, {}) as listing:
                async for value in listing:
                    pages.paths.add(LIST_QUERY)
                    for row in [*value.get("active", []), *value.get("finished", [])]:
                        oid = str(row.get("_id") or "")
                        if not oid or oid in pages.rows:
                            continue
                        pages.rows.add(oid)
                        for path, args, optional in row_queries(oid):
                            if path not in pages.skipped:
                                await nursery.start(hold, client, path, args, pages, optional)
                    pages.orchestrations_ready.set()


async def detail_page_of_first(url: str, token: str, pages: Pages) -> None:
    """Waits for the first orchestration listed, opens its detail page and follows its teams."""
    async with open_convex_client(url, auth_token=token, timeout=30) as client:
        await client.wait_connected()
        orchestration_id: str | None = None
        # The list the person clicks in: its first row once there is one (this subscription is
        # the click's, not the detail page's: it ends once the page opens).
        async with client.subscribe("orchestrations:listOrchestrations", {}) as listing:
            while orchestration_id is None:
                value = await listing.next()
                rows = [*value.get("active", []), *value.get("finished", [])]
                if rows:
                    orchestration_id = str(min(rows, key=lambda r: r["startedAt"])["_id"])
        pages.detail_of = orchestration_id
        async with trio.open_nursery() as nursery:
            for path, args in detail_page(orchestration_id):
                await nursery.start(hold, client, path, args, pages)
            # The page's main query; its teams open their panels' subscriptions.
            async with client.subscribe(
                DETAIL_QUERY, {"orchestrationId": orchestration_id}
            ) as detail:
                pages.paths.add(DETAIL_QUERY)
                async for value in detail:
                    for team in (value or {}).get("teams", []):
                        row = team.get("team") if isinstance(team.get("team"), dict) else team
                        team_id = str(row.get("_id") or "")
                        if not team_id or team_id in pages.teams:
                            continue
                        pages.teams.add(team_id)
                        for path, args, optional in team_queries(team_id):
                            if path not in pages.skipped:
                                await nursery.start(hold, client, path, args, pages, optional)


@dataclass
class Measured:
    active: Window
    idle: Window
    sim_phases: int
    finished: int
    orchestrations: int
    cut_short: bool
    pages: Pages


async def measure(
    backend: BackendProcess,
    token: str,
    laptops: list[Laptop],
    args: argparse.Namespace,
) -> Measured:
    url = backend.url
    operator_after = SIM_OPERATOR_AFTER / args.speed
    cfg = SimConfig(
        seed=args.seed,
        speed=args.speed,
        auto_retry_after=operator_after,
        auto_approve_after=operator_after,
    )
    sim = Simulator(laptops, orchestrations=args.orchestrations, cfg=cfg)
    pages = Pages()

    async def meter() -> tuple[Counts, Counts]:
        return await trio.to_thread.run_sync(read_meter, backend)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(orchestrations_page, url, token, pages)
        with trio.fail_after(60):
            await pages.orchestrations_ready.wait()
        nursery.start_soon(detail_page_of_first, url, token, pages)
        start = await meter()
        t0 = time.monotonic()
        print(
            f"{len(laptops)} laptops online, dashboards open: the simulation starts",
            file=sys.stderr,
            flush=True,
        )
        cut_short = True
        with trio.move_on_after(args.max_active):
            await sim.run(stagger=2.0)
            cut_short = False
        await trio.sleep(SETTLE)
        mid = await meter()
        t1 = time.monotonic()
        done = sum(1 for s in sim.sims if s.done)
        print(
            f"active window: {t1 - t0:.0f} s, {done} of {len(sim.sims)} orchestrations finished; "
            f"idle window: {args.idle:g} s...",
            file=sys.stderr,
            flush=True,
        )
        await trio.sleep(args.idle)
        end = await meter()
        t2 = time.monotonic()
        nursery.cancel_scope.cancel()
    if pages.detail_of is None:
        raise RuntimeError("no orchestration was listed: the detail page never opened")
    return Measured(
        active=Window(t1 - t0, delta(mid[0], start[0]), rerun_delta(mid[1], start[1])),
        idle=Window(t2 - t1, delta(end[0], mid[0]), rerun_delta(end[1], mid[1])),
        sim_phases=sum(s.launches for s in sim.sims),
        finished=sum(1 for s in sim.sims if s.done),
        orchestrations=len(sim.sims),
        cut_short=cut_short,
        pages=pages,
    )


# --- the report ---------------------------------------------------------------------------------


def mib(b: float) -> str:
    return f"{b / (1 << 20):,.1f}"


def calls(n: float) -> str:
    return f"{n:,.0f}"


def render(m: Measured, a: Assumptions, comps: dict[str, Row], fns: dict[str, Row],
           args: argparse.Namespace, host: str) -> str:  # fmt: skip
    total = Row("total")
    for row in comps.values():
        total.add(row)
    bandwidth = total.read + total.written
    lines = [
        "| Component | active window | idle window | calls a month | share | DB read a month (MiB) "
        "| DB written a month (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in COMPONENTS:
        r = comps[c]
        if not (r.active or r.idle):
            continue
        share = r.month / total.month * 100 if total.month else 0.0
        lines.append(
            f"| {c} | {calls(r.active)} | {calls(r.idle)} | {calls(r.month)} | {share:.0f} % "
            f"| {mib(r.read)} | {mib(r.written)} |"
        )
    lines.append(
        f"| **total** | {calls(total.active)} | {calls(total.idle)} | **{calls(total.month)}** | "
        f"100 % | {mib(total.read)} | {mib(total.written)} |"
    )
    table = "\n".join(lines)
    top = sorted(fns.values(), key=lambda r: -r.month)[:12]
    fn_lines = [
        "| Function | active window | idle window | calls a month | docs read a month "
        "| DB read a month (MiB) | DB written a month (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| `{r.name}` | {calls(r.active)} | {calls(r.idle)} | {calls(r.month)} | "
            f"{calls(r.docs_read)} | {mib(r.read)} | {mib(r.written)} |"
            for r in top
        ),
    ]
    calls_met = total.month <= CALLS_TARGET
    bw_met = bandwidth <= FREE_BANDWIDTH
    cut = (
        f" **The active window was cut at {args.max_active:g} s with {m.finished} of "
        f"{m.orchestrations} orchestrations finished.**"
        if m.cut_short
        else ""
    )
    skipped = (
        f" The deployment has no {', '.join(f'`{p}`' for p in sorted(m.pages.skipped))}: not subscribed."
        if m.pages.skipped
        else ""
    )
    fleet = (
        f"{args.laptops} sandbox laptops with real daemons, {m.orchestrations} simulated "
        f"orchestrations ({m.finished} finished, {m.sim_phases} phases led)"
    )
    command = (
        f"`bench/convex_cost.py --orchestrations {args.orchestrations} --laptops {args.laptops} "
        f"--speed {args.speed:g} --idle {args.idle:g}`"
    )
    if args.replay:
        command = (
            f"an earlier run's windows (`--replay`) extrapolated with `--active-hours "
            f"{args.active_hours:g} --phase-hours {args.phase_hours:g}`"
        )
    raw_bytes = total.raw_read + total.raw_written
    raw = mib(raw_bytes)
    old_verdict = "within" if raw_bytes <= OLD_FREE_BANDWIDTH else "above"
    per_phase = total.work / a.real_phases if a.real_phases else 0.0
    calls_verdict = "met" if calls_met else "NOT met"
    bw_verdict = "met" if bw_met else "NOT met"
    return f"""## Convex cost: the reference fleet's month

Measured {today()} on {host}; {command}. {fleet}, two dashboards subscribed over the sync
protocol to the orchestrations page's and one detail page's queries ({len(m.pages.rows)} listed rows
and {len(m.pages.teams)} teams followed), on the local backend's cost meter. Active window {m.active.seconds:.0f} s (the
simulation), idle window {m.idle.seconds:.0f} s (laptops online, nothing changing).{cut}{skipped}

Month: {DAYS} days, laptops and dashboards online 24 h, orchestrations active {a.active_hours:g} h a
day, one phase an orchestration every {a.phase_hours:g} h ({a.real_phases:,.0f} phases a month, work
factor {a.work_factor:,.1f} × the run's {a.sim_phases} phases); the idle rate is every hour's
baseline, the active window's excess is scaled by the work factor (presence and crons by wall-clock
time). Database bandwidth rounds each document up to 1 KiB, as Convex meters it. The script's
docstring states every assumption.

{table}

Work: {per_phase:.0f} calls a phase above the baseline ({calls(total.work)} a month); the
baseline (the idle rate, and presence and crons): {calls(total.month - total.work)} a month.

Calls: **{calls(total.month)} a month** against the target of {calls(CALLS_TARGET)}
(**{calls_verdict}**; the free tier includes {calls(FREE_CALLS)}). Database bandwidth:
**{mib(bandwidth)} MiB a month** read and written, each document rounded up to 1 KiB, against the
free tier's {mib(FREE_BANDWIDTH)} MiB (5 GiB, **{bw_verdict}**). Note: the raw bytes, {raw} MiB, are
{old_verdict} the 1 GiB ({mib(OLD_FREE_BANDWIDTH)} MiB) an older version of the limits page gave
without the rounding.

The functions that cost most:

{chr(10).join(fn_lines)}
{rerun_causes(m.active, m.pages.paths)}"""


def rerun_causes(window: Window, dashboard_paths: set[str], top: int = 4) -> str:
    """What re-ran the dashboard's queries in a window: each query's most frequent causes."""
    rows = []
    for path in sorted(dashboard_paths):
        causes = window.reruns.get(path) or {}
        total = sum(causes.values())
        if total <= 0:
            continue
        ranked = sorted(causes.items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"`{cause}` {n:,.0f}" for cause, n in ranked[:top])
        more = f", {len(ranked) - top} more" if len(ranked) > top else ""
        rows.append(f"| `{path}` | {total:,.0f} | {shown}{more} |")
    if not rows:
        return ""
    return "\n".join(
        [
            "",
            "What re-ran the dashboard's queries in the active window (the first write inside a "
            "query's read set: writing function, table[fields it changed], `+` an insert):",
            "",
            "| Query | re-runs | most frequent causes |",
            "|---|---:|---|",
            *rows,
            "",
        ]
    )


def as_data(
    m: Measured, a: Assumptions, comps: dict[str, Row], fns: dict[str, Row], host: str
) -> dict[str, Any]:
    def row(r: Row) -> dict[str, Any]:
        return {
            "active": r.active, "idle": r.idle, "month": r.month, "bytes_read": r.read,
            "bytes_written": r.written, "raw_bytes_read": r.raw_read,
            "raw_bytes_written": r.raw_written, "documents_read": r.docs_read,
            "documents_written": r.docs_written, "work": r.work,
        }  # fmt: skip

    total = Row("total")
    for r in comps.values():
        total.add(r)
    return {
        "windows": {"active": m.active.seconds, "idle": m.idle.seconds},
        "assumptions": {
            "days": DAYS,
            "active_hours": a.active_hours,
            "phase_hours": a.phase_hours,
            "orchestrations": a.orchestrations,
            "sim_phases": a.sim_phases,
            "real_phases": a.real_phases,
            "work_factor": a.work_factor,
        },
        "finished": m.finished,
        "orchestrations": m.orchestrations,
        "cut_short": m.cut_short,
        "subscribed": sorted(m.pages.paths),
        "skipped": sorted(m.pages.skipped),
        "teams_followed": len(m.pages.teams),
        "rows_followed": len(m.pages.rows),
        "host": host,
        "components": {c: row(r) for c, r in comps.items()},
        "functions": {p: row(r) for p, r in sorted(fns.items())},
        "total": row(total),
        "measured": {"active": m.active.counts, "idle": m.idle.counts},
        "reruns": {"active": m.active.reruns, "idle": m.idle.reruns},
    }


def replay(path: Path) -> tuple[Measured, str]:
    """The measured windows of an earlier run's `--json` file."""
    data = json.loads(path.read_text())["data"]
    pages = Pages(paths=set(data["subscribed"]), skipped=set(data.get("skipped", [])))
    pages.teams = {f"team-{i}" for i in range(data.get("teams_followed", 0))}
    pages.rows = {f"row-{i}" for i in range(data.get("rows_followed", 0))}
    measured = Measured(
        active=Window(
            data["windows"]["active"],
            data["measured"]["active"],
            data.get("reruns", {}).get("active", {}),
        ),
        idle=Window(
            data["windows"]["idle"],
            data["measured"]["idle"],
            data.get("reruns", {}).get("idle", {}),
        ),
        sim_phases=data["assumptions"]["sim_phases"],
        finished=data["finished"],
        orchestrations=data.get("orchestrations", data["assumptions"]["orchestrations"]),
        cut_short=data["cut_short"],
        pages=pages,
    )
    return measured, str(data.get("host") or machine())


def daemon_env() -> dict[str, str]:
    """The daemon's own defaults: a sandbox laptop sets its heartbeat interval (30 s) otherwise."""
    default = attrs.fields(Config).heartbeat_secs.default
    return {"TINA_HEARTBEAT_SECS": f"{default:g}"}


def run(args: argparse.Namespace) -> tuple[Measured, str]:
    host = machine()
    with tempfile.TemporaryDirectory(prefix="tina-cc-") as tmp:  # short: AF_UNIX path limit
        root = Path(tmp)
        backend, url = start_backend(root, SECRET)
        laptops: list[Laptop] = []
        try:
            read_meter(backend)  # fail now, not after the run, when there is no meter
            token = sign_up(url, "cost@example.com")
            for i in range(args.laptops):
                name = LAPTOP_NAMES[i] if i < len(LAPTOP_NAMES) else f"laptop-{i + 1}"
                lt = Laptop(root / f"l{i}", name, url, enrollment_secret=SECRET, env=daemon_env())
                laptops.append(lt)
                lt.start_daemon(timeout=60)
            measured = trio.run(measure, backend, token, laptops, args)
        except BaseException:
            for lt in laptops:
                print(f"--- {lt.name}'s daemon ---\n{lt.log_tail()}", file=sys.stderr)
            raise
        finally:
            for lt in laptops:
                lt.close()
            backend.stop()
    return measured, host


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--orchestrations", type=int, default=10)
    parser.add_argument("--laptops", type=int, default=3)
    parser.add_argument("--speed", type=float, default=1.0, help="simulation speed factor")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--max-active", type=float, default=900.0, help="longest active window, seconds"
    )
    parser.add_argument("--idle", type=float, default=300.0, help="idle window, seconds")
    parser.add_argument(
        "--active-hours", type=float, default=8.0, help="hours a day orchestrations are active"
    )
    parser.add_argument("--phase-hours", type=float, default=1.0, help="hours a real phase takes")
    parser.add_argument(
        "--record", action="store_true", help="write the result into docs/benchmarks.md"
    )
    parser.add_argument("--json", type=Path, help="write the result as JSON (for bench/run.py)")
    parser.add_argument(
        "--replay",
        type=Path,
        metavar="JSON",
        help="no run: the windows measured by an earlier run (its --json), extrapolated again "
        "with these options' assumptions",
    )
    args = parser.parse_args()
    if args.laptops < 1 or args.orchestrations < 1 or args.idle <= 0 or args.speed <= 0:
        parser.error("--laptops, --orchestrations, --idle and --speed must be positive")
    configure_logging("quiet")
    try:
        m, host = replay(args.replay) if args.replay else run(args)
    except NoMeter as exc:
        print(f"convex-cost: {exc}", file=sys.stderr)
        return 1
    a = Assumptions(
        orchestrations=args.orchestrations,
        active_hours=args.active_hours,
        phase_hours=args.phase_hours,
        sim_phases=m.sim_phases,
    )
    comps, fns = extrapolate(m.active, m.idle, a, m.pages.paths)
    body = render(m, a, comps, fns, args, host)
    print(body)
    data = as_data(m, a, comps, fns, host)
    total = data["total"]
    bandwidth = total["bytes_read"] + total["bytes_written"]
    goals = [
        target(
            "Convex function calls a month (reference fleet)",
            f"{total['month']:,.0f}",
            f"≤ {CALLS_TARGET:,}",
            total["month"] <= CALLS_TARGET,
        ),
        target(
            "Convex database bandwidth a month (reference fleet)",
            f"{mib(bandwidth)} MiB",
            f"≤ {mib(FREE_BANDWIDTH)} MiB (free tier, documents rounded up to 1 KiB)",
            bandwidth <= FREE_BANDWIDTH,
        ),
    ]
    if args.record:
        record("convex-cost", body)
    write_result(args.json, "convex-cost", body, goals, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
