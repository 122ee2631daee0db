"""The price table (``prices.toml`` beside this module, overridable) and the cost of tokens.

Prices are US dollars per million tokens, so a price is also micro-dollars per token: the cost
of a count of tokens in micro-dollars is the count times the price, rounded once, half up, at
the end. An unknown model has no price and no cost, never a guessed one.

A model's rates may change on a date (its periods, each from a whole UTC day or hour until the
next one begins; before the first there is no price) and may depend on the size of each
request's prompt (its tiers: a request whose prompt, input plus cache writes plus cache reads,
is over a tier's ``above`` pays that tier's rates for all of its tokens).

Web searches (the server-side tool Claude Code's WebSearch uses) are priced per search, on top of
the request's tokens, in periods of their own (``[[web_search.periods]]``, dollars per 1,000).

A request made in fast mode (``usage.speed`` "fast") pays its model's fast rates (``fast``, in a
model or a period, with tiers of its own and optionally the hour they start from); a model or a
time without them has no price for it, never its standard one. A request whose inference ran in
one geography (``usage.inference_geo``, "us") pays a multiplier on all its token rates
(``[inference_geo]``); a geography the table does not name has no price.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import time
import tomllib
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from .transcript import MAX_TOKENS

__all__ = [
    "FAST",
    "GLOBAL",
    "SEARCHES",
    "STANDARD",
    "Period",
    "Price",
    "PriceError",
    "PriceTable",
    "Schedule",
    "Tier",
    "band",
    "load_prices",
    "prompt_tokens",
    "raw_cost",
    "round_micros",
]

_DATE_SUFFIX = re.compile(r"-\d{8}$")
_KINDS = ("input", "output", "cache_write", "cache_read")
_RATES = {*_KINDS, "cache_write_1h"}
SEARCHES = 1000
"""Web search prices are per this many searches."""
STANDARD = "standard"
FAST = "fast"
"""A request's speed (``usage.speed``): its standard rates, or its model's fast-mode rates. Any
other speed has no price."""
GLOBAL = "global"
"""Where a request's inference ran (``usage.inference_geo``) when it was not held to one
geography: the standard rates."""
_GEO = re.compile(r"[a-z][a-z0-9_-]{0,31}")


class PriceError(ValueError):
    """A price file that cannot be used, naming the file and the field."""


@attrs.frozen(kw_only=True)
class Price:
    input: Decimal
    output: Decimal
    cache_write: Decimal
    cache_read: Decimal
    cache_write_1h: Decimal | None = None  # None: priced as cache_write


@attrs.frozen(kw_only=True)
class Tier:
    """The rates of a request whose prompt is over `above` tokens."""

    above: int
    price: Price


@attrs.frozen(kw_only=True)
class Period:
    """Rates from `start_ms` (None: always) until the next period's start, and its fast-mode
    rates (None: not priced), which start at their own `start_ms` when they have one."""

    start_ms: int | None
    price: Price  # a prompt up to the first tier's `above`
    tiers: tuple[Tier, ...] = ()  # `above` increasing
    fast: Period | None = None

    def at_speed(self, speed: str, at_ms: int) -> Period | None:
        """The rates of a request at `speed` at `at_ms` (in this period); None: no price."""
        if speed == STANDARD:
            return self
        fast = self.fast
        if speed != FAST or fast is None:
            return None
        return fast if fast.start_ms is None or fast.start_ms <= at_ms else None

    def all_tiers(self) -> tuple[Tier, ...]:
        """Its tiers and its fast rates' tiers."""
        return self.tiers + (self.fast.tiers if self.fast is not None else ())

    def price_for(self, prompt: int) -> Price:
        """The rates of a request whose prompt is `prompt` tokens."""
        found = self.price
        for tier in self.tiers:
            if prompt > tier.above:
                found = tier.price
        return found


