"""The price table (``prices.toml`` beside this module, overridable) and the cost of tokens.

Prices are US dollars per million tokens, so a price is also micro-dollars per token: the cost
of a count of tokens in micro-dollars is the count times the price, rounded once, half up, at
the end. An unknown model has no price and no cost, never a guessed one.

A model's rates may change on a date (its periods, each from a whole UTC day or hour until the
next one begins; before the first there is no price) and may depend on the size of each
request's prompt (its tiers: a request whose prompt, input plus cache writes plus cache reads,
is over a tier's ``above`` pays that tier's rates for all of its tokens).
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
    """Rates from `start_ms` (None: always) until the next period's start."""

    start_ms: int | None
    price: Price  # a prompt up to the first tier's `above`
    tiers: tuple[Tier, ...] = ()  # `above` increasing

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
        """Every set of rates in the schedule."""
        return [
            p for period in self.periods for p in (period.price, *(t.price for t in period.tiers))
        ]


def prompt_tokens(*, input: int, cache_write: int, cache_read: int) -> int:
    """A request's prompt size as the prices count it: all its input, cache writes and reads."""
    return input + cache_write + cache_read


@attrs.frozen(kw_only=True)
class PriceTable:
    models: Mapping[str, Schedule]
    version: int
    updated: str

    def schedule(self, model: str) -> Schedule | None:
        """The model's prices, by its exact name, else without a trailing "-YYYYMMDD"."""
        found = self.models.get(model)
        if found is None:
            found = self.models.get(_DATE_SUFFIX.sub("", model))
        return found

    @property
    def cuts(self) -> tuple[int, ...]:
        """Every tier's `above`, increasing: the prompt sizes at which some price changes."""
        return tuple(
            sorted({t.above for s in self.models.values() for p in s.periods for t in p.tiers})
        )

    def price(self, model: str, *, at_ms: int | None = None, prompt: int = 0) -> Price | None:
        """The rates of a request to `model` at `at_ms` (None: now) with a prompt of `prompt`
        tokens; None when the table has no price for it."""
        schedule = self.schedule(model)
        if schedule is None:
            return None
        period = schedule.at(int(time.time() * 1000) if at_ms is None else at_ms)
        return None if period is None else period.price_for(prompt)

    def cost_micros(
        self,
        model: str,
        *,
        input: int,
        output: int,
        cache_write: int,
        cache_read: int,
        cache_write_1h: int = 0,
        at_ms: int | None = None,
    ) -> int | None:
        """The cost of one request, at `at_ms` (None: now), priced by its own prompt size."""
        price = self.price(
            model,
            at_ms=at_ms,
            prompt=prompt_tokens(input=input, cache_write=cache_write, cache_read=cache_read),
        )
        if price is None:
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


def _decimal(where: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PriceError(f"{where}: expected a number of US dollars per million tokens")
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise PriceError(f"{where}: expected a number, got {value!r}") from None
    if not out.is_finite() or out < 0 or out > 1_000_000:
        raise PriceError(f"{where}: expected 0 to 1,000,000 dollars per million, got {value!r}")
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


def _schedule(where: str, row: Any) -> Schedule:
    if not isinstance(row, dict):
        raise PriceError(f"{where}: expected a table")
    if "periods" not in row:
        rates = {k: v for k, v in row.items() if k != "tiers"}
        _check_keys(where, rates, _RATES, f"{', '.join(_KINDS)} (and optionally cache_write_1h)")
        tiers = _tiers(f"{where}.tiers", row["tiers"]) if "tiers" in row else ()
        return Schedule(periods=(Period(start_ms=None, price=_price(where, row), tiers=tiers),))
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
        rates = {k: v for k, v in period.items() if k not in ("from", "tiers")}
        _check_keys(at, rates, _RATES, f"from, {', '.join(_KINDS)} (and optionally cache_write_1h)")
        tiers = _tiers(f"{at}.tiers", period["tiers"]) if "tiers" in period else ()
        periods.append(Period(start_ms=start, price=_price(at, period), tiers=tiers))
    return Schedule(periods=tuple(periods))


def _parse(data: Mapping[str, Any], origin: str) -> tuple[dict[str, Schedule], int, str]:
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise PriceError(f"{origin}: [models] must be a table of tables")
    out = {name: _schedule(f"{origin}: models.{name}", row) for name, row in models.items()}
    version = data.get("version", 0)
    updated = data.get("updated", "")
    if isinstance(version, bool) or not isinstance(version, int):
        raise PriceError(f"{origin}: version must be a whole number")
    return out, version, str(updated)


def _load(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PriceError(f"{origin}: not valid TOML: {exc}") from None


def load_prices(override: Path | None = None) -> PriceTable:
    """The table shipped with tina, with `override`'s models replacing or adding to it (a model
    in the override replaces tina's whole schedule for it, periods and tiers included)."""
    text = resources.files("tina.usage").joinpath("prices.toml").read_text("utf-8")
    models, version, updated = _parse(_load(text, "prices.toml"), "prices.toml")
    if override is not None:
        try:
            extra_text = override.read_text("utf-8")
        except OSError as exc:
            raise PriceError(f"{override}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise PriceError(f"{override}: not UTF-8 text") from None
        extra, _, extra_updated = _parse(_load(extra_text, str(override)), str(override))
        models.update(extra)
        updated = f"{updated}+{extra_updated}" if extra_updated else updated
    return PriceTable(models=models, version=version, updated=updated)


def band(cuts: tuple[int, ...], prompt: int) -> int:
    """Which of the ranges `cuts` make a prompt of `prompt` tokens falls in: the number of cuts
    it is over (band b holds prompts over cuts[b - 1] and up to cuts[b])."""
    return bisect.bisect_left(cuts, prompt)
