"""Typed exceptions raised by the Convex client.

Every failure a caller can see is a :class:`ConvexClientError`:

- :class:`ConvexFunctionError`: the Convex function ran and failed (a plain ``throw``).
- :class:`ConvexError`: the function threw a ``ConvexError``; ``data`` is its decoded payload.
  A subclass of :class:`ConvexFunctionError`, so one ``except`` catches every server-side failure.
- :class:`ConvexConnectionLost`: an action was in flight when the socket died (actions are not
  idempotent, so they are never re-sent).
- :class:`ConvexTimeout`: the call's deadline passed. Also a :class:`trio.TooSlowError`.
  A mutation that timed out may or may not have been applied.
- :class:`ConvexAuthError`: the server rejected the token; the client waits for a new one.
- :class:`ConvexFatalError`: the server sent ``FatalError``.
- :class:`ConvexClientClosed`: the client was closed while the call waited (or before it).
- :class:`ConvexProtocolError`: the server broke the protocol; the client reconnects. Callers
  only see it as a connection status's ``last_error``.
- :class:`ConvexInvalidArgument`: the call's arguments cannot be sent (text with a lone UTF-16
  surrogate); nothing was sent and the connection is unaffected. Also a :class:`ValueError`.

A ``ConvexError``'s data is read in one place: :func:`error_data` (its ``code`` and ``message``)
and :func:`refusal`, which says whether the server refused the caller's credential.
"""

from __future__ import annotations

import copy
from typing import Any, Final, NamedTuple

import trio

__all__ = [
    "CREDENTIAL_REFUSED",
    "ConvexAuthError",
    "ConvexClientClosed",
    "ConvexClientError",
    "ConvexConnectionLost",
    "ConvexError",
    "ConvexFatalError",
    "ConvexFunctionError",
    "ConvexInvalidArgument",
    "ConvexProtocolError",
    "ConvexTimeout",
    "ErrorData",
    "error_data",
    "refusal",
]


class ConvexClientError(Exception):
    """Base class of every error the Convex client raises."""


class ConvexFunctionError(ConvexClientError):
    """A Convex function failed on the server.

    ``message`` is the server's text (``[Request ID: ...] Server Error\\nUncaught Error: ...``);
    ``udf_path`` names the function when known.
    """

    def __init__(self, message: str, *, udf_path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.udf_path = udf_path

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle keep every field
        return (_rebuild, (type(self), self.__dict__))

    def __str__(self) -> str:
        if self.udf_path is None:
            return self.message
        return f"{self.udf_path}: {self.message}"


class ConvexError(ConvexFunctionError):
    """A ``ConvexError`` thrown by a Convex function; ``data`` is its decoded payload."""

    def __init__(self, data: Any, message: str, *, udf_path: str | None = None) -> None:
        super().__init__(message, udf_path=udf_path)
        self.data = data

    def __repr__(self) -> str:
        return f"ConvexError(data={self.data!r}, message={self.message!r})"


#: The ``code`` of a ``ConvexError`` by which the server refuses the caller's credential (unknown,
#: revoked, or not allowed): nothing the caller sends succeeds until it enrolls again.
CREDENTIAL_REFUSED: Final = frozenset({"unauthenticated", "revoked", "forbidden"})


class ErrorData(NamedTuple):
    """What a ``ConvexError``'s data says: its ``code`` ("" when it has none) and its
    ``message`` (the error's own text when the data has none)."""

    code: str
    message: str


def error_data(exc: ConvexError) -> ErrorData:
    data = exc.data if isinstance(exc.data, dict) else {}
    return ErrorData(code=str(data.get("code", "")), message=str(data.get("message", exc)))


def refusal(exc: ConvexError) -> str | None:
    """``"code: message"`` when ``exc`` says the caller's credential is refused
    (:data:`CREDENTIAL_REFUSED`); None for any other ``ConvexError`` (refused data, say)."""
    code, message = error_data(exc)
    return f"{code}: {message}" if code in CREDENTIAL_REFUSED else None


def _rebuild(cls: type[ConvexFunctionError], state: dict[str, Any]) -> ConvexFunctionError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


def fresh(error: BaseException) -> BaseException:
    """A copy of ``error`` to raise, so one failure shared by many callers never shares a
    traceback (or ``__context__``) between them."""
    copied = copy.copy(error)
    copied.__traceback__ = None
    copied.__context__ = None
    copied.__cause__ = None
    return copied


class ConvexConnectionLost(ConvexClientError):
    """The connection dropped while a call that cannot be re-sent (an action) was in flight."""


class ConvexTimeout(ConvexClientError, trio.TooSlowError):
    """A call's deadline passed before it completed."""


class ConvexAuthError(ConvexClientError):
    """The server rejected the authentication token (or it expired).

    The client does not retry with the same token: it stays in the ``auth_failed`` state until
    :meth:`ConvexClient.set_auth` provides a new token (or clears it). Calls waiting when the
    token is rejected fail with this error (a mutation among them may or may not have been
    applied), and so do new calls until then.
    """


class ConvexFatalError(ConvexClientError):
    """The server reported a fatal error on the connection."""


class ConvexClientClosed(ConvexClientError):
    """The client is closed."""


class ConvexProtocolError(ConvexClientError):
    """The server sent something the protocol does not allow; the socket is dropped."""


class ConvexInvalidArgument(ConvexClientError, ValueError):
    """A call's arguments cannot be sent: a string holds half a UTF-16 surrogate pair.

    Such text has no UTF-8 encoding; Convex parses frames strictly and would close the
    connection, and a mutation re-sent on the next one would close it again, for ever. The call
    fails before anything is sent or any state changes; sending the same arguments again fails
    the same way. ``udf_path`` names the function, ``where`` the argument (``tasks[3].subject``).
    """

    def __init__(self, message: str, *, udf_path: str, where: str) -> None:
        super().__init__(message)
        self.udf_path = udf_path
        self.where = where

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_invalid, (str(self), self.udf_path, self.where))


def _rebuild_invalid(message: str, udf_path: str, where: str) -> ConvexInvalidArgument:
    return ConvexInvalidArgument(message, udf_path=udf_path, where=where)
