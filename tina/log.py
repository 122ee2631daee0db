"""Logging setup: the only place renderers are chosen.

`configure_logging("json")` for launchd (one JSON object per line on stderr),
`configure_logging("console")` in the foreground. Library loggers (trio-websocket,
watchfiles) go through the same processors. Node credentials, tokens and the enrollment
secret never reach a log line:

- a traceback is rendered into the event (a dict in JSON, text on the console) *before* the
  event's values are masked, so its exception messages are masked like any other value, and
  frames' local variables are never rendered (a local named ``token`` holding an opaque secret
  could not be recognised by its shape);
- the rendered line is masked once more, so nothing a renderer adds can carry a credential.
"""

from __future__ import annotations

import collections
import logging
import re
import sys
from typing import Any, Literal

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

SECRET_KEYS = re.compile(r"(token|secret|credential|password|authorization)", re.IGNORECASE)
SECRET_VALUES = re.compile(
    r"tina_node_[A-Za-z0-9_-]+|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"
)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return SECRET_VALUES.sub("***", value)
    if isinstance(value, dict):
        return {k: ("***" if SECRET_KEYS.search(str(k)) else _mask(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask(v) for v in value)
    return value


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Mask values of secret-looking keys and anything shaped like a credential or JWT."""
    for key in list(event_dict):
        if key.startswith("_"):
            continue
        if key == "event":
            event_dict[key] = _mask(event_dict[key])
        elif SECRET_KEYS.search(key):
            event_dict[key] = "***"
        else:
            event_dict[key] = _mask(event_dict[key])
    return event_dict


def redact_rendered(_: WrappedLogger, __: str, rendered: str) -> str:
    """The last step after the renderer: mask credential-shaped text in the finished line."""
    return SECRET_VALUES.sub("***", rendered)


class RecentLines:
    """A processor keeping the last N events (already redacted) for the debug view."""

    def __init__(self, size: int = 200) -> None:
        self.lines: collections.deque[dict[str, Any]] = collections.deque(maxlen=size)

    def __call__(self, _: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        self.lines.append({k: v for k, v in event_dict.items() if not k.startswith("_")})
        return event_dict


RECENT = RecentLines()


def configure_logging(mode: Literal["json", "console", "quiet"], level: str = "info") -> None:
    # Tracebacks are rendered into the event before masking (see the module docstring).
    if mode == "json":
        renderer: Processor = structlog.processors.JSONRenderer()
        render_exception: Processor = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
        render_exception = structlog.processors.format_exc_info
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        render_exception,
        redact_secrets,
        RECENT,
    ]

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
                redact_rendered,  # type: ignore[list-item]  # takes the rendered line
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler] if mode != "quiet" else [logging.NullHandler()]
    root.setLevel(level.upper())
    # watchfiles logs every batch at info; trio-websocket is chatty at debug.
    logging.getLogger("watchfiles.main").setLevel(logging.WARNING)
    logging.getLogger("trio-websocket").setLevel(logging.WARNING)
