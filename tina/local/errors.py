"""The one error type of the local-file readers."""

from __future__ import annotations

from typing import Any

__all__ = ["ReadError", "describe_value"]


def describe_value(value: Any, *, limit: int = 60) -> str:
    """A short, readable description of a JSON value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return f"an object with {len(value)} key(s)"
    if isinstance(value, list):
        return f"an array of {len(value)} item(s)"
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


class ReadError(Exception):
    """A local file could not be turned into a model.

    ``path`` names the file (or ``"<bytes>"``), ``field`` the JSON path inside it (``None`` when
    the whole document is the problem), ``expected`` what the reader wanted and ``got`` what it
    found. ``incomplete`` is true when the bytes look like a file caught half-written (empty, or
    JSON cut off at the end): a reader should simply try again on the next change.
    """

    def __init__(
        self,
        path: str,
        field: str | None,
        expected: str,
        got: str | None = None,
        *,
        incomplete: bool = False,
    ) -> None:
        self.path = path
        self.field = field
        self.expected = expected
        self.got = got
        self.incomplete = incomplete
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = self.path if self.field is None else f"{self.path}: field {self.field}"
        text = f"{where}: expected {self.expected}"
        if self.got is not None:
            text += f", got {self.got}"
        return text

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (self.path, self.field, self.expected, self.got, self.incomplete),
        )


def _rebuild(
    path: str, field: str | None, expected: str, got: str | None, incomplete: bool
) -> ReadError:
    return ReadError(path, field, expected, got, incomplete=incomplete)
