from __future__ import annotations

import itertools
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.usage.conftest import FIXTURES, LEAD_SESSION, WORKTREE
from tina.usage import (
    HOUR_MS,
    Aggregator,
    Attribution,
    Facts,
    OrchestrationFacts,
    TeamFacts,
    UsageLedger,
    UsageRecord,
    load_prices,
)

PRICES = load_prices()
NOW = 1_772_460_000_000


def _record(**changes: Any) -> UsageRecord:
    fields: dict[str, Any] = {
        "key": None,
        "model": "claude-sonnet-4-5",
        "input": 1,
        "output": 2,
        "cache_write": 3,
        "cache_read": 4,
        "at_ms": 1_772_445_485_120,
    }
    return UsageRecord(**(fields | changes))


def test_rows_are_deltas_per_hour_and_bucket() -> None:
    agg = Aggregator()
    orch = Attribution(orchestration_id="o", phase="1", agent="team-lead")
    agg.add(_record(), orch, now_ms=NOW)
    agg.add(_record(input=10), orch, now_ms=NOW)
    agg.add(_record(at_ms=1_772_445_485_120 + HOUR_MS), orch, now_ms=NOW)
    agg.add(_record(), Attribution(), now_ms=NOW)
    rows = [r.to_wire() for r in agg.take(PRICES)]
    assert [(r["hour"], r.get("orchestrationId"), r["messages"], r["input"]) for r in rows] == [
        (1772445485120 - 1772445485120 % HOUR_MS, None, 1, 1),
        (1772445485120 - 1772445485120 % HOUR_MS, "o", 2, 11),
        (1772445485120 - 1772445485120 % HOUR_MS + HOUR_MS, "o", 1, 1),
    ]
    assert agg.take(PRICES) == []


def test_values_convex_would_refuse_become_not_known() -> None:
    agg = Aggregator()
    odd = Attribution(orchestration_id="o", phase="1.2", agent="bad name")
    agg.add(_record(at_ms=5, model="m\x07"), odd, now_ms=NOW)
    agg.add(_record(at_ms=None, model="x" * 200), Attribution(phase="1", agent="a"), now_ms=NOW)
    first, second = (r.to_wire() for r in agg.take(PRICES))
    assert first == {
        "hour": NOW - NOW % HOUR_MS,
        "model": "unknown",
        "messages": 1,
        "input": 1,
        "output": 2,
        "cacheWrite": 3,
        "cacheRead": 4,
    }  # unattributed: no phase or agent either
    assert second["model"] == "unknown"
    assert "phaseNumber" not in second
    assert "agentName" not in second


def test_a_bucket_past_the_wire_bound_starts_a_new_row() -> None:
    agg = Aggregator()
    big = 10**12 - 5
    agg.add(_record(input=big), Attribution(), now_ms=NOW)
    agg.add(_record(input=10), Attribution(), now_ms=NOW)
    rows = agg.take(PRICES)
    assert [r.input for r in rows] == [big, 10]
    assert all(r.input <= 10**12 for r in rows)


FACTS = Facts(
    teams=(TeamFacts(name="billing-export-phase-1", lead_session_id=LEAD_SESSION),),
    orchestrations=(OrchestrationFacts(id="orch1", feature="billing-export", worktree=WORKTREE),),
)
_FILES = sorted((FIXTURES / "projects").rglob("*.jsonl"))
_LINES = [line for path in _FILES for line in path.read_bytes().splitlines(keepends=True)]


def _totals(
    rows: list[dict[str, Any]], *, fine: bool = True
) -> tuple[Counter[tuple[Any, ...]], int]:
    out: Counter[tuple[Any, ...]] = Counter()
    cost = 0
    for r in rows:
        key: tuple[Any, ...] = (r["hour"], r.get("orchestrationId"), r["model"])
        if fine:
            key += (r.get("phaseNumber"), r.get("agentName"))
        for field in ("messages", "input", "output", "cacheWrite", "cacheRead"):
            out[(*key, field)] += r[field]
        cost += r.get("costMicros", 0)
    return out, cost


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    order=st.permutations(range(len(_FILES))),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_rows_sum_to_the_same_totals_however_the_files_grow(
    tmp_path: Path, order: list[int], cuts: list[int]
) -> None:
    """Appending the fixture files' bytes in any pieces, sealing after each, and restarting the
    ledger from its file each time, gives the same tokens per bucket as reading them whole; each
    batch's cost is rounded on its own, so the cost is the same within a micro-dollar a row.

    A message repeated in another file counts where it is read first: with the files read in
    another order, the totals per hour, orchestration and model are the same, not per phase and
    agent (the resumed copy's session is not the team's lead session)."""
    run = tmp_path / f"run-{len(list(tmp_path.iterdir()))}"
    run.mkdir()
    whole = UsageLedger(run / "whole.json", clock=lambda: NOW)
    for path in _FILES:
        whole.read(path, FACTS)
    fine = order == sorted(order)
    expected, expected_cost = _totals([r for b in whole.seal(PRICES) for r in b.rows], fine=fine)

    grown = run / "projects"
    targets = [grown / p.relative_to(FIXTURES / "projects") for p in _FILES]
    for t in targets:
        t.parent.mkdir(parents=True, exist_ok=True)
        t.write_bytes(b"")
    pieces: list[tuple[int, bytes]] = []
    for i in order:
        data = _FILES[i].read_bytes()
        bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
        pieces += [(i, data[a:b]) for a, b in itertools.pairwise(bounds)]
    rows: list[dict[str, Any]] = []
    state = run / "usage.json"
    for i, piece in pieces:
        with targets[i].open("ab") as f:
            f.write(piece)
        ledger = UsageLedger.load(state, clock=lambda: NOW)
        ledger.read(targets[i], FACTS)
        for batch in ledger.seal(PRICES):
            rows += batch.rows
            ledger.acknowledge(batch.id)
    got, cost = _totals(rows, fine=fine)
    assert got == expected
    assert abs(cost - expected_cost) <= len(rows)
    shutil.rmtree(run)
