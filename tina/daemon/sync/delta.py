"""Team deltas: what Convex holds of a team, and what to send so it holds an observation.

Pure: no I/O, no trio. Per team the syncer keeps `Acked`: the revision Convex stored last (the
`seq` of the last applied delta or finished reconcile), a fingerprint of every task state it
holds (by task id) and of the member list. `plan_delta` turns a team observation (a `TeamItem`,
with the intermediate states it carries as history) into `teams:syncTeamDelta` calls against
that: only the task states that changed, the ids of tasks gone, the members only when they
changed; chained (base = the previous call's seq) when bigger than one call may carry. Each
call comes with the `Acked` it leaves behind once applied.

Without an acked state (first sync, after a restart, after a mismatch) `plan_reconcile` gives
the pages of a full reconcile (`teams:reconcileTeam`, then `teams:finishReconcile`).

Which intermediate states are still to send. `Applied` says which observed states Convex
already has: every state observed at or before `observed` (the seq of the last observation
applied whole), and for tasks sent in a call of an observation not applied whole yet (a chain
cut by a lost connection), every state of that task observed at or before `sent[task_id]`. A
state is sent at most once that way, and every real change becomes one task event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

import attrs

from tina.daemon.sync.coalescer import TeamItem
from tina.messages import MemberSnapshot, TaskCounts, TaskSnapshot

TASKS_PER_CALL = 500
"""Task states one call carries at most (`teams:syncTeamDelta` / `teams:reconcileTeam`)."""
REMOVED_PER_CALL = 1000
"""Removed task ids one delta carries at most."""
TEXT_PER_CALL = 4 * 1024 * 1024
"""Text (UTF-8 bytes of every string of the task states and members) one call carries at most."""
STORED_PER_CALL = 4 * 1024 * 1024 + 512 * 1024
"""Stored task rows one call may read at most (the server allows 5 MiB: rows it replaces or
marks removed), estimated as each row's text plus `ROW_OVERHEAD`."""
ROW_OVERHEAD = 1024
DELETED = "deleted"

State = tuple[float, TaskSnapshot]
"""A task state and the seq of the observation it was seen in."""


def fingerprint(task: TaskSnapshot) -> int:
    """A task state's fingerprint (its fields' hash; strings cache theirs, so this is cheap
    for a task whose snapshot object did not change)."""
    return hash(task)


def members_fingerprint(members: Iterable[MemberSnapshot]) -> int:
    return hash(tuple(members))


def _utf8(text: str | None) -> int:
    return 0 if text is None else len(text.encode("utf-8", "surrogatepass"))


def task_text(task: TaskSnapshot) -> int:
    """The bytes of a task state's strings, as the server counts them against `TEXT_PER_CALL`."""
    return (
        _utf8(task.task_id)
        + _utf8(task.subject)
        + _utf8(task.description)
        + _utf8(task.active_form)
        + _utf8(task.status)
        + _utf8(task.owner)
        + _utf8(task.metadata)
        + sum(_utf8(i) for i in (*task.blocks, *task.blocked_by))
    )


def members_text(members: Iterable[MemberSnapshot]) -> int:
    """The bytes of the members' strings (they count against `TEXT_PER_CALL` where sent)."""
    return sum(
        _utf8(v) for m in members for v in attrs.astuple(m, recurse=False) if isinstance(v, str)
    )


def board_counts(tasks: Iterable[TaskSnapshot]) -> TaskCounts:
    """The board's tasks by status: teammate trackers and deleted tasks are not counted."""
    pending = in_progress = completed = other = 0
    for t in tasks:
        if t.internal is True or t.status == DELETED:
            continue
        if t.status == "pending":
            pending += 1
        elif t.status == "in_progress":
            in_progress += 1
        elif t.status == "completed":
            completed += 1
        else:
            other += 1
    return TaskCounts(pending=pending, in_progress=in_progress, completed=completed, other=other)


@attrs.frozen(kw_only=True)
class Applied:
    """Which observed task states of a team Convex already has (see the module docstring)."""

    observed: float = -1.0
    sent: dict[str, float] = attrs.field(factory=dict)

    def after(self, seq: float) -> Applied:
        """Everything observed up to `seq` is applied."""
        return Applied(observed=max(self.observed, seq), sent={})

    def has(self, task_id: str, seq: float) -> bool:
        return seq <= self.observed or seq <= self.sent.get(task_id, -1.0)


