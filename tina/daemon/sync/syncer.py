"""The syncer: the actor that sends coalesced observations to Convex as idempotent mutations.

Watchers `put_*` the latest snapshot of an orchestration (keyed by worktree) or a team (keyed by
directory name) into the coalescer (`tina.daemon.sync.coalescer`), which keeps one item per key;
a team observation (and a team removal) goes to the durable outbox (`tina.daemon.sync.outbox`)
first, and is sent only once it is written there. Orchestration events are appended in order
and sent in batches once their orchestration has a Convex id (this module maps worktrees to
those ids). While Convex is unreachable everything waits (the pending state lives in this
object, which outlives restarts of the `run` actor) and is flushed in order on reconnect; the
server's diffing and idempotency keys make a replay harmless. Every snapshot carries a
sequence number, so the server ignores a stale one that arrives late.

Teams go as deltas (`tina.daemon.sync.delta`): per team the syncer keeps what Convex holds (its
revision, a fingerprint per task and of the members) and sends an observation as the changes
against it (`teams:syncTeamDelta`, chained when bigger than one call). Convex answers
"applied" or "duplicate" (a replay of a call whose answer was lost), or "mismatch" / "unknown"
when it holds something else (a reset or restored deployment, a lost answer followed by a newer
change): a mismatch on the revision the lost call set means Convex holds what that call sent,
anything else is a paged reconcile (`teams:reconcileTeam`, then `teams:finishReconcile` until
"done"). Nothing acknowledged (first sync, a restart) is a reconcile too; before one that would
send earlier task states again, Convex is asked which observation it applied last (`_probe`).
A small team's reconcile is one whole snapshot (`teams:syncTeam`), and the first syncs of small
teams that need no probe (a cold start) go up to `BATCH_TEAMS` a call (`teams:syncTeams`); a
team the batch did not apply, or all of them if the call failed, go alone. A deployment without
these functions gets whole snapshots (`teams:syncTeam`), as before.

Plans and design docs (`put_document`) are kept latest-wins per (worktree, kind, phase) and sent,
like events, once their orchestration has an id. A team's inbox messages (`put_messages`) wait
in a per-team queue (one entry per key: a newer read state replaces a queued one) until the
team has been synced once, then go in batches of `MESSAGE_BATCH`. Neither is in the outbox: the
files on disk are their source, read again after a restart. What cannot be sent stays queued.

Text the client refuses to send (half a UTF-16 surrogate pair: `ConvexInvalidArgument`) is a
problem of that observation, not of the connection: the observation is sent once more with
U+FFFD in place of the invalid text and logged (`sync.invalid_text`), so it is neither lost nor
re-sent in a loop.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import attrs
import structlog
import trio

from tina.convex import (
    ConvexClientError,
    ConvexConnectionLost,
    ConvexError,
    ConvexFunctionError,
    ConvexTimeout,
    LatestValue,
)
from tina.convex.errors import ConvexInvalidArgument, error_data, refusal
from tina.convex.gateway import GatewayProtocol, TeamBatchEntry
from tina.daemon.projection import replace_lone_surrogates
from tina.daemon.sync.coalescer import (
    Coalescer,
    Item,
    Key,
    OrchestrationItem,
    Sequencer,
    TeamItem,
    TeamRemoval,
)
from tina.daemon.sync.delta import (
    Acked,
    Applied,
    board_counts,
    members_text,
    plan_delta,
    plan_reconcile,
    reconciled,
    task_text,
)
from tina.daemon.sync.outbox import COMPACT_BYTES, Ack, Outbox
from tina.messages import (
    DocumentSnapshot,
    EventRecord,
    InboxMessage,
    MemberSnapshot,
    OrchestrationSnapshot,
    PhaseSnapshot,
    TaskSnapshot,
    TeamSnapshot,
)

log = structlog.get_logger("tina.syncer")

EVENT_BATCH = 200
MESSAGE_BATCH = 100
"""Inbox messages per `record_team_messages` call (the server takes at most 100)."""
_MISSING_FUNCTION = "Could not find public function"
"""What Convex says when a deployment does not have the function called."""
REFUSED_IN_A_ROW = 10
"""Messages of one team refused one after the other before the server is taken to refuse them
all (e.g. a deployment that checks a field differently): the rest of the queue is dropped with
one log instead of one call and one log each."""
LOST_TEAM_RESYNCS = 3
"""Times a team Convex does not know is synced again for its messages before they wait for the
team's next change."""
RETRY_DELAY = 0.5
FORBIDDEN_DELAY = 60.0
COMPACT_IDLE_BYTES = 64 * 1024
"""Compact an outbox this large once no team observation is pending."""
WHOLE_STATES = 500
WHOLE_TEXT = 1536 * 1024
"""A team's first sync (or resync) is one `teams:syncTeam` call when its snapshot and history
Convex lacks are at most this many task states and this much text (UTF-8; the server takes
500 states and 2 MiB, counted a little differently)."""
BATCH_TEAMS = 50
"""Teams a `teams:syncTeams` call takes at most: the first syncs of small teams (a cold start),
together within one whole snapshot's bounds (`WHOLE_STATES`, `WHOLE_TEXT`)."""
STALE_RECONCILES = 3
"""Reconciles of one team found stale one after the other before the item is retried later."""


