"""The coalescer: the latest observation per key, with every task state that must not be lost.

Pure: no I/O, no trio. Watchers' observations become items (an orchestration keyed by its
worktree, a team by its directory name); a newer item replaces an unsent older one of the same
key, so a burst of file changes costs one mutation per key. A team item folds the unsent older
one in: task states superseded before they were sent travel along as `history` (oldest first),
so transitions seen offline or within one burst reach Convex in order. A team removal carries
the team's last unsent observation (sent before the removal). Items that could not be sent are
put back the same way, so a newer observation that arrived meanwhile keeps their states.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType

import attrs
import structlog

from tina.messages import (
    MemberSnapshot,
    OrchestrationSnapshot,
    PhaseSnapshot,
    TaskSnapshot,
    TeamSnapshot,
)

log = structlog.get_logger("tina.syncer")

MAX_HISTORY = 2000
"""Earlier task states one team item carries at most (the oldest are dropped, with a warning)."""


@attrs.frozen(kw_only=True)
class OrchestrationItem:
    worktree: str
    snapshot: OrchestrationSnapshot
    phases: list[PhaseSnapshot]
    seq: float


@attrs.frozen(kw_only=True)
class TeamItem:
    dir_name: str
    team: TeamSnapshot
    members: list[MemberSnapshot]
    tasks: list[TaskSnapshot]
    seq: float
    # Earlier observed task states not sent yet (seen while offline or in a burst), oldest first.
    history: tuple[tuple[float, TaskSnapshot], ...] = ()


@attrs.frozen(kw_only=True)
class TeamRemoval:
    dir_name: str
    seq: float
    # The team's last observation not sent yet (e.g. its final task states, seen while offline):
    # sent before the removal, so a team removed soon after a change loses nothing.
    last: TeamItem | None = None


Item = OrchestrationItem | TeamItem | TeamRemoval
Key = tuple[str, str]
"""("orch", worktree) or ("team", directory name)."""


def key_of(item: Item) -> Key:
    if isinstance(item, OrchestrationItem):
        return ("orch", item.worktree)
    return ("team", item.dir_name)


def merge_history(
    older: TeamItem, newer: TeamItem, *, limit: int = MAX_HISTORY
) -> tuple[tuple[float, TaskSnapshot], ...]:
    """`newer`'s history extended with every task state of `older` that was followed by another."""
    following: dict[str, TaskSnapshot] = {t.task_id: t for t in newer.tasks}
    for _, t in reversed(newer.history):
        following[t.task_id] = t  # the first state observed after `older`
    carried = [(older.seq, t) for t in older.tasks if following.get(t.task_id) != t]
    history = (*older.history, *carried, *newer.history)
    if len(history) > limit:
        log.warning("sync.history_truncated", team=newer.dir_name, dropped=len(history) - limit)
        history = history[-limit:]
    return history


def fold(
    older: Item | None, newer: TeamItem | TeamRemoval, *, limit: int = MAX_HISTORY
) -> TeamItem | TeamRemoval:
    """`newer` carrying every observation of an unsent `older` item of the same team."""
    older_team = (
        older
        if isinstance(older, TeamItem)
        else older.last
        if isinstance(older, TeamRemoval)
        else None
    )
    if older_team is None:
        return newer
    if isinstance(newer, TeamItem):
        return attrs.evolve(newer, history=merge_history(older_team, newer, limit=limit))
    if newer.last is None:
        return attrs.evolve(newer, last=older_team)
    return attrs.evolve(
        newer,
        last=attrs.evolve(newer.last, history=merge_history(older_team, newer.last, limit=limit)),
    )


class Sequencer:
    """Monotonic sequence numbers (microseconds of wall-clock time, never repeating)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._last = 0.0

    def next(self) -> float:
        now = float(int(self._clock() * 1_000_000))
        self._last = max(self._last + 1, now)
        return self._last

    def observe(self, seq: float) -> None:
        """Never hand out a number at or below one already used (e.g. read back from the outbox)."""
        self._last = max(self._last, seq)


class Coalescer:
    """The pending items, one per key, in the order their keys first became pending."""

    def __init__(self, *, max_history: int = MAX_HISTORY) -> None:
        self._pending: dict[Key, Item] = {}
        self._max_history = max_history

    def put(self, item: Item) -> None:
        """A new observation: it replaces the pending one of its key (a team's folds it in)."""
        key = key_of(item)
        if isinstance(item, OrchestrationItem):
            self._pending[key] = item
        else:
            self._pending[key] = fold(self._pending.get(key), item, limit=self._max_history)

    def take(self) -> dict[Key, Item]:
        """Everything pending, which is then empty (a round sends what it took)."""
        items, self._pending = self._pending, {}
        return items

    def put_back(self, key: Key, item: Item) -> None:
        """An item taken but not sent. A newer observation of the same key that arrived
        meanwhile stays pending, keeping a team item's states as history."""
        newer = self._pending.get(key)
        if newer is None:
            self._pending[key] = item
        elif isinstance(newer, TeamItem | TeamRemoval):
            self._pending[key] = fold(item, newer, limit=self._max_history)

    def get(self, key: Key) -> Item | None:
        return self._pending.get(key)

    @property
    def pending(self) -> Mapping[Key, Item]:
        """A read-only view of what is pending."""
        return MappingProxyType(self._pending)

    def teams(self) -> Iterator[TeamItem | TeamRemoval]:
        """The pending team items and removals, in order (what the outbox must keep)."""
        for item in self._pending.values():
            if isinstance(item, TeamItem | TeamRemoval):
                yield item

    def has_teams(self) -> bool:
        return any(key[0] == "team" for key in self._pending)

    def __len__(self) -> int:
        return len(self._pending)