@attrs.frozen(kw_only=True)
class Schedule:
    """A model's prices over time: its periods, in date order."""

    periods: tuple[Period, ...]

    def at(self, at_ms: int) -> Period | None:
        """The period in effect at `at_ms`; None before the first."""
        found = None
        for period in self.periods:
            if period.start_ms is None or period.start_ms <= at_ms:
                found = period
        return found

    def prices(self) -> list[Price]:
        """Every set of rates in the schedule (fast ones included)."""
        rates = [p for p in self.periods] + [p.fast for p in self.periods if p.fast is not None]
        return [p for period in rates for p in (period.price, *(t.price for t in period.tiers))]


def prompt_tokens(*, input: int, cache_write: int, cache_read: int) -> int:
    """A request's prompt size as the prices count it: all its input, cache writes and reads."""
    return input + cache_write + cache_read


@attrs.frozen(kw_only=True)
class SearchPeriod:
    """The price of a web search from `start_ms` until the next period's start."""

    start_ms: int
    per_search: Decimal  # micro-dollars (the file says dollars per 1,000)


@attrs.frozen(kw_only=True)
class PriceTable:
    models: Mapping[str, Schedule]
    version: int
    updated: str
    web_search: tuple[SearchPeriod, ...] = ()  # date order
    geo: Mapping[str, Decimal] = attrs.field(factory=dict)  # inference geography -> multiplier
    # Every tier's `above`, increasing: the prompt sizes at which some price changes (found once:
    # each bucket a round takes asks).
    cuts: tuple[int, ...] = attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(lambda self: self._cuts(), takes_self=True),
    )

    def geo_factor(self, geo: str) -> Decimal | None:
        """What a request whose inference ran in `geo` pays on its token rates; None: no price."""
        return Decimal(1) if geo == GLOBAL else self.geo.get(geo)

    def search_price(self, at_ms: int) -> Decimal | None:
        """Micro-dollars per web search at `at_ms`; None before the first period (no price)."""
        found = None
        for period in self.web_search:
            if period.start_ms <= at_ms:
                found = period.per_search
        return found

    def schedule(self, model: str) -> Schedule | None:
        """The model's prices, by its exact name, else without a trailing "-YYYYMMDD"."""
        found = self.models.get(model)
        if found is None:
            found = self.models.get(_DATE_SUFFIX.sub("", model))
        return found

    def _cuts(self) -> tuple[int, ...]:
        return tuple(
            sorted(
                {t.above for s in self.models.values() for p in s.periods for t in p.all_tiers()}
            )
        )

    def price(
        self, model: str, *, at_ms: int | None = None, prompt: int = 0, speed: str = STANDARD
    ) -> Price | None:
        """The rates of a request to `model` at `at_ms` (None: now) with a prompt of `prompt`
        tokens at `speed`; None when the table has no price for it."""
        schedule = self.schedule(model)
        if schedule is None:
            return None
        at = int(time.time() * 1000) if at_ms is None else at_ms
        period = schedule.at(at)
        rates = None if period is None else period.at_speed(speed, at)
        return None if rates is None else rates.price_for(prompt)

    def cost_micros(
        self,
        model: str,
        *,
        input: int,
        output: int,
        cache_write: int,
        cache_read: int,
        cache_write_1h: int = 0,
        web_searches: int = 0,
        speed: str = STANDARD,
        geo: str = GLOBAL,
        at_ms: int | None = None,
    ) -> int | None:
        """The cost of one request, at `at_ms` (None: now), priced by its own prompt size at its
        speed and geography; None when its model at that speed, its geography or its web
        searches have no price then."""
        at = int(time.time() * 1000) if at_ms is None else at_ms
        price = self.price(
            model,
            at_ms=at,
            prompt=prompt_tokens(input=input, cache_write=cache_write, cache_read=cache_read),
            speed=speed,
        )
        search = self.search_price(at) if web_searches else Decimal(0)
        factor = self.geo_factor(geo)
        if price is None or search is None or factor is None:
            return None
        return round_micros(
            raw_cost(
                price,
                input=input,
                output=output,
                cache_write=cache_write,
                cache_read=cache_read,
                cache_write_1h=cache_write_1h,
            )
            * factor
            + web_searches * search
        )


