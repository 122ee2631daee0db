"""The coalescer on its own: no trio, no files. Properties over any sequence of observations."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from tina.daemon.sync import coalescer as coalescer_module
from tina.daemon.sync.coalescer import (
    Coalescer,
    Item,
    Key,
    OrchestrationItem,
    Sequencer,
    TeamItem,
    TeamRemoval,
    fold,
    key_of,
)
from tina.messages import OrchestrationSnapshot, TaskSnapshot, TeamSnapshot


def task(i: str, status: str = "pending", owner: str | None = None) -> TaskSnapshot:
    return TaskSnapshot(task_id=i, subject=f"s{i}", description="", status=status, owner=owner)


def team(dir_name: str, seq: float, tasks: list[TaskSnapshot]) -> TeamItem:
    return TeamItem(
        dir_name=dir_name,
        team=TeamSnapshot(dir_name=dir_name, team_name=dir_name),
        members=[],
        tasks=tasks,
        seq=seq,
    )


def orch(worktree: str, seq: float, status: str = "planning") -> OrchestrationItem:
    snapshot = OrchestrationSnapshot(
        feature_name="f",
        spec_doc_path="/s",
        branch="b",
        worktree_path=worktree,
        total_phases=1,
        current_phase=1,
        status=status,
        started_at=1.0,
    )
    return OrchestrationItem(worktree=worktree, snapshot=snapshot, phases=[], seq=seq)


# --- examples ------------------------------------------------------------------------------------


def test_a_newer_orchestration_replaces_the_pending_one() -> None:
    c = Coalescer()
    c.put(orch("/w", 1, "planning"))
    c.put(orch("/w", 2, "executing"))
    assert len(c) == 1
    assert c.get(("orch", "/w")) == orch("/w", 2, "executing")


def test_a_team_observation_carries_the_states_it_replaces() -> None:
    c = Coalescer()
    c.put(team("t", 1, [task("1")]))
    c.put(team("t", 2, [task("1", "in_progress")]))
    c.put(team("t", 3, [task("1", "completed")]))
    pending = c.get(("team", "t"))
    assert isinstance(pending, TeamItem)
    assert pending.seq == 3
    assert [(s, t.status) for s, t in pending.history] == [(1, "pending"), (2, "in_progress")]


def test_a_removal_carries_the_last_unsent_observation() -> None:
    c = Coalescer()
    c.put(team("t", 1, [task("1")]))
    c.put(team("t", 2, [task("1", "completed")]))
    c.put(TeamRemoval(dir_name="t", seq=3))
    c.put(TeamRemoval(dir_name="t", seq=4))  # removed twice: still carries it
    pending = c.get(("team", "t"))
    assert isinstance(pending, TeamRemoval) and pending.seq == 4
    assert pending.last is not None and pending.last.seq == 2
    assert [(s, t.status) for s, t in pending.last.history] == [(1, "pending")]


def test_an_item_put_back_keeps_the_newer_observation_and_its_own_states() -> None:
    c = Coalescer()
    c.put(team("t", 1, [task("1")]))
    c.put(orch("/w", 2, "planning"))
    taken = c.take()
    assert len(c) == 0 and not c.has_teams()
    c.put(team("t", 3, [task("1", "completed")]))
    c.put(orch("/w", 4, "executing"))
    for key, item in taken.items():  # the send failed
        c.put_back(key, item)
    pending = c.get(("team", "t"))
    assert isinstance(pending, TeamItem) and pending.seq == 3
    assert [(s, t.status) for s, t in pending.history] == [(1, "pending")]
    assert c.get(("orch", "/w")) == orch("/w", 4, "executing")  # newer wins, nothing to carry


def test_an_item_put_back_with_nothing_newer_is_pending_again() -> None:
    c = Coalescer()
    c.put(orch("/w", 1))
    c.put(team("t", 2, [task("1")]))
    taken = c.take()
    for key, item in taken.items():
        c.put_back(key, item)
    assert dict(c.pending) == taken


def test_teams_lists_team_items_and_removals_in_order() -> None:
    c = Coalescer()
    c.put(team("a", 1, [task("1")]))
    c.put(orch("/w", 2))
    c.put(TeamRemoval(dir_name="b", seq=3))
    c.put(team("a", 4, [task("1", "completed")]))  # keeps a's place
    assert [(type(i), i.dir_name) for i in c.teams()] == [(TeamItem, "a"), (TeamRemoval, "b")]
    assert c.has_teams()
    assert [key for key in c.pending] == [("team", "a"), ("orch", "/w"), ("team", "b")]


def test_the_pending_view_is_read_only() -> None:
    c = Coalescer()
    c.put(orch("/w", 1))
    with pytest.raises(TypeError):
        c.pending[("orch", "/x")] = orch("/x", 2)  # type: ignore[index]


def test_sequence_numbers_never_repeat_even_if_the_clock_goes_back() -> None:
    times = iter([100.0, 100.0, 99.0, 101.0])
    s = Sequencer(lambda: next(times))
    got = [s.next() for _ in range(4)]
    assert got == sorted(got)
    assert len(set(got)) == 4


def test_the_coalescer_does_no_io_and_needs_no_trio() -> None:
    source = Path(coalescer_module.__file__).read_text()
    imported = {
        name
        for node in ast.walk(ast.parse(source))
        for name in (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    }
    forbidden = ("trio", "os", "pathlib", "io", "json", "socket", "tina.convex", "tina.daemon.sync")
    assert not {m for m in imported for f in forbidden if m == f or m.startswith(f + ".")}


# --- properties ----------------------------------------------------------------------------------

DIRS = ("a", "b")
WORKTREES = ("/w1", "/w2")
TASK_IDS = ("1", "2", "3")
states = st.tuples(
    st.sampled_from(("pending", "in_progress", "completed")), st.sampled_from((None, "x"))
)
task_lists = st.dictionaries(st.sampled_from(TASK_IDS), states, max_size=3).map(
    lambda d: [task(i, status, owner) for i, (status, owner) in d.items()]
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("team"), st.sampled_from(DIRS), task_lists),
        st.tuples(st.just("rm"), st.sampled_from(DIRS)),
        st.tuples(st.just("orch"), st.sampled_from(WORKTREES)),
        st.just(("take",)),  # a round takes everything pending...
        st.just(("fail",)),  # ...and puts it back when the send failed
    ),
    max_size=40,
)


def run(ops: list[tuple[Any, ...]], c: Coalescer) -> list[Item]:
    """Apply `ops` (rounds one at a time, as the syncer runs them); every item put, in order."""
    put: list[Item] = []
    in_flight: dict[Key, Item] = {}
    for seq, op in enumerate(ops, start=1):
        item: Item
        if op[0] == "team":
            item = team(op[1], seq, op[2])
        elif op[0] == "rm":
            item = TeamRemoval(dir_name=op[1], seq=seq)
        elif op[0] == "orch":
            item = orch(op[1], seq)
        else:
            if op[0] == "take" and not in_flight:
                in_flight = c.take()
            elif op[0] == "fail":
                for key, taken in in_flight.items():
                    c.put_back(key, taken)
                in_flight = {}
            continue
        c.put(item)
        put.append(item)
    for key, taken in in_flight.items():  # the last round failed too
        c.put_back(key, taken)
    return put


def _collapsed(values: Iterator[TaskSnapshot]) -> list[TaskSnapshot]:
    out: list[TaskSnapshot] = []
    for value in values:
        if not out or out[-1] != value:
            out.append(value)
    return out


@settings(max_examples=300, deadline=None)
@given(ops=operations)
def test_whatever_is_put_the_pending_item_per_key_is_the_newest(ops: list[tuple[Any, ...]]) -> None:
    c = Coalescer()
    put = run(ops, c)
    newest = {key_of(item): item for item in put}
    assert set(c.pending) == set(newest)
    for key, item in newest.items():
        pending = c.pending[key]
        assert type(pending) is type(item)
        assert pending.seq == item.seq
        if isinstance(item, TeamItem):
            assert isinstance(pending, TeamItem)
            assert pending.tasks == item.tasks
        elif isinstance(item, OrchestrationItem):
            assert pending == item


@settings(max_examples=300, deadline=None)
@given(ops=operations)
def test_no_task_state_followed_by_another_is_lost_or_invented(ops: list[tuple[Any, ...]]) -> None:
    c = Coalescer()
    put = run(ops, c)
    for dir_name in DIRS:
        observed = [i for i in put if isinstance(i, TeamItem) and i.dir_name == dir_name]
        pending = c.get(("team", dir_name))
        last = pending.last if isinstance(pending, TeamRemoval) else pending
        if not observed:
            assert last is None
            continue
        assert isinstance(last, TeamItem)
        assert len(last.history) < coalescer_module.MAX_HISTORY  # never truncated here
        seqs = [s for s, _ in last.history]
        assert seqs == sorted(seqs) and all(s < last.seq for s in seqs)
        for task_id in TASK_IDS:
            seen = _collapsed(t for i in observed for t in i.tasks if t.task_id == task_id)
            kept = _collapsed(
                t for t in [*(t for _, t in last.history), *last.tasks] if t.task_id == task_id
            )
            assert kept == seen, (task_id, seen, kept)


@settings(max_examples=300, deadline=None)
@given(
    puts=st.lists(st.one_of(task_lists, st.none()), min_size=1, max_size=30),
    limit=st.integers(min_value=1, max_value=6),
)
def test_history_keeps_exactly_the_superseded_states_up_to_its_limit(
    puts: list[list[TaskSnapshot] | None], limit: int
) -> None:
    # In put order (None: the team is removed), without rounds in between.
    c = Coalescer(max_history=limit)
    observed: list[TeamItem] = []
    with capture_logs() as logs:
        for seq, tasks in enumerate(puts, start=1):
            if tasks is None:
                c.put(TeamRemoval(dir_name="t", seq=seq))
            else:
                observed.append(team("t", seq, tasks))
                c.put(observed[-1])
    expected = [
        (older.seq, t)
        for older, newer in pairwise(observed)
        for t in older.tasks
        if {n.task_id: n for n in newer.tasks}.get(t.task_id) != t  # followed by another
    ]
    pending = c.get(("team", "t"))
    last = pending.last if isinstance(pending, TeamRemoval) else pending
    if not observed:
        assert last is None
        return
    assert isinstance(last, TeamItem)
    assert list(last.history) == expected[-limit:]
    truncated = [e for e in logs if e["event"] == "sync.history_truncated"]
    assert bool(truncated) == (len(expected) > limit)


@given(
    clock=st.lists(st.floats(min_value=0, max_value=2e9), min_size=1, max_size=20),
    seen=st.floats(min_value=0, max_value=2e15),
)
def test_sequence_numbers_increase_and_pass_any_number_observed(
    clock: list[float], seen: float
) -> None:
    times = iter(clock)
    s = Sequencer(lambda: next(times))
    s.observe(seen)
    got = [s.next() for _ in clock]
    assert all(b > a for a, b in pairwise([seen, *got]))


def test_fold_of_nothing_is_the_newer_item() -> None:
    newer = team("t", 2, [task("1")])
    assert fold(None, newer) is newer
    assert fold(orch("/w", 1), newer) is newer
