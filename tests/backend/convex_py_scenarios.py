"""Scenarios for the official Python ``convex`` client, one per subprocess.

The client blocks in Rust while holding the GIL, so it never runs inside the
pytest process. Usage: ``python convex_py_scenarios.py <scenario> <url> [args...]``.
Each scenario prints JSON lines on stdout and ends with ``os._exit`` after
dropping its subscriptions (interpreter shutdown with live subscriptions can
abort).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from convex import ConvexClient, ConvexError, ConvexInt64


def emit(**fields: Any) -> None:
    print(json.dumps(fields, default=plain), flush=True)


def plain(value: object) -> object:
    """JSON for the Convex values json.dumps cannot encode."""
    if isinstance(value, ConvexInt64):
        return {"int64": value.value}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    raise TypeError(f"cannot encode {value!r}")


def basics(url: str, channel: str) -> None:
    client = ConvexClient(url)
    message_id = client.mutation("messages:send", {"channel": channel, "body": "hello"})
    emit(step="mutation", result=message_id)
    emit(step="query", result=client.query("messages:list", {"channel": channel}))
    value: dict[str, Any] = {"i": ConvexInt64(2**40), "b": b"\x00\x01"}
    echoed = client.query("messages:echo", {"value": value})
    emit(step="echo", result=echoed)
    emit(
        step="action",
        result=client.action("messages:sendViaAction", {"channel": channel, "body": "b"}),
    )
    emit(step="after-action", result=client.query("messages:list", {"channel": channel}))


def two_clients(url: str, channel: str) -> None:
    subscriber = ConvexClient(url)
    writer = ConvexClient(url)
    subscription = subscriber.subscribe("messages:list", {"channel": channel})
    emit(step="initial", result=next(subscription))
    started = time.monotonic()
    writer.mutation("messages:send", {"channel": channel, "body": "from writer"})
    emit(step="update", result=next(subscription), seconds=time.monotonic() - started)
    subscription.unsubscribe()


def errors(url: str) -> None:
    client = ConvexClient(url)
    calls: list[tuple[str, Callable[[], object]]] = [
        ("convex-query", lambda: client.query("errors:convexErrorQuery")),
        ("convex-mutation", lambda: client.mutation("errors:convexErrorMutation", {"code": "E9"})),
        ("convex-action", lambda: client.action("errors:convexErrorAction")),
        ("plain-query", lambda: client.query("errors:plainErrorQuery")),
        ("plain-mutation", lambda: client.mutation("errors:plainErrorMutation")),
        ("plain-action", lambda: client.action("errors:plainErrorAction")),
        ("internal", lambda: client.query("messages:listInternal", {"channel": "x"})),
    ]
    for name, call in calls:
        try:
            call()
        except ConvexError as error:
            emit(call=name, error="ConvexError", message=str(error), data=error.data)
        except Exception as error:
            emit(call=name, error=type(error).__name__, message=str(error))
        else:
            emit(call=name, error=None)


def auth(url: str, token: str) -> None:
    client = ConvexClient(url)
    emit(step="anonymous", result=client.query("identity:whoami"))
    client.set_auth(token)
    emit(step="query", result=client.query("identity:whoami"))
    emit(step="mutation", result=client.mutation("identity:whoamiMutation"))
    client.clear_auth()
    emit(step="cleared", result=client.query("identity:whoami"))


def scheduled(url: str, channel: str, delay_ms: str) -> None:
    client = ConvexClient(url)
    subscription = client.subscribe("messages:list", {"channel": channel})
    emit(step="initial", result=next(subscription))
    started = time.monotonic()
    client.mutation(
        "messages:sendLater", {"channel": channel, "body": "scheduled", "delayMs": float(delay_ms)}
    )
    for value in subscription:
        if value:
            emit(step="update", result=value, seconds=time.monotonic() - started)
            break
    subscription.unsubscribe()


def watch(url: str, channel: str, until: str) -> None:
    """Prints every value of the channel's list until one contains ``until``."""
    client = ConvexClient(url)
    subscription = client.subscribe("messages:list", {"channel": channel})
    for value in subscription:
        emit(step="value", result=value)
        if isinstance(value, list) and until in value:
            break
    subscription.unsubscribe()


SCENARIOS: dict[str, Callable[..., None]] = {
    "basics": basics,
    "two-clients": two_clients,
    "errors": errors,
    "auth": auth,
    "scheduled": scheduled,
    "watch": watch,
}


if __name__ == "__main__":
    scenario, *arguments = sys.argv[1:]
    SCENARIOS[scenario](*arguments)
    sys.stdout.flush()
    os._exit(0)
