"""Text cut to Convex's limits (counted in UTF-16 units, as Convex counts) never splits a
surrogate pair, and what remains is always valid UTF-8."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from tina.daemon.projection import _cut, replace_lone_surrogates, task_snapshot, units
from tina.local import Task
from tina.messages import TaskSnapshot, TeamSnapshot

EMOJI = "\U0001f600"  # two UTF-16 units


def test_a_cut_never_splits_a_character_beyond_the_bmp() -> None:
    text = "x" * 3998 + EMOJI + "y"  # 4001 units: the emoji straddles the limit
    cut = _cut(text, 4000)
    assert cut == "x" * 3998 + "…"
    assert units(cut) <= 4000
    cut.encode("utf-8")
    assert _cut("x" * 3997 + EMOJI + "yy", 4000) == "x" * 3997 + EMOJI + "…"


def test_task_fields_are_cut_on_code_points() -> None:
    task = Task(id="1", subject=EMOJI * 600, description="d", status="pending")
    snap = task_snapshot(task)
    assert units(snap.subject) <= 1000
    assert snap.subject == EMOJI * 499 + "…"
    snap.subject.encode("utf-8")


@given(
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60),
    st.integers(min_value=1, max_value=40),
)
def test_cut_text_is_valid_and_within_the_limit(text: str, limit: int) -> None:
    cut = _cut(text, limit)
    assert cut is not None
    cut.encode("utf-8")  # never half a pair
    if units(text.replace("\x00", "")) <= limit:
        assert cut == text.replace("\x00", "")
    else:
        assert units(cut) <= limit
        assert cut.endswith("…")
        assert text.replace("\x00", "").startswith(cut[:-1])


def test_lone_surrogates_are_replaced_in_snapshots() -> None:
    team = TeamSnapshot(dir_name="d", team_name="cut \ud83d", description="ok \ud83d\ude00")
    task = TaskSnapshot(
        task_id="1", subject="\ude00", description="d", status="s", blocks=("\ud800",)
    )
    assert replace_lone_surrogates(team) == attrs.evolve(
        team, team_name="cut \ufffd", description="ok \ud83d\ude00"
    )
    assert replace_lone_surrogates([task]) == [
        attrs.evolve(task, subject="\ufffd", blocks=("\ufffd",))
    ]
    assert replace_lone_surrogates({"k": ("\udfff", 1)}) == {"k": ("\ufffd", 1)}