def raw_cost(
    price: Price,
    *,
    input: int,
    output: int,
    cache_write: int,
    cache_read: int,
    cache_write_1h: int = 0,
) -> Decimal:
    """Micro-dollars for these tokens, not rounded; `cache_write_1h` is the part of
    `cache_write` written for an hour."""
    one_hour = min(cache_write_1h, cache_write)
    hour_price = price.cache_write if price.cache_write_1h is None else price.cache_write_1h
    return (
        input * price.input
        + output * price.output
        + (cache_write - one_hour) * price.cache_write
        + one_hour * hour_price
        + cache_read * price.cache_read
    )


def round_micros(total: Decimal) -> int:
    """Whole micro-dollars, half up: the one rounding of a cost."""
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- the file format --------------------------------------------------------------------------


def _decimal(where: str, value: Any, unit: str = "US dollars per million tokens") -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PriceError(f"{where}: expected a number of {unit}")
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise PriceError(f"{where}: expected a number of {unit}, got {value!r}") from None
    if not out.is_finite() or out < 0 or out > 1_000_000:
        raise PriceError(f"{where}: expected 0 to 1,000,000 {unit}, got {value!r}")
    return out


def _check_keys(where: str, row: Mapping[str, Any], allowed: set[str], what: str) -> None:
    missing = [k for k in _KINDS if k not in row]
    unknown = sorted(set(row) - allowed)
    if missing or unknown:
        raise PriceError(
            f"{where}: needs {what}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else "")
        )


def _price(where: str, row: Mapping[str, Any]) -> Price:
    values = {k: _decimal(f"{where}.{k}", row[k]) for k in _KINDS}
    hour = row.get("cache_write_1h")
    return Price(
        **values,
        cache_write_1h=None if hour is None else _decimal(f"{where}.cache_write_1h", hour),
    )


