"""Atomic replacement, the per-worktree lock and the append-only journal."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tina.local import JournalEntry, paths, read_journal
from tina.session import store
from tina.session.machine import EventDraft


def test_atomic_write_never_shows_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "dir" / "state.json"
    versions = [bytes([65 + n]) * (200_000 + n * 5_000) for n in range(4)]
    store.atomic_write(target, versions[0])
    seen: set[bytes] = set()
    stop = threading.Event()
    problems: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            data = target.read_bytes()
            if data not in versions:
                problems.append(f"partial read of {len(data)} bytes")
            seen.add(data[:1])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        n = 0
        while n < 60 or (len(seen) < 2 and n < 5_000):
            store.atomic_write(target, versions[n % len(versions)])
            n += 1
    finally:
        stop.set()
        thread.join()
    assert problems == []
    assert len(seen) >= 2
    # no temporary files are left behind
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]


def test_atomic_write_cleans_up_when_the_rename_fails(tmp_path: Path) -> None:
    where = tmp_path / "w"
    target = where / "a-directory"
    target.mkdir(parents=True)
    (target / "keep").write_text("x")  # os.replace cannot replace a non-empty directory
    with pytest.raises(IsADirectoryError):
        store.atomic_write(target, b"data")
    assert sorted(p.name for p in where.iterdir()) == ["a-directory"]


def test_lock_serialises_holders(tmp_path: Path) -> None:
    order: list[str] = []
    held = threading.Event()

    def first() -> None:
        with store.locked(tmp_path):
            held.set()
            time.sleep(0.3)
            order.append("first released")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    with store.locked(tmp_path):
        order.append("second acquired")
    thread.join()
    assert order == ["first released", "second acquired"]
    assert paths.state_lock_path(tmp_path).exists()


APPENDER = """
import sys
from pathlib import Path
from tina.session import store
from tina.session.machine import EventDraft
worktree, tag, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for n in range(count):
    drafts = [EventDraft(type="info", summary=f"{tag}-{n}-" + "x" * (n * 97 % 3000), phase="1")]
    store.append_events(worktree, store.make_entries("f", drafts))
"""


def test_concurrent_appends_and_a_tailing_reader(tmp_path: Path) -> None:
    workers, per_worker = 4, 40
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(tmp_path), f"w{w}", str(per_worker)])
        for w in range(workers)
    ]
    tailed: list[JournalEntry] = []
    offset = 0
    while any(proc.poll() is None for proc in procs):
        chunk = read_journal(paths.journal_path(tmp_path), offset=offset)
        assert chunk.errors == ()  # a line being written is never consumed half-way
        tailed += chunk.entries
        offset = chunk.end
    assert all(proc.wait(timeout=60) == 0 for proc in procs)
    chunk = read_journal(paths.journal_path(tmp_path), offset=offset)
    tailed += chunk.entries
    whole = read_journal(paths.journal_path(tmp_path))
    assert whole.errors == ()
    assert len(whole.entries) == workers * per_worker
    assert tailed == list(whole.entries)
    assert len({entry.id for entry in whole.entries}) == workers * per_worker
    for w in range(workers):
        mine = [e.summary.split("-")[1] for e in whole.entries if e.summary.startswith(f"w{w}-")]
        assert mine == [str(n) for n in range(per_worker)]  # each writer's order is kept
    assert os.path.getsize(paths.journal_path(tmp_path)) == whole.end


def test_make_entries_stamps_ids_source_and_time(tmp_path: Path) -> None:
    drafts = [EventDraft(type="a", summary="one"), EventDraft(type="b", summary="two", phase="2")]
    entries = store.make_entries("feat", drafts)
    assert [e.type for e in entries] == ["a", "b"]
    assert len({e.id for e in entries}) == 2 and all(len(e.id) == 32 for e in entries)
    assert {e.source for e in entries} == {"tina-session"}
    assert entries[0].recorded_at.tzinfo is not None
    assert entries[1].phase == "2" and entries[0].phase is None
    store.append_events(tmp_path, entries)
    assert list(read_journal(paths.journal_path(tmp_path)).entries) == entries
