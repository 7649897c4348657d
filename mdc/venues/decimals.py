"""Prices decoded as text and interned as Decimal: the hot path of every venue.

Prices repeat all the time (sizes far less). Building a Decimal costs about 0.35 µs from Python,
and the first hash of one (every book update keys a dict by its price) 0.3-0.5 µs, while looking
its text up in a dict costs a few tens of ns; an interned Decimal keeps its hash once computed.
So wire structs mark prices as `Price`, the fast decoders read those as text (`str` where the venue
sends JSON strings, `msgspec.Raw` where it sends JSON numbers), and `DecimalTexts` maps the text to
one shared Decimal; sizes stay plain `Decimal`, built by msgspec in C. The values are exactly those
msgspec's own Decimal decoding gives (the same constructor on the same text); anything the text
schema rejects is decoded again by the strict schema (`TextDecoder`), so errors and odd-but-valid
input behave exactly as before.
"""

from __future__ import annotations

import functools
import operator
import types
import typing
from decimal import Decimal, InvalidOperation

import msgspec

TEXT_ERRORS = (msgspec.ValidationError, InvalidOperation)
"""What a bad price text raises after the fast decode (`DecimalTexts` on str or raw text)."""


class _PriceMark:
    """Marks a Decimal field read as text by the fast decoders; the strict ones ignore it."""


Price = typing.Annotated[Decimal, _PriceMark]
PriceLevel = tuple[Price, Decimal]
"""(price, size), the price interned."""


class DecimalTexts(dict):
    """text -> Decimal, interned; bounded (cleared when full, as prices drift slowly).

    Keys are `str` (a JSON string's content) or `bytes` (a JSON value's raw text, for venues that
    send numbers). A Decimal passes through unchanged: that is what the strict fallback decodes.
    """

    __slots__ = ("limit",)

    def __init__(self, limit: int = 20_000) -> None:
        super().__init__()
        self.limit = limit

    def __missing__(self, text: str | bytes | Decimal) -> Decimal:
        if type(text) is Decimal:
            return text
        value = Decimal(text) if type(text) is str else msgspec.json.decode(text, type=Decimal)
        if len(self) >= self.limit:
            self.clear()
        self[text] = value
        return value


class TextDecoder:
    """A struct decoder whose Decimal fields come out as text, with the strict decoder behind it.

    `decode` tries the text schema; input it rejects (a JSON number where the venue documents a
    string) is decoded by the strict schema, which also raises the usual error for bad input.
    Callers that meet a bad price text later (`DecimalTexts` raising InvalidOperation, or
    msgspec.ValidationError for a raw number) call `strict` to get the usual error.
    """

    __slots__ = ("fast", "strict", "type")

    def __init__(self, struct: type, numbers: bool = False) -> None:
        self.type = struct
        self.strict = msgspec.json.Decoder(struct).decode
        self.fast = msgspec.json.Decoder(textual(struct, msgspec.Raw if numbers else str)).decode
        """The text schema alone (raises msgspec.ValidationError where `decode` falls back)."""

    def decode(self, data: bytes | msgspec.Raw) -> typing.Any:
        try:
            return self.fast(data)
        except msgspec.ValidationError:
            return self.strict(data)


_TWINS: dict[tuple[object, type], object] = {}


def textual(tp: object, text: type) -> typing.Any:
    """`tp` with every `Price` read as `text` (str or msgspec.Raw), through structs, tuples,
    lists and unions; the twin structs keep names, wire names, defaults, tags and layout.

    A Price inside a union stays Decimal (msgspec allows neither str nor Raw there with other
    string-like types); `DecimalTexts` passes such values through.
    """
    if tp == Price:
        return text
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return _twin(tp, text)
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin is tuple:
        return tuple[tuple(textual(a, text) if a is not Ellipsis else a for a in args)]
    if origin is list:
        return list[textual(args[0], text)]
    if origin in (typing.Union, types.UnionType):
        return functools.reduce(operator.or_, [a if a == Price else textual(a, text) for a in args])
    return tp


def _twin(struct: type, text: type) -> type:
    key = (struct, text)
    if key not in _TWINS:
        config = struct.__struct_config__
        fields = [
            (f.name, textual(f.type, text), _field(f)) for f in msgspec.structs.fields(struct)
        ]
        _TWINS[key] = msgspec.defstruct(
            f"{struct.__name__}Text",
            fields,
            array_like=config.array_like,
            tag=config.tag,
            tag_field=config.tag_field,
            omit_defaults=config.omit_defaults,
            forbid_unknown_fields=config.forbid_unknown_fields,
            gc=False,
        )
    return _TWINS[key]


def _field(info: msgspec.structs.FieldInfo) -> object:
    return msgspec.field(
        default=info.default, default_factory=info.default_factory, name=info.encode_name
    )
