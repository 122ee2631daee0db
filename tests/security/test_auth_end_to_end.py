"""End to end over the wire: the owner signs up, invites a viewer, adds a laptop with a
one-time code; the viewer cannot act; the owner's action is claimed and completed by the
laptop (a fake daemon speaking HTTP with its node credential) and audited step by step."""

from __future__ import annotations

from typing import Any

from conftest import PASSWORD
from security_wire import Wire, jwt_claims

T0 = 1_795_000_000_000.0
PAGE = {"numItems": 50.0, "cursor": None}


class FakeDaemon:
    """What the daemon does over the wire, with its node credential."""

    def __init__(self, wire: Wire, credential: str) -> None:
        self.wire = wire
        self.credential = credential

    def call(self, kind: str, path: str, **args: Any) -> Any:
        return self.wire.value(kind, path, {"nodeToken": self.credential, **args})


def test_sign_in_act_execute_audit(wire: Wire) -> None:
    # The first account on the empty deployment owns it.
    owner = wire.sign_up("Owner@Example.com", PASSWORD, name="Olivia Owner")
    assert wire.value("query", "users:me", {}, token=owner)["role"] == "owner"
    assert jwt_claims(owner)["iss"] == wire.url

    # Nobody else can sign up without an invite.
    uninvited = wire.action(
        "auth:signIn",
        {
            "provider": "password",
            "params": {"email": "eve@example.com", "password": PASSWORD, "flow": "signUp"},
        },
    )
    assert (uninvited.status, uninvited.code) == (560, "forbidden")

    # The owner invites a viewer, who signs up with the code.
    invite = wire.value(
        "mutation",
        "users:invite",
        {"email": "victor@example.com", "role": "viewer", "client": "pytest e2e"},
        token=owner,
    )
    viewer = wire.sign_up(
        "victor@example.com", PASSWORD, inviteCode=invite["code"], name="Victor Viewer"
    )
    assert wire.value("query", "users:me", {}, token=viewer)["role"] == "viewer"

    # "Add a laptop": a one-time code; the daemon enrolls with it and syncs an orchestration.
    code = wire.value(
        "mutation", "nodes:createEnrollmentCode", {"nodeName": "laptop-a"}, token=owner
    )["code"]
    enrolled = wire.value(
        "mutation",
        "nodes:enrollNode",
        {"enrollmentSecret": code, "name": "laptop-a", "os": "darwin"},
    )
    daemon = FakeDaemon(wire, enrolled["credential"])
    daemon.call("mutation", "nodes:registerNode", os="darwin")
    reused = wire.mutation(
        "nodes:enrollNode", {"enrollmentSecret": code, "name": "laptop-a", "os": "darwin"}
    )
    assert reused.code == "unauthenticated"
    orchestration_id = daemon.call(
        "mutation",
        "orchestrations:syncOrchestration",
        orchestration={
            "featureName": "billing-export",
            "specDocPath": "/home/dev/acme/docs/plans/billing-export.md",
            "branch": "tina/billing-export",
            "worktreePath": "/home/dev/acme/.worktrees/billing-export",
            "totalPhases": 3.0,
            "currentPhase": 1.0,
            "status": "blocked",
            "startedAt": T0,
        },
        phases=[{"phaseNumber": "1", "status": "blocked", "blockedReason": "tests fail"}],
    )["orchestrationId"]

    # The viewer sees it but cannot act on it.
    assert [
        o["featureName"]
        for o in wire.value("query", "orchestrations:listOrchestrations", {}, token=viewer)[
            "active"
        ]
    ] == ["billing-export"]
    retry = {
        "action": {"type": "retry", "orchestrationId": orchestration_id, "phase": "1"},
        "idempotencyKey": "e2e-retry-0001",
        "client": "Mozilla/5.0 pytest",
    }
    refused = wire.mutation("actions:submitAction", retry, token=viewer)
    assert (refused.code, refused.status) == ("forbidden", 560)
    assert daemon.call("query", "actions:pendingActions") == []

    # The owner's tap (twice: a double tap) queues one action.
    first = wire.value("mutation", "actions:submitAction", retry, token=owner)
    second = wire.value("mutation", "actions:submitAction", retry, token=owner)
    assert second == {"actionId": first["actionId"], "deduplicated": True}
    action_id = first["actionId"]

    # The daemon sees it, claims it, runs it, reports the outcome.
    pending = daemon.call("query", "actions:pendingActions")
    assert [(a["_id"], a["type"], a["payload"]) for a in pending] == [
        (action_id, "retry", {"feature": "billing-export", "phase": "1"})
    ]
    assert (
        daemon.call("mutation", "actions:claimAction", actionId=action_id, leaseOwner="daemon-e2e")[
            "ok"
        ]
        is True
    )
    assert daemon.call(
        "mutation", "actions:markActionRunning", actionId=action_id, leaseOwner="daemon-e2e"
    ) == {"ok": True}
    result = {
        "ok": True,
        "code": "ok",
        "message": "phase 1 retried",
        "exitCode": 0.0,
        "output": '{"action":"spawn_executor"}',
        "durationMs": 41.0,
    }
    assert daemon.call(
        "mutation",
        "actions:completeAction",
        actionId=action_id,
        leaseOwner="daemon-e2e",
        result=result,
    ) == {"ok": True, "status": "completed"}

    # Everyone with a role sees it executed and audited: who, when, from where, which laptop, outcome.
    [action] = wire.value(
        "query", "actions:listActions", {"orchestrationId": orchestration_id}, token=viewer
    )
    assert (action["status"], action["result"]["message"], action["submittedByName"]) == (
        "completed",
        "phase 1 retried",
        "Olivia Owner",
    )
    log = wire.value(
        "query", "audit:list", {"paginationOpts": PAGE, "actionId": action_id}, token=viewer
    )["page"]
    steps = [
        (e["verb"], e["actorKind"], e["actorName"], e.get("nodeName"), e["outcome"])
        for e in reversed(log)
    ]
    assert steps == [
        ("action.submitted", "user", "Olivia Owner", "laptop-a", "ok"),
        ("action.claimed", "node", "laptop-a", "laptop-a", "ok"),
        ("action.completed", "node", "laptop-a", "laptop-a", "ok"),
    ]
    submitted = log[-1]
    assert submitted["client"] == "Mozilla/5.0 pytest"
    assert submitted["actorId"] == wire.value("query", "users:me", {}, token=owner)["userId"]
    assert [e["at"] for e in reversed(log)] == sorted(e["at"] for e in log)
    everything = [
        e["verb"]
        for e in wire.value("query", "audit:list", {"paginationOpts": PAGE}, token=owner)["page"]
    ]
    for verb in ("user.joined", "user.invited", "node.enrollment_code_created", "node.enrolled"):
        assert verb in everything

    # Revoking the laptop stops its daemon at once, with a clear reason.
    wire.value("mutation", "nodes:revokeNode", {"nodeId": enrolled["nodeId"]}, token=owner)
    stopped = wire.query("actions:pendingActions", {"nodeToken": enrolled["credential"]})
    assert stopped.code == "revoked"
    assert "laptop-a" in stopped.message


def test_refresh_and_sign_out_over_the_wire(wire: Wire) -> None:
    tokens = wire.value(
        "action",
        "auth:signIn",
        {
            "provider": "password",
            "params": {"email": "o@example.com", "password": PASSWORD, "flow": "signUp"},
        },
    )["tokens"]
    refreshed = wire.value("action", "auth:signIn", {"refreshToken": tokens["refreshToken"]})[
        "tokens"
    ]
    assert wire.value("query", "users:me", {}, token=refreshed["token"])["role"] == "owner"
    wrong = wire.action(
        "auth:signIn",
        {
            "provider": "password",
            "params": {"email": "o@example.com", "password": "not the password", "flow": "signIn"},
        },
    )
    assert not wrong.ok
    wire.value("action", "auth:signOut", {}, token=refreshed["token"])
    # The access token has not expired, but its session has: no more data.
    after = wire.query("nodes:listNodes", {}, token=refreshed["token"])
    assert after.code == "unauthenticated"