class Syncer:
    def __init__(
        self,
        gateway: LatestValue[GatewayProtocol | None],
        *,
        max_in_flight: int = 8,
        outbox: Outbox | None = None,
        whole_states: int = WHOLE_STATES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Task states up to which a reconcile is one `teams:syncTeam` call (0: always paged).
        self._whole_states = whole_states
        self._gateway = gateway
        self._outbox = outbox
        self.coalescer = Coalescer()
        self._events: dict[str, list[EventRecord]] = {}
        # Latest plan / design doc per (worktree, kind, phase or "") not sent yet.
        self._documents: dict[tuple[str, str, str], DocumentSnapshot] = {}
        # Inbox messages per team directory, by key, in the order they were first queued.
        self._messages: dict[str, dict[str, InboxMessage]] = {}
        self._message_batch: dict[str, int] = {}  # smaller while finding a refused message
        self.synced_teams: set[str] = set()  # teams synced at least once: messages may follow
        self._latest_team: dict[str, TeamItem] = {}
        self._lost_teams: dict[str, int] = {}
        self._refused_in_a_row: dict[str, int] = {}
        self._latest_orch: dict[str, OrchestrationItem] = {}
        # Per team: what Convex holds (absent: unknown, so the next sync is a reconcile), which
        # observed states it has, and the delta sent last whose answer was lost (seq, post).
        self.acked: dict[str, Acked] = {}
        self._applied: dict[str, Applied] = {}
        self._in_doubt: dict[str, tuple[float, Acked]] = {}
        self.team_deltas = True  # False once the deployment turns out not to have them
        self.team_batches = True  # False once the deployment turns out not to have syncTeams
        self.reconciles = 0
        self.resyncs = 0
        self.orchestration_ids: dict[str, str] = {}
        self._wake = trio.Event()
        self._limit = trio.CapacityLimiter(max_in_flight)
        self._seq = Sequencer()
        self.last_sync_at: float | None = None
        self._clock = clock
        # When the oldest observation still waiting was queued, at the earliest (wall clock):
        # set when the backlog starts, moved up after a clean round that took all of it.
        self._backlog_since: float | None = None
        self._first_put_in_round: float | None = None
        self.sent = 0
        self.failed = 0
        self.blocked_reason: str | None = None  # set while the credential is refused
        self._in_flight = 0
        # Teams restored from the outbox: if their directory is gone, they must be removed too.
        self.restored_dirs: set[str] = set()
        # Bumped when watchers should re-send everything (start, reconnect).
        self.reconcile = LatestValue(0)

    # --- producers (never block) -------------------------------------------------------------

    def put_orchestration(
        self, worktree: str, snapshot: OrchestrationSnapshot, phases: list[PhaseSnapshot]
    ) -> None:
        self._note_put()
        item = OrchestrationItem(
            worktree=worktree, snapshot=snapshot, phases=phases, seq=self._seq.next()
        )
        previous = self._latest_orch.get(worktree)
        if previous is not None and previous.snapshot.started_at != snapshot.started_at:
            self.orchestration_ids.pop(worktree, None)  # a new run in the same worktree
        self._latest_orch[worktree] = item
        self._put(item)

    def put_team(
        self,
        dir_name: str,
        team: TeamSnapshot,
        members: list[MemberSnapshot],
        tasks: list[TaskSnapshot],
    ) -> None:
        self._note_put()
        item = TeamItem(
            dir_name=dir_name, team=team, members=members, tasks=tasks, seq=self._seq.next()
        )
        if self._outbox is not None:
            self._outbox.append(item)  # sent only once it is written
        self._latest_team[dir_name] = item
        self._put(item)

    def remove_team(self, dir_name: str) -> None:
        self._note_put()
        removal = TeamRemoval(dir_name=dir_name, seq=self._seq.next())
        # The team is going: its messages have nowhere to go (Convex refuses a removed team's).
        self._messages.pop(dir_name, None)
        self._latest_team.pop(dir_name, None)
        self.synced_teams.discard(dir_name)
        if self._outbox is not None:
            self._outbox.append(removal)
        self._put(removal)

    async def durable(self) -> None:
        """Wait until every team observation put so far is in the outbox (at once without one).
        While the syncer restarts this waits for its writer: the watcher pauses, nothing is lost."""
        if self._outbox is not None:
            await self._outbox.written(self._outbox.queued)

    def restore(self) -> int:
        """Queue what the outbox holds from before a crash, in order. Returns how many records."""
        if self._outbox is None:
            return 0
        records = self._outbox.load()
        for dir_name, seq in self._outbox.acked.items():
            # Observations up to the last acknowledged one are in Convex, history included.
            self._applied[dir_name] = Applied(observed=seq)
        for record in records:
            self._put(record)
            if isinstance(record, TeamItem):
                self.restored_dirs.add(record.dir_name)
                self._latest_team[record.dir_name] = record
            self._seq.observe(record.seq)
        if records:
            self._backlog_since = self._clock()  # older still, but no later than now
            log.info("outbox.restored", records=len(records))
        return len(records)

    def _compact_outbox(self) -> None:
        """Rewrite the outbox with what is still pending (only between rounds: nothing in flight)."""
        if self._outbox is None or self._in_flight:
            return
        acked = {d: a.observed for d, a in self._applied.items() if a.observed >= 0}
        self._outbox.compact(self.coalescer.teams(), acked)

    def put_events(self, worktree: str, events: list[EventRecord]) -> None:
        if events:
            self._note_put()
            self._events.setdefault(worktree, []).extend(events)
            self._wake.set()

    def put_document(self, worktree: str, document: DocumentSnapshot) -> None:
        """A plan or design doc as read; replaces an unsent one of the same (kind, phase)."""
        self._note_put()
        self._documents[(worktree, document.kind, document.phase_number or "")] = document
        self._wake.set()

    def put_messages(self, dir_name: str, messages: list[InboxMessage]) -> None:
        """New inbox messages of a team (or ones whose read state changed), sent once the team
        has been synced; a message still queued is replaced in place by its newer state."""
        if not messages:
            return
        self._note_put()
        queue = self._messages.setdefault(dir_name, {})
        for message in messages:
            queue[message.key] = message
        self._wake.set()

    def _put(self, item: Item) -> None:
        self.coalescer.put(item)
        self._wake.set()

    def _note_put(self) -> None:
        """Called before an observation is queued: it may start the backlog."""
        now = self._clock()
        if self._backlog_since is None or self.depth == 0:
            self._backlog_since = now
        if self._first_put_in_round is None:
            self._first_put_in_round = now

    @property
    def oldest_unsynced_at(self) -> float | None:
        """When the oldest observation still waiting to sync was queued (wall clock), or None
        with nothing waiting. At the earliest: never younger than the real oldest."""
        return self._backlog_since if self.depth > 0 else None

    def _all_sendable(self) -> bool:
        """Whether a round now takes every waiting observation (none waits for an id)."""
        return self.depth == (
            len(self.coalescer)
            + sum(len(self._events[w]) for w in self._sendable_events())
            + len(self._sendable_documents())
            + sum(len(self._messages[d]) for d in self._sendable_messages())
        )

    @property
    def depth(self) -> int:
        return (
            len(self.coalescer)
            + self._in_flight
            + sum(len(e) for e in self._events.values())
            + len(self._documents)
            # Messages of a team Convex does not have yet wait for it (counted as its item).
            + sum(len(m) for d, m in self._messages.items() if d in self.synced_teams)
        )

    def detail(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pending": self.depth, "sent": self.sent}
        if self.failed:
            out["failed"] = self.failed
        if self.resyncs:  # teams Convex held otherwise than the daemon's deltas said
            out["resyncs"] = self.resyncs
        if self.blocked_reason:
            out["blocked"] = self.blocked_reason
        return out

    # --- the actor -----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            if self._outbox is not None:
                await nursery.start(self._outbox.run)  # the outbox's writer
            task_status.started()
            while True:
                if (
                    len(self.coalescer) == 0
                    and not self._sendable_events()
                    and not self._sendable_documents()
                    and not self._sendable_messages()
                ):
                    await self._wake.wait()
                self._wake = trio.Event()
                gateway = await self._gateway.wait_for(lambda g: g is not None)
                assert gateway is not None
                takes_all = self._all_sendable()
                self._first_put_in_round = None
                retry = await self._round(gateway)
                if self.depth == 0:
                    self._backlog_since = None
                elif takes_all and not retry:
                    # Everything older went out: what waits was queued during the round.
                    self._backlog_since = self._first_put_in_round or self._backlog_since
                if self._outbox is not None and (
                    self._outbox.size > COMPACT_BYTES
                    or (not self.coalescer.has_teams() and self._outbox.size > COMPACT_IDLE_BYTES)
                ):
                    # Queued behind the appends made so far, ahead of any made later.
                    self._compact_outbox()
                if retry:
                    await trio.sleep(
                        RETRY_DELAY if self.blocked_reason is None else FORBIDDEN_DELAY
                    )

    def _sendable_events(self) -> list[str]:
        return [
            wt for wt, events in self._events.items() if events and wt in self.orchestration_ids
        ]

    def _sendable_documents(self) -> list[tuple[str, str, str]]:
        return [key for key in self._documents if key[0] in self.orchestration_ids]

    def _sendable_messages(self) -> list[str]:
        return [d for d, queue in self._messages.items() if queue and d in self.synced_teams]

    async def _round(self, gateway: GatewayProtocol) -> bool:
        """Send everything pending once. True when something must be retried."""
        items = self.coalescer.take()
        written = self._outbox.queued if self._outbox is not None else 0
        self._in_flight = len(items)
        retry = False

        async def send(key: Key, item: Item) -> None:
            nonlocal retry
            sent = False
            try:
                if self._outbox is not None and not isinstance(item, OrchestrationItem):
                    await self._outbox.written(written)  # in the outbox before it is sent
                async with self._limit:
                    sent = await self._send_item(gateway, item)
                if not sent:
                    retry = True
            finally:
                self._in_flight -= 1
                if not sent:
                    # Put it back (also when cancelled mid-send); a newer observation of the
                    # same key that arrived meanwhile keeps this one's states as history.
                    self.coalescer.put_back(key, item)

        async def send_batch(batch: list[tuple[Key, TeamItem]]) -> None:
            """Small teams' first syncs in one call; those it did not apply (all of them if it
            failed) go on alone, the usual way."""
            nonlocal retry
            done: set[int] = set()  # synced, or handed to `send`
            try:
                if self._outbox is not None:
                    await self._outbox.written(written)  # in the outbox before it is sent
                async with self._limit:
                    results = await self._sync_batch(gateway, [item for _, item in batch])
                if results == "refused":  # keep them (in `finally`), wait, retry
                    retry = True
                    return
                async with trio.open_nursery() as alone:
                    for i, (key, item) in enumerate(batch):
                        done.add(i)
                        if results is not None and results[i]:
                            self._in_flight -= 1
                            self._team_synced(item)
                        else:
                            alone.start_soon(send, key, item)
            finally:
                for i, (key, item) in enumerate(batch):
                    if i not in done:  # put back (also when cancelled mid-send)
                        self._in_flight -= 1
                        self.coalescer.put_back(key, item)

        # Orchestrations first: they are few, and their ids let their events and documents go
        # alongside the teams (a cold start's 200 orchestrations waited behind 1,000 teams).
        orchestrations = {k: i for k, i in items.items() if isinstance(i, OrchestrationItem)}
        async with trio.open_nursery() as nursery:
            for key, orchestration in orchestrations.items():
                nursery.start_soon(send, key, orchestration)

        # Each orchestration's events (in order), each document, each team's messages: side by
        # side, `max_in_flight` calls at most (one after the other, a cold start of 200
        # orchestrations waited on 400 round trips).
        async def side(send: Callable[[GatewayProtocol, Any], Awaitable[bool]], key: Any) -> None:
            nonlocal retry
            async with self._limit:
                if not await send(gateway, key):
                    retry = True

        batches, singles = self._batches(
            {k: i for k, i in items.items() if k not in orchestrations}
        )
        async with trio.open_nursery() as nursery:
            for batch in batches:
                nursery.start_soon(send_batch, batch)
            for key, item in singles:
                nursery.start_soon(send, key, item)
            for worktree in self._sendable_events():
                nursery.start_soon(side, self._send_events, worktree)
            for doc_key in self._sendable_documents():
                nursery.start_soon(side, self._send_document, doc_key)
            for dir_name in self._sendable_messages():
                nursery.start_soon(side, self._send_messages, dir_name)
        return retry

    async def _send_item(self, gateway: GatewayProtocol, item: Item) -> bool:
        try:
            if isinstance(item, OrchestrationItem):
                res = await gateway.sync_orchestration(item.snapshot, item.phases, item.seq)
                if self._latest_orch.get(item.worktree) is not None and (
                    self._latest_orch[item.worktree].snapshot.started_at == item.snapshot.started_at
                ):
                    self.orchestration_ids[item.worktree] = res.orchestration_id
            elif isinstance(item, TeamItem):
                await self._sync_team(gateway, item)
                self._team_synced(item, ok=False)
            else:
                if item.last is not None:  # the team's last states first, then its removal
                    await self._sync_team(gateway, item.last)
                # Above the team's revision, which a chained delta may have taken past it.
                acked = self.acked.get(item.dir_name)
                seq = item.seq if acked is None or item.seq > acked.revision else self._seq.next()
                await gateway.remove_team(item.dir_name, seq)
                # A team made again later is new to Convex's delta: it starts with a reconcile.
                self.acked.pop(item.dir_name, None)
                self._in_doubt.pop(item.dir_name, None)
                self._applied.pop(item.dir_name, None)
                if self._outbox is not None:
                    self._outbox.append(Ack(dir_name=item.dir_name, seq=item.seq))
        except (ConvexConnectionLost, ConvexTimeout) as exc:
            log.info("sync.deferred", item=_describe(item), reason=str(exc))
            return False
        except ConvexInvalidArgument as exc:
            cleaned = _cleaned(item)
            if cleaned == item:  # nothing to replace: it can never be sent
                self.failed += 1
                log.error("sync.rejected", item=_describe(item), error=str(exc))
                return True
            log.error("sync.invalid_text", item=_describe(item), error=str(exc), sent="cleaned")
            return await self._send_item(gateway, cleaned)
        except ConvexError as exc:
            return self._refused(item, exc)
        except ConvexFunctionError as exc:  # the server refused the data: retrying cannot help
            self.failed += 1
            log.error("sync.rejected", item=_describe(item), error=str(exc))
            return True
        except ConvexClientError as exc:
            log.warning("sync.failed", item=_describe(item), error=str(exc))
            return False
        self._ok()
        return True

    def _team_synced(self, item: TeamItem, *, ok: bool = True) -> None:
        """Convex holds `item` (as it was observed): acknowledged in the outbox; its messages may
        follow. `ok`: count the call a success here (`_send_item` counts its own)."""
        if self._outbox is not None:
            self._outbox.append(Ack(dir_name=item.dir_name, seq=item.seq))
        if item.dir_name in self._latest_team:  # not removed meanwhile
            self.synced_teams.add(item.dir_name)
        if ok:
            self._ok()

    # --- teams: a cold start's small teams in batches (`teams:syncTeams`) ---

    def _batchable(self, item: Item) -> int | None:
        """The text a team's first sync sends, if it can go in a batch: a small team whose state
        in Convex is unknown (first sync, restart) and that needs no probe (no state of it was
        observed before this snapshot that Convex may not have); else None."""
        if not (self.team_deltas and self.team_batches and isinstance(item, TeamItem)):
            return None
        d = item.dir_name
        if d in self.acked or d in self._in_doubt or item.history:
            return None
        text = sum(task_text(t) for t in item.tasks) + members_text(item.members)
        if len(item.tasks) > self._whole_states or text > WHOLE_TEXT:
            return None
        return text

    def _batches(
        self, items: dict[Key, Item]
    ) -> tuple[list[list[tuple[Key, TeamItem]]], list[tuple[Key, Item]]]:
        """Items split into batches of small teams' first syncs (two or more teams, within
        `BATCH_TEAMS`, `WHOLE_STATES` task states and `WHOLE_TEXT` together) and the rest."""
        batches: list[list[tuple[Key, TeamItem]]] = []
        singles: list[tuple[Key, Item]] = []
        batch: list[tuple[Key, TeamItem]] = []
        states = text = 0
        for key, item in items.items():
            size = self._batchable(item)
            if size is None:
                singles.append((key, item))
                continue
            assert isinstance(item, TeamItem)
            if batch and (
                len(batch) >= BATCH_TEAMS
                or states + len(item.tasks) > self._whole_states
                or text + size > WHOLE_TEXT
            ):
                batches.append(batch)
                batch, states, text = [], 0, 0
            batch.append((key, item))
            states += len(item.tasks)
            text += size
        if batch:
            batches.append(batch)
        singles.extend(b[0] for b in batches if len(b) == 1)
        return [b for b in batches if len(b) > 1], singles

    async def _sync_batch(
        self, gateway: GatewayProtocol, items: list[TeamItem]
    ) -> list[bool] | Literal["refused"] | None:
        """One `teams:syncTeams` call: per team, whether Convex applied it (it then holds that
        team as observed, at revision = seq). None: the call failed (each team goes alone,
        which reports its own errors); "refused": the credential is refused (keep them)."""
        entries = [
            TeamBatchEntry(team=i.team, members=i.members, tasks=i.tasks, seq=i.seq) for i in items
        ]
        try:
            results = await gateway.sync_teams(entries)
        except ConvexError as exc:
            if refusal(exc) is not None:
                self._refused(items[0], exc)
                return "refused"
            log.info("sync.team_batch_refused", teams=len(items), error=error_data(exc).message)
            return None
        except ConvexFunctionError as exc:
            if _MISSING_FUNCTION in str(exc):
                log.warning("sync.team_batches_unsupported", error=str(exc))
                self.team_batches = False  # an older deployment: one call a team, as before
            return None
        except ConvexClientError as exc:  # connection lost, timeout and the rest
            log.info("sync.team_batch_failed", teams=len(items), error=str(exc))
            return None
        applied = []
        for item, res in zip(items, results, strict=True):
            if res.applied:
                self.reconciles += 1
                applied_before = self._applied.get(item.dir_name, Applied())
                self._set_acked(item.dir_name, reconciled(item, item.seq, applied_before))
            applied.append(res.applied)
        return applied

    # --- teams: deltas against what Convex holds, reconciles when it holds something else ---

    async def _sync_team(self, gateway: GatewayProtocol, item: TeamItem) -> None:
        """Bring Convex's copy of a team to `item`: deltas against what it holds; a paged
        reconcile when that is not known (first sync, restart) or not what it holds (a reset
        backend, a reply lost). Raises what the calls raise (the item is then retried)."""
        if self.team_deltas:
            try:
                while not await self._sync_team_once(gateway, item):
                    pass
                return
            except ConvexFunctionError as exc:
                if _MISSING_FUNCTION not in str(exc):
                    raise
                log.warning("sync.team_deltas_unsupported", error=str(exc))
                self.team_deltas = False  # an older deployment: whole snapshots, as before
        await gateway.sync_team(item.team, item.members, item.tasks, item.seq, list(item.history))

    async def _sync_team_once(self, gateway: GatewayProtocol, item: TeamItem) -> bool:
        """One try: False when what Convex holds turned out different (plan again)."""
        d = item.dir_name
        acked = self.acked.get(d)
        if acked is None:
            await self._probe(gateway, item)
            if not await self._sync_whole(gateway, item):
                await self._reconcile(gateway, item)
            return True
        for delta in plan_delta(item, acked, self._seq.next):
            prior = self._in_doubt.get(d)
            self._in_doubt[d] = (delta.seq, delta.post)  # until the answer is in
            res = await gateway.sync_team_delta(
                item.team,
                delta.base,
                delta.seq,
                delta.tasks,
                delta.removed,
                delta.task_counts,
                delta.members,
            )
            del self._in_doubt[d]
            if res.status == "applied":
                self._set_acked(d, delta.post)
                continue
            if prior is not None and (
                (res.status == "duplicate" and prior[0] == delta.seq)
                or (res.status == "mismatch" and res.revision == prior[0])
            ):
                # The call whose answer was lost had been applied: Convex holds its result.
                log.info("sync.team_replayed", team=d, status=res.status, revision=prior[0])
                self._set_acked(d, prior[1])
                if res.status == "duplicate":
                    continue
                return False
            self.resyncs += 1
            log.info(
                "sync.team_resync",
                team=d,
                status=res.status,
                base=delta.base,
                revision=res.revision,
            )
            self.acked.pop(d, None)
            return False
        return True

    async def _probe(self, gateway: GatewayProtocol, item: TeamItem) -> None:
        """Before a reconcile that would send earlier task states again (after a restart, or
        a lost reply), ask Convex which observation it applied last: a delta on a base no team
        has (0) writes nothing and answers the revision (`duplicate` when it is this very
        observation's). Every state observed up to it is in Convex already; sent again, it
        would be recorded a second time."""
        d = item.dir_name
        applied = self._applied.get(d, Applied())
        if not any(not applied.has(t.task_id, seq) for seq, t in item.history):
            return
        res = await gateway.sync_team_delta(
            item.team, 0.0, item.seq, [], [], board_counts(item.tasks)
        )
        revision = item.seq if res.status == "duplicate" else res.revision
        log.info("sync.team_probed", team=d, status=res.status, revision=res.revision)
        if revision is not None and res.status in ("duplicate", "mismatch"):
            self._applied[d] = applied.after(min(revision, item.seq))

    async def _sync_whole(self, gateway: GatewayProtocol, item: TeamItem) -> bool:
        """A small team's reconcile in one call: `teams:syncTeam` (the whole snapshot, the history
        Convex lacks; it removes the tasks the snapshot lacks and sets the revision to the seq)
        instead of `reconcileTeam` + `finishReconcile`, half the calls of a cold start. False
        when the team is too big for it, or Convex did not apply it (it holds this seq or a later
        one; or refused it, e.g. holding more rows than the call may read): then the paged
        reconcile, which does not depend on what Convex holds."""
        d = item.dir_name
        applied = self._applied.get(d, Applied())
        history = [(seq, t) for seq, t in item.history if not applied.has(t.task_id, seq)]
        text = sum(task_text(t) for t in item.tasks) + sum(task_text(t) for _, t in history)
        if (
            len(item.tasks) + len(history) > self._whole_states
            or text + members_text(item.members) > WHOLE_TEXT
        ):
            return False
        try:
            res = await gateway.sync_team(item.team, item.members, item.tasks, item.seq, history)
        except ConvexError as exc:
            if refusal(exc) is not None:
                raise
            log.info("sync.team_whole_refused", team=d, error=error_data(exc).message)
            return False
        if not res.applied:
            return False
        self.reconciles += 1
        self._set_acked(d, reconciled(item, item.seq, applied))
        return True

    async def _reconcile(self, gateway: GatewayProtocol, item: TeamItem) -> None:
        """A full reconcile in pages, then `finishReconcile` until it is done."""
        d = item.dir_name
        counts = board_counts(item.tasks)
        for _ in range(STALE_RECONCILES):
            applied = self._applied.get(d, Applied())
            epoch = self._seq.next()
            self.reconciles += 1
            stale = False
            for page in plan_reconcile(item, applied):
                res = await gateway.reconcile_team(item.team, epoch, page.tasks, page.members)
                if res.status == "stale":
                    stale = True
                    break
                self._applied[d] = page.applied
            if stale:
                continue
            if self._outbox is not None:
                # Every state observed up to `item` is in Convex now (what finishReconcile
                # does is redone by the next reconcile). A daemon killed before the finish
                # must not send them again: during a reconcile Convex has no revision for
                # `_probe` to learn it from, and an earlier state sent again after a later
                # one is recorded again, out of order.
                self._outbox.append(Ack(dir_name=d, seq=item.seq))
            while True:
                fin = await gateway.finish_reconcile(d, epoch, item.seq, counts)
                if fin.status != "more":
                    break
            if fin.status == "stale":
                continue
            revision = fin.revision if fin.revision is not None else item.seq
            self._set_acked(d, reconciled(item, revision, applied))
            return
        raise ConvexClientError(f"team {d}: {STALE_RECONCILES} reconciles found stale in a row")

    def _set_acked(self, dir_name: str, acked: Acked) -> None:
        self.acked[dir_name] = acked
        self._applied[dir_name] = acked.applied

    async def _send_events(self, gateway: GatewayProtocol, worktree: str) -> bool:
        queue = self._events[worktree]
        while queue:
            batch = queue[:EVENT_BATCH]
            orchestration_id = self.orchestration_ids.get(worktree)
            if orchestration_id is None:
                return True
            try:
                await gateway.record_events(orchestration_id, batch)
            except (ConvexConnectionLost, ConvexTimeout) as exc:
                log.info("sync.deferred", item=f"events of {worktree}", reason=str(exc))
                return False
            except ConvexInvalidArgument as exc:
                cleaned = replace_lone_surrogates(batch)
                if cleaned == batch:  # nothing to replace: it can never be sent
                    self.failed += 1
                    log.error("sync.rejected", item=f"events of {worktree}", error=str(exc))
                    del queue[: len(batch)]
                else:
                    log.error(
                        "sync.invalid_text",
                        item=f"events of {worktree}",
                        error=str(exc),
                        sent="cleaned",
                    )
                    queue[: len(batch)] = cleaned
                continue
            except ConvexError as exc:
                if error_data(exc).code == "not_found":
                    # Convex lost the orchestration (a reset backend): sync it again first.
                    self._orchestration_lost(worktree)
                    return False
                if not self._refused(f"events of {worktree}", exc):
                    return False
                del queue[: len(batch)]  # invalid batch: logged and dropped
                continue
            except ConvexFunctionError as exc:
                self.failed += 1
                log.error("sync.rejected", item=f"events of {worktree}", error=str(exc))
                del queue[: len(batch)]
                continue
            except ConvexClientError as exc:
                log.warning("sync.failed", item=f"events of {worktree}", error=str(exc))
                return False
            del queue[: len(batch)]
            self._ok()
        return True

    async def _send_document(self, gateway: GatewayProtocol, key: tuple[str, str, str]) -> bool:
        """Send the latest document of `key`. False when it must be retried."""
        worktree = key[0]
        document = self._documents[key]
        orchestration_id = self.orchestration_ids.get(worktree)
        if orchestration_id is None:
            return True
        what = f"{document.kind} {document.phase_number or ''} of {worktree}".replace("  ", " ")
        try:
            await gateway.sync_document(orchestration_id, document)
        except (ConvexConnectionLost, ConvexTimeout) as exc:
            log.info("sync.deferred", item=what, reason=str(exc))
            return False
        except ConvexInvalidArgument as exc:
            cleaned = replace_lone_surrogates(document)
            if cleaned == document:
                self.failed += 1
                log.error("sync.rejected", item=what, error=str(exc))
                self._drop_document(key, document)
                return True
            log.error("sync.invalid_text", item=what, error=str(exc), sent="cleaned")
            if self._documents.get(key) is document:
                self._documents[key] = cleaned
            return False
        except ConvexError as exc:
            if error_data(exc).code == "not_found":
                # Convex lost the orchestration (a reset backend): sync it again first.
                self._orchestration_lost(worktree)
                return False
            if self._refused(what, exc):
                self._drop_document(key, document)
                return True
            return False
        except ConvexFunctionError as exc:
            self.failed += 1
            log.error("sync.rejected", item=what, error=str(exc))
            self._drop_document(key, document)
            return True
        except ConvexClientError as exc:
            log.warning("sync.failed", item=what, error=str(exc))
            return False
        self._drop_document(key, document)
        self._ok()
        return True

    def _drop_document(self, key: tuple[str, str, str], document: DocumentSnapshot) -> None:
        """Done with `document`, unless a newer one of its key arrived meanwhile."""
        if self._documents.get(key) is document:
            del self._documents[key]

    def _orchestration_lost(self, worktree: str) -> None:
        self.orchestration_ids.pop(worktree, None)
        latest = self._latest_orch.get(worktree)
        if latest is not None:
            self._put(latest)

    async def _send_messages(self, gateway: GatewayProtocol, dir_name: str) -> bool:
        """Send a team's queued messages in batches. False when something must be retried."""
        queue = self._messages[dir_name]
        what = f"messages of team {dir_name}"
        while queue and dir_name in self.synced_teams:
            size = self._message_batch.get(dir_name, MESSAGE_BATCH)
            batch = list(itertools.islice(queue.values(), size))
            try:
                await gateway.record_team_messages(dir_name, batch)
            except (ConvexConnectionLost, ConvexTimeout) as exc:
                log.info("sync.deferred", item=what, reason=str(exc))
                return False
            except ConvexInvalidArgument as exc:
                cleaned = replace_lone_surrogates(batch)
                if cleaned != batch:
                    log.error("sync.invalid_text", item=what, error=str(exc), sent="cleaned")
                    for old, new in zip(batch, cleaned, strict=True):
                        if queue.get(old.key) is old:
                            queue[old.key] = new
                    continue
                self._message_refused(dir_name, batch, str(exc))
                continue
            except ConvexError as exc:
                if error_data(exc).code == "not_found":
                    self._team_lost(dir_name)
                    return False
                if refusal(exc) is not None:
                    self._refused(what, exc)
                    return False
                self._message_refused(dir_name, batch, error_data(exc).message)
                continue
            except ConvexFunctionError as exc:
                if _MISSING_FUNCTION in str(exc):
                    # A deployment older than this daemon: no message can go; one log a batch.
                    self.failed += 1
                    log.error("sync.rejected", item=what, error=str(exc), dropped=len(batch))
                    for message in batch:
                        if queue.get(message.key) is message:
                            del queue[message.key]
                    continue
                self._message_refused(dir_name, batch, str(exc))
                continue
            except ConvexClientError as exc:
                log.warning("sync.failed", item=what, error=str(exc))
                return False
            for message in batch:
                if queue.get(message.key) is message:  # not replaced by a newer read state
                    del queue[message.key]
            self._lost_teams.pop(dir_name, None)
            self._refused_in_a_row.pop(dir_name, None)
            self._ok()
        if not queue:
            self._messages.pop(dir_name, None)
            self._message_batch.pop(dir_name, None)
            self._refused_in_a_row.pop(dir_name, None)
        return True

    def _message_refused(self, dir_name: str, batch: list[InboxMessage], error: str) -> None:
        """The server refused a batch: halve it until the one message it refuses is found, and
        drop only that one (sending it again cannot help)."""
        if len(batch) > 1:
            self._message_batch[dir_name] = max(1, len(batch) // 2)
            return
        (message,) = batch
        self.failed += 1
        queue = self._messages.get(dir_name, {})
        in_a_row = self._refused_in_a_row[dir_name] = self._refused_in_a_row.get(dir_name, 0) + 1
        if in_a_row >= REFUSED_IN_A_ROW:
            log.error(
                "sync.rejected",
                item=f"messages of team {dir_name}",
                error=error,
                dropped=len(queue),
                reason=f"{in_a_row} messages refused one after the other",
            )
            queue.clear()
            self._refused_in_a_row.pop(dir_name, None)
            return
        log.error(
            "sync.rejected",
            item=f"message {message.key} to {message.recipient} in team {dir_name}",
            error=error,
        )
        if queue.get(message.key) is message:
            del queue[message.key]

    def _team_lost(self, dir_name: str) -> None:
        """Convex does not know the team (a reset backend): its messages wait until the team is
        synced again; sync it again now (a few times at most, then at its next change)."""
        self.synced_teams.discard(dir_name)
        self.acked.pop(dir_name, None)  # the next sync is a reconcile
        lost = self._lost_teams.get(dir_name, 0)
        latest = self._latest_team.get(dir_name)
        log.info("sync.team_unknown", team=dir_name, resync=latest is not None)
        if latest is not None and lost < LOST_TEAM_RESYNCS:
            self._lost_teams[dir_name] = lost + 1
            self.put_team(dir_name, latest.team, latest.members, latest.tasks)

    def _ok(self) -> None:
        self.sent += 1
        self.last_sync_at = time.time()
        if self.blocked_reason is not None:
            log.info("sync.resumed")
        self.blocked_reason = None

    def _refused(self, item: object, exc: ConvexError) -> bool:
        """A ConvexError: the credential is refused (wait, keep the item) or the data is (drop it)."""
        code, message = error_data(exc)
        refused = refusal(exc)
        if refused is not None:
            if self.blocked_reason is None:
                log.error(
                    "sync.credential_refused",
                    code=code,
                    error=message,
                    hint="run `tina daemon enroll` to enroll this laptop again; nothing is sent until then",
                )
            self.blocked_reason = refused
            return False
        self.failed += 1
        log.error("sync.rejected", item=_describe(item), code=code, error=message)
        return True


def _cleaned(item: Item) -> Item:
    """What an item sends, with U+FFFD in place of half surrogate pairs; its local keys (the
    worktree, the directory name) stay as they are."""
    if isinstance(item, OrchestrationItem):
        return attrs.evolve(
            item,
            snapshot=replace_lone_surrogates(item.snapshot),
            phases=replace_lone_surrogates(item.phases),
        )
    if isinstance(item, TeamItem):
        return attrs.evolve(
            item,
            team=replace_lone_surrogates(item.team),
            members=replace_lone_surrogates(item.members),
            tasks=replace_lone_surrogates(item.tasks),
            history=replace_lone_surrogates(item.history),
        )
    if item.last is not None:
        last = _cleaned(item.last)
        assert isinstance(last, TeamItem)
        return attrs.evolve(item, last=last)
    return item


def _describe(item: object) -> str:
    if isinstance(item, OrchestrationItem):
        return f"orchestration {item.snapshot.feature_name} ({item.worktree})"
    if isinstance(item, TeamItem):
        return f"team {item.dir_name}"
    if isinstance(item, TeamRemoval):
        return f"removal of team {item.dir_name}"
    return str(item)
