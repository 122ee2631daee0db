"""Usage summed into buckets (UTC hour, orchestration, phase, agent, model): the rows of
``usage:recordUsage``, each a delta with its cost from the price table.

The cost of a row is computed from the row's own token sums, rounded once, so it is the cost of
exactly those tokens. A model the table does not price at the row's hour gets no cost
(``cost_micros`` None), and neither does a row any part of which has no price. A row's web
searches are priced at the table's price per search at the row's hour, on top of its tokens; a
message in fast mode at its model's fast rates and one held to a geography at its multiplier (a
bucket keeps those sums apart too), and a row with a message at a speed or in a geography the
table has no price for has no cost.

Where a price depends on each request's prompt size (a tier), a bucket keeps its sums apart per
band of prompt sizes, the bands cut at every tier's ``above`` the aggregator knows (tina's own
table's, and those of every table given to :meth:`Aggregator.take`). A row whose model has a tier
at a size its bands were not cut at has no cost, never a neighbour's.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

import attrs

from .attribution import Attribution
from .prices import PriceTable, band, load_prices, prompt_tokens, raw_cost, round_micros
from .transcript import MAX_TOKENS, Tokens, UsageRecord

__all__ = ["HOUR_MS", "MAX_ROWS", "Aggregator", "BucketKey", "UsageRow"]

HOUR_MS = 3_600_000
MAX_ROWS = 200
"""The most rows one batch may carry."""
MAX_MODEL = 128
# What Convex takes (convex/model/checks.ts: checkTimestamp, PHASE_RE, AGENT_RE; the usage row's
# model has no control characters). A value it would refuse is left out ("not known") rather than
# have the whole batch refused; a time out of range is placed at the time it was read.
TIMESTAMP_MS = (946_684_800_000, 7_258_118_400_000)
AHEAD_MS = HOUR_MS
"""A line stamped more than this after the time it is read (its laptop's clock was wrong) is
placed at that time: Convex refuses a row more than a day ahead of its own time, and with it the
whole batch."""
PHASE = re.compile(r"[1-9][0-9]{0,2}(?:\.5){0,2}")
AGENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@attrs.frozen(kw_only=True, order=True, cache_hash=True)  # a key, hashed per message
class BucketKey:
    hour: int
    orchestration_id: str | None = None
    phase: str | None = None
    agent: str | None = None
    model: str


@attrs.frozen(kw_only=True)
class UsageRow:
    key: BucketKey
    messages: int
    input: int
    output: int
    cache_write: int
    cache_read: int
    cache_write_1h: int = 0  # part of cache_write; only for the cost, not on the wire
    web_searches: int = 0
    cost_micros: int | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"hour": self.key.hour}
        if self.key.orchestration_id is not None:
            out["orchestrationId"] = self.key.orchestration_id
        if self.key.phase is not None:
            out["phaseNumber"] = self.key.phase
        if self.key.agent is not None:
            out["agentName"] = self.key.agent
        out |= {
            "model": self.key.model,
            "messages": self.messages,
            "input": self.input,
            "output": self.output,
            "cacheWrite": self.cache_write,
            "cacheRead": self.cache_read,
        }
        if self.web_searches:
            out["webSearches"] = self.web_searches
        if self.cost_micros is not None:
            out["costMicros"] = self.cost_micros
        return out


@attrs.define
class _Sums:
    messages: int = 0
    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_read: int = 0
    cache_write_1h: int = 0
    web_searches: int = 0

    def fits(self, record: UsageRecord | _Sums) -> bool:
        """Whether adding `record` keeps every sum within the wire's bound."""
        return (
            max(
                self.input + record.input,
                self.output + record.output,
                self.cache_write + record.cache_write,
                self.cache_read + record.cache_read,
                self.web_searches + record.web_searches,
            )
            <= MAX_TOKENS
        )

    def add(self, record: UsageRecord) -> None:
        self.messages += 1
        self.add_tokens(record)
        self.web_searches += record.web_searches

    def add_tokens(self, tokens: UsageRecord | Tokens | _Sums) -> None:
        self.input += tokens.input
        self.output += tokens.output
        self.cache_write += tokens.cache_write
        self.cache_read += tokens.cache_read
        self.cache_write_1h += tokens.cache_write_1h


@attrs.define
class _Bucket:
    total: _Sums = attrs.Factory(_Sums)
    # by speed, inference geography and prompt band (`band`)
    bands: dict[tuple[str, str, int], _Sums] = attrs.Factory(dict)


@cache
def _shipped_cuts() -> tuple[int, ...]:
    return load_prices().cuts


@attrs.define
class Aggregator:
    """Buckets filled by :meth:`add`, emptied into rows by :meth:`take`. `cuts`: the prompt sizes
    to keep sums apart at (default: every tier's `above` in tina's own table)."""

    _buckets: dict[BucketKey, _Bucket] = attrs.Factory(dict)
    _full: list[tuple[BucketKey, _Bucket]] = attrs.Factory(list)
    cuts: tuple[int, ...] = attrs.field(factory=_shipped_cuts, kw_only=True)

    def add(
        self,
        record: UsageRecord,
        attribution: Attribution,
        *,
        now_ms: int,
        more: tuple[int, ...] | None = None,
    ) -> None:
        """Count `record`'s message; with `more` (:meth:`tina.usage.dedupe.Dedupe.growth`),
        only what a later line of a message counted already adds: those tokens and searches, at
        the band of the message's own prompt, and no message."""
        at = record.at_ms
        if at is None or not TIMESTAMP_MS[0] <= at < min(TIMESTAMP_MS[1], now_ms + AHEAD_MS):
            at = now_ms
        key = _key(at - at % HOUR_MS, attribution, record.model)
        added = record if more is None else _growth(more)
        bucket = self._buckets.get(key)
        if bucket is None or not bucket.total.fits(added):
            if bucket is not None:
                self._full.append((key, bucket))
            bucket = self._buckets[key] = _Bucket()
        steps: list[tuple[UsageRecord | Tokens, UsageRecord | Tokens | _Sums]]  # (prompt, added)
        if more is None:
            bucket.total.add(record)
            # Each sampling step at its own prompt's band (without compactions, the record).
            steps = [(s, s) for s in (record.steps() if record.compactions else (record,))]
        else:
            bucket.total.add_tokens(added)
            bucket.total.web_searches += added.web_searches
            # at the message's own prompt (its compactions' steps came first, counted then)
            steps = [(record.steps()[0], added)]
        for prompted, tokens in steps:
            prompt = prompt_tokens(
                input=prompted.input,
                cache_write=prompted.cache_write,
                cache_read=prompted.cache_read,
            )
            where = (record.speed, record.geo, band(self.cuts, prompt))
            sums = bucket.bands.get(where)
            if sums is None:
                sums = bucket.bands[where] = _Sums()
            sums.add_tokens(tokens)

    def __len__(self) -> int:
        return len(self._buckets) + len(self._full)

    def take(self, prices: PriceTable) -> list[UsageRow]:
        """Every row summed so far (emptied), in a stable order, each with its cost at the row's
        hour. The buckets that follow are also cut at `prices`' tiers."""
        items = self._full + sorted(self._buckets.items(), key=lambda kv: _order(kv[0]))
        self._buckets.clear()
        self._full.clear()
        rows = [
            UsageRow(
                key=key,
                messages=b.total.messages,
                input=b.total.input,
                output=b.total.output,
                cache_write=b.total.cache_write,
                cache_read=b.total.cache_read,
                cache_write_1h=b.total.cache_write_1h,
                web_searches=b.total.web_searches,
                cost_micros=_cost(prices, key, b, self.cuts),
            )
            for key, b in items
        ]
        self.cuts = tuple(sorted({*self.cuts, *prices.cuts}))
        return rows


def _growth(more: tuple[int, ...]) -> _Sums:
    """What a later line of a message counted already adds: the figures of `more` (input,
    output, cache write, cache read, the hour's part of the cache write, web searches) as sums,
    with no message."""
    return _Sums(
        input=more[0],
        output=more[1],
        cache_write=more[2],
        cache_read=more[3],
        cache_write_1h=min(more[4], more[2]),
        web_searches=more[5],
    )


@lru_cache(maxsize=4096)  # a round's messages fall in a few buckets: each is checked once
def _key(hour: int, attribution: Attribution, model: str) -> BucketKey:
    """The bucket of a message: what Convex would refuse is left out (not known)."""
    if len(model) > MAX_MODEL or CONTROL.search(model):
        model = "unknown"
    attributed = attribution.orchestration_id is not None
    phase, agent = attribution.phase, attribution.agent
    return BucketKey(
        hour=hour,
        orchestration_id=attribution.orchestration_id,
        phase=phase if attributed and phase is not None and PHASE.fullmatch(phase) else None,
        agent=agent if attributed and agent is not None and AGENT.fullmatch(agent) else None,
        model=model,
    )


def _cost(prices: PriceTable, key: BucketKey, bucket: _Bucket, cuts: tuple[int, ...]) -> int | None:
    """The exact cost of a bucket's tokens and web searches, each band at its speed's rates and
    its own tier; None when any part has no price (the model, one of its speeds, or web searches
    unpriced at that hour, or a tier at a size the bands were not cut at)."""
    schedule = prices.schedule(key.model)
    period = None if schedule is None else schedule.at(key.hour)
    if period is None or any(t.above not in cuts for t in period.all_tiers()):
        return None
    searches = bucket.total.web_searches
    search = prices.search_price(key.hour) if searches else Decimal(0)
    if search is None:
        return None
    total = searches * search
    for (speed, geo, index), s in bucket.bands.items():
        rates = period.at_speed(speed, key.hour)
        factor = prices.geo_factor(geo)
        if rates is None or factor is None:
            return None
        # Every prompt in band `index` is over cuts[index - 1] and up to cuts[index]: over the
        # same tiers' `above` as a prompt of cuts[index - 1] + 1 tokens.
        price = rates.price_for(cuts[index - 1] + 1 if index else 0)
        total += (
            raw_cost(
                price,
                input=s.input,
                output=s.output,
                cache_write=s.cache_write,
                cache_read=s.cache_read,
                cache_write_1h=s.cache_write_1h,
            )
            * factor
        )
    return round_micros(total)


def _order(key: BucketKey) -> tuple[int, str, str, str, str]:
    return (key.hour, key.orchestration_id or "", key.phase or "", key.agent or "", key.model)
