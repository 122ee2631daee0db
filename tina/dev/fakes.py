"""Fakes that ship with the code: an in-memory gateway for unit tests of one actor, and a
stand-in for an agent's terminal program."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import attrs
import trio

from tina.convex import ConvexConnectionLost, ConvexError, ConvexFunctionError, LatestValue
from tina.convex.actions import PendingActions
from tina.convex.gateway import (
    ClaimResult,
    FinishReconcileResult,
    ReconcileTeamResult,
    RecordEventsResult,
    Registration,
    SyncOrchestrationResult,
    SyncTeamDeltaResult,
    SyncTeamResult,
    TeamBatchEntry,
)
from tina.convex.needs import SyncLaptopResult, sync_laptop_args
from tina.convex.presence import WatchedUntil
from tina.convex.prompts import PendingDecisions
from tina.messages import (
    ActionResult,
    DocumentSnapshot,
    EventRecord,
    Health,
    InboxMessage,
    LaptopNeed,
    MemberSnapshot,
    OpenedPrompt,
    OrchestrationSnapshot,
    PhaseSnapshot,
    PromptOutcome,
    SessionSnapshot,
    TaskCounts,
    TaskSnapshot,
    TeamSnapshot,
)
from tina.usage.quota import QuotaReport

BRACKETED_PASTE_AGENT = r"""
import os, sys, tty
fd = sys.stdin.fileno()
tty.setraw(fd)
os.write(1, b"\x1b[?2004h")  # ask for bracketed paste, as Claude Code's input box does
open(sys.argv[1] + ".ready", "w").close()
with open(sys.argv[1], "ab", buffering=0) as log:
    while data := os.read(fd, 4096):
        log.write(data)
        shown = data.replace(b"\x1b[200~", b"<paste>").replace(b"\x1b[201~", b"</paste>")
        os.write(1, shown.replace(b"\r", b"\r\n"))
