"""Exceptions injected into each actor in turn (`TINA_INJECT_FAULTS`): the actor restarts alone,
with exponential backoff, and everything works afterwards; an actor that keeps failing makes the
supervisor give up and the process exit non-zero, for launchd to start it afresh.

One laptop per actor, all at once against one backend (a daemon mostly waits, so fifteen of them
fit on two cores), keeps the suite short.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import Laptop

from .harness import Api, eventually, log_events, record_figures, wait_ready

pytestmark = pytest.mark.timeout(600)

ACTORS = [
    "convex",
    "watch",
    "syncer",
    "presence",
    "claude",
    "worktrees",
    "discovery",
    "dispatcher",
    "listener",
    "hooks",
    "prompts",
    "decisions",
    "needs",
    "control",
]
FAULTS = 2
# The root supervisor's backoff (tina/daemon/app.py): the n-th consecutive restart waits
# min(cap, 0.5 * 2**(n-1)) scaled by a factor in [0.5, 1.5].
INITIAL, JITTER = 0.5, 0.5


def tree(laptop: Laptop) -> dict[str, dict[str, Any]]:
    status = laptop.status()
    return {} if status is None else {c["id"]: c for c in status["tree"]}


def rows(backend: BackendProcess, table: str) -> list[dict[str, Any]]:
    return backend.dump(table)[table]


def one(backend: BackendProcess, table: str, **match: Any) -> dict[str, Any] | None:
    found = [r for r in rows(backend, table) if all(r.get(k) == v for k, v in match.items())]
    assert len(found) <= 1, found
    return found[0] if found else None


def test_each_actor_restarts_alone_with_backoff_and_a_crash_loop_escalates(
    backend: BackendProcess,
    laptop_factory: Callable[[str], Laptop],
    owner: Api,
) -> None:
    # Every laptop has work before its daemon starts (an orchestration in phase 1, a team with a
    # task), so the faults hit actors that are busy: watchers running, worktree children started.
    laptops: dict[str, Laptop] = {}
    for actor in ACTORS:
        laptop = laptop_factory(f"fault-{actor}")
        worktree = laptop.init_orchestration(f"f-{actor}", phases=2)
        laptop.advance(f"f-{actor}", "validation", "validation_pass")
        laptop.write_team(f"t-{actor}", [{"name": "team-lead"}], cwd=worktree)
        laptop.write_task(f"t-{actor}", "1", subject="before", status="pending")
        laptop.enroll()
        laptops[actor] = laptop
    looping = laptop_factory("fault-loop")  # an actor that never stops failing
    looping.enroll()
    for actor, laptop in laptops.items():
        laptop.start_daemon(
            wait=False, env={"TINA_INJECT_FAULTS": f"{actor}:{FAULTS}", "TINA_HEARTBEAT_SECS": "1"}
        )
    looping.start_daemon(wait=False, env={"TINA_INJECT_FAULTS": "claude:1000"})
    started = time.monotonic()

    figures: dict[str, Any] = {}
    for actor, laptop in laptops.items():
        # The faulty actor crashed FAULTS times and runs again; every sibling never restarted.
        def recovered(laptop: Laptop = laptop, actor: str = actor) -> bool:
            t = tree(laptop)
            return bool(t) and t[actor]["restarts"] == FAULTS and t[actor]["state"] == "running"

        eventually(recovered, timeout=60)
        wait_ready(laptop)
        t = tree(laptop)
        assert "injected fault" in (t[actor]["last_error"] or "")
        siblings = {a: (c["restarts"], c["state"]) for a, c in t.items() if a != actor}
        assert all(r == (0, "running") for r in siblings.values()), (
            actor,
            siblings,
            [
                (e["actor"], e.get("error"))
                for e in log_events(laptop, "actor.crashed")
                if e.get("actor") not in (actor, None)
            ],
        )

        # Restarts backed off exponentially: each delay within the n-th step's jitter bounds.
        delays = [
            e["delay"] for e in log_events(laptop, "actor.restarting") if e.get("actor") == actor
        ]
        assert len(delays) == FAULTS, (actor, delays)
        for n, delay in enumerate(delays, start=1):
            base = INITIAL * 2 ** (n - 1)
            assert base * (1 - JITTER) - 0.01 <= delay <= base * (1 + JITTER) + 0.01, (
                actor,
                n,
                delay,
            )
        figures[actor] = {"restarts": FAULTS, "delays": delays}

    # Afterwards the whole daemon works: files still sync, actions still run, heartbeats go on.
    actions: dict[str, str] = {}
    for actor, laptop in laptops.items():
        laptop.write_task(
            f"t-{actor}", "1", subject="after", status="in_progress", owner="team-lead"
        )
        orch = eventually(
            lambda actor=actor: one(backend, "orchestrations", featureName=f"f-{actor}")
        )
        eventually(
            lambda orch=orch: one(backend, "phases", orchestrationId=orch["_id"], phaseNumber="1")
        )
        out = owner.mutation(
            "actions:submitAction",
            action={"type": "pause", "orchestrationId": orch["_id"], "phase": "1"},
            idempotencyKey=f"fault-pause-{actor}",
        )
        actions[actor] = out["actionId"]
    for actor, laptop in laptops.items():
        team = eventually(lambda actor=actor: one(backend, "teams", dirName=f"t-{actor}"))
        eventually(
            lambda team=team: (
                (one(backend, "tasks", teamId=team["_id"], taskId="1") or {}).get("subject")
                == "after"
            ),
            timeout=20,
        )
        try:
            # A pause runs the tina-session CLI: fifteen Python processes starting at once
            # take a while on two busy cores (4-8 s each at a load of 12).
            done = eventually(
                lambda actor=actor: (
                    (one(backend, "inboundActions", _id=actions[actor]) or {}).get("status")
                    in ("completed", "failed", "interrupted", "expired")
                    and one(backend, "inboundActions", _id=actions[actor])
                ),
                timeout=90,
            )
        except AssertionError as exc:
            raise AssertionError(
                actor,
                one(backend, "inboundActions", _id=actions[actor]),
                log_events(laptop, "action.started", "action.finished", "node.signed_off"),
            ) from exc
        assert done["status"] == "completed", (actor, done)
        orch = one(backend, "orchestrations", featureName=f"f-{actor}")
        assert orch is not None
        eventually(
            lambda orch=orch: (
                (one(backend, "phases", orchestrationId=orch["_id"], phaseNumber="1") or {}).get(
                    "status"
                )
                == "paused"
            ),
            timeout=20,
        )
        node = one(backend, "nodes", name=laptop.name)
        assert node is not None
        # Signs of life go to `presence` (heartbeats and every other call of the laptop).
        beat = (one(backend, "presence", nodeId=node["_id"]) or {}).get("lastBeatAt", 0)
        eventually(
            lambda node=node, beat=beat: (
                (one(backend, "presence", nodeId=node["_id"]) or {}).get("lastBeatAt", 0) > beat
            ),
            timeout=10,
        )

    # No daemon signed off while it ran: a restarted presence actor does not (the laptop would
    # show offline, then online again).
    signed_off = {a: log_events(lt, "node.signed_off") for a, lt in laptops.items()}
    assert not any(signed_off.values()), signed_off

    # The actor that keeps crashing: the supervisor gives up, the process exits 1.
    proc = looping.daemon
    assert proc is not None
    code = proc.wait(120)
    gave_up_after = time.monotonic() - started
    assert code == 1, looping.log_tail()
    events = [e["event"] for e in looping.log_events()]
    assert "daemon.gave_up" in events
    crashes = sum(
        1
        for e in looping.log_events()
        if e.get("event") == "actor.crashed" and e.get("actor") == "claude"
    )
    assert crashes == 11, crashes  # intensity: more than 10 restarts within 60 s
    record_figures(
        "faults",
        {
            "actors": figures,
            "crash_loop_exit_code": code,
            "crash_loop_gave_up_after_secs": round(gave_up_after, 1),
        },
    )
