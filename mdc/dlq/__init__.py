"""Dead letter queue: durable home for events that could not be stored or parsed (issue 6)."""

from mdc.dlq.errors import (
    BadFilter,
    CorruptDLQ,
    DLQError,
    DLQFull,
    DLQLocked,
    InvalidEntry,
    UnknownEntry,
)
from mdc.dlq.model import CAUSES, STATES, Counts, Entry, Filter
from mdc.dlq.policy import Limits, RetryPolicy
from mdc.dlq.queue import DeadLetterQueue, ReplayReport, Sink

__all__ = [
    "CAUSES",
    "STATES",
    "BadFilter",
    "CorruptDLQ",
    "Counts",
    "DLQError",
    "DLQFull",
    "DLQLocked",
    "DeadLetterQueue",
    "Entry",
    "Filter",
    "InvalidEntry",
    "Limits",
    "ReplayReport",
    "RetryPolicy",
    "Sink",
    "UnknownEntry",
]