"""
"""Source of a fake agent for a tmux pane: `python agent.py LOG`. It puts its terminal in raw
mode, asks for bracketed paste, touches `LOG.ready`, then appends every byte it receives to
`LOG` (and shows them, with the paste markers as `<paste>`/`</paste>`)."""


@attrs.define
class Fault:
    """The gateway method `call` raises `error` for `action_id` (any call when None), `times`
    times."""

    call: str
    error: Exception
    action_id: str | None = None
    times: int = 1


class FakeSubscription:
    """Latest-value delivery like the real one: a slow reader sees the newest list.

    It holds what the deployment would send (documents, or any value a test wants to see
    refused); `FakeGateway.pending_actions` reads it through the real `PendingActions`, as the
    gateway reads its `Subscription`.
    """

    def __init__(self) -> None:
        self.cell: LatestValue[list[dict[str, Any]] | None] = LatestValue(None)
        self._seen = 0

    async def next(self) -> list[dict[str, Any]]:
        self._seen, value = await self.cell.wait_newer(self._seen)
        return value or []


_TASK_EVENT_FIELDS = ("status", "subject", "owner", "description", "blocked_by", "metadata")


@attrs.define
class FakeTeam:
    """A team as `teams:syncTeamDelta` / `reconcileTeam` / `finishReconcile` keep it: its rows
    (the last state of every task, removed ones too), its revision, the reconcile under way,
    and the task events appended (task id, kind, status), one per real change."""

    team: TeamSnapshot
    members: list[MemberSnapshot] = attrs.Factory(list)
    tasks: dict[str, TaskSnapshot] = attrs.Factory(dict)
    removed: set[str] = attrs.Factory(set)
    revision: float | None = None
    epoch: float | None = None
    stamped: dict[str, float] = attrs.Factory(dict)  # task id -> reconcile epoch that sent it
    seen: dict[str, float] = attrs.Factory(dict)  # task id -> seq of the state it last changed to
    gone: bool = False
    task_counts: TaskCounts | None = None
    events: list[tuple[str, str, str]] = attrs.Factory(list)

    def live(self) -> list[TaskSnapshot]:
        return [t for i, t in self.tasks.items() if i not in self.removed]

    def apply(self, task: TaskSnapshot) -> bool:
        """One observed state, as the server applies it: an event only for a real change.
        True when the row changed (created, restored, or a field of history changed)."""
        i = task.task_id
        prev = self.tasks.get(i)
        if task.status == "deleted":
            if prev is not None and i not in self.removed:
                self.remove(i)
            return False
        self.tasks[i] = task
        if prev is None or i in self.removed:
            self.removed.discard(i)
            if task.internal is not True:
                self.events.append((i, "created", task.status))
            return True
        if any(getattr(prev, f) != getattr(task, f) for f in _TASK_EVENT_FIELDS):
            if task.internal is not True:
                self.events.append((i, "updated", task.status))
            return True
        return False

    def apply_states(self, states: Sequence[tuple[float | None, TaskSnapshot]]) -> None:
        """States in order, as the server's `applyStates`: a state that is not its task's last
        in the call, seen at or before the observation the row last changed to (`seen`), is
        skipped (a page sent again after its reply was lost); a task's last state always is
        applied."""
        last = {t.task_id: i for i, (_, t) in enumerate(states)}
        for i, (seq, t) in enumerate(states):
            seen = self.seen.get(t.task_id)
            if i != last[t.task_id] and seq is not None and seen is not None and seq <= seen:
                continue
            if self.apply(t) and seq is not None:
                self.seen[t.task_id] = seq if seen is None else max(seen, seq)

    def remove(self, task_id: str) -> None:
        if task_id in self.tasks and task_id not in self.removed:
            self.removed.add(task_id)
            if self.tasks[task_id].internal is not True:
                self.events.append((task_id, "removed", self.tasks[task_id].status))


# The fake's calls that are queries: no sign of life to the deployment.
_QUERIES = frozenset({"active_team_dirs", "check_credential"})


@attrs.define
class FakeGateway:
    """Records every call; `fail_next` makes the next N calls raise (connection lost by default);
    `inject` makes one method fail for one action.

    `actions` is the deployment's table of action documents (by id), so tests can hand the
    listener any document, valid or not; `publish_pending` delivers the pending ones, typed by
    the same code as the real gateway's. `completed` holds each completed action's result.

    `prompts` is the deployment's table of permission prompts (by prompt id, as documents);
    `answer_prompt` answers one as the dashboard would, and `publish_decisions` delivers the
    answered ones through `pending_decisions`, typed by the real gateway's code."""

    calls: list[tuple[str, Any]] = attrs.Factory(list)
    orchestrations: dict[tuple[str, float], OrchestrationSnapshot] = attrs.Factory(dict)
    phases: dict[tuple[str, float], list[PhaseSnapshot]] = attrs.Factory(dict)
    teams: dict[str, tuple[TeamSnapshot, list[MemberSnapshot], list[TaskSnapshot]]] = attrs.Factory(
        dict
    )
    removed_teams: list[str] = attrs.Factory(list)
    events: dict[str, list[EventRecord]] = attrs.Factory(dict)
    # Documents by (orchestration id, kind, phase or ""), as `documents:syncDocument` keeps them.
    documents: dict[tuple[str, str, str], DocumentSnapshot] = attrs.Factory(dict)
    # Inbox messages by team directory, then key, as `teams:recordTeamMessages` keeps them.
    messages: dict[str, dict[str, InboxMessage]] = attrs.Factory(dict)
    actions: dict[str, dict[str, Any]] = attrs.Factory(dict)
    completed: dict[str, ActionResult] = attrs.Factory(dict)
    heartbeats: list[Health] = attrs.Factory(list)
    # trio time of the last successful mutation, as the real gateway keeps it (presence).
    last_success: float | None = None
    # What `register` answers for the deployment's offline threshold.
    offline_after_ms: float | None = None
    fail_next: int = 0
    failure: Exception | None = None
    latency: float = 0.0
    subscription: FakeSubscription = attrs.Factory(FakeSubscription)
    prompts: dict[str, dict[str, Any]] = attrs.Factory(dict)
    decisions: FakeSubscription = attrs.Factory(FakeSubscription)
    # `presence:watchedUntil` as the deployment sends it (`{"until": ms}`, or any value a test
    # wants refused), through the real `WatchedUntil`; nothing is sent until a test sets it.
    presence: FakeSubscription = attrs.Factory(FakeSubscription)
    changed: trio.Event = attrs.Factory(trio.Event)
    faults: list[Fault] = attrs.Factory(list)
    # The laptop's needs and sessions as `needs:syncLaptop` last replaced them.
    needs: dict[str, LaptopNeed] = attrs.Factory(dict)
    sessions: dict[str, SessionSnapshot] = attrs.Factory(dict)
    # Whether the deployment has the delta team sync (`teams:syncTeamDelta`, `reconcileTeam`,
    # `finishReconcile`); without it (an older deployment) teams go whole through `sync_team`.
    team_deltas: bool = False
    team_rows: dict[str, FakeTeam] = attrs.Factory(dict)
    # Answers lost on the way back: the next N delta-sync calls are applied, then raise
    # connection lost (as a reply lost with the connection).
    lose_replies: int = 0
    # Usage batches as `usage:recordUsage` applied them (by batch id, rows), each once; and
    # every quota report `usage:recordQuota` took, in order.
    usage_batches: dict[str, list[dict[str, Any]]] = attrs.Factory(dict)
    quota_reports: list[QuotaReport] = attrs.Factory(list)

    def inject(
        self, call: str, error: Exception, *, action_id: str | None = None, times: int = 1
    ) -> Fault:
        fault = Fault(call=call, error=error, action_id=action_id, times=times)
        self.faults.append(fault)
        return fault

    async def _call(self, name: str, payload: Any, action_id: str | None = None) -> None:
        if self.latency:
            await trio.sleep(self.latency)
        else:
            await trio.lowlevel.checkpoint()
        self.calls.append((name, payload))
        for fault in self.faults:
            if fault.call == name and fault.times > 0 and fault.action_id in (None, action_id):
                fault.times -= 1
                raise fault.error
        if self.fail_next > 0:
            self.fail_next -= 1
            raise self.failure or ConvexConnectionLost("fake: connection lost")
        if name not in _QUERIES and name != "sign_off":
            self.last_success = trio.current_time()  # a mutation: a sign of life
        self.changed.set()
        self.changed = trio.Event()

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.calls if n == name)

    async def register(self, os_name: str) -> Registration:
        await self._call("register", os_name)
        return Registration(
            node_id="node1", name="laptop", server_time=0.0, offline_after_ms=self.offline_after_ms
        )

    async def heartbeat(self, health: Health) -> None:
        await self._call("heartbeat", health)
        self.heartbeats.append(health)

    async def sign_off(self) -> None:
        await self._call("sign_off", None)

    async def sync_orchestration(
        self,
        orchestration: OrchestrationSnapshot,
        phases: list[PhaseSnapshot],
        seq: float | None = None,
    ) -> SyncOrchestrationResult:
        await self._call("sync_orchestration", (orchestration, phases, seq))
        key = (orchestration.feature_name, orchestration.started_at)
        self.orchestrations[key] = orchestration
        self.phases[key] = phases
        return SyncOrchestrationResult(
            orchestration_id=f"o:{key[0]}:{key[1]}", applied=True, changed=True
        )

    async def sync_teams(self, teams: list[TeamBatchEntry]) -> list[SyncTeamResult]:
        """As `teams:syncTeams`: each team as `sync_team` applies it (recorded as one each)."""
        await self._call("sync_teams", teams)
        self._deltas_available("sync_teams")  # as new as the delta sync
        return [await self.sync_team(e.team, e.members, e.tasks, e.seq, e.history) for e in teams]

    async def sync_team(
        self,
        team: TeamSnapshot,
        members: list[MemberSnapshot],
        tasks: list[TaskSnapshot],
        seq: float | None = None,
        history: list[tuple[float, TaskSnapshot]] | None = None,
    ) -> SyncTeamResult:
        await self._call("sync_team", (team, members, tasks, seq, history or []))
        if not self.team_deltas:
            self.teams[team.dir_name] = (team, members, tasks)
            return SyncTeamResult(
                team_id=f"t:{team.dir_name}",
                applied=True,
                task_events_appended=0,
                members_removed=0,
            )
        # As `teams:syncTeam` keeps the team for deltas: a seq at or below the one stored is not
        # applied; else history above it, the snapshot, the tasks it lacks removed, revision = seq.
        row = self.team_rows.get(team.dir_name)
        stored = None if row is None or row.gone else row.revision
        if seq is not None and stored is not None and seq <= stored:
            return SyncTeamResult(
                team_id=f"t:{team.dir_name}",
                applied=False,
                task_events_appended=0,
                members_removed=0,
            )
        if row is None:
            row = self.team_rows[team.dir_name] = FakeTeam(team=team)
        before = len(row.events)
        last = row.revision if row.revision is not None and not row.gone else -1.0
        row.team, row.gone, row.epoch, row.members = team, False, None, list(members)
        row.apply_states(
            [(s, state) for s, state in history or [] if s > last]
            + [(seq, state) for state in tasks]
        )
        present = {t.task_id for t in tasks if t.status != "deleted"}
        for task_id in [i for i in row.tasks if i not in present]:
            row.remove(task_id)
        row.revision = seq
        self._publish_team(row)
        self._answered()
        return SyncTeamResult(
            team_id=f"t:{team.dir_name}",
            applied=True,
            task_events_appended=len(row.events) - before,
            members_removed=0,
        )

    def _deltas_available(self, method: str) -> None:
        """An older deployment answers a call of a function it lacks like this."""
        if not self.team_deltas:
            raise ConvexFunctionError(
                f"Could not find public function for the gateway's {method}. Did you forget "
                "to run `npx convex dev` or `npx convex deploy`?"
            )

    def _answered(self) -> None:
        """The call was applied; its answer may be lost."""
        if self.lose_replies > 0:
            self.lose_replies -= 1
            raise ConvexConnectionLost("fake: connection lost before the reply")

    def _publish_team(self, row: FakeTeam) -> None:
        if row.gone:
            self.teams.pop(row.team.dir_name, None)
        else:
            self.teams[row.team.dir_name] = (row.team, row.members, row.live())

    async def sync_team_delta(
        self,
        team: TeamSnapshot,
        base: float,
        seq: float,
        tasks: list[tuple[float, TaskSnapshot]],
        removed: list[str],
        task_counts: TaskCounts,
        members: list[MemberSnapshot] | None = None,
    ) -> SyncTeamDeltaResult:
        self._deltas_available("sync_team_delta")
        await self._call(
            "sync_team_delta", (team, base, seq, list(tasks), list(removed), task_counts, members)
        )
        if seq <= base:
            raise ConvexError(
                {
                    "code": "invalid_argument",
                    "message": f"seq: expected a number above base, got {seq}",
                },
                "seq: expected a sequence number above base",
            )
        row = self.team_rows.get(team.dir_name)
        if row is None or row.gone:
            return SyncTeamDeltaResult(status="unknown")
        if row.revision == seq:
            return SyncTeamDeltaResult(status="duplicate", revision=row.revision)
        if row.revision != base or row.epoch is not None:
            return SyncTeamDeltaResult(status="mismatch", revision=row.revision)
        before = len(row.events)
        row.team = team
        if members is not None:
            row.members = list(members)
        row.apply_states(tasks)
        for task_id in removed:
            row.remove(task_id)
        row.revision = seq
        row.task_counts = task_counts
        self._publish_team(row)
        self._answered()
        return SyncTeamDeltaResult(
            status="applied",
            revision=seq,
            team_id=f"t:{team.dir_name}",
            task_events_appended=len(row.events) - before,
        )

    async def reconcile_team(
        self,
        team: TeamSnapshot,
        epoch: float,
        tasks: list[tuple[float, TaskSnapshot]],
        members: list[MemberSnapshot] | None = None,
    ) -> ReconcileTeamResult:
        self._deltas_available("reconcile_team")
        await self._call("reconcile_team", (team, epoch, list(tasks), members))
        row = self.team_rows.get(team.dir_name)
        if row is not None and row.epoch is not None and epoch < row.epoch:
            return ReconcileTeamResult(status="stale", team_id=f"t:{team.dir_name}")
        if row is None:
            row = self.team_rows[team.dir_name] = FakeTeam(team=team)
        before = len(row.events)
        row.team, row.gone, row.epoch, row.revision = team, False, epoch, None
        if members is not None:
            row.members = list(members)
        row.apply_states(tasks)
        for _, task in tasks:
            row.stamped[task.task_id] = epoch
        self._publish_team(row)
        self._answered()
        return ReconcileTeamResult(
            status="applied",
            team_id=f"t:{team.dir_name}",
            task_events_appended=len(row.events) - before,
        )

    async def finish_reconcile(
        self, dir_name: str, epoch: float, seq: float, task_counts: TaskCounts
    ) -> FinishReconcileResult:
        self._deltas_available("finish_reconcile")
        await self._call("finish_reconcile", (dir_name, epoch, seq, task_counts))
        row = self.team_rows.get(dir_name)
        if row is None or row.epoch != epoch:
            return FinishReconcileResult(status="stale")
        stale = [i for i in row.tasks if i not in row.removed and row.stamped.get(i, -1.0) < epoch]
        for task_id in stale[:500]:
            row.remove(task_id)
        if len(stale) > 500:
            self._publish_team(row)
            return FinishReconcileResult(status="more", tasks_removed=500)
        row.revision, row.epoch, row.task_counts = seq, None, task_counts
        self._publish_team(row)
        self._answered()
        return FinishReconcileResult(status="done", revision=seq, tasks_removed=len(stale))

    def reset_teams(self) -> None:
        """The deployment lost its teams (a reset backend)."""
        self.team_rows.clear()
        self.teams.clear()

    async def active_team_dirs(self) -> list[str]:
        await self._call("active_team_dirs", None)
        return [d for d in self.teams]

    async def remove_team(self, dir_name: str, seq: float | None = None) -> bool:
        await self._call("remove_team", dir_name)
        self.removed_teams.append(dir_name)
        row = self.team_rows.get(dir_name)
        if row is not None:
            row.gone = True
        return self.teams.pop(dir_name, None) is not None

    async def record_events(
        self, orchestration_id: str, events: list[EventRecord]
    ) -> RecordEventsResult:
        await self._call("record_events", (orchestration_id, events))
        have = self.events.setdefault(orchestration_id, [])
        keys = {e.idempotency_key for e in have}
        new = [e for e in events if e.idempotency_key not in keys]
        have.extend(new)
        return RecordEventsResult(
            inserted=float(len(new)), duplicates=float(len(events) - len(new))
        )

    async def sync_document(self, orchestration_id: str, document: DocumentSnapshot) -> bool:
        await self._call("sync_document", (orchestration_id, document))
        key = (orchestration_id, document.kind, document.phase_number or "")
        old = self.documents.get(key)
        self.documents[key] = document
        return old is None or (old.hash, old.missing, old.truncated, old.path) != (
            document.hash,
            document.missing,
            document.truncated,
            document.path,
        )

    async def record_team_messages(
        self, dir_name: str, messages: list[InboxMessage]
    ) -> tuple[int, int]:
        await self._call("record_team_messages", (dir_name, list(messages)))
        have = self.messages.setdefault(dir_name, {})
        inserted = updated = 0
        for m in messages:
            old = have.get(m.key)
            if old is None:
                inserted += 1
                have[m.key] = m
            elif old.read != m.read:
                updated += 1
                have[m.key] = attrs.evolve(old, read=m.read)
        return inserted, updated

    @contextlib.asynccontextmanager
    async def pending_actions(self) -> AsyncIterator[PendingActions]:
        yield PendingActions(self.subscription)

    async def check_credential(self) -> None:
        await self._call("check_credential", None)

    def publish_pending(self) -> None:
        self.subscription.cell.set([a for a in self.actions.values() if a["status"] == "pending"])

    async def claim_action(
        self, action_id: str, lease_owner: str, lease_ms: float | None = None
    ) -> ClaimResult:
        await self._call("claim_action", action_id, action_id)
        action = self.actions.get(action_id)
        if action is None:
            return ClaimResult(ok=False, reason="not_found")
        if action["status"] != "pending":
            return ClaimResult(ok=False, reason="not_pending", status=action["status"])
        action["status"] = "claimed"
        return ClaimResult(ok=True)

    async def mark_action_running(self, action_id: str, lease_owner: str) -> bool:
        await self._call("mark_action_running", action_id, action_id)
        self.actions[action_id]["status"] = "running"
        return True

    async def complete_action(self, action_id: str, lease_owner: str, result: ActionResult) -> bool:
        await self._call("complete_action", (action_id, result), action_id)
        self.actions[action_id]["status"] = "completed" if result.ok else "failed"
        self.completed[action_id] = result
        return True

    async def interrupt_stale_actions(self, lease_owner: str) -> int:
        await self._call("interrupt_stale_actions", lease_owner)
        return 0

    async def open_prompt(self, prompt: OpenedPrompt) -> bool:
        await self._call("open_prompt", prompt, prompt.prompt_id)
        if prompt.prompt_id not in self.prompts:
            self.prompts[prompt.prompt_id] = {
                "promptId": prompt.prompt_id,
                "toolName": prompt.tool_name,
                "suggestions": prompt.suggestions,
                "status": "open",
            }
        return True

    async def settle_prompt(self, prompt_id: str, outcome: PromptOutcome) -> bool:
        await self._call("settle_prompt", (prompt_id, outcome), prompt_id)
        prompt = self.prompts.get(prompt_id)
        if prompt is None:
            return False
        prompt["status"] = outcome
        self.publish_decisions()
        return True

    def answer_prompt(
        self,
        prompt_id: str,
        decision: str,
        *,
        message: str | None = None,
        who: str = "Ada",
        publish: bool = True,
    ) -> None:
        """The dashboard's `prompts:answer` (no checks: tests hand the laptop any answer)."""
        prompt = self.prompts.setdefault(prompt_id, {"promptId": prompt_id, "status": "open"})
        prompt.update(status="answered", decision=decision, answeredByName=who)
        if message is not None:
            prompt["message"] = message
        if publish:
            self.publish_decisions()

    def publish_decisions(self) -> None:
        self.decisions.cell.set([p for p in self.prompts.values() if p["status"] == "answered"])

    @contextlib.asynccontextmanager
    async def pending_decisions(self) -> AsyncIterator[PendingDecisions]:
        yield PendingDecisions(self.decisions)

    def watch(self, until_ms: float) -> None:
        """A dashboard is watching until `until_ms` (as `presence:watch` leaves it)."""
        self.presence.cell.set({"until": until_ms})  # type: ignore[arg-type]

    @contextlib.asynccontextmanager
    async def watched_until(self) -> AsyncIterator[WatchedUntil]:
        yield WatchedUntil(self.presence)

    async def sync_laptop(
        self, items: list[LaptopNeed], sessions: list[SessionSnapshot]
    ) -> SyncLaptopResult:
        sync_laptop_args(items, sessions)  # the real gateway's checks
        await self._call("sync_laptop", (list(items), list(sessions)))
        before = self.needs
        self.needs = {n.key: n for n in items}
        self.sessions = {s.session_id: s for s in sessions}
        return SyncLaptopResult(
            opened=float(len(self.needs.keys() - before.keys())),
            updated=float(sum(1 for k, n in self.needs.items() if k in before and before[k] != n)),
            resolved=float(len(before.keys() - self.needs.keys())),
        )

    async def record_usage(self, batch: str, rows: list[dict[str, Any]]) -> bool:
        await self._call("record_usage", (batch, list(rows)))
        if batch in self.usage_batches:
            return False
        self.usage_batches[batch] = list(rows)
        return True

    def usage_totals(self, orchestration_id: str | None = None) -> dict[str, int]:
        """The sums of every applied row of `orchestration_id` (None: unattributed)."""
        out = dict.fromkeys(("messages", "input", "output", "cacheWrite", "cacheRead", "cost"), 0)
        for rows in self.usage_batches.values():
            for row in rows:
                if row.get("orchestrationId") == orchestration_id:
                    for name in out:
                        out[name] += int(row.get("costMicros" if name == "cost" else name, 0))
        return out

    async def record_quota(self, report: QuotaReport) -> None:
        await self._call("record_quota", report)
        self.quota_reports.append(report)


def refused(code: str = "revoked", message: str = "the credential was revoked") -> ConvexError:
    return ConvexError({"code": code, "message": message}, message)