@attrs.frozen(kw_only=True)
class Acked:
    """What Convex holds of a team: its revision, a fingerprint per task id, of the members."""

    revision: float
    tasks: dict[str, int]
    members: int
    applied: Applied
    # The text size of each task's row as Convex holds it (what a call touching it reads).
    sizes: dict[str, int] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Delta:
    """One `teams:syncTeamDelta` call and the acked state it leaves once applied."""

    base: float
    seq: float
    members: list[MemberSnapshot] | None
    tasks: list[State]
    removed: list[str]
    task_counts: TaskCounts
    post: Acked


@attrs.frozen(kw_only=True)
class Page:
    """One `teams:reconcileTeam` call; `applied` is what Convex has once it is applied."""

    members: list[MemberSnapshot] | None
    tasks: list[State]
    applied: Applied


def chains(item: TeamItem, applied: Applied, *, snapshot: bool = False) -> dict[str, list[State]]:
    """Every task's states not applied yet, oldest first (history, then the snapshot), in the
    order tasks first appear; consecutive equal states are one. With `snapshot`, every task's
    current state is included even if applied (a reconcile names every task it keeps)."""
    out: dict[str, list[State]] = {}
    current = len(item.history)
    for i, (seq, task) in enumerate((*item.history, *((item.seq, t) for t in item.tasks))):
        if applied.has(task.task_id, seq) and not (snapshot and i >= current):
            continue
        chain = out.setdefault(task.task_id, [])
        if chain and chain[-1][1] == task:
            continue
        chain.append((seq, task))
    return out


def _pieces(chain: list[State], budget: int) -> Iterator[tuple[list[State], int]]:
    """A chain cut into pieces that each fit in one call, with their text sizes."""
    piece: list[State] = []
    size = 0
    for state in chain:
        text = task_text(state[1])
        if piece and (len(piece) >= TASKS_PER_CALL or size + text > budget):
            yield piece, size
            piece, size = [], 0
        piece.append(state)
        size += text
    if piece:
        yield piece, size


def _batches(
    chains: Iterable[list[State]], budget: int, stored: Mapping[str, int]
) -> list[list[State]]:
    """Task states in calls of at most `TASKS_PER_CALL` states, `budget` text bytes and
    `STORED_PER_CALL` bytes of the rows they replace (`stored`: text size by task id); a
    task's states stay together (in order) unless they do not fit in one call."""
    batches: list[list[State]] = []
    current: list[State] = []
    size = rows = 0
    for chain in chains:
        task_id = chain[0][1].task_id
        row = max(stored.get(task_id, 0), *(task_text(t) for _, t in chain)) + ROW_OVERHEAD
        for piece, text in _pieces(chain, budget):
            if current and (
                len(current) + len(piece) > TASKS_PER_CALL
                or size + text > budget
                or rows + row > STORED_PER_CALL
            ):
                batches.append(current)
                current, size, rows = [], 0, 0
            current.extend(piece)
            size += text
            rows += row
    if current:
        batches.append(current)
    return batches


def _removals(removed: list[str], stored: Mapping[str, int]) -> list[tuple[list[str], int]]:
    """Removed task ids in calls of at most `REMOVED_PER_CALL` ids and `STORED_PER_CALL`
    bytes of their rows, with those bytes."""
    out: list[tuple[list[str], int]] = []
    current: list[str] = []
    rows = 0
    for task_id in removed:
        row = stored.get(task_id, 0) + ROW_OVERHEAD
        if current and (len(current) >= REMOVED_PER_CALL or rows + row > STORED_PER_CALL):
            out.append((current, rows))
            current, rows = [], 0
        current.append(task_id)
        rows += row
    if current:
        out.append((current, rows))
    return out


