from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from tina.daemon import config
from tina.usage import Aggregator, PriceError, UsageRecord, load_prices
from tina.usage.attribution import UNATTRIBUTED


def test_the_shipped_table_is_dated_versioned_and_complete() -> None:
    text = resources.files("tina.usage").joinpath("prices.toml").read_text("utf-8")
    assert "Source:" in text
    data = tomllib.loads(text)
    assert isinstance(data["version"], int)
    assert data["updated"]
    table = load_prices()
    assert table.version == data["version"]
    assert len(table.models) >= 5
    for price in table.models.values():
        assert price.cache_read < price.input < price.cache_write < price.output


def test_a_dated_model_name_finds_its_family_price() -> None:
    table = load_prices()
    sonnet = table.price("claude-sonnet-4-5-20250929")
    assert sonnet is not None
    assert sonnet.input == Decimal("3.0")
    # Opus 4.5 is not priced as Opus 4: no prefix matching beyond a date.
    opus45 = table.price("claude-opus-4-5-20251101")
    opus4 = table.price("claude-opus-4-20250514")
    assert opus45 is not None
    assert opus4 is not None
    assert opus45.input != opus4.input


def test_models_released_since_the_first_table_are_priced_and_unlisted_ones_are_not() -> None:
    table = load_prices()
    assert table.version >= 2
    for model, (input_price, cache_read) in {
        "claude-opus-4-6": ("5.0", "0.5"),
        "claude-opus-4-8-20260415": ("5.0", "0.5"),
        "claude-opus-5": ("5.0", "0.5"),
        "claude-sonnet-4-6": ("3.0", "0.3"),
        "claude-sonnet-5": ("2.0", "0.2"),
        "claude-fable-5": ("10.0", "1.0"),
    }.items():
        price = table.price(model)
        assert price is not None, model
        assert (price.input, price.cache_read) == (Decimal(input_price), Decimal(cache_read))
    # Never a neighbour's price: Sonnet 5.5 is not Sonnet 5, Haiku 5.5 is priced per request.
    for model in ("claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5", "claude-fable-5-1"):
        assert table.price(model) is None, model


def test_cost_is_micro_dollars_rounded_once() -> None:
    table = load_prices()
    # Sonnet 4.5: 12 x 3 + 310 x 15 + 2048 x 3.75 + 15000 x 0.3
    assert (
        table.cost_micros(
            "claude-sonnet-4-5-20250929", input=12, output=310, cache_write=2048, cache_read=15000
        )
        == 16866
    )
    # Opus 4.5, a 1-hour cache write: 4 x 5 + 95 x 25 + 1000 x 10 + 17048 x 0.5
    assert (
        table.cost_micros(
            "claude-opus-4-5-20251101",
            input=4,
            output=95,
            cache_write=1000,
            cache_read=17048,
            cache_write_1h=1000,
        )
        == 20919
    )
    # Haiku 3.5 read: 0.08 per token; 3 tokens = 0.24, rounded once at the end
    assert (
        table.cost_micros("claude-3-5-haiku", input=0, output=0, cache_write=0, cache_read=3) == 0
    )
    assert (
        table.cost_micros("claude-3-5-haiku", input=0, output=0, cache_write=0, cache_read=7) == 1
    )


def test_an_unknown_model_has_no_price_and_no_cost() -> None:
    table = load_prices()
    assert table.price("claude-future-9") is None
    assert (
        table.cost_micros("claude-future-9", input=1, output=1, cache_write=1, cache_read=1) is None
    )
    assert table.price("unknown") is None
    aggregator = Aggregator()
    record = UsageRecord(
        key=None, model="claude-future-9", input=5, output=5, cache_write=0, cache_read=0, at_ms=0
    )
    aggregator.add(record, UNATTRIBUTED, now_ms=0)
    (row,) = aggregator.take(table)
    assert row.cost_micros is None
    assert "costMicros" not in row.to_wire()
    assert row.to_wire()["input"] == 5


def test_an_override_file_replaces_and_adds_models(tmp_path: Path) -> None:
    extra = tmp_path / "prices.toml"
    extra.write_text(
        'updated = "2026-03-01"\n'
        "[models.claude-sonnet-4-5]\ninput = 2\noutput = 10\ncache_write = 2.5\ncache_read = 0.2\n"
        "[models.claude-future-9]\ninput = 1\noutput = 2\ncache_write = 1.5\ncache_read = 0.1\n"
    )
    table = load_prices(extra)
    assert (
        table.cost_micros("claude-sonnet-4-5", input=1, output=1, cache_write=0, cache_read=0) == 12
    )
    # no cache_write_1h in the override: an hour's write is priced as a 5-minute one
    assert (
        table.cost_micros(
            "claude-future-9", input=0, output=0, cache_write=2, cache_read=0, cache_write_1h=2
        )
        == 3
    )
    assert table.price("claude-haiku-4-5") is not None  # the rest stays


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[models.x]\ninput = 1\n", "missing output"),
        (
            '[models.x]\ninput = "a"\noutput = 1\ncache_write = 1\ncache_read = 1\n',
            "models.x.input",
        ),
        ("[models.x]\ninput = -1\noutput = 1\ncache_write = 1\ncache_read = 1\n", "models.x.input"),
        (
            "[models.x]\ninput = 1\noutput = 1\ncache_write = 1\ncache_read = 1\nfoo = 2\n",
            "unknown foo",
        ),
        ("models = 3\n", "[models]"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_a_bad_override_is_refused_naming_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    extra = tmp_path / "prices.toml"
    extra.write_text(text)
    with pytest.raises(PriceError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_prices(extra)


def test_a_missing_override_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PriceError, match="cannot read"):
        load_prices(tmp_path / "nope.toml")


def test_the_config_key_names_the_override(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text(f'usage_prices = "{tmp_path / "p.toml"}"\n')
    assert config.load(file, env={}).usage_prices == tmp_path / "p.toml"
    env = {"TINA_USAGE_PRICES": str(tmp_path / "q.toml")}
    assert config.load(file, env=env).usage_prices == tmp_path / "q.toml"
    plain = tmp_path / "plain.toml"
    plain.write_text('node_name = "laptop"\n')
    assert config.load(plain, env={}).usage_prices is None
