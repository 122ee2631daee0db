"""Abuse over the real wire: Convex's HTTP API against the repository's functions on the
local backend. Every refused call must answer with a clear error and leave everything a
dashboard owner can see exactly as it was. (The exhaustive matrix, every function by every
kind of caller and payload, is ``convex/security.test.ts``; this is the same contract
observed from outside.)"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

import attrs
import pytest
from conftest import ENROLLMENT_SECRET, PASSWORD
from convex.values import ConvexInt64
from security_wire import Reply, Wire, forge_jwt, jwt_claims

from tina.dev.backend import REPO_ROOT, BackendProcess

CONVEX_DIR = REPO_ROOT / "convex"
T0 = 1_795_000_000_000.0
WRAPPERS = {
    "viewerQuery": "viewer",
    "viewerMutation": "viewer",
    "ownerQuery": "owner",
    "operatorMutation": "operator",
    "ownerMutation": "owner",
    "signedInQuery": "signedIn",
    "signedInMutation": "signedIn",
    "nodeQuery": "node",
    "nodeMutation": "node",
    "enrollmentMutation": "enrollment",
}
KINDS = {"Query": "query", "Mutation": "mutation"}


@attrs.frozen(kw_only=True)
class World:
    wire: Wire
    owner: str
    operator: str
    viewer: str
    node_a: str
    node_b: str
    node_revoked: str
    node_a_id: str
    orchestration_id: str
    team_id: str
    action_id: str


def enroll(wire: Wire, name: str, secret: str = ENROLLMENT_SECRET) -> dict[str, Any]:
    got = wire.value(
        "mutation", "nodes:enrollNode", {"enrollmentSecret": secret, "name": name, "os": "darwin"}
    )
    wire.value("mutation", "nodes:registerNode", {"nodeToken": got["credential"], "os": "darwin"})
    assert isinstance(got, dict)
    return got


def invite_and_sign_up(wire: Wire, owner: str, email: str, role: str) -> str:
    invite = wire.value("mutation", "users:invite", {"email": email, "role": role}, token=owner)
    return wire.sign_up(email, PASSWORD, inviteCode=invite["code"])


@pytest.fixture(scope="module")
def world(security_backend_process: BackendProcess) -> World:
    wire = Wire(security_backend_process.fresh().url)
    owner = wire.sign_up("owner@example.com", PASSWORD)
    operator = invite_and_sign_up(wire, owner, "operator@example.com", "operator")
    viewer = invite_and_sign_up(wire, owner, "viewer@example.com", "viewer")
    a = enroll(wire, "laptop-a")
    b = enroll(wire, "laptop-b")
    revoked = enroll(wire, "laptop-r")
    wire.value("mutation", "nodes:revokeNode", {"nodeId": revoked["nodeId"]}, token=owner)
    synced = wire.value(
        "mutation",
        "orchestrations:syncOrchestration",
        {
            "nodeToken": a["credential"],
            "orchestration": {
                "featureName": "billing-export",
                "specDocPath": "/home/dev/acme/docs/plans/billing-export.md",
                "branch": "tina/billing-export",
                "worktreePath": "/home/dev/acme/.worktrees/billing-export",
                "totalPhases": 3.0,
                "currentPhase": 1.0,
                "status": "blocked",
                "startedAt": T0,
            },
            "phases": [{"phaseNumber": "1", "status": "blocked", "blockedReason": "tests fail"}],
        },
    )
    team = wire.value(
        "mutation",
        "teams:syncTeam",
        {
            "nodeToken": a["credential"],
            "team": {"dirName": "billing-export-phase-1", "teamName": "billing-export-phase-1"},
            "members": [
                {
                    "agentId": "executor-1@billing-export-phase-1",
                    "agentName": "executor-1",
                    "cwd": "/home/dev/acme/.worktrees/billing-export",
                }
            ],
            "tasks": [],
        },
    )
    submitted = wire.value(
        "mutation",
        "actions:submitAction",
        {
            "action": {"type": "retry", "orchestrationId": synced["orchestrationId"], "phase": "1"},
            "idempotencyKey": "wire-world-0001",
        },
        token=operator,
    )
    return World(
        wire=wire,
        owner=owner,
        operator=operator,
        viewer=viewer,
        node_a=a["credential"],
        node_b=b["credential"],
        node_revoked=revoked["credential"],
        node_a_id=a["nodeId"],
        orchestration_id=synced["orchestrationId"],
        team_id=team["teamId"],
        action_id=submitted["actionId"],
    )


def visible_state(w: World) -> dict[str, Any]:
    """Everything the owner's dashboard can read."""
    page = {"numItems": 100.0, "cursor": None}
    reads: dict[str, tuple[str, dict[str, Any]]] = {
        "nodes": ("nodes:listNodes", {}),
        "orchestrations": ("orchestrations:listOrchestrations", {}),
        "detail": (
            "orchestrations:getOrchestrationDetail",
            {"orchestrationId": w.orchestration_id},
        ),
        "actions": ("actions:listActions", {}),
        "audit": ("audit:list", {"paginationOpts": page}),
        "users": ("users:list", {}),
        "events": (
            "events:listEvents",
            {"orchestrationId": w.orchestration_id, "paginationOpts": page},
        ),
    }
    state = {
        key: w.wire.value("query", path, args, token=w.owner) for key, (path, args) in reads.items()
    }
    state["pending_a"] = w.wire.value("query", "actions:pendingActions", {"nodeToken": w.node_a})
    return state


