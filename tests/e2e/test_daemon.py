"""The real daemon process against the local backend, with real files, a real git worktree,
real `tina-session` and a real tmux server."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_api import Api, eventually
from tina.daemon.sync.coalescer import TeamItem
from tina.daemon.sync.outbox import OutboxFile
from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import BIN, Laptop

pytestmark = pytest.mark.timeout(120)


def rows(backend: BackendProcess, table: str) -> list[dict[str, Any]]:
    return backend.dump(table)[table]


def one(backend: BackendProcess, table: str, **match: Any) -> dict[str, Any] | None:
    found = [r for r in rows(backend, table) if all(r.get(k) == v for k, v in match.items())]
    assert len(found) <= 1, found
    return found[0] if found else None


def journal_ids(worktree: Path) -> list[str]:
    lines = (worktree / ".claude" / "tina" / "events.jsonl").read_text().splitlines()
    return [json.loads(line)["id"] for line in lines]


def in_outbox(laptop: Laptop, task_id: str, status: str) -> bool:
    """Whether the daemon's durable outbox holds an unsent observation of that task state."""
    return any(
        t.task_id == task_id and t.status == status
        for rec in OutboxFile(laptop.state_dir / "outbox" / "outbox.jsonl").load()
        if isinstance(rec, TeamItem)
        for t in rec.tasks
    )


def submit(api: Api, action: dict[str, Any]) -> str:
    out = api.mutation(
        "actions:submitAction", action=action, idempotencyKey=f"e2e-{uuid.uuid4().hex}"
    )
    return str(out["actionId"])


def action_row(backend: BackendProcess, action_id: str) -> dict[str, Any]:
    row = one(backend, "inboundActions", _id=action_id)
    assert row is not None
    return row


def test_orchestrations_teams_tasks_and_events_reach_convex_exactly_once(
    backend: BackendProcess, laptop: Laptop
) -> None:
    laptop.start_daemon()
    wt = laptop.init_orchestration("billing-export", phases=2)
    orch = eventually(lambda: one(backend, "orchestrations", featureName="billing-export"))
    assert orch["worktreePath"] == str(wt)
    assert orch["status"] == "planning"

    laptop.advance("billing-export", "validation", "validation_pass")
    eventually(lambda: one(backend, "phases", phaseNumber="1", status="planning"))
    eventually(
        lambda: (
            sorted(r["idempotencyKey"] for r in rows(backend, "orchestrationEvents"))
            == sorted(journal_ids(wt))
        )
    )

    team = "billing-export-phase-1"
    laptop.write_team(
        team, [{"name": "team-lead", "agentType": "team-lead"}, {"name": "executor-1"}], cwd=wt
    )
    for i in (1, 2, 3):
        laptop.write_task(
            team, str(i), subject=f"task {i}", blocked_by=[str(i - 1)] if i > 1 else []
        )
    team_row = eventually(lambda: one(backend, "teams", dirName=team))
    assert team_row["orchestrationId"] == orch["_id"]
    assert team_row["phaseNumber"] == "1"
    eventually(lambda: len(rows(backend, "taskEvents")) == 3)

    laptop.write_task(
        team, "2", subject="task 2", status="in_progress", owner="executor-1", blocked_by=["1"]
    )
    eventually(lambda: len(rows(backend, "taskEvents")) == 4)
    last = max(rows(backend, "taskEvents"), key=lambda r: r["recordedAt"])
    assert (last["taskId"], last["kind"], last["changes"], last["status"]) == (
        "2",
        "updated",
        ["status", "owner"],
        "in_progress",
    )

    # The same content written again (a new mtime) is no change: no event. A real change
    # written after it is the sentinel: once its event is in, the rewrite has been handled.
    laptop.write_task(
        team, "2", subject="task 2", status="in_progress", owner="executor-1", blocked_by=["1"]
    )
    laptop.write_task(team, "3", subject="task 3, renamed", blocked_by=["2"])
    eventually(lambda: len(rows(backend, "taskEvents")) >= 5)
    events = rows(backend, "taskEvents")
    assert len(events) == 5, events
    assert [(e["taskId"], e["kind"]) for e in events[4:]] == [("3", "updated")]
    members = rows(backend, "teamMembers")
    assert sorted(m["agentName"] for m in members) == ["executor-1", "team-lead"]

    # A phase advance shows up as the phase's new status and as journal events.
    plan = laptop.write_plan(wt, "billing-export", "1")
    laptop.advance("billing-export", "1", "plan_complete", plan_path=str(plan))
    eventually(lambda: one(backend, "phases", phaseNumber="1", status="planned"))
    eventually(
        lambda: (
            sorted(r["idempotencyKey"] for r in rows(backend, "orchestrationEvents"))
            == sorted(journal_ids(wt))
        )
    )

    # The team directory goes away: the team is marked removed, its tasks keep their last state.
    laptop.remove_team(team)
    eventually(lambda: (one(backend, "teams", dirName=team) or {}).get("removedAt"))
    assert len(rows(backend, "tasks")) == 3


