"""tina: see and steer every multi-agent Claude Code orchestration on every laptop, live."""

__version__ = "0.1.0"
