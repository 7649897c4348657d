"""Unit prices of the cost view: exact Decimals, checked when built, overridable by name (a query
parameter of /v1/cost, a --price-* option of `mdc cost`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation

from mdc.errors import ConfigError

MAX_PRICE = Decimal(10**6)
PRICE_PLACES = 12
"""A price is at most MAX_PRICE with at most PRICE_PLACES decimals: enough for any unit price,
and it keeps a hostile `1e999999` from becoming a million-digit integer."""


class BadPrice(ConfigError):
    """A unit price that cannot be used; `field` names it (a query parameter, a CLI option)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.field = name
        self.reason = message


@dataclass(frozen=True, slots=True)
class UnitPrices:
    """Unit prices, in one currency of your choice (the report names none). The defaults are a
    starting point shaped like public-cloud list prices; set your own."""

    storage_gb_month: Decimal = field(
        default=Decimal("0.023"), metadata={"unit": "per GB-month stored"}
    )
    """Object or block storage; 0.023 is a common object-store list price."""
    ingress_gb: Decimal = field(
        default=Decimal("0.01"), metadata={"unit": "per GB received from venues"}
    )
    """Inbound transfer is free on most clouds, but a NAT gateway or a zone hop bills it."""
    egress_gb: Decimal = field(default=Decimal("0.09"), metadata={"unit": "per GB sent to venues"})
    """Outbound transfer to the internet: the classic 0.09 tier."""
    api_calls_1000: Decimal = field(
        default=Decimal("0.05"), metadata={"unit": "per 1000 API calls (REST, connects)"}
    )
    """Public venue APIs are free, paid data vendors bill requests; 0.05 stands in for those."""

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_price(f.name, getattr(self, f.name))

    @classmethod
    def parse(cls, given: Mapping[str, str], base: UnitPrices | None = None) -> UnitPrices:
        """`base` (the defaults) with the `given` prices as text (query parameters, CLI
        options) replacing its own; an unknown name or a bad value raises BadPrice naming it."""
        base = base or cls()
        changes = {}
        for name, text in given.items():
            if name not in PRICE_NAMES:
                raise BadPrice(name, f"no such price (prices: {', '.join(PRICE_NAMES)})")
            try:
                changes[name] = Decimal(text.strip())
            except InvalidOperation:
                raise BadPrice(name, f"{text!r} is not a decimal number") from None
        values = {f.name: getattr(base, f.name) for f in fields(cls)}
        return cls(**(values | changes))

    def as_list(self) -> list[dict[str, str]]:
        """Each price with its default and unit, for forms (the browser view, --help)."""
        default = UnitPrices()
        return [
            {
                "name": f.name,
                "value": str(getattr(self, f.name)),
                "default": str(getattr(default, f.name)),
                "unit": f.metadata["unit"],
            }
            for f in fields(self)
        ]


PRICE_NAMES = tuple(f.name for f in fields(UnitPrices))


def _check_price(name: str, value: object) -> None:
    if not isinstance(value, Decimal):
        raise BadPrice(name, f"must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise BadPrice(name, "must be a finite number")
    if value < 0 or value > MAX_PRICE:
        raise BadPrice(name, f"must be between 0 and {MAX_PRICE}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -PRICE_PLACES:
        raise BadPrice(name, f"at most {PRICE_PLACES} decimal places")
