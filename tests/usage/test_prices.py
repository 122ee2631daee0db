from __future__ import annotations

import tomllib
from datetime import datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from tina.daemon import config
from tina.usage import Aggregator, PriceError, UsageRecord, load_prices
from tina.usage.attribution import UNATTRIBUTED

RATES = "input = 1\noutput = 5\ncache_write = 1.25\ncache_read = 0.1\n"


def test_the_shipped_table_is_dated_versioned_and_complete() -> None:
    text = resources.files("tina.usage").joinpath("prices.toml").read_text("utf-8")
    assert "Source:" in text
    data = tomllib.loads(text)
    assert isinstance(data["version"], int)
    assert data["updated"]
    table = load_prices()
    assert table.version == data["version"]
    assert len(table.models) >= 5
    for schedule in table.models.values():
        for price in schedule.prices():
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
        # Fable 5.1 is not Fable 5: its cache hits cost a quarter (0.025 x input)
        "claude-fable-5-1": ("10.0", "0.25"),
        "claude-fable-5-2-20261109": ("8.0", "0.2"),
        "claude-mythos-5": ("10.0", "1.0"),
        "claude-mythos-5-1": ("10.0", "0.25"),
        "claude-mythos-5-2": ("8.0", "0.2"),
    }.items():
        price = table.price(model)
        assert price is not None, model
        assert (price.input, price.cache_read) == (Decimal(input_price), Decimal(cache_read))
    # Never a neighbour's price: a version not in the table has none.
    for model in ("claude-fable-5-3", "claude-mythos-5-3", "claude-fable"):
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


def _refused(tmp_path: Path, text: str, field: str, message: str) -> None:
    """A price file of `text` is refused, the refusal naming the file, then `field`, and
    saying `message`."""
    extra = tmp_path / "prices.toml"
    extra.write_text(text)
    with pytest.raises(PriceError) as caught:
        load_prices(extra)
    assert str(caught.value).startswith(f"{extra}: {field}"), str(caught.value)
    assert message in str(caught.value)


def _ms(day: str) -> int:
    return int(datetime.fromisoformat(f"{day}T00:00:00+00:00").timestamp() * 1000)


def test_web_searches_cost_ten_dollars_a_thousand_from_their_release() -> None:
    table = load_prices()
    assert table.version >= 5
    release = _ms("2025-05-07")
    assert table.search_price(release) == Decimal(10_000)  # micro-dollars: $0.01 a search
    assert table.search_price(release - 1) is None
    tokens = {"input": 1, "output": 1, "cache_write": 0, "cache_read": 0}
    alone = table.cost_micros("claude-sonnet-4-5", **tokens, at_ms=release)
    assert alone == 18  # $3 + $15 a million
    searched = table.cost_micros("claude-sonnet-4-5", **tokens, web_searches=3, at_ms=release)
    assert searched == 18 + 30_000
    # Searches at a time with no search price: no cost, never the tokens' alone.
    early = release - 86_400_000
    assert table.cost_micros("claude-sonnet-4-5", **tokens, web_searches=1, at_ms=early) is None
    assert table.cost_micros("claude-sonnet-4-5", **tokens, at_ms=early) is not None


