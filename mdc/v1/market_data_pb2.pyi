from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SlowConsumerPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SLOW_CONSUMER_POLICY_DEFAULT: _ClassVar[SlowConsumerPolicy]
    CONFLATE: _ClassVar[SlowConsumerPolicy]
    DROP_WITH_GAP: _ClassVar[SlowConsumerPolicy]
    DISCONNECT: _ClassVar[SlowConsumerPolicy]
SLOW_CONSUMER_POLICY_DEFAULT: SlowConsumerPolicy
CONFLATE: SlowConsumerPolicy
DROP_WITH_GAP: SlowConsumerPolicy
DISCONNECT: SlowConsumerPolicy

class Start(_message.Message):
    __slots__ = ("live", "time_ns", "position")
    LIVE_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    live: bool
    time_ns: int
    position: str
    def __init__(self, live: _Optional[bool] = ..., time_ns: _Optional[int] = ..., position: _Optional[str] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("venues", "symbols", "start", "policy")
    VENUES_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    venues: _containers.RepeatedScalarFieldContainer[str]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    start: Start
    policy: SlowConsumerPolicy
    def __init__(self, venues: _Optional[_Iterable[str]] = ..., symbols: _Optional[_Iterable[str]] = ..., start: _Optional[_Union[Start, _Mapping]] = ..., policy: _Optional[_Union[SlowConsumerPolicy, str]] = ...) -> None: ...

class DepthRequest(_message.Message):
    __slots__ = ("venues", "symbols", "start", "policy", "levels", "conflate_ms")
    VENUES_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    CONFLATE_MS_FIELD_NUMBER: _ClassVar[int]
    venues: _containers.RepeatedScalarFieldContainer[str]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    start: Start
    policy: SlowConsumerPolicy
    levels: int
    conflate_ms: int
    def __init__(self, venues: _Optional[_Iterable[str]] = ..., symbols: _Optional[_Iterable[str]] = ..., start: _Optional[_Union[Start, _Mapping]] = ..., policy: _Optional[_Union[SlowConsumerPolicy, str]] = ..., levels: _Optional[int] = ..., conflate_ms: _Optional[int] = ...) -> None: ...

class BarsRequest(_message.Message):
    __slots__ = ("venues", "symbols", "start", "policy", "interval_s")
    VENUES_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    venues: _containers.RepeatedScalarFieldContainer[str]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    start: Start
    policy: SlowConsumerPolicy
    interval_s: int
    def __init__(self, venues: _Optional[_Iterable[str]] = ..., symbols: _Optional[_Iterable[str]] = ..., start: _Optional[_Union[Start, _Mapping]] = ..., policy: _Optional[_Union[SlowConsumerPolicy, str]] = ..., interval_s: _Optional[int] = ...) -> None: ...

class HistoricalBarsRequest(_message.Message):
    __slots__ = ("venue", "symbol", "interval_s", "start_ns", "end_ns", "chunk_size")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    START_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    venue: str
    symbol: str
    interval_s: int
    start_ns: int
    end_ns: int
    chunk_size: int
    def __init__(self, venue: _Optional[str] = ..., symbol: _Optional[str] = ..., interval_s: _Optional[int] = ..., start_ns: _Optional[int] = ..., end_ns: _Optional[int] = ..., chunk_size: _Optional[int] = ...) -> None: ...

class BookRequest(_message.Message):
    __slots__ = ("venue", "symbol", "at_ns", "depth")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    AT_NS_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    venue: str
    symbol: str
    at_ns: int
    depth: int
    def __init__(self, venue: _Optional[str] = ..., symbol: _Optional[str] = ..., at_ns: _Optional[int] = ..., depth: _Optional[int] = ...) -> None: ...

class Level(_message.Message):
    __slots__ = ("price", "size")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    price: str
    size: str
    def __init__(self, price: _Optional[str] = ..., size: _Optional[str] = ...) -> None: ...

class Book(_message.Message):
    __slots__ = ("venue", "symbol", "at_ns", "bids", "asks", "in_sync", "last_seq", "update_id")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    AT_NS_FIELD_NUMBER: _ClassVar[int]
    BIDS_FIELD_NUMBER: _ClassVar[int]
    ASKS_FIELD_NUMBER: _ClassVar[int]
    IN_SYNC_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    venue: str
    symbol: str
    at_ns: int
    bids: _containers.RepeatedCompositeFieldContainer[Level]
    asks: _containers.RepeatedCompositeFieldContainer[Level]
    in_sync: bool
    last_seq: int
    update_id: int
    def __init__(self, venue: _Optional[str] = ..., symbol: _Optional[str] = ..., at_ns: _Optional[int] = ..., bids: _Optional[_Iterable[_Union[Level, _Mapping]]] = ..., asks: _Optional[_Iterable[_Union[Level, _Mapping]]] = ..., in_sync: _Optional[bool] = ..., last_seq: _Optional[int] = ..., update_id: _Optional[int] = ...) -> None: ...

class EventBatch(_message.Message):
    __slots__ = ("events", "position")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    position: str
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., position: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("venue", "symbol", "ts_event", "ts_recv", "stream", "seq", "trade", "quote", "depth", "bar", "gap", "book", "status")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TS_EVENT_FIELD_NUMBER: _ClassVar[int]
    TS_RECV_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TRADE_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    BAR_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    BOOK_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    venue: str
    symbol: str
    ts_event: int
    ts_recv: int
    stream: str
    seq: int
    trade: Trade
    quote: Quote
    depth: Depth
    bar: Bar
    gap: Gap
    book: BookUpdate
    status: Status
    def __init__(self, venue: _Optional[str] = ..., symbol: _Optional[str] = ..., ts_event: _Optional[int] = ..., ts_recv: _Optional[int] = ..., stream: _Optional[str] = ..., seq: _Optional[int] = ..., trade: _Optional[_Union[Trade, _Mapping]] = ..., quote: _Optional[_Union[Quote, _Mapping]] = ..., depth: _Optional[_Union[Depth, _Mapping]] = ..., bar: _Optional[_Union[Bar, _Mapping]] = ..., gap: _Optional[_Union[Gap, _Mapping]] = ..., book: _Optional[_Union[BookUpdate, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class Trade(_message.Message):
    __slots__ = ("price", "size", "side", "trade_id", "exchange", "conditions", "tape", "aggregate")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    TAPE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_FIELD_NUMBER: _ClassVar[int]
    price: str
    size: str
    side: str
    trade_id: int
    exchange: str
    conditions: _containers.RepeatedScalarFieldContainer[str]
    tape: str
    aggregate: bool
    def __init__(self, price: _Optional[str] = ..., size: _Optional[str] = ..., side: _Optional[str] = ..., trade_id: _Optional[int] = ..., exchange: _Optional[str] = ..., conditions: _Optional[_Iterable[str]] = ..., tape: _Optional[str] = ..., aggregate: _Optional[bool] = ...) -> None: ...

class Quote(_message.Message):
    __slots__ = ("bid_price", "bid_size", "ask_price", "ask_size", "bid_exchange", "ask_exchange", "conditions", "tape", "update_id")
    BID_PRICE_FIELD_NUMBER: _ClassVar[int]
    BID_SIZE_FIELD_NUMBER: _ClassVar[int]
    ASK_PRICE_FIELD_NUMBER: _ClassVar[int]
    ASK_SIZE_FIELD_NUMBER: _ClassVar[int]
    BID_EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    ASK_EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    TAPE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    bid_price: str
    bid_size: str
    ask_price: str
    ask_size: str
    bid_exchange: str
    ask_exchange: str
    conditions: _containers.RepeatedScalarFieldContainer[str]
    tape: str
    update_id: int
    def __init__(self, bid_price: _Optional[str] = ..., bid_size: _Optional[str] = ..., ask_price: _Optional[str] = ..., ask_size: _Optional[str] = ..., bid_exchange: _Optional[str] = ..., ask_exchange: _Optional[str] = ..., conditions: _Optional[_Iterable[str]] = ..., tape: _Optional[str] = ..., update_id: _Optional[int] = ...) -> None: ...

class Depth(_message.Message):
    __slots__ = ("bids", "asks", "in_sync", "update_id")
    BIDS_FIELD_NUMBER: _ClassVar[int]
    ASKS_FIELD_NUMBER: _ClassVar[int]
    IN_SYNC_FIELD_NUMBER: _ClassVar[int]
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    bids: _containers.RepeatedCompositeFieldContainer[Level]
    asks: _containers.RepeatedCompositeFieldContainer[Level]
    in_sync: bool
    update_id: int
    def __init__(self, bids: _Optional[_Iterable[_Union[Level, _Mapping]]] = ..., asks: _Optional[_Iterable[_Union[Level, _Mapping]]] = ..., in_sync: _Optional[bool] = ..., update_id: _Optional[int] = ...) -> None: ...

class BookUpdate(_message.Message):
    __slots__ = ("snapshot", "bids", "asks", "update_id", "first_update_id", "last_update_id", "checksum")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    BIDS_FIELD_NUMBER: _ClassVar[int]
    ASKS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    snapshot: bool
    bids: _containers.RepeatedCompositeFieldContainer[Level]
    asks: _containers.RepeatedCompositeFieldContainer[Level]
    update_id: int
    first_update_id: int
    last_update_id: int
    checksum: int
    def __init__(self, snapshot: _Optional[bool] = ..., bids: _Optional[_Iterable[_Union[Level, _Mapping]]] = ..., asks: _Optional[_Iterable[_Union[Level, _Mapping]]] = ..., update_id: _Optional[int] = ..., first_update_id: _Optional[int] = ..., last_update_id: _Optional[int] = ..., checksum: _Optional[int] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("state", "detail")
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    state: str
    detail: str
    def __init__(self, state: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class Bar(_message.Message):
    __slots__ = ("open", "high", "low", "close", "volume", "interval_s", "trade_count", "vwap")
    OPEN_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    TRADE_COUNT_FIELD_NUMBER: _ClassVar[int]
    VWAP_FIELD_NUMBER: _ClassVar[int]
    open: str
    high: str
    low: str
    close: str
    volume: str
    interval_s: int
    trade_count: int
    vwap: str
    def __init__(self, open: _Optional[str] = ..., high: _Optional[str] = ..., low: _Optional[str] = ..., close: _Optional[str] = ..., volume: _Optional[str] = ..., interval_s: _Optional[int] = ..., trade_count: _Optional[int] = ..., vwap: _Optional[str] = ...) -> None: ...

class Gap(_message.Message):
    __slots__ = ("stream", "reason", "from_id", "to_id", "from_ts", "skipped_stream")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FROM_ID_FIELD_NUMBER: _ClassVar[int]
    TO_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_TS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_STREAM_FIELD_NUMBER: _ClassVar[int]
    stream: str
    reason: str
    from_id: int
    to_id: int
    from_ts: int
    skipped_stream: str
    def __init__(self, stream: _Optional[str] = ..., reason: _Optional[str] = ..., from_id: _Optional[int] = ..., to_id: _Optional[int] = ..., from_ts: _Optional[int] = ..., skipped_stream: _Optional[str] = ...) -> None: ...
