"""The cattrs converter behind the readers and encoders.

Structuring is strict about JSON types (a string is never silently turned into a list of
characters, ``true`` is not an integer) and tolerant about shape (unknown keys are ignored,
``null`` means "use the default", documented aliases are read). Every failure becomes one
:class:`ReadError` naming the JSON path of the offending field.
"""

from __future__ import annotations

import enum
import json
import re
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, override

from .errors import ReadError, describe_value
from .models import (
    OrchestrationStatus,
    PhaseKey,
    PhaseStatus,
    PhaseStatusFile,
    PlanApproval,
    SessionLookup,
    SupervisorState,
    Task,
    TaskStatus,
    TeamConfig,
    TeamMember,
    VerdictResult,
)
from .names import is_phase_key, phase_sort_key

__all__ = [
    "converter",
    "decode_json",
    "format_timestamp",
    "json_key",
    "parse_timestamp",
    "structure",
    "to_read_error",
    "unstructure",
]

T = TypeVar("T")

_ENUMS: tuple[type[enum.Enum], ...] = (
    OrchestrationStatus,
    PhaseStatus,
    PlanApproval,
    TaskStatus,
    VerdictResult,
)

# Classes whose JSON keys are camelCase (Claude Code's files).
_CAMEL_CASE: frozenset[type] = frozenset({TeamConfig, TeamMember, Task})

# attribute name -> other JSON keys accepted for it, in order of preference.
_ALIASES: dict[type, dict[str, tuple[str, ...]]] = {
    SupervisorState: {"spec_doc": ("design_doc",)},
    SessionLookup: {"worktree_path": ("cwd",)},
    PhaseStatusFile: {"reason": ("blocked_reason",)},
}

# Optional attributes read leniently: a value of the wrong type counts as absent (Claude Code's
# undocumented fields, whose shapes vary by version).
_LENIENT: dict[type, tuple[str, ...]] = {
    TeamMember: ("is_active", "plan_mode_required"),
    Task: ("created_at", "updated_at"),
}

