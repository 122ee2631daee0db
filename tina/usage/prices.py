"""The price table (``prices.toml`` beside this module, overridable) and the cost of tokens.

Prices are US dollars per million tokens, so a price is also micro-dollars per token: the cost
of a count of tokens in micro-dollars is the count times the price, rounded once, half up, at
the end. An unknown model has no price and no cost, never a guessed one.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

__all__ = ["Price", "PriceError", "PriceTable", "cost_micros", "load_prices"]

_DATE_SUFFIX = re.compile(r"-\d{8}$")
_KINDS = ("input", "output", "cache_write", "cache_read")


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
class PriceTable:
    models: Mapping[str, Price]
    version: int
    updated: str

    def price(self, model: str) -> Price | None:
        found = self.models.get(model)
        if found is None:
            found = self.models.get(_DATE_SUFFIX.sub("", model))
        return found

    def cost_micros(
        self,
        model: str,
        *,
        input: int,
        output: int,
        cache_write: int,
        cache_read: int,
        cache_write_1h: int = 0,
    ) -> int | None:
        price = self.price(model)
        if price is None:
            return None
        return cost_micros(
            price,
            input=input,
            output=output,
            cache_write=cache_write,
            cache_read=cache_read,
            cache_write_1h=cache_write_1h,
        )


def cost_micros(
    price: Price,
    *,
    input: int,
    output: int,
    cache_write: int,
    cache_read: int,
    cache_write_1h: int = 0,
) -> int:
    """Micro-dollars for these tokens; `cache_write_1h` is the part of `cache_write` written for
    an hour."""
    one_hour = min(cache_write_1h, cache_write)
    hour_price = price.cache_write if price.cache_write_1h is None else price.cache_write_1h
    total = (
        input * price.input
        + output * price.output
        + (cache_write - one_hour) * price.cache_write
        + one_hour * hour_price
        + cache_read * price.cache_read
    )
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


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


def _parse(data: Mapping[str, Any], origin: str) -> tuple[dict[str, Price], int, str]:
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise PriceError(f"{origin}: [models] must be a table of tables")
    out: dict[str, Price] = {}
    for name, row in models.items():
        where = f"{origin}: models.{name}"
        if not isinstance(row, dict):
            raise PriceError(f"{where}: expected a table")
        missing = [k for k in _KINDS if k not in row]
        unknown = sorted(set(row) - {*_KINDS, "cache_write_1h"})
        if missing or unknown:
            raise PriceError(
                f"{where}: needs {', '.join(_KINDS)} (and optionally cache_write_1h)"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(unknown)}" if unknown else "")
            )
        values = {k: _decimal(f"{where}.{k}", row[k]) for k in _KINDS}
        hour = row.get("cache_write_1h")
        out[name] = Price(
            **values,
            cache_write_1h=None if hour is None else _decimal(f"{where}.cache_write_1h", hour),
        )
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
    """The table shipped with tina, with `override`'s models replacing or adding to it."""
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