def assert_refused(
    w: World, reply_of: Callable[[], Reply], *, code: str | None = None, status: int | None = None
) -> Reply:
    before = visible_state(w)
    reply: Reply = reply_of()
    assert not reply.ok, f"accepted: {reply.value!r}"
    assert reply.clear_refusal, f"unclear refusal: {reply.status} {reply.code} {reply.message!r}"
    if code is not None:
        assert reply.code == code, f"{reply.code}: {reply.message}"
    if status is not None:
        assert reply.status == status
    assert visible_state(w) == before
    return reply


# --- Every public function, from the sources and the generated API ----------------------


def public_functions() -> list[tuple[str, str, str]]:
    """(module:function, kind, access) for every function built with a wrapper of convex/functions.ts."""
    generated = (CONVEX_DIR / "_generated" / "api.d.ts").read_text()
    modules = re.findall(r'import type \* as \w+ from "\.\./([\w/]+)\.js";', generated)
    found = []
    for module in modules:
        source = (CONVEX_DIR / f"{module}.ts").read_text()
        for name, builder in re.findall(r"^export const (\w+) = (\w+)\(", source, re.MULTILINE):
            if builder in WRAPPERS:
                kind = KINDS["Query" if builder.endswith("Query") else "Mutation"]
                found.append((f"{module}:{name}", kind, WRAPPERS[builder]))
    return found


def test_the_enumeration_finds_every_module_and_the_known_functions() -> None:
    names = {name for name, _, _ in public_functions()}
    assert len(names) > 30
    for expected in (
        "actions:submitAction",
        "nodes:enrollNode",
        "users:invite",
        "audit:list",
        "actions:claimAction",
    ):
        assert expected in names


@pytest.mark.parametrize(
    "token", [None, "garbage", "a.b.c"], ids=["no-token", "garbage", "three-dots"]
)
def test_every_public_function_refuses_a_caller_without_identity(
    world: World, token: str | None
) -> None:
    before = visible_state(world)
    unclear = []
    for name, kind, _access in public_functions():
        reply = world.wire.call(kind, name, {}, token=token)
        if reply.ok or not reply.clear_refusal:
            unclear.append(f"{name}: {reply.status} {reply.code} {reply.message[:120]!r}")
    assert unclear == []
    assert visible_state(world) == before


def test_dashboard_functions_without_identity_say_unauthenticated(world: World) -> None:
    submit = {
        "action": {"type": "pause", "orchestrationId": world.orchestration_id, "phase": "1"},
        "idempotencyKey": "no-identity-0001",
    }
    assert_refused(
        world, lambda: world.wire.query("nodes:listNodes"), code="unauthenticated", status=560
    )
    assert_refused(
        world, lambda: world.wire.mutation("actions:submitAction", submit), code="unauthenticated"
    )
    assert_refused(
        world, lambda: world.wire.mutation("nodes:createEnrollmentCode", {}), code="unauthenticated"
    )
    assert_refused(
        world,
        lambda: world.wire.query(
            "audit:list", {"paginationOpts": {"numItems": 10.0, "cursor": None}}
        ),
        code="unauthenticated",
    )
    assert_refused(
        world,
        lambda: world.wire.mutation(
            "nodes:heartbeat",
            {
                "nodeToken": "",
                "health": {
                    "daemonVersion": "0.1.0",
                    "startedAt": T0,
                    "uptimeSecs": 1.0,
                    "outboxDepth": 0.0,
                    "actors": [],
                },
            },
        ),
        code="unauthenticated",
    )