def test_an_operator_action_is_claimed_executed_and_completed(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    laptop.start_daemon()
    wt = laptop.init_orchestration("search", phases=2)
    laptop.advance("search", "validation", "validation_pass")
    orch = eventually(lambda: one(backend, "orchestrations", featureName="search"))
    eventually(lambda: one(backend, "phases", phaseNumber="1"))
    state_file = wt / ".claude" / "tina" / "supervisor-state.json"

    pause = submit(owner, {"type": "pause", "orchestrationId": orch["_id"], "phase": "1"})
    done = eventually(
        lambda: (
            action_row(backend, pause)["status"] in ("completed", "failed")
            and action_row(backend, pause)
        )
    )
    assert done["status"] == "completed", done
    assert done["result"]["code"] == "ok"
    state = json.loads(state_file.read_text())
    assert state["phases"]["1"]["paused_from"] == "planning"
    eventually(lambda: one(backend, "phases", phaseNumber="1", status="paused"))

    # Audited: who submitted, which laptop claimed it, the outcome.
    audit = owner.query(
        "audit:list", actionId=pause, paginationOpts={"numItems": 10, "cursor": None}
    )["page"]
    assert [a["verb"] for a in reversed(audit)] == [
        "action.submitted",
        "action.claimed",
        "action.completed",
    ]
    assert all(a["nodeId"] == orch["nodeId"] for a in audit)

    resume = submit(owner, {"type": "resume", "orchestrationId": orch["_id"], "phase": "1"})
    eventually(lambda: action_row(backend, resume)["status"] == "completed")
    assert json.loads(state_file.read_text())["phases"]["1"]["status"] == "planning"
    eventually(lambda: one(backend, "phases", phaseNumber="1", status="planning"))

    # A transition that does not apply fails cleanly with tina-session's reason (its `Error:`).
    retry = submit(owner, {"type": "retry", "orchestrationId": orch["_id"], "phase": "1"})
    failed = eventually(
        lambda: (
            action_row(backend, retry)["status"] in ("completed", "failed")
            and action_row(backend, retry)
        )
    )
    assert failed["status"] == "failed"
    assert failed["result"]["code"] == "cli_exit_non_zero"
    assert (
        failed["result"]["message"] == "Unexpected state: Phase 1 is not blocked (status: planning)"
    )


def test_send_message_reaches_a_tmux_pane_and_the_leads_inbox(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    laptop.start_daemon()
    wt = laptop.init_orchestration("notify", phases=1)
    pane = laptop.open_pane("agent-executor", wt)
    team = "notify-phase-1"
    laptop.write_team(
        team,
        [
            {"name": "team-lead", "tmuxPaneId": ""},  # a lead as Claude Code records it
            {"name": "executor-1", "tmuxPaneId": pane},
        ],
        cwd=wt,
    )
    team_row = eventually(lambda: one(backend, "teams", dirName=team))
    eventually(lambda: len(rows(backend, "teamMembers")) == 2)
    text = f"please rebase onto main {uuid.uuid4().hex[:6]}"
    sent = submit(
        owner,
        {
            "type": "send_message",
            "teamId": team_row["_id"],
            "agentName": "executor-1",
            "text": text,
        },
    )
    done = eventually(
        lambda: (
            action_row(backend, sent)["status"] in ("completed", "failed")
            and action_row(backend, sent)
        )
    )
    assert done["status"] == "completed", done
    assert pane in done["result"]["message"]
    eventually(lambda: text in laptop.capture(pane))

    def finished(action_id: str) -> dict[str, Any]:
        return eventually(
            lambda: (
                action_row(backend, action_id)["status"] in ("completed", "failed")
                and action_row(backend, action_id)
            )
        )

    # The lead has no pane: its inbox reaches it, under Claude Code's lock, and the entry comes
    # back as a team message with the key the result named.
    lead = finished(
        submit(
            owner,
            {
                "type": "send_message",
                "teamId": team_row["_id"],
                "agentName": "team-lead",
                "text": "hi lead",
                "via": "inbox",
            },
        )
    )
    assert (lead["status"], lead["result"]["via"]) == ("completed", "inbox"), lead
    inbox = json.loads((laptop.claude / "teams" / team / "inboxes" / "team-lead.json").read_text())
    assert [(e["from"], e["text"], e["read"]) for e in inbox] == [("tina", "hi lead", False)]
    assert not (laptop.claude / "teams" / team / "inboxes" / "team-lead.json.lock").exists()
    eventually(lambda: one(backend, "teamMessages", key=lead["result"]["messageKey"]))
    # Its tmux session (tina-session start's) does not exist here: refused, saying which.
    gone = finished(
        submit(
            owner,
            {
                "type": "send_message",
                "teamId": team_row["_id"],
                "agentName": "team-lead",
                "text": "hi again",
                "via": "lead_session",
            },
        )
    )
    assert (gone["status"], gone["result"]["code"]) == ("failed", "lead_session_gone"), gone
    assert Laptop.phase_session("notify", "1") in gone["result"]["message"]


def test_malformed_files_are_logged_with_their_path_and_skipped(
    backend: BackendProcess, laptop: Laptop
) -> None:
    laptop.start_daemon()
    wt = laptop.init_orchestration("tolerant", phases=1)
    team = "tolerant-phase-1"
    laptop.write_team(team, [{"name": "team-lead"}], cwd=wt)
    laptop.write_task(team, "1", subject="good")
    eventually(lambda: len(rows(backend, "tasks")) == 1)
    broken = laptop.claude / "tasks" / team / "2.json"
    broken.write_text('{"id": "2", "subject": "half')
    unreadable_dir = laptop.claude / "tasks" / team / "3.json"
    unreadable_dir.mkdir()
    (wt / ".claude" / "tina" / "supervisor-state.json").write_text("{ truncated")
    eventually(
        lambda: any(
            e.get("event") == "file.unreadable" and e.get("path") == str(broken)
            for e in laptop.log_events()
        )
    )
    # Everything else keeps working.
    laptop.write_task(team, "4", subject="still synced")
    eventually(lambda: len(rows(backend, "tasks")) == 2)
    status = laptop.status()
    assert status is not None
    assert all(c["state"] == "running" for c in status["tree"])


def test_a_crashing_actor_is_restarted_while_the_others_keep_working(
    backend: BackendProcess, laptop: Laptop
) -> None:
    # Fault injection (a diagnostic of the daemon): the claude watcher raises twice, shortly after it starts.
    laptop.start_daemon(env={"TINA_INJECT_FAULTS": "claude:2"})
    wt = laptop.init_orchestration("resilient", phases=1)
    eventually(lambda: one(backend, "orchestrations", featureName="resilient"))
    claude = eventually(
        lambda: next(
            (
                c
                for c in (laptop.status() or {}).get("tree", [])
                if c["id"] == "claude" and c["restarts"] >= 2 and c["state"] == "running"
            ),
            None,
        )
    )
    assert "injected fault" in (claude["last_error"] or "")
    tree = {c["id"]: c for c in (laptop.status() or {})["tree"]}
    assert tree["syncer"]["restarts"] == 0
    assert tree["convex"]["restarts"] == 0
    # The restarted watcher works.
    laptop.write_team("resilient-phase-1", [{"name": "team-lead"}], cwd=wt)
    eventually(lambda: one(backend, "teams", dirName="resilient-phase-1"))


def test_the_backend_stopped_and_restarted_mid_run_loses_nothing(
    backend_factory: Any, tmp_path: Path, laptop_factory: Any
) -> None:
    from .conftest import auth_env

    backend = backend_factory(env=auth_env(), state_file=tmp_path / "convex-state.json")
    laptop = Laptop(
        tmp_path / "laptop-r",
        "laptop-r",
        backend.url,
        enrollment_secret="e2e-enrollment-secret-0123456789",
    )
    try:
        laptop.start_daemon()
        wt = laptop.init_orchestration("outage", phases=2)
        team = "outage-phase-1"
        laptop.write_team(team, [{"name": "team-lead"}], cwd=wt)
        laptop.write_task(team, "1", subject="one")
        eventually(lambda: len(rows(backend, "tasks")) == 1)

        backend.stop()
        # Work goes on while Convex is unreachable: every step of it must arrive.
        laptop.advance("outage", "validation", "validation_pass")
        laptop.write_task(team, "1", subject="one", status="in_progress", owner="team-lead")
        eventually(lambda: in_outbox(laptop, "1", "in_progress"))  # the daemon observed it
        laptop.write_task(team, "2", subject="two")
        laptop.write_task(team, "1", subject="one", status="completed", owner="team-lead")
        eventually(
            lambda: in_outbox(laptop, "2", "pending") and in_outbox(laptop, "1", "completed")
        )
        status = laptop.status()
        assert status is not None
        assert status["info"]["connection"] != "connected"
        assert status["info"]["outbox"] > 0

        backend.start()
        eventually(
            lambda: (
                {r["taskId"]: r["status"] for r in rows(backend, "tasks")}
                == {"1": "completed", "2": "pending"}
            ),
            timeout=30,
        )
        eventually(lambda: one(backend, "phases", phaseNumber="1", status="planning"))
        eventually(
            lambda: (
                sorted(r["idempotencyKey"] for r in rows(backend, "orchestrationEvents"))
                == sorted(journal_ids(wt))
            )
        )
        # Every state observed while Convex was down arrived, in order, once.
        events = rows(backend, "taskEvents")
        assert [e["status"] for e in events if e["taskId"] == "1"] == [
            "pending",
            "in_progress",
            "completed",
        ]
        assert len({e["idempotencyKey"] for e in events}) == len(events)
        eventually(lambda: (laptop.status() or {}).get("info", {}).get("outbox") == 0)
    finally:
        laptop.close()


def test_a_revoked_laptop_stops_writing_says_so_and_does_not_retry_in_a_loop(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    laptop.start_daemon(env={"TINA_HEARTBEAT_SECS": "1"})
    wt = laptop.init_orchestration("revoked", phases=1)
    team = "revoked-phase-1"
    laptop.write_team(team, [{"name": "team-lead"}], cwd=wt)
    laptop.write_task(team, "1", subject="before")
    orch = eventually(lambda: one(backend, "orchestrations", featureName="revoked"))
    eventually(lambda: len(rows(backend, "tasks")) == 1)

    owner.mutation("nodes:revokeNode", nodeId=orch["nodeId"])
    for i in range(2, 12):  # work goes on locally
        laptop.write_task(team, str(i), subject=f"after {i}")
        time.sleep(0.2)
    status = eventually(
        lambda: (
            "revoked" in ((laptop.status() or {}).get("info", {}).get("refused") or "")
            and laptop.status()
        )
    )
    assert status is not None

    def syncer_refused_and_holds_the_rest() -> bool:
        tree = {c["id"]: c for c in (laptop.status() or {}).get("tree", [])}
        blocked = (tree.get("syncer") or {}).get("detail", {}).get("blocked") or ""
        return "revoked" in blocked and in_outbox(laptop, "11", "pending")

    # The sentinel: the syncer itself was refused, after the daemon observed the last write.
    eventually(syncer_refused_and_holds_the_rest)
    assert len(rows(backend, "tasks")) == 1  # nothing written after the revocation
    events = [e["event"] for e in laptop.log_events()]
    assert events.count("sync.credential_refused") == 1
    assert events.count("node.credential_refused") == 1
    assert events.count("sync.rejected") == 0
    doctor = laptop.run([str(BIN / "tina"), "daemon", "doctor"], check=False)
    assert doctor.returncode == 1
    assert "revoked" in doctor.stdout
    assert "tina daemon enroll" in doctor.stdout


def test_the_simulator_drives_a_whole_orchestration_through_the_real_daemon(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    import trio

    from tina.dev.sim.driver import SimConfig, Simulator

    laptop.start_daemon()
    sim = Simulator(
        [laptop],
        orchestrations=2,
        phases=(2, 2),
        cfg=SimConfig(
            seed=11,
            speed=25,
            auto_retry_after=0.2,
            auto_approve_after=0.2,
            require_plan_approval_every=2,
            tasks_per_phase=(2, 3),
        ),
    )
    trio.run(sim.run)
    assert all(s.done for s in sim.sims)
    eventually(
        lambda: (
            sorted(o["status"] for o in rows(backend, "orchestrations")) == ["complete", "complete"]
        ),
        timeout=30,
    )
    # Every journal line of both worktrees arrived once; tasks went through their states.
    journals = sorted(i for s in sim.sims if s.worktree for i in journal_ids(s.worktree))
    eventually(
        lambda: (
            sorted(r["idempotencyKey"] for r in rows(backend, "orchestrationEvents")) == journals
        )
    )
    statuses = {e["status"] for e in rows(backend, "taskEvents")}
    assert {"pending", "in_progress", "completed"} <= statuses
    assert len({e["idempotencyKey"] for e in rows(backend, "taskEvents")}) == len(
        rows(backend, "taskEvents")
    )
    # The stand-in leads made the phase teams; the orchestrator's team is the driver's, and a
    # message from the dashboard reaches its teammates' tmux panes.
    teams = {t["dirName"]: t for t in rows(backend, "teams")}
    for s in sim.sims:
        assert {f"{s.feature}-orchestration", f"{s.feature}-phase-1"} <= set(teams), sorted(teams)
    team = teams[f"{sim.sims[0].feature}-orchestration"]
    text = f"status please {uuid.uuid4().hex[:6]}"
    sent = submit(
        owner,
        {
            "type": "send_message",
            "teamId": team["_id"],
            "agentName": "phase-executor",
            "text": text,
        },
    )
    done = eventually(
        lambda: (
            action_row(backend, sent)["status"] in ("completed", "failed")
            and action_row(backend, sent)
        )
    )
    assert done["status"] == "completed", done
    pane = done["result"]["message"].rsplit(" ", 1)[-1]
    eventually(lambda: text in laptop.capture(pane))


def test_a_phase_its_lead_blocks_is_retried_from_the_dashboard_and_a_new_lead_finishes_it(
    backend: BackendProcess, laptop: Laptop, owner: Api
) -> None:
    import threading

    import trio

    from tina.dev.sim.driver import SimConfig, Simulator

    laptop.start_daemon()
    # Every lead blocks until the retry; no review gaps, no approval gate, no automatic retry.
    cfg = SimConfig(
        seed=3,
        speed=25,
        p_error=1.0,
        p_review_gaps=0.0,
        require_plan_approval_every=0,
        tasks_per_phase=(2, 2),
    )
    sim = Simulator([laptop], orchestrations=1, phases=(1, 1), cfg=cfg)
    (orchestration,) = sim.sims
    failed: list[BaseException] = []

    def drive() -> None:
        try:
            trio.run(sim.run)
        except BaseException as exc:  # reported by the test
            failed.append(exc)

    driver = threading.Thread(target=drive, name="simulator", daemon=True)
    driver.start()
    feature = orchestration.feature
    blocked = eventually(
        lambda: one(backend, "phases", phaseNumber="1", status="blocked"), timeout=60
    )
    # The lead's reason, as the phase executor reports it (`wait` exit 1, the status file's gate).
    assert blocked["blockedReason"] in {
        "blocked at verify gate: Verification gate failed",
        "blocked at complexity gate: Complexity gate failed",
        "Phase reviewer rejected 3 times",
    }, blocked
    orch = eventually(lambda: one(backend, "orchestrations", featureName=feature))
    assert orch["status"] == "blocked"

    cfg.p_error = 0.0  # the next lead completes
    retry = submit(owner, {"type": "retry", "orchestrationId": orch["_id"], "phase": "1"})
    eventually(lambda: action_row(backend, retry)["status"] == "completed", timeout=30)
    driver.join(90)
    assert not driver.is_alive() and not failed, failed
    assert orchestration.done
    eventually(lambda: one(backend, "orchestrations", featureName=feature, status="complete"))

    # Both leads were started by `tina-session start` in the phase's tmux session, as the real
    # tool starts Claude Code: the command line (which found the sandbox's stand-in `claude`),
    # then the team-lead-init line.
    standin_log = laptop.claude / "tina-standin.log"
    records = [json.loads(line) for line in standin_log.read_text().splitlines()]
    starts = [r for r in records if r["event"] == "start"]
    claude = str(laptop.bin / "claude")
    assert [r["argv"] for r in starts] == [[claude, "--dangerously-skip-permissions"]] * 2
    assert all(r["cwd"] == str(orchestration.worktree) for r in starts)
    plan = f"{orchestration.worktree}/docs/plans/2026-11-21-{feature}-phase-1.md"
    inits = [r["line"] for r in records if r["event"] == "input" and r["line"].strip()]
    assert inits == [f"/tina:team-lead-init team_name: {feature}-phase-1 plan_path: {plan}"] * 2
    assert [r["outcome"] for r in records if r["event"] == "outcome"] == ["blocked", "complete"]
    # The phase team is the lead's: its tasks reached Convex, completed.
    team = eventually(lambda: one(backend, "teams", dirName=f"{feature}-phase-1"))
    assert team["orchestrationId"] == orch["_id"]
    eventually(
        lambda: (
            {t["status"] for t in rows(backend, "tasks") if t["teamId"] == team["_id"]}
            == {"completed"}
        )
    )