def plan_delta(item: TeamItem, acked: Acked, fresh: Callable[[], float]) -> list[Delta]:
    """The calls that bring Convex from `acked` to `item`: one unless the change is bigger
    than one call may carry. A call's seq is above its base (the previous call's seq); the
    last one's is the observation's own when it can be (so a replay of it is a `duplicate`),
    else they come from `fresh` (above every seq handed out before)."""
    pending = chains(item, acked.applied)
    changed: list[list[State]] = []
    for task_id, chain in pending.items():
        # A leading state equal to what Convex holds is no change.
        if chain and fingerprint(chain[0][1]) == acked.tasks.get(task_id):
            chain = chain[1:]
        if chain:
            changed.append(chain)
    current = {t.task_id for t in item.tasks}
    removed = [task_id for task_id in acked.tasks if task_id not in current]
    members_fp = members_fingerprint(item.members)
    members = list(item.members) if members_fp != acked.members else None
    counts = board_counts(item.tasks)

    # The members' text is kept free in every call (they go in the first when they changed).
    budget = TEXT_PER_CALL - (members_text(item.members) if members is not None else 0)
    batches = _batches(changed, budget, acked.sizes) or [[]]
    # States first, removals after them (a task gone after its last states is removed after
    # them): the first removals share the last call of states when its rows leave room.
    plan: list[tuple[list[State], list[str]]] = [(b, []) for b in batches]
    for gone, rows in _removals(removed, acked.sizes):
        states, already = plan[-1]
        touched = sum(
            max(acked.sizes.get(t.task_id, 0), task_text(t)) + ROW_OVERHEAD for _, t in states
        )
        if not already and touched + rows <= STORED_PER_CALL:
            plan[-1] = (states, gone)
        else:
            plan.append(([], gone))
    calls = len(plan)

    # Seqs of the calls: base + 1, base + 2, ..., then the observation's own, when they fit
    # below it (then the revision Convex holds never passes an observation it has not seen
    # whole, which a restart relies on: `Syncer._probe`); fresh ones otherwise.
    if item.seq - acked.revision >= calls:
        seqs = [acked.revision + k for k in range(1, calls)] + [item.seq]
    else:
        seqs = [fresh() for _ in range(calls)]

    out: list[Delta] = []
    state = acked
    for i, (states, gone) in enumerate(plan):
        last = i == calls - 1
        seq = seqs[i]
        tasks = dict(state.tasks)
        sizes = dict(state.sizes)
        sent = dict(state.applied.sent)
        for seq_seen, task in states:
            tasks[task.task_id] = fingerprint(task)
            sizes[task.task_id] = task_text(task)
            sent[task.task_id] = max(sent.get(task.task_id, -1.0), seq_seen)
        for task_id in gone:
            tasks.pop(task_id, None)
            sizes.pop(task_id, None)
        applied = (
            state.applied.after(item.seq)
            if last
            else Applied(observed=state.applied.observed, sent=sent)
        )
        # The members go in the first call (unsent, they are what Convex holds already).
        post = Acked(revision=seq, tasks=tasks, members=members_fp, applied=applied, sizes=sizes)
        out.append(
            Delta(
                base=state.revision,
                seq=seq,
                members=members if i == 0 else None,
                tasks=states,
                removed=gone,
                task_counts=counts,
                post=post,
            )
        )
        state = post
    return out


def plan_reconcile(item: TeamItem, applied: Applied) -> list[Page]:
    """The pages of a full reconcile to `item` (members on the first; at least one page, so
    a team without tasks is created too)."""
    pending = chains(item, applied, snapshot=True)
    # Convex's rows are not known: each is taken to be as big as the state replacing it.
    budget = TEXT_PER_CALL - members_text(item.members)
    batches = _batches(pending.values(), budget, {}) or [[]]
    pages: list[Page] = []
    sent = dict(applied.sent)
    for i, states in enumerate(batches):
        for seq_seen, task in states:
            sent[task.task_id] = max(sent.get(task.task_id, -1.0), seq_seen)
        pages.append(
            Page(
                members=list(item.members) if i == 0 else None,
                tasks=states,
                applied=Applied(observed=applied.observed, sent=dict(sent)),
            )
        )
    return pages


def reconciled(item: TeamItem, revision: float, applied: Applied) -> Acked:
    """What Convex holds once a reconcile to `item` finished with `revision`."""
    return Acked(
        revision=revision,
        tasks={t.task_id: fingerprint(t) for t in item.tasks},
        members=members_fingerprint(item.members),
        applied=applied.after(item.seq),
        sizes={t.task_id: task_text(t) for t in item.tasks},
    )
