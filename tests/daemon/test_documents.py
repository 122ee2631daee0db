"""Plans and design docs: the worktree watcher reads them over real files and the syncer sends
them to the FakeGateway once their orchestration has an id."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
import trio
import trio.testing

from tina.convex import ConvexConnectionLost, LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors import worktree
from tina.daemon.actors.worktree import WorktreeWatcher
from tina.daemon.projection import cut_utf8, document_snapshot
from tina.daemon.sync.syncer import Syncer
from tina.daemon.watch import WatchHub
from tina.dev.fakes import FakeGateway, refused
from tina.messages import DOCUMENT_MAX, DocumentSnapshot, OrchestrationSnapshot

STATE = Path(__file__).resolve().parent.parent / "fixtures" / "state" / "spec-doc-head.json"


def state_doc(wt: Path, *, spec_doc: str, plans: dict[str, str], started: str | None = None) -> str:
    doc: dict[str, Any] = json.loads(STATE.read_text())
    doc["worktree_path"] = str(wt)
    doc["spec_doc"] = spec_doc
    for number, phase in doc["phases"].items():
        phase["plan_path"] = plans.get(number)
    if started is not None:
        doc["orchestration_started_at"] = started
    return json.dumps(doc)


def write_state(wt: Path, **kwargs: Any) -> Path:
    path = wt / ".claude/tina/supervisor-state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(state_doc(wt, **kwargs))
    return path


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def docs_sent(fake: FakeGateway) -> list[DocumentSnapshot]:
    return [payload[1] for name, payload in fake.calls if name == "sync_document"]


# --- pure ------------------------------------------------------------------------------------


def test_cut_utf8_stops_at_a_character_boundary() -> None:
    assert cut_utf8("abc", 3) == ("abc", False)
    assert cut_utf8("aé", 2) == ("a", True)  # é is 2 bytes: not cut in half
    assert cut_utf8("a€b", 3) == ("a", True)  # € is 3 bytes
    assert cut_utf8("a€b", 4) == ("a€", True)
    assert cut_utf8("😀😀", 7) == ("😀", True)


def test_a_document_over_the_cap_is_cut_on_a_character_boundary_and_hashed_whole() -> None:
    data = ("a" * (DOCUMENT_MAX - 1) + "é" + "tail").encode()
    doc = document_snapshot(
        "plan", "/w/docs/plans/p.md", data, phase="1", mtime_ns=1_772_614_800 * 10**9
    )
    assert doc.truncated
    assert doc.content == "a" * (DOCUMENT_MAX - 1)  # the 2-byte é would pass the cap
    assert len(doc.content.encode()) <= DOCUMENT_MAX
    assert doc.hash == sha(data)
    assert doc.size == len(data)
    assert doc.modified_at == 1_772_614_800_000.0
    exact = ("a" * (DOCUMENT_MAX - 2) + "é").encode()
    assert not document_snapshot("plan", "/p", exact, phase="1").truncated


def test_a_missing_document_has_no_content_and_no_hash() -> None:
    doc = document_snapshot("design", "/w/docs/design.md", None)
    assert (doc.missing, doc.hash, doc.content, doc.size) == (True, None, "", 0)


def test_bytes_that_are_not_utf8_are_shown_replaced_and_hashed_as_they_are() -> None:
    data = b"# Plan\n\xff\xfe step\x00 one\n"
    doc = document_snapshot("plan", "/p", data, phase="2")
    assert doc.content == "# Plan\n\ufffd\ufffd step one\n"  # no NUL: Convex refuses it
    assert doc.hash == sha(data)


# --- the worktree watcher --------------------------------------------------------------------


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def syncer(fake: FakeGateway) -> Syncer:
    cell: LatestValue[GatewayProtocol | None] = LatestValue(fake)
    return Syncer(cell)


async def test_plan_synced_when_written_resent_after_an_edit_never_when_unchanged(
    tmp_path: Path, fake: FakeGateway, syncer: Syncer
) -> None:
    wt = tmp_path / "wt"
    plan1 = wt / "docs/plans/phase-1.md"
    plan2 = wt / "docs/plans/phase-2.md"
    plan1.parent.mkdir(parents=True)
    plan1.write_text("# Phase 1\n\n1. Add the flag\n")
    write_state(
        wt,
        spec_doc="convex://k57d9s8a1b2c3d4e5f6a7b8c9d0e1f2",
        plans={"1": str(plan1), "2": str(plan2)},
    )
    watcher = WorktreeWatcher(wt, str(tmp_path), syncer)
    async with trio.open_nursery() as nursery:
        await nursery.start(syncer.run)
        await watcher.refresh(set(), rescan=True)
        await until(lambda: len(fake.documents) == 2 and syncer.depth == 0)
        ((feature, started),) = fake.orchestrations
        oid = f"o:{feature}:{started}"
        first = fake.documents[(oid, "plan", "1")]
        assert first.content == "# Phase 1\n\n1. Add the flag\n"
        assert first.hash == sha(plan1.read_bytes())
        assert (first.path, first.missing, first.truncated) == (str(plan1), False, False)
        assert fake.documents[(oid, "plan", "2")].missing  # not written yet
        assert not any(d.kind == "design" for d in docs_sent(fake))  # the design doc is in Convex

        # Written: sent. Edited: sent again.
        plan2.write_text("# Phase 2\n")
        await watcher.refresh({plan2}, rescan=False)
        await until(lambda: not fake.documents[(oid, "plan", "2")].missing)
        assert fake.documents[(oid, "plan", "2")].hash == sha(b"# Phase 2\n")
        plan1.write_text("# Phase 1\n\n1. Add the flag\n2. Document it\n")
        await watcher.refresh({plan1}, rescan=False)
        await until(lambda: fake.documents[(oid, "plan", "1")].hash == sha(plan1.read_bytes()))
        sent = len(docs_sent(fake))

        # The same bytes written again, a rescan, a poll: nothing is sent.
        plan1.write_bytes(plan1.read_bytes())
        await watcher.refresh({plan1}, rescan=False)
        await watcher.refresh(set(), rescan=True, poll=True)
        await trio.testing.wait_all_tasks_blocked()
        assert syncer.depth == 0
        assert len(docs_sent(fake)) == sent

        # Deleted: missing, no content, no hash.
        plan1.unlink()
        await watcher.refresh({plan1}, rescan=False)
        await until(lambda: fake.documents[(oid, "plan", "1")].missing)
        gone = fake.documents[(oid, "plan", "1")]
        assert (gone.hash, gone.content, gone.path) == (None, "", str(plan1))

        # A reconcile sends everything again (the server's changed:false makes it cheap).
        sent = len(docs_sent(fake))
        await watcher.refresh(set(), rescan=False, force=True)
        await until(lambda: len(docs_sent(fake)) == sent + 2 and syncer.depth == 0)
        nursery.cancel_scope.cancel()


async def test_the_design_doc_is_read_from_the_worktree_and_a_new_run_gets_every_document(
    tmp_path: Path, syncer: Syncer
) -> None:
    wt = tmp_path / "wt"
    design = wt / "docs/design.md"
    design.parent.mkdir(parents=True)
    design.write_text("# Design\n")
    state = write_state(wt, spec_doc="docs/design.md", plans={})  # relative to the worktree
    watcher = WorktreeWatcher(wt, None, syncer)
    await watcher.refresh(set(), rescan=True)
    assert list(syncer._documents) == [(str(wt), "design", "")]
    doc = syncer._documents[(str(wt), "design", "")]
    assert (doc.path, doc.phase_number, doc.hash) == (str(design), None, sha(b"# Design\n"))
    syncer._documents.clear()
    await watcher.refresh({state}, rescan=False)
    assert syncer._documents == {}

    # tina-session starts the feature again in the same worktree: a new orchestration in
    # Convex, which has none of the documents yet.
    state.write_text(
        state_doc(wt, spec_doc="docs/design.md", plans={}, started="2026-02-14T08:00:00Z")
    )
    await watcher.refresh({state}, rescan=False)
    assert list(syncer._documents) == [(str(wt), "design", "")]


async def test_a_document_in_a_directory_too_broad_to_watch_is_polled(
    tmp_path: Path, syncer: Syncer
) -> None:
    wt = tmp_path / "wt"
    wt.mkdir()
    plan = wt / "PLAN.md"  # in the worktree itself: watching it would watch the whole tree
    plan.write_text("v1")
    nested = wt / "docs/plans/phase-2.md"
    write_state(wt, spec_doc="convex://x", plans={"1": str(plan), "2": str(nested)})
    watcher = WorktreeWatcher(wt, None, syncer)
    await watcher.refresh(set(), rescan=True)
    assert watcher.watched_dirs() == {nested.parent}
    assert watcher.polls
    syncer._documents.clear()
    plan.write_text("v2, longer")
    await watcher.refresh(set(), rescan=False, poll=True)
    assert syncer._documents[(str(wt), "plan", "1")].hash == sha(b"v2, longer")


async def test_a_document_that_is_not_a_regular_file_is_logged_once_and_skipped(
    tmp_path: Path, syncer: Syncer
) -> None:
    wt = tmp_path / "wt"
    fifo = wt / "docs/plans/phase-1.md"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    write_state(wt, spec_doc="convex://x", plans={"1": str(fifo)})
    watcher = WorktreeWatcher(wt, None, syncer)
    with structlog.testing.capture_logs() as logs:
        await watcher.refresh(set(), rescan=True)
        await watcher.refresh({fifo}, rescan=False)
        await watcher.refresh(set(), rescan=True)
    assert [e["event"] for e in logs].count("file.refused") == 1
    assert syncer._documents == {}


# --- the syncer ------------------------------------------------------------------------------


def orch(started: float = 1.7e12) -> OrchestrationSnapshot:
    return OrchestrationSnapshot(
        feature_name="f",
        spec_doc_path="/s",
        branch="b",
        worktree_path="/w",
        total_phases=2,
        current_phase=1,
        status="planning",
        started_at=started,
    )


def plan(text: str, phase: str = "1") -> DocumentSnapshot:
    return document_snapshot("plan", f"/w/docs/plans/{phase}.md", text.encode(), phase=phase)


async def test_documents_wait_for_their_orchestration_and_only_the_latest_is_sent(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway, syncer: Syncer
) -> None:
    syncer.put_document("/w", plan("v1"))
    syncer.put_document("/w", plan("v2"))
    syncer.put_document("/w", plan("other", phase="2"))
    async with trio.open_nursery() as nursery:
        await nursery.start(syncer.run)
        await trio.testing.wait_all_tasks_blocked()  # the syncer waits: nothing to send
        assert fake.count("sync_document") == 0  # no orchestration id yet
        syncer.put_orchestration("/w", orch(), [])
        await until(lambda: syncer.depth == 0)
        nursery.cancel_scope.cancel()
    # Documents of different kinds or phases go side by side: in either order.
    assert sorted(d.content for d in docs_sent(fake)) == ["other", "v2"]
    assert fake.calls.index(next(c for c in fake.calls if c[0] == "sync_orchestration")) == 0


async def test_a_document_that_fails_to_send_is_retried_and_a_newer_one_replaces_it(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway, syncer: Syncer
) -> None:
    fake.inject("sync_document", ConvexConnectionLost("fake: connection lost"), times=3)
    async with trio.open_nursery() as nursery:
        await nursery.start(syncer.run)
        syncer.put_orchestration("/w", orch(), [])
        syncer.put_document("/w", plan("v1"))
        await until(lambda: fake.count("sync_document") >= 2)
        syncer.put_document("/w", plan("v2"))
        await until(lambda: syncer.depth == 0)
        nursery.cancel_scope.cancel()
    assert fake.count("sync_document") == 4  # three failures, then v2
    assert [d.content for d in fake.documents.values()] == ["v2"]


async def test_a_lost_orchestration_is_synced_again_before_its_document(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway, syncer: Syncer
) -> None:
    fake.inject("sync_document", refused("not_found", "no such orchestration"))
    async with trio.open_nursery() as nursery:
        await nursery.start(syncer.run)
        syncer.put_orchestration("/w", orch(), [])
        syncer.put_document("/w", plan("v1"))
        await until(lambda: syncer.depth == 0 and len(fake.documents) == 1)
        nursery.cancel_scope.cancel()
    assert [name for name, _ in fake.calls] == [
        "sync_orchestration",
        "sync_document",  # not_found
        "sync_orchestration",
        "sync_document",
    ]


async def test_a_document_the_server_refuses_is_dropped_and_counted(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway, syncer: Syncer
) -> None:
    fake.inject("sync_document", refused("invalid_argument", "document.content: too long"))
    async with trio.open_nursery() as nursery:
        await nursery.start(syncer.run)
        syncer.put_orchestration("/w", orch(), [])
        syncer.put_document("/w", plan("v1"))
        await until(lambda: syncer.depth == 0)
        nursery.cancel_scope.cancel()
    assert (syncer.failed, fake.documents) == (1, {})


# --- the actor, with the real watch hub ------------------------------------------------------


@pytest.mark.timeout(60)
async def test_the_worktree_actor_follows_plan_directories_through_the_hub(
    tmp_path: Path, fake: FakeGateway, syncer: Syncer
) -> None:
    wt = tmp_path / "wt"
    plan1 = wt / "docs/plans/phase-1.md"
    state = write_state(wt, spec_doc="convex://x", plans={"1": str(plan1)})
    hub = WatchHub(debounce_ms=30, step_ms=10)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        await nursery.start(syncer.run)
        await nursery.start(worktree.run, wt, None, hub, syncer)
        await until(lambda: any(d.missing for d in fake.documents.values()))
        # The plans directory does not exist yet: the hub watches it once it appears.
        plan1.parent.mkdir(parents=True)
        plan1.write_text("# Phase 1\n")
        await until(lambda: [d.hash for d in fake.documents.values()] == [sha(b"# Phase 1\n")], 20)
        # A plan for a new phase in another directory: the actor subscribes to it.
        plan2 = tmp_path / "elsewhere/phase-2.md"
        plan2.parent.mkdir()
        state.write_text(
            state_doc(wt, spec_doc="convex://x", plans={"1": str(plan1), "2": str(plan2)})
        )
        await until(lambda: len(fake.documents) == 2, 20)

        def drafted() -> bool:
            return any(d.content.startswith("# Phase 2") for d in fake.documents.values())

        with trio.fail_after(20):
            attempt = 0
            while not drafted():  # written until the new directory's watch is up
                plan2.write_text(f"# Phase 2, draft {attempt}\n")
                attempt += 1
                with trio.move_on_after(0.5):
                    await until(drafted, 1)
        nursery.cancel_scope.cancel()
    assert {d.phase_number for d in fake.documents.values()} == {"1", "2"}