def test_garbage_and_forged_tokens(world: World) -> None:
    assert_refused(world, lambda: world.wire.query("nodes:listNodes", token="garbage"), status=401)
    # A token in Convex Auth's shape naming no real session.
    issuer = jwt_claims(world.owner)["iss"]
    bogus = forge_jwt(
        {"iss": issuer, "sub": "nobody|nothing", "aud": "convex", "exp": 4_102_444_800}
    )
    assert_refused(
        world, lambda: world.wire.query("nodes:listNodes", token=bogus), code="unauthenticated"
    )
    # A token from some other issuer: an identity, but not a member of this deployment.
    outsider = forge_jwt(
        {
            "iss": "https://evil.example/",
            "sub": "mallory",
            "aud": "convex",
            "email": "owner@example.com",
        }
    )
    assert_refused(
        world, lambda: world.wire.query("nodes:listNodes", token=outsider), code="forbidden"
    )
    assert_refused(
        world,
        lambda: world.wire.mutation(
            "users:invite", {"email": "m@example.com", "role": "owner"}, token=outsider
        ),
        code="forbidden",
    )


def test_roles_are_enforced(world: World) -> None:
    submit = {
        "action": {"type": "pause", "orchestrationId": world.orchestration_id, "phase": "1"},
        "idempotencyKey": "viewer-tap-0001",
    }
    reply = assert_refused(
        world,
        lambda: world.wire.mutation("actions:submitAction", submit, token=world.viewer),
        code="forbidden",
    )
    assert "operator" in reply.message
    assert_refused(
        world,
        lambda: world.wire.mutation(
            "actions:cancelAction", {"actionId": world.action_id}, token=world.viewer
        ),
        code="forbidden",
    )
    for path, args in [
        ("nodes:revokeNode", {"nodeId": world.node_a_id}),
        ("nodes:createEnrollmentCode", {}),
        ("users:invite", {"email": "friend@example.com", "role": "owner"}),
        ("users:list", {}),
    ]:
        kind = "query" if path == "users:list" else "mutation"
        assert_refused(
            world,
            partial(world.wire.call, kind, path, args, token=world.operator),
            code="forbidden",
        )
    # Viewers read.
    assert world.wire.value("query", "nodes:listNodes", {}, token=world.viewer)


def test_another_laptops_credential(world: World) -> None:
    b = world.node_b
    claim = {"nodeToken": b, "actionId": world.action_id, "leaseOwner": "daemon-b"}
    before = visible_state(world)
    assert world.wire.value("mutation", "actions:claimAction", claim) == {
        "ok": False,
        "reason": "not_found",
    }
    result = {"ok": True, "code": "ok", "message": "done"}
    assert world.wire.value("mutation", "actions:completeAction", {**claim, "result": result}) == {
        "ok": False,
        "status": "not_found",
    }
    assert world.wire.value("query", "actions:pendingActions", {"nodeToken": b}) == []
    assert visible_state(world) == before
    events = {"nodeToken": b, "orchestrationId": world.orchestration_id, "events": []}
    assert_refused(
        world, lambda: world.wire.mutation("events:recordEvents", events), code="not_found"
    )


def test_a_revoked_credential(world: World) -> None:
    r = world.node_revoked
    for kind, path, args in [
        ("query", "actions:pendingActions", {}),
        ("mutation", "nodes:registerNode", {"os": "darwin"}),
        (
            "mutation",
            "actions:claimAction",
            {"actionId": world.action_id, "leaseOwner": "daemon-r"},
        ),
    ]:
        reply = assert_refused(
            world,
            partial(world.wire.call, kind, path, {**args, "nodeToken": r}),
            code="revoked",
        )
        assert "revoked" in reply.message
    again = {"enrollmentSecret": ENROLLMENT_SECRET, "name": "laptop-r", "os": "darwin"}
    assert_refused(world, lambda: world.wire.mutation("nodes:enrollNode", again), code="forbidden")


HOSTILE_PHASES = ["1; rm -rf ~", "../1", "$(id)", "1 && reboot", "-1", "1\n2"]


@pytest.mark.parametrize("phase", HOSTILE_PHASES)
def test_hostile_phases(world: World, phase: str) -> None:
    args = {
        "action": {"type": "retry", "orchestrationId": world.orchestration_id, "phase": phase},
        "idempotencyKey": "hostile-phase-1",
    }
    reply = assert_refused(
        world,
        lambda: world.wire.mutation("actions:submitAction", args, token=world.operator),
        code="invalid_argument",
    )
    assert reply.field == "phase"


