from __future__ import annotations

from tina.usage import Dedupe
from tina.usage.dedupe import saved_open

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
