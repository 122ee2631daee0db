"""SIGKILL the daemon at random points of a stream of changes, restart it each time: Convex ends
equal to the local truth, with no lost observation, no duplicate event and no action run twice."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import Laptop

from .harness import (
    Api,
    ChangeStream,
    Responsiveness,
    Sizes,
    Uptime,
    count_tokens,
    eventually,
    kill_daemon,
    message_pane,
    record_figures,
    settle,
    wait_ready,
)

pytestmark = pytest.mark.timeout(900)

MIN_UP = 1.0  # seconds a restarted daemon runs before the next kill, at least
TERMINAL = {"completed", "failed", "interrupted", "expired", "cancelled"}


class Messenger:
    """Submits a `send_message` action about every `every` seconds, as the dashboard's owner."""

    def __init__(self, api: Api, team_id: str, agent: str, every: float) -> None:
        self.api = api
        self.team_id = team_id
        self.agent = agent
        self.every = every
        self.sent: dict[str, str] = {}  # action id -> token
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="messenger", daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(self.every):
            n += 1
            token = f"<m{n:04d}>"
            try:
                out = self.api.mutation(
                    "actions:submitAction",
                    idempotencyKey=f"chaos-msg-{n:04d}",
                    action={
                        "type": "send_message",
                        "teamId": self.team_id,
                        "agentName": self.agent,
                        "text": f"note {token}",
                    },
                )
            except Exception as exc:
                self.errors.append(f"submit {token}: {exc}")
                continue
            self.sent[str(out["actionId"])] = token

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    backend: BackendProcess,
    laptop_factory: Callable[[str], Laptop],
    owner: Api,
    chaos: Sizes,
    tmp_path: Path,
) -> None:
    seed = int(time.time()) if chaos.form == "full" else 20261122
    rng = random.Random(seed)
    laptop = laptop_factory("kill")
    uptime = Uptime()
    laptop.start_daemon(wait=False)
    uptime.up(wait_ready(laptop))

    # A team whose agent sits in a real tmux pane that logs every line typed into it.
    messages = tmp_path / "pane.log"
    pane = message_pane(laptop, "ops-desk-scribe", messages, laptop.root / "scratch")
    laptop.write_team(
        "ops-desk",
        [{"name": "team-lead"}, {"name": "scribe", "tmuxPaneId": pane}],
        cwd=laptop.root / "scratch",
    )
    ops = eventually(
        lambda: next(
            (t for t in backend.dump("teams")["teams"] if t["dirName"] == "ops-desk"), None
        )
    )
    eventually(lambda: len(backend.dump("teamMembers")["teamMembers"]) == 2)

    stream = ChangeStream(laptop, chaos.changes, seed=seed, lanes=chaos.lanes, pace=chaos.pace)
    messenger = Messenger(owner, ops["_id"], "scribe", every=0.8)
    # One random point in each of `kills` equal slices of the first 90 % of the stream.
    points = [
        (k + rng.uniform(0.15, 0.85)) / chaos.kills * 0.9 * chaos.changes
        for k in range(chaos.kills)
    ]
    downtimes: list[float] = []
    restarts: list[float] = []
    started = time.monotonic()
    # Seconds the daemon did not answer at all (a starved machine) do not count as up time.
    responsive = Responsiveness(laptop, uptime).__enter__()
    stream.start()
    messenger.start()
    try:
        for point in points:
            # The lanes wait at the point until the kill is made: on a busy machine (slow
            # restarts) the stream cannot run out before every planned kill.
            stream.budget.hold(math.ceil(point))
            while not stream.budget.reached(point, timeout=0.05) and not stream.done:
                pass
            while time.monotonic() - uptime.last_up < MIN_UP and not stream.done:
                time.sleep(0.01)
            if stream.done:
                break
            killed_at = time.monotonic()
            uptime.down(killed_at)
            kill_daemon(laptop)
            uptime.kills += 1
            time.sleep(rng.uniform(0.05, 1.5))  # changes go on while the daemon is dead
            t0 = time.monotonic()
            laptop.start_daemon(wait=False)
            ready = wait_ready(laptop)
            uptime.up(ready)
            downtimes.append(ready - killed_at)
            restarts.append(ready - t0)
        stream.budget.release()
        stream.join()
    finally:
        responsive.__exit__()
        stream.budget.release()
        stream.stop()
        messenger.stop()
    run_secs = time.monotonic() - started

    verdict = settle(backend, stream, uptime, laptop, timeout=90)
    assert not verdict.problems, "\n".join(verdict.problems[:40])
    assert uptime.kills == len(points), "the stream ended before every planned kill"
    assert stream.budget.used == chaos.changes
    assert verdict.lost == verdict.duplicates == verdict.reordered == verdict.phantoms == 0
    assert verdict.lost_orchestration_events == verdict.duplicate_orchestration_events == 0
    # The stream really exercised the paths: many transitions had to be observed. How many
    # depends on how long restarts take (states written while the daemon is down need not be
    # seen), which a busy machine stretches: 77-91 % on two quiet cores, 47 % at a load of 7 on
    # two cores. A quarter is still 80 states (short form) to 1,000 (full form) checked one by one.
    assert verdict.must_observe >= verdict.writes * 0.25, verdict.figures()
    assert verdict.journal_lines > 0

    # Actions: every one ends; none ran twice; a completed one ran exactly once.
    assert not messenger.errors, messenger.errors

    def actions() -> dict[str, dict[str, Any]]:
        rows = {a["_id"]: a for a in backend.dump("inboundActions")["inboundActions"]}
        assert all(rows[i]["status"] in TERMINAL for i in messenger.sent), {
            i: rows[i]["status"] for i in messenger.sent if rows[i]["status"] not in TERMINAL
        }
        return rows

    rows = eventually(actions, timeout=60)
    # A line typed just before the last completion may still be on its way to the log: type a
    # sentinel line into the pane after it and wait for that one.
    laptop.tmux("send-keys", "-t", pane, "-l", "--", "note <end>")
    laptop.tmux("send-keys", "-t", pane, "Enter")
    eventually(lambda: count_tokens(messages, r"<end>")["<end>"] == 1)
    delivered = count_tokens(messages)
    by_status: dict[str, int] = {}
    for action_id, token in messenger.sent.items():
        status = rows[action_id]["status"]
        by_status[status] = by_status.get(status, 0) + 1
        assert delivered[token] <= 1, f"{token} delivered {delivered[token]} times"
        if status == "completed":
            assert delivered[token] == 1, (
                f"{token} completed but delivered {delivered[token]} times"
            )
        else:
            assert status == "interrupted", (token, rows[action_id])
    assert by_status.get("completed", 0) >= len(messenger.sent) // 2, by_status
    started_twice = [e for e in laptop.log_events() if e.get("event") == "action.started"]
    counts: dict[str, int] = {}
    for e in started_twice:
        counts[e["action_id"]] = counts.get(e["action_id"], 0) + 1
    assert all(n == 1 for n in counts.values()), counts

    record_figures(
        "sigkill",
        {
            "changes": stream.budget.used,
            "change_kinds": dict(stream.budget.kinds),
            "kills": uptime.kills,
            "run_secs": round(run_secs, 1),
            "restart_to_ready_secs_max": round(max(restarts, default=0.0), 2),
            "downtime_secs_max": round(max(downtimes, default=0.0), 2),
            "actions": len(messenger.sent),
            "actions_by_status": by_status,
            "actions_run_twice": 0,
            "daemon_stalled_secs": round(sum(b - a for a, b in uptime.stalls), 2),
            **verdict.figures(),
        },
    )
