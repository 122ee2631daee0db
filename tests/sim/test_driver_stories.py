"""The simulator's side of the stand-in's stories: what it asks of each phase lead's launch, what
the demo turns on, and the hooks it installs on a laptop first."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import attrs

from tina.dev.sim.driver import (
    BLOCKS,
    DEMO_LAPTOP_ENV,
    VALIDATOR,
    OrchestrationSim,
    OrchestrationTeam,
    SimConfig,
)
from tina.dev.sim.sandbox import BIN, Laptop
from tina.dev.sim.standin_claude import STORY_SECS, pick
from tina.hooks import settings as hs

STORIES = {"permission_request", *STORY_SECS}


def launches(cfg: SimConfig, n: int = 40) -> list[dict[str, Any]]:
    sim = OrchestrationSim(None, "f", 1, cfg, random.Random(5))  # type: ignore[arg-type]
    return [sim._scenario()["default"] for _ in range(n)]


def test_by_default_no_story_and_the_seeded_launches_are_unchanged() -> None:
    got = launches(SimConfig())
    assert all(not (STORIES & set(launch)) for launch in got)
    # The stories draw nothing from the seed unless asked for: the same launches as before
    # (tasks, step and ready delays, the error draw, per launch).
    rng = random.Random(5)
    expected = []
    for _ in got:
        expected.append(rng.randint(3, 6))
        rng.uniform(0.3, 1.0), rng.uniform(0.2, 0.8)
        if rng.random() < SimConfig().p_error:
            rng.choice(BLOCKS)
    assert [launch["tasks"] for launch in got] == expected


def test_every_story_when_certain_and_the_stand_in_accepts_them() -> None:
    every = {f.name: 1.0 for f in attrs.fields(SimConfig) if f.name.startswith("p_")}
    cfg = attrs.evolve(SimConfig(speed=2.0), **every | {"p_error": 0.0, "p_review_gaps": 0.0})
    for launch in launches(cfg, 5):
        assert set(launch) >= STORIES
        assert launch["permission_request"] is True
        assert 10.0 <= launch["idle_with_task_secs"] <= 30.0  # story_secs / speed
        assert 60.0 <= launch["stall_secs"] <= 90.0
        scenario, errors = pick({"default": launch}, "1", 1)
        assert errors == []
        assert scenario.stall_secs == launch["stall_secs"]


def test_the_demo_turns_every_kind_on_and_stalls_past_its_laptops_threshold() -> None:
    cfg = SimConfig.demo(seed=3, speed=1.0)
    chances = {f.name: getattr(cfg, f.name) for f in attrs.fields(SimConfig)}
    stories = {k: v for k, v in chances.items() if k.startswith("p_") and k not in
               ("p_error", "p_review_gaps")}  # fmt: skip
    assert len(stories) == 6 and all(v > 0 for v in stories.values()), stories
    assert cfg.hooks
    stall_after = int(DEMO_LAPTOP_ENV["TINA_STALL_AFTER_MINS"]) * 60
    assert cfg.stall_secs[0] >= stall_after + 60  # the daemon looks again every 30 s
    seen = set().union(*(set(launch) for launch in launches(cfg, 60)))
    assert seen >= STORIES


def test_a_laptop_installs_tinas_hooks_as_a_user_does(tmp_path: Path) -> None:
    with Laptop(tmp_path / "lt", "lt", "http://127.0.0.1:1", env={"TINA_X": "1"}) as laptop:
        assert laptop.env()["TINA_X"] == "1"
        laptop.install_hooks()
        doc = json.loads(laptop.claude_settings.read_text())
        assert hs.status(doc).complete
        commands = {
            h["command"] for groups in doc["hooks"].values() for g in groups for h in g["hooks"]
        }
        assert commands == {f"{BIN / 'tina'} hook"}
        laptop.install_hooks()  # idempotent
        assert json.loads(laptop.claude_settings.read_text()) == doc


RECORDER = """\
import json, os, sys
with open(os.environ["RECORD_FILE"], "a") as f:
    f.write(json.dumps(json.load(sys.stdin)) + "\\n")
"""


def test_the_orchestrator_is_a_hooked_session_and_its_teammates_idle_between_steps(
    tmp_path: Path,
) -> None:
    records = tmp_path / "hooks.jsonl"
    recorder = tmp_path / "record.py"
    recorder.write_text(RECORDER)
    with Laptop(
        tmp_path / "lt", "lt", "http://127.0.0.1:1", env={"RECORD_FILE": str(records)}
    ) as lt:
        command = f"{sys.executable} {recorder}"
        lt.claude_settings.write_text(json.dumps({"hooks": {
            e: [{"hooks": [{"type": "command", "command": command}]}]
            for e in ("SessionStart", "UserPromptSubmit", "TaskCreated", "Stop", "TaskCompleted",
                      "TeammateIdle")}}))  # fmt: skip
        worktree = tmp_path / "wt"
        worktree.mkdir()
        team = OrchestrationTeam(lt, "f", worktree, panes=False, hooks=True)
        config = lt.claude / "teams" / "f-orchestration" / "config.json"

        def active() -> dict[str, Any]:
            doc = json.loads(config.read_text())
            return {m["name"]: m.get("isActive") for m in doc["members"]}

        team.create(1)
        assert json.loads(config.read_text())["leadSessionId"] == team.session_id
        team.begin("validate", None, *VALIDATOR)
        assert active() == {"team-lead": None, VALIDATOR[0]: True}
        team.end("validate", None)
        assert active() == {"team-lead": None, VALIDATOR[0]: False}
    docs = [json.loads(line) for line in records.read_text().splitlines()]
    assert {d["session_id"] for d in docs} == {team.session_id}
    assert {d["cwd"] for d in docs} == {str(worktree)}
    events = [d["hook_event_name"] for d in docs]
    assert events == ["SessionStart", "UserPromptSubmit"] + ["TaskCreated"] * 4 + [
        "Stop", "TaskCompleted", "TeammateIdle"]  # fmt: skip
    done = docs[-2]
    assert (done["task_subject"], done["teammate_name"]) == ("validate-design", VALIDATOR[0])