def _tables(where: str, value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise PriceError(f"{where}: expected one or more [[{what}]] tables")
    return value


def _tiers(where: str, value: Any) -> tuple[Tier, ...]:
    out: list[Tier] = []
    for i, row in enumerate(_tables(where, value, "tiers")):
        at = f"{where}[{i}]"
        if "above" not in row:
            raise PriceError(
                f"{at}: needs above (the prompt size in tokens past which these rates apply)"
            )
        above = row["above"]
        if isinstance(above, bool) or not isinstance(above, int) or not 0 < above < MAX_TOKENS:
            raise PriceError(f"{at}.above: expected a whole number of tokens, got {above!r}")
        if out and above <= out[-1].above:
            raise PriceError(
                f"{at}.above: expected more than the previous tier's {out[-1].above:,};"
                " tiers go from the smallest prompt to the largest"
            )
        _check_keys(
            at,
            {k: v for k, v in row.items() if k != "above"},
            _RATES,
            "above and " + ", ".join(_KINDS) + " (and optionally cache_write_1h)",
        )
        out.append(Tier(above=above, price=_price(at, row)))
    return tuple(out)


def _start_ms(where: str, value: Any) -> int:
    """A period's `from`: a whole UTC day ("YYYY-MM-DD" or a TOML date) or hour
    ("YYYY-MM-DDTHH:00Z"), so that an hour's row never straddles a change."""
    expected = 'expected a UTC date "YYYY-MM-DD" or a whole UTC hour "YYYY-MM-DDTHH:00Z"'
    if isinstance(value, dt.datetime):
        raise PriceError(f"{where}: {expected} (in quotes), got {value!r}")
    if isinstance(value, dt.date):
        value = value.isoformat()
    if not isinstance(value, str):
        raise PriceError(f"{where}: {expected}, got {value!r}")
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            at = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:00(?::00)?Z", value):
            at = dt.datetime.fromisoformat(value)
        else:
            raise ValueError
    except ValueError:
        raise PriceError(f"{where}: {expected}, got {value!r}") from None
    return int(at.timestamp() * 1000)


def _fast(where: str, row: Any) -> Period:
    """A model's (or a period's) fast-mode rates: its five rates, optionally tiers of its own and
    `from`, the hour they start (before it a fast request has no price)."""
    if not isinstance(row, dict):
        raise PriceError(f"{where}: expected a table of fast-mode rates")
    rates = {k: v for k, v in row.items() if k not in ("from", "tiers")}
    _check_keys(
        where,
        rates,
        _RATES,
        f"{', '.join(_KINDS)} (and optionally cache_write_1h, from and tiers)",
    )
    start = _start_ms(f"{where}.from", row["from"]) if "from" in row else None
    tiers = _tiers(f"{where}.tiers", row["tiers"]) if "tiers" in row else ()
    return Period(start_ms=start, price=_price(where, row), tiers=tiers)


def _schedule(where: str, row: Any) -> Schedule:
    if not isinstance(row, dict):
        raise PriceError(f"{where}: expected a table")
    if "periods" not in row:
        rates = {k: v for k, v in row.items() if k not in ("tiers", "fast")}
        _check_keys(
            where, rates, _RATES, f"{', '.join(_KINDS)} (and optionally cache_write_1h and fast)"
        )
        tiers = _tiers(f"{where}.tiers", row["tiers"]) if "tiers" in row else ()
        fast = _fast(f"{where}.fast", row["fast"]) if "fast" in row else None
        return Schedule(
            periods=(Period(start_ms=None, price=_price(where, row), tiers=tiers, fast=fast),)
        )
    others = sorted(set(row) - {"periods"})
    if others:
        raise PriceError(
            f"{where}: has periods, so its rates go in each period; unknown {', '.join(others)}"
        )
    periods: list[Period] = []
    for i, period in enumerate(_tables(f"{where}.periods", row["periods"], "periods")):
        at = f"{where}.periods[{i}]"
        if "from" not in period:
            raise PriceError(f"{at}: needs from (the UTC date these rates start on)")
        start = _start_ms(f"{at}.from", period["from"])
        previous = periods[-1].start_ms if periods else None
        if previous is not None and start <= previous:
            raise PriceError(
                f"{at}.from: expected a date after the previous period's"
                f" {row['periods'][i - 1]['from']}, got {period['from']}; periods go in date"
                " order, each lasting until the next one's from"
            )
        rates = {k: v for k, v in period.items() if k not in ("from", "tiers", "fast")}
        _check_keys(
            at, rates, _RATES, f"from, {', '.join(_KINDS)} (and optionally cache_write_1h and fast)"
        )
        tiers = _tiers(f"{at}.tiers", period["tiers"]) if "tiers" in period else ()
        fast = _fast(f"{at}.fast", period["fast"]) if "fast" in period else None
        periods.append(Period(start_ms=start, price=_price(at, period), tiers=tiers, fast=fast))
    return Schedule(periods=tuple(periods))


def _web_search(where: str, row: Any) -> tuple[SearchPeriod, ...]:
    if not isinstance(row, dict) or set(row) != {"periods"}:
        raise PriceError(f"{where}: expected [[web_search.periods]] tables and nothing else")
    out: list[SearchPeriod] = []
    for i, period in enumerate(_tables(f"{where}.periods", row["periods"], "web_search.periods")):
        at = f"{where}.periods[{i}]"
        unknown = sorted(set(period) - {"from", "per_1000"})
        if "from" not in period or "per_1000" not in period or unknown:
            raise PriceError(
                f"{at}: needs from (the UTC date this price starts on) and per_1000 (US dollars"
                " per 1,000 searches)" + (f"; unknown {', '.join(unknown)}" if unknown else "")
            )
        start = _start_ms(f"{at}.from", period["from"])
        if out and start <= out[-1].start_ms:
            raise PriceError(
                f"{at}.from: expected a date after the previous period's"
                f" {row['periods'][i - 1]['from']}, got {period['from']}; periods go in date order"
            )
        per_1000 = _decimal(f"{at}.per_1000", period["per_1000"], "US dollars per 1,000 searches")
        out.append(SearchPeriod(start_ms=start, per_search=per_1000 * 1_000_000 / SEARCHES))
    return tuple(out)


def _geo(where: str, row: Any) -> dict[str, Decimal]:
    if not isinstance(row, dict):
        raise PriceError(f"{where}: expected a table of geography = multiplier (us = 1.1)")
    out = {}
    for name, value in row.items():
        if not _GEO.fullmatch(name) or name == GLOBAL:
            raise PriceError(
                f"{where}.{name}: expected the name of a geography as usage.inference_geo gives"
                f" it (lowercase, e.g. us), not {GLOBAL} (always the standard rates)"
            )
        factor = _decimal(f"{where}.{name}", value, "times the standard rates")
        if factor == 0:
            raise PriceError(f"{where}.{name}: expected a multiplier above 0, got {value!r}")
        out[name] = factor
    return out


@attrs.frozen(kw_only=True)
class _Parsed:
    models: dict[str, Schedule]
    version: int
    updated: str
    web_search: tuple[SearchPeriod, ...] | None  # None: the file has no [web_search]
    geo: dict[str, Decimal] | None  # None: the file has no [inference_geo]


def _parse(data: Mapping[str, Any], origin: str) -> _Parsed:
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise PriceError(f"{origin}: [models] must be a table of tables")
    out = {name: _schedule(f"{origin}: models.{name}", row) for name, row in models.items()}
    version = data.get("version", 0)
    updated = data.get("updated", "")
    if isinstance(version, bool) or not isinstance(version, int):
        raise PriceError(f"{origin}: version must be a whole number")
    search = data.get("web_search")
    geo = data.get("inference_geo")
    return _Parsed(
        models=out,
        version=version,
        updated=str(updated),
        web_search=None if search is None else _web_search(f"{origin}: web_search", search),
        geo=None if geo is None else _geo(f"{origin}: inference_geo", geo),
    )


def _load(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PriceError(f"{origin}: not valid TOML: {exc}") from None


def load_prices(override: Path | None = None) -> PriceTable:
    """The table shipped with tina, with `override`'s models replacing or adding to it (a model
    in the override replaces tina's whole schedule for it, periods and tiers included; its
    `[web_search]` and `[inference_geo]`, when it has them, replace tina's)."""
    text = resources.files("tina.usage").joinpath("prices.toml").read_text("utf-8")
    shipped = _parse(_load(text, "prices.toml"), "prices.toml")
    models, updated, search = shipped.models, shipped.updated, shipped.web_search or ()
    geo = shipped.geo or {}
    if override is not None:
        try:
            extra_text = override.read_text("utf-8")
        except OSError as exc:
            raise PriceError(f"{override}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise PriceError(f"{override}: not UTF-8 text") from None
        extra = _parse(_load(extra_text, str(override)), str(override))
        models.update(extra.models)
        updated = f"{updated}+{extra.updated}" if extra.updated else updated
        if extra.web_search is not None:
            search = extra.web_search
        if extra.geo is not None:
            geo = extra.geo
    return PriceTable(
        models=models, version=shipped.version, updated=updated, web_search=search, geo=geo
    )


def band(cuts: tuple[int, ...], prompt: int) -> int:
    """Which of the ranges `cuts` make a prompt of `prompt` tokens falls in: the number of cuts
    it is over (band b holds prompts over cuts[b - 1] and up to cuts[b])."""
    return bisect.bisect_left(cuts, prompt)
