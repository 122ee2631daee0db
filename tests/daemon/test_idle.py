"""An idle daemon sleeps: with nothing changing, its actors hold no timer (real clock)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors import worktree
from tina.daemon.sync.syncer import Syncer
from tina.daemon.watch import WatchHub
from tina.dev.fakes import FakeGateway

STATE = Path(__file__).resolve().parent.parent / "fixtures" / "state" / "spec-doc-head.json"


def write_state(wt: Path, *, plans: dict[str, str]) -> None:
    doc: dict[str, Any] = json.loads(STATE.read_text())
    doc["worktree_path"] = str(wt)
    doc["spec_doc"] = "convex://x"
    for number, phase in doc["phases"].items():
        phase["plan_path"] = plans.get(number)
    path = wt / ".claude/tina/supervisor-state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def next_deadline() -> float:
    return trio.lowlevel.current_statistics().seconds_to_next_deadline


async def no_timer_pending() -> None:
    """Wait until no task of the run holds a timer (bounded by the test's timeout: a deadline
    of our own would be one)."""
    while True:
        await trio.testing.wait_all_tasks_blocked(0.05)
        if next_deadline() == math.inf:
            return
        await trio.sleep(0.05)


async def a_timer_pending() -> None:
    while True:
        await trio.testing.wait_all_tasks_blocked(0.05)
        if next_deadline() != math.inf:
            return
        await trio.sleep(0.05)


async def until_sent(syncer: Syncer, wt: Path, digest: str) -> None:
    with trio.fail_after(10):
        while True:
            doc = syncer._documents.get((str(wt), "plan", "1"))
            if doc is not None and doc.hash == digest:
                return
            await trio.sleep(0.01)


async def quiet_backend(*_roots: Path, stop_event: trio.Event, **_: object):  # type: ignore[no-untyped-def]
    """A watch backend with nothing to report: what an idle inotify watch is to trio."""
    await stop_event.wait()
    return
    yield  # an async generator


@pytest.mark.timeout(30)
async def test_an_idle_worktree_holds_no_timer_and_polls_only_a_broad_document(
    tmp_path: Path,
) -> None:
    wt = tmp_path / "wt"
    plan = wt / "docs/plans/phase-1.md"
    plan.parent.mkdir(parents=True)
    plan.write_text("v1")
    write_state(wt, plans={"1": str(plan)})
    cell: LatestValue[GatewayProtocol | None] = LatestValue(FakeGateway())
    syncer = Syncer(cell)
    hub = WatchHub(awatch=quiet_backend)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        await nursery.start(worktree.run, wt, None, hub, syncer)
        await no_timer_pending()  # a plan in its own directory is watched, not polled

        # A plan in the worktree itself is polled (watching it would watch the whole tree).
        broad = wt / "PLAN.md"
        broad.write_text("broad v1")
        write_state(wt, plans={"1": str(broad)})
        hub._route({(2, str(wt / ".claude/tina/supervisor-state.json"))})
        await until_sent(syncer, wt, sha(b"broad v1"))
        await a_timer_pending()
        broad.write_text("broad v2, polled")
        await until_sent(syncer, wt, sha(b"broad v2, polled"))

        # Back to a watched plan: the poll stops.
        write_state(wt, plans={"1": str(plan)})
        hub._route({(2, str(wt / ".claude/tina/supervisor-state.json"))})
        await until_sent(syncer, wt, sha(b"v1"))
        await no_timer_pending()
        nursery.cancel_scope.cancel()
