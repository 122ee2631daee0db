"""attrs models <-> Convex values: camelCase on the wire, one readable error for bad data.

``make_converter()`` returns a cattrs converter for every attrs class:

- field ``node_token`` is ``nodeToken`` on the wire; a trailing ``_`` is dropped (``from_`` ->
  ``from``); ``id`` and ``creation_time`` are Convex's system fields ``_id`` and
  ``_creationTime`` (attrs strips a leading ``_`` from init args, so models cannot use them
  directly). Any field can name its own wire key with ``metadata={WIRE_NAME: "key"}``
  (for instance an argument that really is called ``id``);
- unstructuring omits optional fields (``X | None``) whose value is None, because Convex's
  ``v.optional(...)`` means "absent", and ``null`` is a different value;
- keys the model does not know are ignored when structuring (documents may grow new fields);
- structuring bad data raises :class:`WireError` (a ``ValueError``) carrying every problem as
  one line each, from ``cattrs.transform_error``, instead of a nested exception group.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, Final

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from convex.values import ConvexInt64

__all__ = ["WIRE_NAME", "WireConverter", "WireError", "make_converter", "wire_name"]

#: ``attrs.field(metadata={WIRE_NAME: "key"})`` sets a field's wire key explicitly.
WIRE_NAME: Final = "tina.convex.wire_name"

_SYSTEM_FIELDS: Final = {"id": "_id", "creation_time": "_creationTime"}


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_name(field: attrs.Attribute[Any]) -> str:
    """The key of ``field`` on the wire."""
    explicit = field.metadata.get(WIRE_NAME)
    if explicit is not None:
        return str(explicit)
    return _SYSTEM_FIELDS.get(field.name) or _camel(field.name)


def _is_optional(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(annotation)


class WireError(ValueError):
    """Data from the wire does not fit the model; ``errors`` lists each problem."""

    def __init__(self, target: Any, errors: list[str]) -> None:
        self.target = target
        self.errors = errors
        name = getattr(target, "__name__", repr(target))
        super().__init__(f"invalid {name}: " + "; ".join(errors))


class WireConverter(cattrs.Converter):
    """A cattrs converter whose :meth:`structure` raises one :class:`WireError`."""

    def structure(self, obj: Any, cl: Any) -> Any:
        try:
            return super().structure(obj, cl)
        except WireError:
            raise
        except (cattrs.ClassValidationError, cattrs.IterableValidationError) as exc:
            raise WireError(cl, cattrs.transform_error(exc)) from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise WireError(cl, cattrs.transform_error(exc)) from exc


def make_converter() -> WireConverter:
    """A converter for wire models (see the module docstring)."""
    converter = WireConverter(forbid_extra_keys=False, detailed_validation=True)

    def structure_factory(cl: type[Any]) -> Callable[[Any, Any], Any]:
        attrs.resolve_types(cl)
        overrides: dict[str, Any] = {
            f.name: override(rename=wire_name(f)) for f in attrs.fields(cl)
        }
        return make_dict_structure_fn(cl, converter, **overrides)

    def unstructure_factory(cl: type[Any]) -> Callable[[Any], dict[str, Any]]:
        attrs.resolve_types(cl)
        fields = attrs.fields(cl)
        overrides: dict[str, Any] = {f.name: override(rename=wire_name(f)) for f in fields}
        unstructure = make_dict_unstructure_fn(cl, converter, **overrides)
        optional = [wire_name(f) for f in fields if _is_optional(f.type)]
        if not optional:
            return unstructure

        def unstructure_omitting_none(obj: Any) -> dict[str, Any]:
            data = unstructure(obj)
            for key in optional:
                if key in data and data[key] is None:
                    del data[key]
            return data

        return unstructure_omitting_none

    def structure_int64(value: Any, _: Any) -> ConvexInt64:
        if isinstance(value, ConvexInt64):
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an int64, got {type(value).__name__}")
        return ConvexInt64(value)

    converter.register_structure_hook_factory(attrs.has, structure_factory)
    converter.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    converter.register_structure_hook(ConvexInt64, structure_int64)
    converter.register_unstructure_hook(ConvexInt64, lambda value: value)
    return converter
