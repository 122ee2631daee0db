"""`tina demo --continuous`: the simulator keeps orchestrations coming, each with a feature name
of its own, in turn on every laptop, and nothing waits for a person forever."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import trio
import trio.testing

from tina.dev import demo
from tina.dev.sim.driver import FEATURES, OrchestrationSim, SimConfig, Simulator
from tina.dev.sim.sandbox import Laptop


async def test_a_continuous_run_starts_a_new_orchestration_when_one_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    ran: list[tuple[str, str, float]] = []

    async def finish(self: OrchestrationSim) -> None:
        ran.append((self.feature, self.laptop.name, trio.current_time()))
        await trio.sleep(30)  # an orchestration's run, in the mock clock's seconds
        self.done = True

    monkeypatch.setattr(OrchestrationSim, "run", finish)
    laptops = [Laptop(tmp_path / n, n, "http://127.0.0.1:1") for n in ("a", "b", "c")]
    try:
        sim = Simulator(laptops, orchestrations=2, cfg=SimConfig(hooks=False))
        with trio.move_on_after(100):
            await sim.run(continuous=True)
    finally:
        for lt in laptops:
            lt.close()
    # Two lanes, each a new orchestration 30 s (+ a 2 s stagger) after the last finished.
    assert len(ran) == 8, ran
    features = [f for f, _, _ in ran]
    assert len(set(features)) == len(features)
    assert features[:2] == FEATURES[:2]
    # Every laptop gets its turn (orchestration i runs on laptop i mod 3).
    assert {lt for _, lt, _ in ran} == {"a", "b", "c"}
    assert all(s.done for s in sim.sims[:6])


async def test_without_continuous_the_run_ends_when_all_have_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    async def finish(self: OrchestrationSim) -> None:
        await trio.sleep(30)
        self.done = True

    monkeypatch.setattr(OrchestrationSim, "run", finish)
    laptops = [Laptop(tmp_path / "a", "a", "http://127.0.0.1:1")]
    try:
        sim = Simulator(laptops, orchestrations=2, cfg=SimConfig(hooks=False))
        with trio.fail_after(100):
            await sim.run()
    finally:
        laptops[0].close()
    assert [s.done for s in sim.sims] == [True, True]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    demo.add_demo(parser.add_subparsers())
    return parser.parse_args(["demo", *argv])


def test_continuous_answers_for_a_person_who_does_not_and_scales_with_speed() -> None:
    still = demo.sim_config(_args())
    assert (still.auto_retry_after, still.auto_approve_after) == (None, None)
    cfg = demo.sim_config(_args("--continuous", "--speed", "4"))
    assert cfg.auto_retry_after == cfg.auto_approve_after == demo.CONTINUOUS_ANSWER_AFTER / 4
    assert cfg.p_permission_prompt > 0  # still the demo's stories