# Attributes holding text for which a JSON integer is read as its decimal text (a task ``id``
# is written as ``"1"``, but a numeric ``1`` must not make the file unreadable).
_INTEGER_AS_TEXT: dict[type, tuple[str, ...]] = {
    Task: ("id",),
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def json_key(cls: type, attribute: str) -> str:
    """The JSON key of an attribute of a model class."""
    return _camel(attribute) if cls in _CAMEL_CASE else attribute


class _Expected(Exception):
    """Leaf structuring failure: what was expected and what was found."""

    def __init__(self, expected: str, got: Any) -> None:
        super().__init__(expected)
        self.expected = expected
        self.got = describe_value(got)


# --------------------------------------------------------------------------------------------
# timestamps


def parse_timestamp(value: Any) -> datetime:
    """RFC 3339 text (``Z`` or an offset; naive means UTC) or epoch milliseconds → aware UTC."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _Expected("an RFC 3339 timestamp", value) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise _Expected("a timestamp in milliseconds since the epoch", value) from None
    raise _Expected("a timestamp (RFC 3339 text or epoch milliseconds)", value)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix and microseconds."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------
# structure hooks


def _structure_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Expected("a string", value)


def _structure_int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _Expected("an integer", value)


def _structure_bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _Expected("true or false", value)


def _structure_datetime(value: Any, _: Any) -> datetime:
    return parse_timestamp(value)


def _structure_phase_key(value: Any, _: Any) -> str:
    if isinstance(value, str) and is_phase_key(value):
        return value
    raise _Expected("a phase key like '1' or '1.5'", value)


def _structure_any(value: Any, _: Any) -> Any:
    return value


def _is_optional(tp: Any) -> bool:
    return type(None) in typing.get_args(tp)


def _enum_hook(cls: type[enum.Enum]) -> Callable[[Any, Any], enum.Enum]:
    allowed = ", ".join(repr(member.value) for member in cls)

    def hook(value: Any, _: Any) -> enum.Enum:
        if isinstance(value, str):
            try:
                return cls(value)
            except ValueError:
                pass
        raise _Expected(f"one of {allowed}", value)

    return hook


def _is_homogeneous_tuple(tp: Any) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def _tuple_hook(tp: Any, conv: cattrs.Converter) -> Callable[[Any, Any], tuple[Any, ...]]:
    item_type = typing.get_args(tp)[0]
    item_hook = conv.get_structure_hook(item_type)

    def hook(value: Any, _: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise _Expected("an array", value)
        items: list[Any] = []
        errors: list[Exception] = []
        for index, item in enumerate(value):
            try:
                items.append(item_hook(item, item_type))
            except Exception as exc:
                exc.add_note(IterableValidationNote(f"@ index {index}", index, item_type))
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
        return tuple(items)

    return hook


def _is_mapping(tp: Any) -> bool:
    return typing.get_origin(tp) in (dict, Mapping)


def _mapping_hook(tp: Any, conv: cattrs.Converter) -> Callable[[Any, Any], dict[Any, Any]]:
    key_type, value_type = typing.get_args(tp)
    key_hook = conv.get_structure_hook(key_type)
    value_hook = conv.get_structure_hook(value_type)

    def hook(value: Any, _: Any) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise _Expected("an object", value)
        result: dict[Any, Any] = {}
        errors: list[Exception] = []
        for key, item in value.items():
            try:
                result[key_hook(key, key_type)] = value_hook(item, value_type)
            except Exception as exc:
                exc.add_note(IterableValidationNote(f"@ key {key!r}", str(key), value_type))
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
        return result

    return hook


def _attrs_structure_hook(cls: type[Any], conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    attrs.resolve_types(cls)
    fields = attrs.fields(cls)
    renames = {f.name: json_key(cls, f.name) for f in fields}
    overrides = {name: override(rename=key) for name, key in renames.items() if key != name}
    base = make_dict_structure_fn(cls, conv, _cattrs_detailed_validation=True, **overrides)  # type: ignore[arg-type]
    aliases = {renames[name]: alts for name, alts in _ALIASES.get(cls, {}).items()}
    # ``null`` for a field that has a default but is not optional means "use the default".
    null_means_default = [
        renames[f.name]
        for f in fields
        if f.default is not attrs.NOTHING and not _is_optional(f.type)
    ]
    by_name = {f.name: f for f in fields}
    lenient = [(renames[name], by_name[name].type) for name in _LENIENT.get(cls, ())]
    integer_as_text = [renames[name] for name in _INTEGER_AS_TEXT.get(cls, ())]

    def hook(value: Any, _: Any) -> Any:
        if not isinstance(value, dict):
            raise _Expected("an object", value)
        doc = value
        for key, alternatives in aliases.items():
            if doc.get(key) is None:
                for alternative in alternatives:
                    if doc.get(alternative) is not None:
                        doc = {**doc, key: doc[alternative]}
                        break
        for key in null_means_default:
            if key in doc and doc[key] is None:
                doc = {k: v for k, v in doc.items() if k != key}
        for key, field_type in lenient:
            if doc.get(key) is not None:
                try:
                    conv.structure(doc[key], field_type)
                except Exception:
                    doc = {k: v for k, v in doc.items() if k != key}
        for key in integer_as_text:
            number = doc.get(key)
            if isinstance(number, int) and not isinstance(number, bool):
                doc = {**doc, key: str(number)}
        return base(doc, cls)

    return hook


# --------------------------------------------------------------------------------------------
# unstructure (writing)

# Fields left out of written files when empty, besides ``None`` values (which are always omitted).
_OMIT_WHEN_EMPTY = frozenset(
    {"review_verdicts", "in_phase_repair_loops", "retry_count", "plan_feedback"}
)


def _attrs_unstructure_hook(cls: type[Any], conv: cattrs.Converter) -> Callable[[Any], Any]:
    attrs.resolve_types(cls)
    fields = attrs.fields(cls)
    keys = [(f.name, json_key(cls, f.name)) for f in fields]

    def hook(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, key in keys:
            value = getattr(obj, name)
            if value is None or (name in _OMIT_WHEN_EMPTY and not value):
                continue
            out[key] = conv.unstructure(value)
        return out

    return hook


def _mapping_unstructure_hook(conv: cattrs.Converter) -> Callable[[Any], dict[Any, Any]]:
    """Plain dicts; the phases map is written in numeric phase order (1, 1.5, 2, 10)."""

    def hook(value: Mapping[Any, Any]) -> dict[Any, Any]:
        keys = list(value)
        if all(isinstance(k, str) and is_phase_key(k) for k in keys):
            keys.sort(key=phase_sort_key)
        return {k: conv.unstructure(value[k]) for k in keys}

    return hook


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(bool, _structure_bool)
    # Per class: a str registration would otherwise also catch these StrEnum subclasses.
    for enum_cls in _ENUMS:
        conv.register_structure_hook(enum_cls, _enum_hook(enum_cls))
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook_func(lambda t: t == PhaseKey, _structure_phase_key)
    conv.register_structure_hook(Any, _structure_any)
    conv.register_structure_hook_factory(_is_homogeneous_tuple, _tuple_hook)
    conv.register_structure_hook_factory(_is_mapping, _mapping_hook)
    conv.register_structure_hook_factory(attrs.has, _attrs_structure_hook)

    conv.register_unstructure_hook(datetime, format_timestamp)
    conv.register_unstructure_hook_factory(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum),
        lambda _t: lambda member: member.value,
    )
    conv.register_unstructure_hook_factory(attrs.has, _attrs_unstructure_hook)
    conv.register_unstructure_hook_func(
        lambda t: t is dict or _is_mapping(t), _mapping_unstructure_hook(conv)
    )
    return conv


converter = _make_converter()


# --------------------------------------------------------------------------------------------
# errors


def _render_path(segments: list[str | int]) -> str:
    text = ""
    for segment in segments:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif segment.startswith("["):
            text += segment
        else:
            text += f".{segment}" if text else segment
    return text


def to_read_error(exc: Exception, path: str) -> ReadError:
    """Turn a (possibly nested) cattrs structuring failure into one :class:`ReadError`."""
    segments: list[str | int] = []
    current: BaseException = exc
    owner: type | None = None
    attribute: str | None = None
    while isinstance(current, ClassValidationError | IterableValidationError):
        group = current
        with_notes, others = group.group_exceptions()
        if with_notes:
            sub, note = with_notes[0]
            if isinstance(note, AttributeValidationNote):
                owner, attribute = group.cl, note.name
                segments.append(json_key(group.cl, note.name))
            elif isinstance(note, IterableValidationNote):
                index = note.index
                segments.append(index if isinstance(index, int) else f"[{json.dumps(index)}]")
            current = sub
        elif others:
            current = others[0]
        else:  # pragma: no cover - cattrs never raises an empty group
            break
    field = _render_path(segments) or None
    if isinstance(current, _Expected):
        return ReadError(path, field, current.expected, current.got)
    if isinstance(current, KeyError):
        expected = "a value (the field is required)"
        alternatives = _ALIASES.get(owner, {}).get(attribute or "") if owner else None
        if alternatives:
            expected = f"a value (the field is required; also read as {', '.join(alternatives)})"
        return ReadError(path, field, expected, "nothing")
    return ReadError(path, field, "a valid value", f"{type(current).__name__}: {current}")


_TRUNCATION_WINDOW = 10

# A \uXXXX escape of a surrogate (D800-DFFF): the only way JSON text can hold half a pair.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_replace_lone_surrogates(k): _replace_lone_surrogates(v) for k, v in value.items()}
    return value


def decode_json(data: bytes, path: str) -> Any:
    """Parse JSON bytes; a truncated or empty document is flagged ``incomplete``.

    Half a surrogate pair written as an escape (``"\\ud83d"``: text cut in UTF-16 units, e.g.
    by a JavaScript program, then ``JSON.stringify``-ed) decodes to a lone surrogate, which no
    UTF-8 encoder accepts: it becomes U+FFFD, so such text can never reach the wire. A whole
    pair decodes to its character as usual.
    """
    if not data.strip():
        raise ReadError(path, None, "a JSON document", "an empty file", incomplete=True)
    try:
        doc = json.loads(data)
        if _SURROGATE_ESCAPE.search(data):  # rare: only then walk the document
            doc = _replace_lone_surrogates(doc)
        return doc
    except UnicodeDecodeError as exc:
        raise ReadError(
            path, None, "UTF-8 encoded JSON", f"undecodable bytes ({exc.reason})"
        ) from None
    except json.JSONDecodeError as exc:
        # Cut off mid-document: the error sits in the last few characters (inside a literal,
        # a number or an escape) or a string never ends.
        tail = len(exc.doc.rstrip()) - exc.pos
        incomplete = tail <= _TRUNCATION_WINDOW or exc.msg.startswith("Unterminated")
        got = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        if incomplete:
            got += " (the file looks truncated)"
        raise ReadError(
            path, None, "a complete JSON document", got, incomplete=incomplete
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ReadError(path, None, "a JSON document", f"{type(exc).__name__}: {exc}") from None


def structure(doc: Any, cls: type[T], path: str) -> T:
    """Structure a decoded JSON document into ``cls`` or raise one :class:`ReadError`."""
    try:
        return converter.structure(doc, cls)
    except _Expected as exc:
        raise ReadError(path, None, exc.expected, exc.got) from None
    except (ClassValidationError, IterableValidationError) as exc:
        raise to_read_error(exc, path) from None
    except Exception as exc:  # defensive: no other type may escape a reader
        raise ReadError(path, None, "a valid document", f"{type(exc).__name__}: {exc}") from None


def unstructure(obj: Any) -> Any:
    return converter.unstructure(obj)
