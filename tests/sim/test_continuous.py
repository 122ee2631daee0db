"""`tina demo --continuous`: the simulator keeps orchestrations coming, each with a feature name
of its own, in turn on every laptop, and nothing waits for a person forever."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import pytest
import trio
import trio.testing

from tina.dev import demo
from tina.dev.sim.driver import FEATURES, OrchestrationSim, SimConfig, Simulator
from tina.dev.sim.sandbox import Laptop


class _Runs:
    """Stands in for each orchestration's run: it starts, and ends when the test says so."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started: list[OrchestrationSim] = []
        self._finish: dict[str, trio.Event] = {}
        self._another = trio.Event()  # set when one more has started
        runs = self

        async def run(sim: OrchestrationSim) -> None:
            runs._finish[sim.feature] = trio.Event()
            runs.started.append(sim)
            runs._another.set()
            await runs._finish[sim.feature].wait()
            sim.done = True

        monkeypatch.setattr(OrchestrationSim, "run", run)

    def finish(self, sim: OrchestrationSim) -> None:
        self._finish[sim.feature].set()

    async def until_started(self, n: int) -> None:
        with trio.fail_after(60):  # virtual seconds: the lanes' stagger is 2 s
            while len(self.started) < n:
                await self._another.wait()
                self._another = trio.Event()


async def test_a_continuous_run_starts_a_new_orchestration_when_one_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    runs = _Runs(monkeypatch)
    laptops = [Laptop(tmp_path / n, n, "http://127.0.0.1:1") for n in ("a", "b", "c")]
    try:
        sim = Simulator(laptops, orchestrations=2, cfg=SimConfig(hooks=False))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(sim.run, continuous=True))
            await runs.until_started(2)
            # Each orchestration that finishes is followed by a new one on its lane.
            for finished in range(6):
                runs.finish(runs.started[finished])
                await runs.until_started(finished + 3)
                assert len(runs.started) == finished + 3
            nursery.cancel_scope.cancel("test done")
    finally:
        for lt in laptops:
            lt.close()
    features = [s.feature for s in runs.started]
    assert len(set(features)) == len(features) == 8
    assert features[:2] == FEATURES[:2]
    # Every laptop gets its turn (orchestration i runs on laptop i mod 3).
    assert {s.laptop.name for s in runs.started} == {"a", "b", "c"}
    assert all(s.done for s in runs.started[:6])


async def test_without_continuous_the_run_ends_when_all_have_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    runs = _Runs(monkeypatch)
    laptops = [Laptop(tmp_path / "a", "a", "http://127.0.0.1:1")]
    try:
        sim = Simulator(laptops, orchestrations=2, cfg=SimConfig(hooks=False))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sim.run)
            await runs.until_started(2)
            for started in runs.started:
                runs.finish(started)
        # The nursery ended: the run returned once both had finished, and started no other.
    finally:
        laptops[0].close()
    assert [s.done for s in sim.sims] == [True, True]
    assert len(runs.started) == 2


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
