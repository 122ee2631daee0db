"""The typed gateway: one method per Convex function the daemon calls.

The rest of the daemon never builds an argument dict nor reads a document: it passes attrs
models, which the wire converter turns into camelCase Convex values (numbers always float64,
absent optionals omitted), and gets attrs models (or plain values) back, structured from the
answers (a bad answer raises `WireError`). Every call carries the node credential and a deadline.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal, Protocol, TypeVar, cast

import attrs
import trio

from tina.messages import (
    ActionResult,
    ActorSummary,
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

from .actions import PendingActions, result_to_wire
from .client import ConvexClient
from .needs import SyncLaptopResult, result_from_wire, sync_laptop_args
from .presence import WatchedUntil
from .prompts import PendingDecisions, opened_to_wire
from .wire import make_converter


class WireArgs(Protocol):
    """A model that knows its own Convex arguments (``tina.usage.QuotaReport``): the layers
    above build it, the gateway only sends it."""

    def to_wire(self) -> dict[str, Any]: ...


_conv = make_converter()
T = TypeVar("T")


def _structure(doc: Any, cls: type[T]) -> T:
    return cast(T, _conv.structure(doc, cls))


def _plain_id(cls: type[Any]) -> None:
    """`cls.id` goes on the wire as an argument called `id`, not as Convex's system field `_id`
    (the converter's default for a field named `id`)."""
    default = cast(Callable[[Any], dict[str, Any]], _conv.get_unstructure_hook(cls))

    def unstructure(obj: Any) -> dict[str, Any]:
        return {("id" if key == "_id" else key): value for key, value in default(obj).items()}

    _conv.register_unstructure_hook(cls, unstructure)


_plain_id(ActorSummary)  # `nodes:heartbeat` validates `health.actors[].id`
_conv.register_unstructure_hook(ActionResult, result_to_wire)


def _observations(states: list[tuple[float, TaskSnapshot]]) -> list[dict[str, Any]]:
    """Task states as `{seq, task}` (the wire's `taskObservation`)."""
    return [{"seq": float(seq), "task": _conv.unstructure(task)} for seq, task in states]


# --- results ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Enrollment:
    node_id: str
    credential: str = attrs.field(repr=False)
    name: str


@attrs.frozen(kw_only=True)
class Registration:
    node_id: str
    name: str
    server_time: float
    # The deployment's offline threshold (absent from older deployments).
    offline_after_ms: float | None = None


@attrs.frozen(kw_only=True)
class SyncOrchestrationResult:
    orchestration_id: str
    applied: bool
    changed: bool


@attrs.frozen(kw_only=True)
class SyncTeamResult:
    team_id: str
    applied: bool
    orchestration_id: str | None = None
    phase_number: str | None = None
    task_events_appended: float
    members_removed: float


@attrs.frozen(kw_only=True)
class TeamBatchEntry:
    """One team of a `teams:syncTeams` batch: what `teams:syncTeam` takes."""

    team: TeamSnapshot
    members: list[MemberSnapshot]
    tasks: list[TaskSnapshot]
    seq: float | None = None
    history: list[tuple[float, TaskSnapshot]] = attrs.field(factory=list)


DeltaStatus = Literal["applied", "duplicate", "mismatch", "unknown"]


@attrs.frozen(kw_only=True)
class SyncTeamDeltaResult:
    """What `teams:syncTeamDelta` answers: `applied` (stored, revision = seq), `duplicate` (that
    seq is the stored revision: a replay), `mismatch` (another base, or a reconcile under way:
    nothing written; `revision` is the server's), `unknown` (no live team: nothing written)."""

    status: DeltaStatus
    revision: float | None = None
    team_id: str | None = None
    orchestration_id: str | None = None
    phase_number: str | None = None
    task_events_appended: float = 0


@attrs.frozen(kw_only=True)
class ReconcileTeamResult:
    """One page of a reconcile: `applied`, or `stale` (a newer reconcile is under way)."""

    status: Literal["applied", "stale"]
    team_id: str | None = None
    orchestration_id: str | None = None
    phase_number: str | None = None
    task_events_appended: float = 0


@attrs.frozen(kw_only=True)
class FinishReconcileResult:
    """`more` until every task the reconcile did not include is marked removed, then `done`
    (revision = seq); `stale`: not the reconcile under way."""

    status: Literal["more", "done", "stale"]
    revision: float | None = None
    tasks_removed: float = 0


@attrs.frozen(kw_only=True)
class RecordEventsResult:
    inserted: float
    duplicates: float


@attrs.frozen(kw_only=True)
class _Changed:
    changed: bool


@attrs.frozen(kw_only=True)
class _Recorded:
    inserted: float
    updated: float


@attrs.frozen(kw_only=True)
class ClaimResult:
    """`ok`: the action is ours (the daemon already holds it, typed, from `pendingActions`);
    otherwise `reason` (`not_found`, `expired`, `not_pending`) and the action's `status`."""

    ok: bool
    reason: str | None = None
    status: str | None = None


@attrs.frozen(kw_only=True)
class _Ok:
    ok: bool


@attrs.frozen(kw_only=True)
class _Removed:
    removed: bool


@attrs.frozen(kw_only=True)
class _Applied:
    applied: bool


@attrs.frozen(kw_only=True)
class _Interrupted:
    interrupted: float


def _fields(**fields: Any) -> dict[str, Any]:
    """Keyword arguments as Convex arguments (unstructured; None left out, as optional)."""
    return {key: _conv.unstructure(value) for key, value in fields.items() if value is not None}


class GatewayProtocol(Protocol):
    """What actors need; `tina.dev.fakes.FakeGateway` implements it in memory."""

    async def register(self, os_name: str) -> Registration: ...
    async def heartbeat(self, health: Health) -> None: ...
    async def sign_off(self) -> None: ...
    @property
    def last_success(self) -> float | None:
        """trio time of the last successful mutation (each is a sign of life), if any."""
        ...

    async def sync_orchestration(
        self,
        orchestration: OrchestrationSnapshot,
        phases: list[PhaseSnapshot],
        seq: float | None = None,
    ) -> SyncOrchestrationResult: ...
    async def sync_team(
        self,
        team: TeamSnapshot,
        members: list[MemberSnapshot],
        tasks: list[TaskSnapshot],
        seq: float | None = None,
        history: list[tuple[float, TaskSnapshot]] | None = None,
    ) -> SyncTeamResult: ...
    async def sync_teams(self, teams: list[TeamBatchEntry]) -> list[SyncTeamResult]: ...
    async def sync_team_delta(
        self,
        team: TeamSnapshot,
        base: float,
        seq: float,
        tasks: list[tuple[float, TaskSnapshot]],
        removed: list[str],
        task_counts: TaskCounts,
        members: list[MemberSnapshot] | None = None,
    ) -> SyncTeamDeltaResult: ...
    async def reconcile_team(
        self,
        team: TeamSnapshot,
        epoch: float,
        tasks: list[tuple[float, TaskSnapshot]],
        members: list[MemberSnapshot] | None = None,
    ) -> ReconcileTeamResult: ...
    async def finish_reconcile(
        self, dir_name: str, epoch: float, seq: float, task_counts: TaskCounts
    ) -> FinishReconcileResult: ...
    async def active_team_dirs(self) -> list[str]: ...
    async def remove_team(self, dir_name: str, seq: float | None = None) -> bool: ...
    async def record_events(
        self, orchestration_id: str, events: list[EventRecord]
    ) -> RecordEventsResult: ...
    async def sync_document(self, orchestration_id: str, document: DocumentSnapshot) -> bool: ...
    async def record_team_messages(
        self, dir_name: str, messages: list[InboxMessage]
    ) -> tuple[int, int]: ...
    def pending_actions(self) -> contextlib.AbstractAsyncContextManager[PendingActions]: ...
    async def check_credential(self) -> None: ...
    async def claim_action(
        self, action_id: str, lease_owner: str, lease_ms: float | None = None
    ) -> ClaimResult: ...
    async def mark_action_running(self, action_id: str, lease_owner: str) -> bool: ...
    async def complete_action(
        self, action_id: str, lease_owner: str, result: ActionResult
    ) -> bool: ...
    async def interrupt_stale_actions(self, lease_owner: str) -> int: ...
    async def open_prompt(self, prompt: OpenedPrompt) -> bool: ...
    async def settle_prompt(self, prompt_id: str, outcome: PromptOutcome) -> bool: ...
    def pending_decisions(self) -> contextlib.AbstractAsyncContextManager[PendingDecisions]: ...
    def watched_until(self) -> contextlib.AbstractAsyncContextManager[WatchedUntil]: ...
    async def sync_laptop(
        self, items: list[LaptopNeed], sessions: list[SessionSnapshot]
    ) -> SyncLaptopResult: ...
    async def record_usage(self, batch: str, rows: list[dict[str, Any]]) -> bool: ...
    async def record_quota(self, report: WireArgs) -> None: ...


async def enroll(
    client: ConvexClient,
    secret: str,
    name: str,
    os_name: str,
    *,
    timeout: float = 15.0,  # noqa: ASYNC109
) -> Enrollment:
    """Exchange the enrollment secret (or one-time code) for a node credential."""
    doc = await client.mutation(
        "nodes:enrollNode",
        {"enrollmentSecret": secret, "name": name, "os": os_name},
        timeout=timeout,
    )
    return _structure(doc, Enrollment)


class Gateway:
    """The daemon's calls, each authenticated by the node credential."""

    def __init__(self, client: ConvexClient, token: str, *, timeout: float = 15.0) -> None:
        self.client = client
        self._token = token
        self._timeout = timeout
        self.last_success: float | None = None

    def __repr__(self) -> str:
        return f"<Gateway {self.client.url}>"

    def _args(self, **fields: Any) -> dict[str, Any]:
        return {"nodeToken": self._token, **_fields(**fields)}

    async def _mutation(self, path: str, **fields: Any) -> Any:
        return await self._send(path, self._args(**fields))

    async def _send(self, path: str, args: dict[str, Any]) -> Any:
        """A mutation; a success is a sign of life the deployment recorded (presence)."""
        doc = await self.client.mutation(path, args, timeout=self._timeout)
        self.last_success = trio.current_time()
        return doc

    async def _query(self, path: str, **fields: Any) -> Any:
        return await self.client.query(path, self._args(**fields), timeout=self._timeout)

    async def register(self, os_name: str) -> Registration:
        return _structure(await self._mutation("nodes:registerNode", os=os_name), Registration)

    async def heartbeat(self, health: Health) -> None:
        await self._mutation("nodes:heartbeat", health=health)

    async def sign_off(self) -> None:
        """A clean stop: the node is offline now (`nodes:signOff` is not a sign of life)."""
        await self.client.mutation("nodes:signOff", self._args(), timeout=self._timeout)

    async def sync_orchestration(
        self,
        orchestration: OrchestrationSnapshot,
        phases: list[PhaseSnapshot],
        seq: float | None = None,
    ) -> SyncOrchestrationResult:
        doc = await self._mutation(
            "orchestrations:syncOrchestration", orchestration=orchestration, phases=phases, seq=seq
        )
        return _structure(doc, SyncOrchestrationResult)

    async def sync_team(
        self,
        team: TeamSnapshot,
        members: list[MemberSnapshot],
        tasks: list[TaskSnapshot],
        seq: float | None = None,
        history: list[tuple[float, TaskSnapshot]] | None = None,
    ) -> SyncTeamResult:
        observed = (
            [{"seq": s, "task": _conv.unstructure(t)} for s, t in history] if history else None
        )
        doc = await self._mutation(
            "teams:syncTeam", team=team, members=members, tasks=tasks, seq=seq, history=observed
        )
        return _structure(doc, SyncTeamResult)

    async def sync_teams(self, teams: list[TeamBatchEntry]) -> list[SyncTeamResult]:
        """Small teams' whole snapshots in one `teams:syncTeams` call (results in order)."""
        entries = [
            _fields(
                team=e.team,
                members=e.members,
                tasks=e.tasks,
                seq=e.seq,
                history=[{"seq": s, "task": _conv.unstructure(t)} for s, t in e.history] or None,
            )
            for e in teams
        ]
        docs = await self._send("teams:syncTeams", {"nodeToken": self._token, "teams": entries})
        return [_structure(doc, SyncTeamResult) for doc in docs]

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
        """The team's changes since revision `base` (what Convex holds) as revision `seq`:
        task states oldest first (a task may appear several times), ids of tasks gone, the
        whole member list only when it changed, the board counts of the whole snapshot."""
        doc = await self._mutation(
            "teams:syncTeamDelta",
            team=team,
            base=base,
            seq=seq,
            members=members,
            tasks=_observations(tasks),
            removed=removed,
            taskCounts=task_counts,
        )
        return _structure(doc, SyncTeamDeltaResult)

    async def reconcile_team(
        self,
        team: TeamSnapshot,
        epoch: float,
        tasks: list[tuple[float, TaskSnapshot]],
        members: list[MemberSnapshot] | None = None,
    ) -> ReconcileTeamResult:
        """One page of a full reconcile (members on the first page only)."""
        doc = await self._mutation(
            "teams:reconcileTeam",
            team=team,
            epoch=epoch,
            members=members,
            tasks=_observations(tasks),
        )
        return _structure(doc, ReconcileTeamResult)

    async def finish_reconcile(
        self, dir_name: str, epoch: float, seq: float, task_counts: TaskCounts
    ) -> FinishReconcileResult:
        """Marks (a page of) the tasks the reconcile did not include removed; `done` at the end."""
        doc = await self._mutation(
            "teams:finishReconcile", dirName=dir_name, epoch=epoch, seq=seq, taskCounts=task_counts
        )
        return _structure(doc, FinishReconcileResult)

    async def active_team_dirs(self) -> list[str]:
        return _structure(await self._query("teams:activeTeamDirs"), list[str])

    async def remove_team(self, dir_name: str, seq: float | None = None) -> bool:
        doc = await self._mutation("teams:removeTeam", dirName=dir_name, seq=seq)
        return _structure(doc, _Removed).removed

    async def record_events(
        self, orchestration_id: str, events: list[EventRecord]
    ) -> RecordEventsResult:
        doc = await self._mutation(
            "events:recordEvents", orchestrationId=orchestration_id, events=events
        )
        return _structure(doc, RecordEventsResult)

    async def sync_document(self, orchestration_id: str, document: DocumentSnapshot) -> bool:
        """A plan or design doc as read on the laptop; whether Convex stored a change."""
        doc = await self._mutation(
            "documents:syncDocument", orchestrationId=orchestration_id, document=document
        )
        return _structure(doc, _Changed).changed

    async def record_team_messages(
        self, dir_name: str, messages: list[InboxMessage]
    ) -> tuple[int, int]:
        """A batch (at most 100) of a team's inbox messages: (inserted, updated)."""
        doc = await self._mutation("teams:recordTeamMessages", dirName=dir_name, messages=messages)
        recorded = _structure(doc, _Recorded)
        return int(recorded.inserted), int(recorded.updated)

    @contextlib.asynccontextmanager
    async def pending_actions(self) -> AsyncIterator[PendingActions]:
        """The node's pending actions, live and typed (`tina.convex.actions.PendingActions`)."""
        async with self.client.subscribe("actions:pendingActions", self._args()) as sub:
            yield PendingActions(sub)

    async def check_credential(self) -> None:
        """Ask the deployment once whether it accepts this node credential (the query the
        listener subscribes to); raises `ConvexError` if it is refused."""
        await self._query("actions:pendingActions")

    async def claim_action(
        self, action_id: str, lease_owner: str, lease_ms: float | None = None
    ) -> ClaimResult:
        doc = await self._mutation(
            "actions:claimAction", actionId=action_id, leaseOwner=lease_owner, leaseMs=lease_ms
        )
        return _structure(doc, ClaimResult)

    async def mark_action_running(self, action_id: str, lease_owner: str) -> bool:
        doc = await self._mutation(
            "actions:markActionRunning", actionId=action_id, leaseOwner=lease_owner
        )
        return _structure(doc, _Ok).ok

    async def complete_action(self, action_id: str, lease_owner: str, result: ActionResult) -> bool:
        doc = await self._mutation(
            "actions:completeAction", actionId=action_id, leaseOwner=lease_owner, result=result
        )
        return _structure(doc, _Ok).ok

    async def interrupt_stale_actions(self, lease_owner: str) -> int:
        doc = await self._mutation("actions:interruptStaleActions", leaseOwner=lease_owner)
        return int(_structure(doc, _Interrupted).interrupted)

    async def open_prompt(self, prompt: OpenedPrompt) -> bool:
        """A PermissionRequest the laptop waits on, shown on the dashboard (idempotent by
        node and prompt id)."""
        args = self._args()
        args.update(opened_to_wire(prompt))
        doc = await self._send("prompts:openPrompt", args)
        return _structure(doc, _Ok).ok

    async def settle_prompt(self, prompt_id: str, outcome: PromptOutcome) -> bool:
        doc = await self._mutation("prompts:settlePrompt", promptId=prompt_id, outcome=outcome)
        return _structure(doc, _Ok).ok

    @contextlib.asynccontextmanager
    async def pending_decisions(self) -> AsyncIterator[PendingDecisions]:
        """The node's answered prompts not yet settled, live and typed
        (`tina.convex.prompts.PendingDecisions`)."""
        async with self.client.subscribe("prompts:pendingDecisions", self._args()) as sub:
            yield PendingDecisions(sub)

    @contextlib.asynccontextmanager
    async def watched_until(self) -> AsyncIterator[WatchedUntil]:
        """Until when someone has the dashboard open (server ms), live
        (`tina.convex.presence.WatchedUntil`)."""
        async with self.client.subscribe("presence:watchedUntil", self._args()) as sub:
            yield WatchedUntil(sub)

    async def sync_laptop(
        self, items: list[LaptopNeed], sessions: list[SessionSnapshot]
    ) -> SyncLaptopResult:
        """The laptop's current needs and Claude Code sessions (replacing the last set), checked
        first (`tina.convex.needs.InvalidNeeds`: nothing is sent)."""
        args = self._args()
        args.update(sync_laptop_args(items, sessions))
        doc = await self._send("needs:syncLaptop", args)
        return result_from_wire(doc)

    async def record_usage(self, batch: str, rows: list[dict[str, Any]]) -> bool:
        """One batch of hourly usage rows (`tina.usage.UsageRow.to_wire`, deltas); whether
        Convex applied it now (False: it had applied that batch before)."""
        args = self._args()
        args.update(batch=batch, rows=rows)
        doc = await self._send("usage:recordUsage", args)
        return _structure(doc, _Applied).applied

    async def record_quota(self, report: WireArgs) -> None:
        """This laptop's quota windows and last rate limit (`usage:recordQuota`)."""
        args = self._args()
        args.update(report.to_wire())
        await self._send("usage:recordQuota", args)