def test_an_overrides_web_search_replaces_tinas_and_one_without_keeps_it(tmp_path: Path) -> None:
    extra = tmp_path / "prices.toml"
    extra.write_text(
        '[[web_search.periods]]\nfrom = "2026-01-01"\nper_1000 = 5\n'
        '[[web_search.periods]]\nfrom = "2026-06-01T12:00Z"\nper_1000 = 12.5\n'
    )
    table = load_prices(extra)
    assert table.search_price(_ms("2025-12-31")) is None  # tina's own period is replaced
    assert table.search_price(_ms("2026-01-01")) == Decimal(5_000)
    assert table.search_price(_ms("2026-06-01") + 12 * 3_600_000) == Decimal(12_500)
    models_only = tmp_path / "models.toml"
    models_only.write_text(f"[models.x]\n{RATES}")
    assert load_prices(models_only).search_price(_ms("2026-01-01")) == Decimal(10_000)


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("web_search = 3\n", "web_search", "[[web_search.periods]]"),
        ("[web_search]\nper_1000 = 3\n", "web_search", "nothing else"),
        ("[[web_search.periods]]\nper_1000 = 3\n", "web_search.periods[0]", "needs from"),
        ('[[web_search.periods]]\nfrom = "2026-01-01"\n', "web_search.periods[0]", "per_1000"),
        (
            '[[web_search.periods]]\nfrom = "2026-01-01"\nper_1000 = 3\nper_search = 1\n',
            "web_search.periods[0]",
            "unknown per_search",
        ),
        (
            '[[web_search.periods]]\nfrom = "2026-01-01"\nper_1000 = -3\n',
            "web_search.periods[0].per_1000",
            "US dollars per 1,000 searches",
        ),
        (
            '[[web_search.periods]]\nfrom = "2026-01-01 08:00"\nper_1000 = 3\n',
            "web_search.periods[0].from",
            "UTC date",
        ),
        (
            '[[web_search.periods]]\nfrom = "2026-02-01"\nper_1000 = 3\n'
            '[[web_search.periods]]\nfrom = "2026-01-01"\nper_1000 = 4\n',
            "web_search.periods[1].from",
            "date order",
        ),
    ],
)
def test_a_bad_web_search_price_is_refused_naming_the_file_and_field(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    _refused(tmp_path, text, field, message)


def test_fast_mode_has_its_own_rates_and_a_model_without_them_no_price() -> None:
    table = load_prices()
    now = _ms("2026-12-01")
    opus = table.price("claude-opus-5-5", at_ms=now, speed="fast")
    assert opus is not None
    assert (opus.input, opus.output, opus.cache_write, opus.cache_write_1h, opus.cache_read) == (
        Decimal("8.0"),
        Decimal("40.0"),
        Decimal("10.0"),
        Decimal("16.0"),
        Decimal("0.4"),
    )  # twice the standard rates, its own cache ratios kept
    for model, rates in {
        "claude-opus-5": (10, 50),
        "claude-opus-4-8": (10, 50),
        "claude-fable-5-2": (16, 80),
        "claude-opus-4-7": (30, 150),  # six times, not two
    }.items():
        fast = table.price(model, at_ms=_ms("2026-06-01"), speed="fast", prompt=900_000)
        assert fast is not None and (fast.input, fast.output) == rates, model
    fable = table.price("claude-fable-5-2", at_ms=now, speed="fast")
    assert fable is not None and (fable.cache_write_1h, fable.cache_read) == (32, Decimal("0.4"))
    # Neither a model without fast rates nor a speed not known here is priced as standard.
    for model in ("claude-mythos-5-2", "claude-opus-4-5", "claude-sonnet-4-5", "claude-haiku-4-5"):
        assert table.price(model, at_ms=now, speed="fast") is None, model
    assert table.price("claude-opus-5-5", at_ms=now, speed="priority") is None
    tokens = {"input": 1_000, "output": 1_000, "cache_write": 0, "cache_read": 0}
    assert table.cost_micros("claude-opus-5-5", **tokens, at_ms=now) == 24_000
    assert table.cost_micros("claude-opus-5-5", **tokens, at_ms=now, speed="fast") == 48_000


def test_opus_4_6_fast_is_priced_from_the_end_of_its_launch_discount_and_by_prompt_size() -> None:
    table = load_prices()
    start = _ms("2026-02-17") + 8 * 3_600_000
    assert table.price("claude-opus-4-6", at_ms=start - 1, speed="fast") is None
    assert table.price("claude-opus-4-6", at_ms=start - 1) is not None  # standard: always
    small = table.price("claude-opus-4-6", at_ms=start, speed="fast", prompt=200_000)
    large = table.price("claude-opus-4-6", at_ms=start, speed="fast", prompt=200_001)
    assert small is not None and (small.input, small.output) == (30, 150)
    assert large is not None and (large.input, large.output, large.cache_read) == (60, 225, 6)
    # The standard rates have no such tier: the whole million at $5 / $25.
    standard = table.price("claude-opus-4-6", at_ms=start, prompt=900_000)
    assert standard is not None and (standard.input, standard.output) == (5, 25)
    assert 200_000 in table.cuts


def test_an_override_gives_fast_rates_to_a_model_and_to_a_period(tmp_path: Path) -> None:
    extra = tmp_path / "prices.toml"
    extra.write_text(
        f"[models.flat]\n{RATES}[models.flat.fast]\n{RATES.replace('input = 1', 'input = 3')}"
        f'[[models.dated.periods]]\nfrom = "2026-01-01"\n{RATES}'
        f'[[models.dated.periods]]\nfrom = "2026-06-01"\n{RATES}'
        f'[models.dated.periods.fast]\nfrom = "2026-07-01"\n{RATES.replace("input = 1", "input = 4")}'
        f"[[models.dated.periods.fast.tiers]]\nabove = 5000\n{RATES.replace('input = 1', 'input = 9')}"
    )
    table = load_prices(extra)
    fast = table.price("flat", speed="fast")
    assert fast is not None and fast.input == 3
    assert table.price("dated", at_ms=_ms("2026-03-01"), speed="fast") is None  # first period
    assert table.price("dated", at_ms=_ms("2026-06-15"), speed="fast") is None  # before `from`
    july = table.price("dated", at_ms=_ms("2026-07-01"), speed="fast", prompt=10)
    over = table.price("dated", at_ms=_ms("2026-07-01"), speed="fast", prompt=5_001)
    assert july is not None and july.input == 4
    assert over is not None and over.input == 9
    assert 5_000 in table.cuts


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (f"[models.x]\n{RATES}fast = 2\n", "models.x.fast", "a table of fast-mode rates"),
        (f"[models.x]\n{RATES}[models.x.fast]\ninput = 2\n", "models.x.fast", "missing output"),
        (
            f"[models.x]\n{RATES}[models.x.fast]\nspeed = 2\n{RATES}",
            "models.x.fast",
            "unknown speed",
        ),
        (
            f'[models.x]\n{RATES}[models.x.fast]\nfrom = "soon"\n{RATES}',
            "models.x.fast.from",
            "UTC date",
        ),
        (
            f"[models.x]\n{RATES}[models.x.fast]\n{RATES}[[models.x.fast.tiers]]\n{RATES}",
            "models.x.fast.tiers[0]",
            "needs above",
        ),
        (
            f'[[models.x.periods]]\nfrom = "2026-01-01"\n{RATES}[models.x.periods.fast]\n'
            "input = -1\noutput = 1\ncache_write = 1\ncache_read = 1\n",
            "models.x.periods[0].fast.input",
            "0 to 1,000,000",
        ),
    ],
)
def test_bad_fast_rates_are_refused_naming_the_file_and_field(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    _refused(tmp_path, text, field, message)


def test_us_inference_pays_a_tenth_more_on_every_token_rate_and_an_unknown_geography_nothing() -> (
    None
):
    table = load_prices()
    now = _ms("2026-12-01")
    assert table.geo_factor("global") == 1
    assert table.geo_factor("us") == Decimal("1.1")
    assert table.geo_factor("eu") is None
    tokens = {"input": 1_000, "output": 1_000, "cache_write": 1_000, "cache_read": 10_000}
    base = table.cost_micros("claude-opus-5-5", **tokens, at_ms=now)
    assert base == 4_000 + 20_000 + 5_000 + 2_000
    assert table.cost_micros("claude-opus-5-5", **tokens, geo="us", at_ms=now) == 34_100
    # On top of fast mode; a search is not a token: its price stays.
    fast_us = table.cost_micros(
        "claude-opus-5-5", **tokens, speed="fast", geo="us", web_searches=1, at_ms=now
    )
    assert fast_us == 68_200 + 10_000
    assert table.cost_micros("claude-opus-5-5", **tokens, geo="eu", at_ms=now) is None


def test_an_overrides_inference_geo_replaces_tinas(tmp_path: Path) -> None:
    extra = tmp_path / "prices.toml"
    extra.write_text("[inference_geo]\neu = 1.2\n")
    table = load_prices(extra)
    assert (table.geo_factor("eu"), table.geo_factor("us")) == (Decimal("1.2"), None)


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("inference_geo = 1.1\n", "inference_geo", "geography = multiplier"),
        ("[inference_geo]\nglobal = 1\n", "inference_geo.global", "always the standard"),
        ('[inference_geo]\n"US" = 1.1\n', "inference_geo.US", "lowercase"),
        ("[inference_geo]\nus = 0\n", "inference_geo.us", "above 0"),
        ('[inference_geo]\nus = "x"\n', "inference_geo.us", "times the standard rates"),
    ],
)
def test_a_bad_inference_geo_is_refused_naming_the_file_and_field(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    _refused(tmp_path, text, field, message)


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


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_version_3_prices_the_5_5_models_and_long_context() -> None:
    table = load_prices()
    assert table.version >= 3
    opus = table.price("claude-opus-5-5")
    assert opus is not None
    assert (opus.input, opus.output, opus.cache_write, opus.cache_write_1h, opus.cache_read) == (
        Decimal("4.0"),
        Decimal("20.0"),
        Decimal("5.0"),
        Decimal("8.0"),
        Decimal("0.2"),
    )
    # Sonnet 5.5: released 2026-09-28, its cache read halved from 2026-10-07 (UTC).
    sonnet = "claude-sonnet-5-5"
    assert table.price(sonnet, at_ms=_ms("2026-09-27T23:59:59+00:00")) is None
    before = table.price(sonnet, at_ms=_ms("2026-10-06T23:59:59+00:00"))
    after = table.price(sonnet, at_ms=_ms("2026-10-07T00:00:00+00:00"))
    assert before is not None and after is not None
    assert (before.cache_read, after.cache_read) == (Decimal("0.2"), Decimal("0.1"))
    assert (before.input, before.output) == (after.input, after.output)
    # Haiku 5.5 and Sonnet 4.5 / 4: priced by the request's prompt, over the tier's `above`.
    for model, above, small, large in (
        ("claude-haiku-5-5", 100_000, "0.1", "0.5"),
        ("claude-sonnet-4-5-20250929", 200_000, "3.0", "6.0"),
        ("claude-sonnet-4-20250514", 200_000, "3.0", "6.0"),
    ):
        at = table.price(model, prompt=above)
        over = table.price(model, prompt=above + 1)
        assert at is not None and over is not None
        assert (at.input, over.input) == (Decimal(small), Decimal(large)), model
    long = table.price("claude-sonnet-4-5", prompt=200_001)
    assert long is not None
    assert (long.output, long.cache_write, long.cache_write_1h, long.cache_read) == (
        Decimal("22.5"),
        Decimal("7.5"),
        Decimal("12.0"),
        Decimal("0.6"),
    )
    # Sonnet 4.6 has no such tier here.
    assert table.price("claude-sonnet-4-6", prompt=500_000) == table.price("claude-sonnet-4-6")


def test_one_request_is_priced_by_its_own_prompt() -> None:
    table = load_prices()
    # 100,000 tokens of prompt (40,000 + 10,000 written + 50,000 read): the small prompt's rates.
    small = dict(input=40_000, output=1_000, cache_write=10_000, cache_read=50_000)
    # 0.1 x 40000 + 0.5 x 1000 + 0.125 x 10000 + 0.01 x 50000
    assert table.cost_micros("claude-haiku-5-5", **small) == 6250
    # One more token read: every token at the large prompt's rates, output included.
    large = small | {"cache_read": 50_001}
    # 0.5 x 40000 + 2.5 x 1000 + 0.625 x 10000 + 0.05 x 50001 = 31250.05
    assert table.cost_micros("claude-haiku-5-5", **large) == 31250
    # A dated model: by the request's time.
    reads = dict(input=0, output=0, cache_write=0, cache_read=1_000_000)
    at = _ms("2026-10-06T12:00:00+00:00")
    assert table.cost_micros("claude-sonnet-5-5", **reads, at_ms=at) == 200_000
    at = _ms("2026-10-07T12:00:00+00:00")
    assert table.cost_micros("claude-sonnet-5-5", **reads, at_ms=at) == 100_000
    at = _ms("2026-09-01T12:00:00+00:00")
    assert table.cost_micros("claude-sonnet-5-5", **reads, at_ms=at) is None


def test_an_override_in_the_new_shape_replaces_a_model(tmp_path: Path) -> None:
    extra = tmp_path / "prices.toml"
    extra.write_text(
        # Sonnet 4.5 gets periods (and loses tina's long-context tier); a new model gets tiers.
        "[[models.claude-sonnet-4-5.periods]]\n"
        f'from = "2026-01-01"\n{RATES}'
        "[[models.claude-sonnet-4-5.periods]]\n"
        f'from = "2026-03-01T12:00Z"\n{RATES.replace("input = 1", "input = 2")}'
        f"[models.claude-future-9]\n{RATES}"
        f"[[models.claude-future-9.tiers]]\nabove = 1000\n{RATES.replace('input = 1', 'input = 3')}"
        f"[[models.claude-future-9.tiers]]\nabove = 5000\n{RATES.replace('input = 1', 'input = 4')}"
    )
    table = load_prices(extra)
    sonnet = "claude-sonnet-4-5-20250929"
    assert table.price(sonnet, at_ms=_ms("2025-12-31T23:00:00+00:00")) is None
    early = table.price(sonnet, at_ms=_ms("2026-03-01T11:59:59+00:00"), prompt=500_000)
    late = table.price(sonnet, at_ms=_ms("2026-03-01T12:00:00+00:00"))
    assert early is not None and late is not None
    assert (early.input, late.input) == (Decimal(1), Decimal(2))
    inputs = [table.price("claude-future-9", prompt=p) for p in (1000, 1001, 5000, 5001)]
    assert [p.input if p else None for p in inputs] == [1, 3, 3, 4]
    assert table.cuts == (1000, 5000, 100_000, 200_000)  # Sonnet 4's tier stays


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (
            f'[[models.x.periods]]\nfrom = "2026-10-07"\n{RATES}'
            f'[[models.x.periods]]\nfrom = "2026-10-01"\n{RATES}',
            "models.x.periods[1].from",
            "after the previous period",
        ),
        (
            f'[[models.x.periods]]\nfrom = "2026-10-07"\n{RATES}'
            f'[[models.x.periods]]\nfrom = "2026-10-07"\n{RATES}',
            "models.x.periods[1].from",
            "after the previous period",
        ),
        (
            f'[[models.x.periods]]\nfrom = "2026-13-01"\n{RATES}',
            "models.x.periods[0].from",
            "expected a UTC date",
        ),
        (
            f'[[models.x.periods]]\nfrom = "next tuesday"\n{RATES}',
            "models.x.periods[0].from",
            "expected a UTC date",
        ),
        (
            f'[[models.x.periods]]\nfrom = "2026-10-07T12:30Z"\n{RATES}',
            "models.x.periods[0].from",
            "whole UTC hour",
        ),
        (
            f"[[models.x.periods]]\nfrom = 2026-10-07T12:00:00\n{RATES}",
            "models.x.periods[0].from",
            "expected a UTC date",
        ),
        (f"[[models.x.periods]]\n{RATES}", "models.x.periods[0]", "needs from"),
        (
            f'[[models.x.periods]]\nfrom = "2026-10-07"\nuntil = "2026-11-01"\n{RATES}',
            "models.x.periods[0]",
            "unknown until",
        ),
        (
            f'{RATES}[[models.x.periods]]\nfrom = "2026-10-07"\n{RATES}'.replace(
                "input", "[models.x]\ninput", 1
            ),
            "models.x",
            "has periods",
        ),
        ("[models.x]\nperiods = []\n", "models.x.periods", "one or more"),
        (f"[models.x]\n{RATES}[[models.x.tiers]]\n{RATES}", "models.x.tiers[0]", "needs above"),
        (
            f"[models.x]\n{RATES}[[models.x.tiers]]\nabove = 0\n{RATES}",
            "models.x.tiers[0].above",
            "whole number of tokens",
        ),
        (
            f'[models.x]\n{RATES}[[models.x.tiers]]\nabove = "200k"\n{RATES}',
            "models.x.tiers[0].above",
            "whole number of tokens",
        ),
        (
            f"[models.x]\n{RATES}[[models.x.tiers]]\nabove = 200000\n{RATES}"
            f"[[models.x.tiers]]\nabove = 100000\n{RATES}",
            "models.x.tiers[1].above",
            "more than the previous tier",
        ),
        (
            f"[models.x]\n{RATES}[[models.x.tiers]]\nabove = 200000\nbelow = 1\n{RATES}",
            "models.x.tiers[0]",
            "unknown below",
        ),
        (
            f"[models.x]\n{RATES}[[models.x.tiers]]\nabove = 200000\ninput = 1\n",
            "models.x.tiers[0]",
            "missing output",
        ),
        (f"[models.x]\n{RATES}tiers = 3\n", "models.x.tiers", "one or more"),
    ],
)
def test_a_bad_period_or_tier_is_refused_naming_the_file_and_field(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    _refused(tmp_path, text, field, message)
