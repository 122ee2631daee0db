"""The simulator's side of the stand-in's stories: what it asks of each phase lead's launch, what
the demo turns on, and the hooks it installs on a laptop first."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import attrs

from tina.dev.sim.driver import BLOCKS, DEMO_LAPTOP_ENV, OrchestrationSim, SimConfig
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
        assert 45.0 <= launch["stall_secs"] <= 75.0
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
    assert cfg.stall_secs[0] > stall_after
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
