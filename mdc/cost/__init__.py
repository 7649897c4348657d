"""The cost view: what the stored bytes, the venue traffic and the API calls cost, a month ahead.

Sans-I/O: the shells (`mdc cost`, `GET /v1/cost`, serve/cost_api.py) read the store's bytes and
the collector's usage and hand them in as rows; this package only prices them, projects a month
and ranks what to change. No files, no network, no clock: the spans are inputs. `prices` holds
the unit prices, `model` the rows and the exact rates, `report` the projection, `recommend` what
to change, `text` the 80-column rendering.

Arithmetic is exact: prices are Decimals, every rate and cost is a Fraction until the report
rounds it once (money to 6 decimal places, shares to 4, projected counts to whole units, all
half-even). A month is 30 days; a GB is 10**9 bytes, as cloud bills count them.

"Use" of a symbol is what its bytes are for. Given usage signals (reads per symbol), those; else
the trades stored for it: a trade is the information most readers want, so a book stream with
many bytes per trade records much churn per unit of market activity, and a symbol with no trade
at all carries none.
"""

from mdc.cost.model import (
    DAY_NS,
    GB,
    HOUR_NS,
    MONTH_DAYS,
    MONTH_NS,
    CostError,
    CostInputs,
    CostReport,
    Monthly,
    ProviderLine,
    ProviderUsage,
    Recommendation,
    Share,
    StorageRow,
    money,
    ratio,
)
from mdc.cost.prices import PRICE_NAMES, BadPrice, UnitPrices
from mdc.cost.report import cost_report
from mdc.cost.text import render_text

__all__ = [
    "DAY_NS",
    "GB",
    "HOUR_NS",
    "MONTH_DAYS",
    "MONTH_NS",
    "PRICE_NAMES",
    "BadPrice",
    "CostError",
    "CostInputs",
    "CostReport",
    "Monthly",
    "ProviderLine",
    "ProviderUsage",
    "Recommendation",
    "Share",
    "StorageRow",
    "UnitPrices",
    "cost_report",
    "money",
    "ratio",
    "render_text",
]
