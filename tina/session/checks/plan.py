"""``check plan``'s rules, in the original's order (reference §3.21): the first failure wins."""

from __future__ import annotations

MODEL_PREFIX = "**Model:**"
MODELS = ("opus", "haiku")


def failure(text: str) -> str | None:
    """The ``FAIL: ...`` message for the first rule the plan breaks, or None if it passes."""
    tasks = text.count("### Task")
    models = text.count(MODEL_PREFIX)
    if models < tasks:
        return f"Missing model specifications ({tasks} tasks, {models} model specs)"
    for line in text.split("\n"):  # Rust's lines(): only \n ends a line
        stripped = line.strip()
        if not stripped.startswith(MODEL_PREFIX):
            continue
        model = stripped.removeprefix(MODEL_PREFIX).strip().lower()
        # Not a model name: an empty value, code, or prose (Rust measured bytes: so do we).
        if not model or "`" in model or len(model.encode()) > 20:
            continue
        if not model.startswith(MODELS):
            return f"Invalid model '{model}'. Must be 'opus' or 'haiku'."
    if "### Complexity Budget" not in text and "## Complexity Budget" not in text:
        return "Missing Complexity Budget section"
    if not has_budget_table(text):
        return "Complexity Budget section must contain a table with metrics"
    return None


def has_budget_table(text: str) -> bool:
    """A ``|...|`` row followed by a ``|---`` row inside the Complexity Budget section."""
    lines = text.split("\n")
    inside = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("### Complexity Budget", "## Complexity Budget")):
            inside = True
            continue
        if not inside:
            continue
        if stripped.startswith(("### ", "## ", "# ")):
            return False  # the next section
        if stripped.startswith("|") and stripped.endswith("|") and i + 1 < len(lines):
            following = lines[i + 1].strip()
            if following.startswith("|") and "---" in following:
                return True
    return False
