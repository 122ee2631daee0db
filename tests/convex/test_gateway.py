"""The gateway's typed edge, against a recording client: what each call sends (byte for byte
where a Convex validator checks it), how each answer is structured, and the typed
`pendingActions` subscription."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import attrs
import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

from tina.convex import ConvexClient, WireError
from tina.convex.gateway import ClaimResult, Gateway
from tina.dev.fakes import FakeSubscription
from tina.messages import (
    ActionMessage,
    ActionResult,
    ActorSummary,
    Health,
    InboundAction,
    MalformedAction,
)


class RecordingClient:
    """Answers each function with a canned value and records every call."""

    url = "http://127.0.0.1:1"

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.subscription = FakeSubscription()

    async def _call(self, kind: str, path: str, args: dict[str, Any]) -> Any:
        await trio.lowlevel.checkpoint()
        self.calls.append((kind, path, args))
        return self.answers.get(path)

    async def query(self, path: str, args: dict[str, Any], *, timeout: float) -> Any:
        return await self._call("query", path, args)

    async def mutation(self, path: str, args: dict[str, Any], *, timeout: float) -> Any:
        return await self._call("mutation", path, args)

    @contextlib.asynccontextmanager
    async def subscribe(self, path: str, args: dict[str, Any]) -> AsyncIterator[FakeSubscription]:
        self.calls.append(("subscribe", path, args))
        yield self.subscription


def gateway(client: RecordingClient) -> Gateway:
    return Gateway(cast(ConvexClient, client), "tina_node_tok")


async def test_a_heartbeat_names_each_actor_by_id_as_nodes_heartbeat_validates_it() -> None:
    client = RecordingClient()
    health = Health(
        daemon_version="0.1.0",
        started_at=1.7e12,
        uptime_secs=12.5,
        outbox_depth=3,
        last_sync_at=1.7e12 + 5,
        connection="connected",
        actors=(
            ActorSummary(id="connection", state="running", restarts=0),
            ActorSummary(id="wt:billing", state="backing_off", restarts=2, last_error="boom"),
        ),
    )
    await gateway(client).heartbeat(health)
    [(kind, path, args)] = client.calls
    assert (kind, path) == ("mutation", "nodes:heartbeat")
    # Byte for byte what the daemon sent before `ActorSummary.id` was a plain field.
    assert json.dumps(args) == (
        '{"nodeToken": "tina_node_tok", "health": {"daemonVersion": "0.1.0", '
        '"startedAt": 1700000000000.0, "uptimeSecs": 12.5, "outboxDepth": 3, '
        '"lastSyncAt": 1700000000005.0, "connection": "connected", "actors": ['
        '{"id": "connection", "state": "running", "restarts": 0}, '
        '{"id": "wt:billing", "state": "backing_off", "restarts": 2, "lastError": "boom"}]}}'
    )


async def test_a_result_goes_to_complete_action_as_float64_truncated_without_absent_fields() -> (
    None
):
    client = RecordingClient({"actions:completeAction": {"ok": True, "status": "completed"}})
    gw = gateway(client)
    failed = ActionResult(ok=False, code="x", message="m" * 5000, exit_code=2, duration_ms=3)
    assert await gw.complete_action("a1", "laptop.abc", failed) is True
    done = ActionResult(ok=True, code="ok", message="done", output="out\n", duration_ms=12.5)
    assert await gw.complete_action("a2", "laptop.abc", done) is True
    sent = [args for _, _, args in client.calls]
    assert sent[0] == {
        "nodeToken": "tina_node_tok",
        "actionId": "a1",
        "leaseOwner": "laptop.abc",
        "result": {
            "ok": False,
            "code": "x",
            "message": "m" * 4000,
            "exitCode": 2.0,
            "durationMs": 3.0,
        },
    }
    assert isinstance(sent[0]["result"]["exitCode"], float)
    assert isinstance(sent[0]["result"]["durationMs"], float)
    assert json.dumps(sent[1]["result"]) == (
        '{"ok": true, "code": "ok", "message": "done", "output": "out\\n", "durationMs": 12.5}'
    )


async def test_answers_are_structured_into_typed_results() -> None:
    client = RecordingClient(
        {
            "actions:claimAction": {"ok": True, "action": {"_id": "a1", "type": "pause"}},
            "actions:markActionRunning": {"ok": False},
            "actions:interruptStaleActions": {"interrupted": 3.0},
            "teams:removeTeam": {"removed": True},
            "teams:activeTeamDirs": ["alpha", "beta"],
        }
    )
    gw = gateway(client)
    assert await gw.claim_action("a1", "laptop.abc", 60_000) == ClaimResult(ok=True)
    assert await gw.mark_action_running("a1", "laptop.abc") is False
    assert await gw.interrupt_stale_actions("laptop.abc") == 3
    assert await gw.remove_team("alpha", 4.0) is True
    assert await gw.active_team_dirs() == ["alpha", "beta"]
    client.answers["actions:claimAction"] = {
        "ok": False,
        "reason": "not_pending",
        "status": "running",
    }
    assert await gw.claim_action("a1", "laptop.abc") == ClaimResult(
        ok=False, reason="not_pending", status="running"
    )
    assert [(kind, path) for kind, path, _ in client.calls][:5] == [
        ("mutation", "actions:claimAction"),
        ("mutation", "actions:markActionRunning"),
        ("mutation", "actions:interruptStaleActions"),
        ("mutation", "teams:removeTeam"),
        ("query", "teams:activeTeamDirs"),
    ]
    assert client.calls[0][2] == {
        "nodeToken": "tina_node_tok",
        "actionId": "a1",
        "leaseOwner": "laptop.abc",
        "leaseMs": 60_000,
    }
    assert client.calls[4][2] == {"nodeToken": "tina_node_tok"}


@pytest.mark.parametrize(
    ("path", "answer"),
    [
        ("actions:markActionRunning", {"done": True}),
        ("actions:markActionRunning", None),
        ("actions:interruptStaleActions", {"interrupted": "many"}),
        ("teams:activeTeamDirs", 5),
    ],
)
async def test_an_answer_of_another_shape_is_one_wire_error(path: str, answer: Any) -> None:
    gw = gateway(RecordingClient({path: answer}))
    call = {
        "actions:markActionRunning": lambda: gw.mark_action_running("a1", "laptop.abc"),
        "actions:interruptStaleActions": lambda: gw.interrupt_stale_actions("laptop.abc"),
        "teams:activeTeamDirs": gw.active_team_dirs,
    }[path]
    with pytest.raises(WireError):
        await call()


async def test_check_credential_asks_the_listeners_query_once() -> None:
    client = RecordingClient({"actions:pendingActions": []})
    await gateway(client).check_credential()
    assert client.calls == [("query", "actions:pendingActions", {"nodeToken": "tina_node_tok"})]


def pending_doc(action_id: str, **payload: Any) -> dict[str, Any]:
    return {
        "_id": action_id,
        "_creationTime": 1.7e12,
        "type": "retry",
        "status": "pending",
        "expiresAt": 4e12,
        "payload": payload or {"feature": "billing-export", "phase": "1"},
    }


class ExplodingPayload(dict[str, Any]):
    """A payload whose reading fails: stands for a bug in validation."""

    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("bug")


async def test_pending_actions_arrive_typed_and_bad_documents_are_logged_once() -> None:
    client = RecordingClient()
    good = pending_doc("a1")
    bad = pending_doc("a2", feature="f")  # no phase
    buggy = {**pending_doc("a3"), "payload": ExplodingPayload()}
    updates: list[list[ActionMessage]] = []
    with capture_logs() as logs:
        async with gateway(client).pending_actions() as pending, trio.open_nursery() as n:
            assert client.calls == [
                ("subscribe", "actions:pendingActions", {"nodeToken": "tina_node_tok"})
            ]

            async def read(count: int) -> None:
                for _ in range(count):
                    updates.append(await pending.next())

            n.start_soon(read, 2)
            client.subscription.cell.set([good, {"type": "pause"}, bad, "junk", buggy])
            await trio.testing.wait_all_tasks_blocked()
            client.subscription.cell.set({"not": "a list"})  # skipped: the reader waits on
            await trio.testing.wait_all_tasks_blocked()
            client.subscription.cell.set([bad, good, pending_doc("a4")])  # re-delivered
    first, second = updates
    inbound = InboundAction(
        id="a1", type="retry", feature="billing-export", phase="1", expires_at=4e12
    )
    malformed = MalformedAction(
        id="a2", code="payload_missing_field", message="payload.phase is required"
    )
    crashed = MalformedAction(
        id="a3",
        code="payload_invalid",
        message="the laptop could not read this action (RuntimeError)",
    )
    assert first == [inbound, malformed, crashed]
    assert second == [malformed, inbound, attrs.evolve(inbound, id="a4")]
    bad_docs = [e for e in logs if e["event"] == "action.malformed"]
    assert [(e.get("action_id"), e["log_level"]) for e in bad_docs] == [
        (None, "warning"),
        ("a2", "warning"),
        (None, "warning"),
        ("a3", "error"),
    ]
    assert "cannot be reported" in bad_docs[0]["error"]
    assert [e["event"] for e in logs].count("actions.malformed_update") == 1


async def test_mutations_are_signs_of_life_queries_and_the_sign_off_are_not(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client = RecordingClient(
        {
            "nodes:registerNode": {
                "nodeId": "n1",
                "name": "laptop",
                "serverTime": 1.7e12,
                "offlineAfterMs": 120_000,
            },
            "teams:activeTeamDirs": [],
        }
    )
    gw = gateway(client)
    assert gw.last_success is None
    await trio.sleep(5)
    registration = await gw.register("darwin")
    assert registration.offline_after_ms == 120_000
    assert gw.last_success == 5
    await trio.sleep(5)
    await gw.active_team_dirs()
    await gw.sign_off()
    assert gw.last_success == 5
    assert client.calls[-1][:2] == ("mutation", "nodes:signOff")
    assert client.calls[-1][2] == {"nodeToken": "tina_node_tok"}


async def test_a_heartbeat_carries_the_oldest_unsynced_observation_when_there_is_one() -> None:
    client = RecordingClient()
    health = Health(
        daemon_version="0.1.0",
        started_at=1.7e12,
        uptime_secs=1.0,
        outbox_depth=2,
        oldest_unsynced_at=1.7e12 + 7,
    )
    await gateway(client).heartbeat(health)
    [(_kind, _path, args)] = client.calls
    assert args["health"]["oldestUnsyncedAt"] == 1.7e12 + 7
