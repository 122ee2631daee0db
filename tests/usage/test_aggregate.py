from __future__ import annotations

import itertools
import shutil
from collections import Counter
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
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
    Tokens,
    UsageLedger,
    UsageRecord,
    load_prices,
)
from tina.usage.prices import raw_cost, round_micros

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
    # A line stamped in the future (its laptop's clock was wrong): counted at the time it was
    # read, where Convex takes it (it refuses an hour more than a day ahead: the whole batch).
    agg.add(_record(at_ms=5_680_000_000_000, model="m\x07"), odd, now_ms=NOW)
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
    # the line stamped in 2150 and the one in 1970, both at the time they were read
    assert (second["hour"], second["messages"]) == (NOW - NOW % HOUR_MS, 2)


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


def _hour(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_a_dated_model_is_priced_by_each_rows_hour() -> None:
    agg = Aggregator()
    reads = {"model": "claude-sonnet-5-5", "input": 0, "output": 0, "cache_write": 0}
    for at in ("2026-09-27T23:30", "2026-10-06T23:59", "2026-10-07T00:00", "2026-10-07T00:10"):
        agg.add(
            _record(**reads, cache_read=1_000_000, at_ms=_hour(f"{at}:00+00:00")),
            Attribution(),
            now_ms=_hour("2026-10-08T00:00:00+00:00"),
        )
    rows = agg.take(PRICES)
    assert [(r.messages, r.cost_micros) for r in rows] == [
        (1, None),  # before Sonnet 5.5's first period: no price
        (1, 200_000),  # $0.20 a million reads
        (2, 200_000),  # $0.10 from 2026-10-07
    ]
    assert "costMicros" not in rows[0].to_wire()


def test_a_rows_web_searches_are_summed_sent_and_priced_on_top_of_its_tokens() -> None:
    agg = Aggregator()
    orch = Attribution(orchestration_id="o", phase="1", agent="researcher")
    agg.add(_record(web_searches=2), orch, now_ms=NOW)
    agg.add(_record(web_searches=3), orch, now_ms=NOW)
    agg.add(_record(), Attribution(), now_ms=NOW)
    searched, plain = sorted(agg.take(PRICES), key=lambda r: r.web_searches, reverse=True)
    tokens = round_micros(
        raw_cost(
            PRICES.price("claude-sonnet-4-5"),  # type: ignore[arg-type]
            input=2,
            output=4,
            cache_write=6,
            cache_read=8,
        )
    )
    assert searched.to_wire()["webSearches"] == 5
    assert searched.cost_micros == tokens + 5 * 10_000  # $10 a thousand
    assert "webSearches" not in plain.to_wire()
    # Searches before web search had a price: the row's cost is not known, not its tokens' alone.
    agg.add(_record(web_searches=1, at_ms=_hour("2025-05-06T12:00:00+00:00")), orch, now_ms=NOW)
    agg.add(_record(at_ms=_hour("2025-05-06T13:00:00+00:00")), orch, now_ms=NOW)
    early, later = agg.take(PRICES)
    assert (early.web_searches, early.cost_micros) == (1, None)
    assert later.cost_micros is not None


def test_fast_messages_are_priced_at_their_models_fast_rates_within_one_row() -> None:
    at = _hour("2026-12-01T10:00:00+00:00")
    agg = Aggregator()
    opus = {"model": "claude-opus-5-5", "at_ms": at}
    agg.add(_record(**opus), Attribution(), now_ms=NOW)
    agg.add(_record(**opus, speed="fast"), Attribution(), now_ms=NOW)
    (row,) = agg.take(PRICES)
    assert row.messages == 2  # one bucket: the speed is not a field of the row
    tokens = {"input": 1, "output": 2, "cache_write": 3, "cache_read": 4}
    standard = PRICES.price("claude-opus-5-5", at_ms=at)
    fast = PRICES.price("claude-opus-5-5", at_ms=at, speed="fast")
    assert standard is not None and fast is not None
    assert row.cost_micros == round_micros(raw_cost(standard, **tokens) + raw_cost(fast, **tokens))
    # One message at a speed its model has no rates for: the row has no cost, not a standard one.
    for model, speed in (("claude-mythos-5-2", "fast"), ("claude-opus-5-5", "priority")):
        agg.add(_record(model=model, at_ms=at), Attribution(), now_ms=NOW)
        agg.add(_record(model=model, at_ms=at, speed=speed), Attribution(), now_ms=NOW)
        (row,) = agg.take(PRICES)
        assert (row.messages, row.cost_micros) == (2, None), (model, speed)


def test_a_us_inference_message_pays_the_multiplier_and_an_unknown_geography_no_cost() -> None:
    at = _hour("2026-12-01T10:00:00+00:00")
    agg = Aggregator()
    tokens = {"input": 1_000, "output": 1_000, "cache_write": 0, "cache_read": 0}
    agg.add(_record(model="claude-opus-5-5", at_ms=at, **tokens), Attribution(), now_ms=NOW)
    agg.add(
        _record(model="claude-opus-5-5", at_ms=at, geo="us", **tokens), Attribution(), now_ms=NOW
    )
    (row,) = agg.take(PRICES)
    assert row.cost_micros == 24_000 + 26_400
    agg.add(_record(model="claude-opus-5-5", at_ms=at, geo="eu"), Attribution(), now_ms=NOW)
    (row,) = agg.take(PRICES)
    assert row.cost_micros is None


def test_a_compaction_is_priced_by_its_own_prompt_not_added_to_the_messages() -> None:
    at = _hour("2026-03-01T10:00:00+00:00")
    record = _record(
        model="claude-sonnet-4-5",
        at_ms=at,
        input=203_000,
        output=4_500,
        cache_write=0,
        cache_read=0,
        compactions=(Tokens(input=180_000, output=3_500, cache_write=0, cache_read=0),),
    )
    agg = Aggregator()
    agg.add(record, Attribution(), now_ms=NOW)
    (row,) = agg.take(PRICES)
    assert (row.input, row.output) == (203_000, 4_500)  # what the request billed, in all
    # Neither step's prompt is over Sonnet 4.5's 200K: both at $3 / $15, not the long rates.
    assert row.cost_micros == 203_000 * 3 + 4_500 * 15


def test_a_fast_message_over_200k_pays_opus_4_6s_fast_long_prompt_rates() -> None:
    at = _hour("2026-03-01T10:00:00+00:00")
    agg = Aggregator()
    big = {"input": 10, "output": 100, "cache_write": 0, "cache_read": 250_000}
    agg.add(
        _record(model="claude-opus-4-6", at_ms=at, speed="fast", **big), Attribution(), now_ms=NOW
    )
    agg.add(_record(model="claude-opus-4-6", at_ms=at, **big), Attribution(), now_ms=NOW)
    (row,) = agg.take(PRICES)
    # fast over 200K: $60 in, $225 out, $6 a million reads; standard: $5, $25, $0.50
    assert row.cost_micros == (10 * 60 + 100 * 225 + 250_000 * 6) + (10 * 5 + 100 * 25 + 125_000)


def _haiku(prompt: int, **changes: Any) -> UsageRecord:
    """A Haiku 5.5 message whose prompt is `prompt` tokens (a tenth of it new input)."""
    fields = {
        "input": prompt // 10,
        "output": 7,
        "cache_write": 0,
        "cache_read": prompt - prompt // 10,
    }
    return _record(model="claude-haiku-5-5", **(fields | changes))


def test_tiers_are_chosen_per_message_and_the_row_cost_is_their_exact_sum() -> None:
    small, large = _haiku(1_007), _haiku(150_003)
    agg = Aggregator()
    for record in (small, large):
        agg.add(record, Attribution(), now_ms=NOW)
    (row,) = agg.take(PRICES)
    assert (row.messages, row.input, row.cache_read) == (2, 100 + 15_000, 907 + 135_003)
    haiku = PRICES.schedule("claude-haiku-5-5")
    assert haiku is not None
    (period,) = haiku.periods

    def raw(record: UsageRecord, prompt: int) -> Decimal:
        tokens = {k: getattr(record, k) for k in ("input", "output", "cache_write", "cache_read")}
        return raw_cost(period.price_for(prompt), **tokens)

    exact = raw(small, 1_007) + raw(large, 150_003)
    assert row.cost_micros == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    # 0.1 x 100 + 0.5 x 7 + 0.01 x 907, and 0.5 x 15000 + 2.5 x 7 + 0.05 x 135003: 14290.22
    assert row.cost_micros == 14290
    # Neither rate for the whole row would be right.
    both = {k: getattr(row, k) for k in ("input", "output", "cache_write", "cache_read")}
    assert row.cost_micros not in (
        round_micros(raw_cost(period.price_for(0), **both)),
        round_micros(raw_cost(period.price_for(200_000), **both)),
    )


def test_the_threshold_is_exclusive_at_above() -> None:
    agg = Aggregator()
    agg.add(_haiku(100_000, input=100_000, cache_read=0, output=0), Attribution(), now_ms=NOW)
    agg.add(_haiku(100_001, input=100_001, cache_read=0, output=0), Attribution(), now_ms=NOW + 1)
    (row,) = agg.take(PRICES)
    # 100,000 x $0.10 + 100,001 x $0.50 = 10,000 + 50,000.5, rounded once
    assert row.cost_micros == 60_001


def test_a_row_is_rounded_once_over_its_bands() -> None:
    agg = Aggregator()
    agg.add(_haiku(7, input=7, cache_read=0, output=0), Attribution(), now_ms=NOW)
    agg.add(_haiku(100_001, input=100_001, cache_read=0, output=0), Attribution(), now_ms=NOW)
    (row,) = agg.take(PRICES)
    assert row.cost_micros == 50_001  # 0.7 + 50,000.5; rounding each band would give 50,002


def test_a_tier_the_buckets_were_not_cut_at_gives_no_cost_until_they_are(tmp_path: Path) -> None:
    extra = tmp_path / "prices.toml"
    extra.write_text(
        "[models.claude-future-9]\ninput = 1\noutput = 5\ncache_write = 1.25\ncache_read = 0.1\n"
        "[[models.claude-future-9.tiers]]\nabove = 50_000\n"
        "input = 2\noutput = 10\ncache_write = 2.5\ncache_read = 0.2\n"
    )
    prices = load_prices(extra)
    agg = Aggregator()
    future = {"model": "claude-future-9", "cache_write": 0, "cache_read": 0, "output": 0}
    agg.add(_record(**future, input=60_000), Attribution(), now_ms=NOW)
    agg.add(_record(model="claude-sonnet-4-5"), Attribution(), now_ms=NOW)
    rows = agg.take(prices)
    assert [r.cost_micros for r in rows] == [None, 45]  # never a neighbour's tier
    agg.add(_record(**future, input=60_000), Attribution(), now_ms=NOW)
    agg.add(_record(**future, input=40_000), Attribution(), now_ms=NOW)
    (row,) = agg.take(prices)
    assert row.cost_micros == 160_000  # 60,000 x $2 + 40,000 x $1
    assert Aggregator(cuts=prices.cuts).cuts == (50_000, 100_000, 200_000)
