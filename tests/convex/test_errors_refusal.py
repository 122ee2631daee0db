"""A ConvexError's data is classified in one place: refused credential or not."""

from __future__ import annotations

from typing import Any

import pytest

from tina.convex.errors import ConvexError, ErrorData, error_data, refusal


def error(data: Any, message: str = "Server Error") -> ConvexError:
    return ConvexError(data, message, udf_path="teams:syncTeam")


@pytest.mark.parametrize("code", ["unauthenticated", "revoked", "forbidden"])
def test_a_refused_credential_is_named_with_its_code_and_message(code: str) -> None:
    assert refusal(error({"code": code, "message": "no"})) == f"{code}: no"


@pytest.mark.parametrize(
    "data",
    [
        {"code": "invalid_argument", "message": "phases.phaseNumber: expected a phase"},
        {"code": "not_found", "message": "no such orchestration"},
        {"message": "no code"},
        "revoked",  # not a dict: no code at all
        None,
        {"code": ["revoked"]},
    ],
)
def test_anything_else_is_not_a_refusal(data: Any) -> None:
    assert refusal(error(data)) is None


def test_a_refusal_without_a_message_quotes_the_error() -> None:
    assert refusal(error({"code": "revoked"}, "gone")) == "revoked: teams:syncTeam: gone"


def test_error_data_reads_code_and_message_whatever_the_data() -> None:
    assert error_data(error({"code": "not_found", "message": "m"})) == ErrorData("not_found", "m")
    assert error_data(error(["x"], "text")) == ErrorData("", "teams:syncTeam: text")
    assert error_data(error({"code": 7})) == ErrorData("7", "teams:syncTeam: Server Error")
