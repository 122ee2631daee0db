from __future__ import annotations

from collections import deque

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tina.usage import Dedupe
from tina.usage.dedupe import Keys, hash_key, packed, saved_hashes, saved_open

START = (3, 1, 2000, 15_000, 0, 0)


def test_a_message_is_counted_once_and_a_later_line_adds_only_what_it_says_more() -> None:
    dedupe = Dedupe()
    assert dedupe.first("m:r", START)
    assert not dedupe.first("m:r", START)
    assert dedupe.growth("m:r", START) is None  # the same figures: nothing more
    assert dedupe.growth("m:r", (3, 40, 2000, 15_000, 0, 1)) == (0, 39, 0, 0, 0, 1)
    # Kind by kind, never less than nothing: a line saying less of one kind adds the others.
    assert dedupe.growth("m:r", (3, 30, 2500, 15_000, 0, 1)) == (0, 0, 500, 0, 0, 0)
    assert dedupe.growth("m:r", (3, 45, 2000, 15_000, 0, 1)) == (0, 5, 0, 0, 0, 0)
    assert dedupe.grown == 3
    # a message with no ids is always counted, and never grows
    assert dedupe.first(None, START) and dedupe.growth(None, START) is None


def test_only_the_most_recent_messages_figures_are_kept_for_growth() -> None:
    dedupe = Dedupe(keep=10, keep_open=2)
    for key in ("a", "b", "c"):
        assert dedupe.first(key, START)
    assert dedupe.growth("a", (3, 9, 2000, 15_000, 0, 0)) is None  # its figures forgotten
    assert not dedupe.first("a", START)  # but still known: not counted again
    assert dedupe.growth("c", (3, 9, 2000, 15_000, 0, 0)) == (0, 8, 0, 0, 0, 0)
    assert len(dedupe.open_items()) == 2


def test_a_message_whose_figures_are_remembered_is_not_counted_again_once_its_key_is_not() -> None:
    dedupe = Dedupe(keep=1, keep_open=4)
    assert dedupe.first("a", START) and dedupe.first("b", START)  # a's key forgotten
    assert not dedupe.first("a", START)  # its figures are not: a repeat
    assert dedupe.growth("a", (3, 5, 2000, 15_000, 0, 0)) == (0, 4, 0, 0, 0, 0)


def test_the_figures_set_since_the_last_save_are_what_a_journal_line_adds() -> None:
    dedupe = Dedupe()
    dedupe.first("a", START)
    dedupe.first("b", START)
    dedupe.take_fresh()
    assert dedupe.fresh_open == []
    dedupe.growth("a", (3, 9, 2000, 15_000, 0, 0))
    [(saved_hash, *counts)] = dedupe.fresh_open
    assert counts == [3, 9, 2000, 15_000, 0, 0]
    again = Dedupe(dedupe.hashes())
    again.extend_open(saved_open(dedupe.open_items()))  # as a load gives them back
    assert again.growth("a", (3, 10, 2000, 15_000, 0, 0)) == (0, 1, 0, 0, 0, 0)
    assert saved_hash == dedupe.open_items()[-1][0]


def test_what_a_save_carries_is_no_more_than_is_remembered() -> None:
    """A catch-up on a week of transcripts counts more messages before its first save than are
    remembered: the save carries the keys and figures still remembered, not all of them."""
    dedupe = Dedupe(keep=3, keep_open=2)
    for key in "abcde":
        assert dedupe.first(key, START)
    assert dedupe.has_fresh
    assert saved_hashes(dedupe.fresh) == saved_hashes(dedupe.hashes())  # c, d, e
    assert saved_hashes(dedupe.fresh) == [hash_key(k) for k in "cde"]
    assert [entry[0] for entry in dedupe.fresh_open] == [f"{hash_key(k):016x}" for k in "de"]
    dedupe.take_fresh()
    assert not dedupe.has_fresh and dedupe.fresh == "" and dedupe.fresh_open == []


def test_saved_hashes_read_back_packed_or_listed_leaving_out_what_is_not_one() -> None:
    hashes = [0, 1, 2**64 - 1, hash_key("m:r")]
    text = packed(hashes)
    assert len(text) == 64 and text[:16] == "0" * 16 and text[32:48] == "f" * 16
    assert saved_hashes(text) == hashes
    assert Dedupe(text).hashes() == text
    assert saved_hashes([f"{h:016x}" for h in hashes]) == hashes  # as older files saved them
    assert saved_hashes(text[:16] + "zz" + text[18:]) == [0, 2**64 - 1, hash_key("m:r")]
    assert saved_hashes(text + "abc") == hashes  # a piece cut short: left out
    assert saved_hashes(" " * 16 + text) == hashes  # not read as hex with its spaces skipped
    assert saved_hashes("-" + "0" * 15 + text) == hashes  # not a sign
    assert saved_hashes(None) == [] and saved_hashes({"a": 1}) == []


# Hashes that crowd a few home slots (low bits alike) and reach the top of the range: the
# index's probing, its wrap-around and the shifting back of a cluster on removal.
_crowded = st.builds(
    lambda high, low: (high << 6) | low,
    st.sampled_from([0, 1, 2, 7, (1 << 58) - 1]),
    st.one_of(st.integers(0, 63), st.sampled_from([0, 1, 13, 14, 15, 29, 30, 31, 62, 63])),
)


@given(keep=st.integers(1, 12), hashes=st.lists(_crowded, max_size=200))
# 8 slots: 6 and 7 at home, 15 (home 7) wrapped to slot 0; 2 makes 6 the one forgotten, and 15
# must stay where it is, its home being after the gap.
@example(keep=3, hashes=[6, 7, 15, 2, 15])
def test_the_keys_remember_the_last_ones_as_a_set_and_a_queue_would(
    keep: int, hashes: list[int]
) -> None:
    keys, seen, order = Keys(keep), set[int](), deque[int]()
    for h in hashes:
        assert (h in keys) == (h in seen)
        if h not in seen:
            keys.add(h)
            seen.add(h)
            order.append(h)
            if len(order) > keep:
                seen.discard(order.popleft())
        assert len(keys) == len(seen)
    assert list(keys.ordered()) == list(order)
    for n in range(keep + 2):  # the newest n, oldest first (what a journal line saves)
        assert list(keys.newest(n)) == list(order)[max(0, len(order) - n) :]
    assert all(h in keys for h in seen)
    assert not any(h in keys for h in set(hashes) - seen)


def test_the_keys_hold_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Keys(0)


def test_saved_keys_are_remembered_before_fresh_ones_never_after() -> None:
    """A journal line saves the keys remembered since the last save as the newest: a saved key
    replayed after them would take their place."""
    dedupe = Dedupe()
    dedupe.extend(packed([1, 2]))
    assert dedupe.first("a") and dedupe.fresh == packed([hash_key("a")])
    with pytest.raises(RuntimeError, match="take_fresh"):
        dedupe.extend(packed([3]))
    dedupe.take_fresh()
    dedupe.extend(packed([3]))
    assert saved_hashes(dedupe.hashes()) == [1, 2, hash_key("a"), 3]