@pytest.mark.parametrize(
    ("action", "extra"),
    [
        pytest.param({"type": "shell", "command": "rm -rf ~"}, {}, id="unknown-type"),
        pytest.param({"type": "retry", "phase": 1.0}, {}, id="phase-is-a-number"),
        pytest.param(
            {"type": "retry", "phase": "1"}, {"expiresInMs": float("nan")}, id="nan-expiry"
        ),
        pytest.param(
            {"type": "retry", "phase": "1"}, {"expiresInMs": float("inf")}, id="infinite-expiry"
        ),
        pytest.param(
            {"type": "retry", "phase": "1"}, {"expiresInMs": ConvexInt64(60_000)}, id="int64-expiry"
        ),
        pytest.param({"type": "retry", "phase": "1"}, {"client": "x" * 100_000}, id="huge-client"),
        pytest.param({"type": "retry", "phase": "1", "argv": ["--force"]}, {}, id="extra-field"),
        pytest.param(
            {"type": "reject_plan", "phase": "1", "feedback": "x" * 100_000}, {}, id="huge-feedback"
        ),
    ],
)
def test_hostile_actions(world: World, action: dict[str, Any], extra: dict[str, Any]) -> None:
    args = {
        "action": {**action, "orchestrationId": world.orchestration_id},
        "idempotencyKey": "hostile-action-1",
        **extra,
    }
    assert_refused(
        world, lambda: world.wire.mutation("actions:submitAction", args, token=world.operator)
    )


@pytest.mark.parametrize(
    ("agent", "text"),
    [
        ("$(whoami)", "hi"),
        ("../../executor", "hi"),
        ("executor-1", "\x1b[2J clear the screen"),
        ("executor-1", "x" * 100_000),
    ],
)
def test_hostile_messages(world: World, agent: str, text: str) -> None:
    args = {
        "action": {
            "type": "send_message",
            "teamId": world.team_id,
            "agentName": agent,
            "text": text,
        },
        "idempotencyKey": "hostile-message-1",
    }
    assert_refused(
        world,
        lambda: world.wire.mutation("actions:submitAction", args, token=world.operator),
        code="invalid_argument",
    )


@pytest.mark.parametrize("name", ["../laptop", "laptop;reboot", "$(id)", "-rf", "x" * 100_000, ""])
def test_hostile_laptop_names(world: World, name: str) -> None:
    args = {"enrollmentSecret": ENROLLMENT_SECRET, "name": name, "os": "darwin"}
    assert_refused(
        world, lambda: world.wire.mutation("nodes:enrollNode", args), code="invalid_argument"
    )


def test_hostile_snapshots_from_a_laptop(world: World) -> None:
    snapshot = {
        "featureName": "../../etc",
        "specDocPath": "",
        "branch": "b",
        "worktreePath": "/w",
        "totalPhases": 1.0,
        "currentPhase": 1.0,
        "status": "planning",
        "startedAt": T0,
    }
    sync = {"nodeToken": world.node_a, "orchestration": snapshot, "phases": []}
    assert_refused(
        world,
        lambda: world.wire.mutation("orchestrations:syncOrchestration", sync),
        code="invalid_argument",
    )
    nan_start = {
        **sync,
        "orchestration": {**snapshot, "featureName": "ok", "startedAt": float("nan")},
    }
    assert_refused(
        world,
        lambda: world.wire.mutation("orchestrations:syncOrchestration", nan_start),
        code="invalid_argument",
    )
    event = {
        "idempotencyKey": "evt-hostile-0001",
        "eventType": "x",
        "source": "s",
        "summary": "s",
        "recordedAt": float("inf"),
    }
    events = {
        "nodeToken": world.node_a,
        "orchestrationId": world.orchestration_id,
        "events": [event],
    }
    assert_refused(
        world, lambda: world.wire.mutation("events:recordEvents", events), code="invalid_argument"
    )
    int64 = {**events, "events": [{**event, "recordedAt": ConvexInt64(int(T0))}]}
    assert_refused(world, lambda: world.wire.mutation("events:recordEvents", int64))


def test_malformed_requests_and_internal_functions(world: World) -> None:
    assert_refused(
        world, lambda: world.wire.call("mutation", "", raw_body=b"{not json"), status=400
    )
    # Internal functions (Convex Auth's store, crons, scheduled jobs) cannot be called from outside.
    internal: list[tuple[str, dict[str, Any]]] = [
        ("auth:store", {"args": {"type": "signOut"}}),
        ("actions:sweepActions", {}),
        ("actions:expireAction", {"actionId": world.action_id}),
        ("nodes:markStaleOffline", {}),
    ]
    for path, args in internal:
        reply = assert_refused(world, partial(world.wire.mutation, path, args))
        assert "Could not find public function" in reply.message
