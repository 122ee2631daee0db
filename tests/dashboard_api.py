"""What the end-to-end and chaos tests share: Convex's HTTP function API as a dashboard user
(or anonymous), and polling until a check holds."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any


class ApiError(Exception):
    """A function's failure: its message and its `ConvexError` data (None for a plain error)."""

    def __init__(self, message: str, data: Any) -> None:
        super().__init__(message)
        self.data = data


class Api:
    """Convex's HTTP function API, as the dashboard's user (`token`) or anonymous."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.token = token

    def call(self, kind: str, path: str, args: dict[str, Any]) -> Any:
        body = json.dumps({"path": path, "format": "convex_encoded_json", "args": [args]}).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(
            f"{self.url}/api/{kind}", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                doc = json.loads(resp.read())
        except urllib.error.HTTPError as err:
            with err:
                doc = json.loads(err.read() or b"{}")
            raise ApiError(doc.get("errorMessage", str(err)), doc.get("errorData")) from None
        return doc["value"]

    def query(self, path: str, **args: Any) -> Any:
        return self.call("query", path, args)

    def mutation(self, path: str, **args: Any) -> Any:
        return self.call("mutation", path, args)

    def action(self, path: str, **args: Any) -> Any:
        return self.call("action", path, args)

    def signed_in(self, email: str, password: str, *, flow: str = "signIn") -> Api:
        """A password user signed in (`flow` "signUp": a new one): their API."""
        out = self.action(
            "auth:signIn",
            provider="password",
            params={"email": email, "password": password, "flow": flow},
        )
        return Api(self.url, out["tokens"]["token"])


def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy (returned); past `timeout`, re-raise its
    last AssertionError, or say the condition was not met."""
    deadline = time.monotonic() + timeout
    last: AssertionError | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except AssertionError as exc:
            last = exc
        time.sleep(interval)
    if last is not None:
        raise last
    raise AssertionError(f"condition not met within {timeout} s")
