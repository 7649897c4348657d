from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FollowMessage(_message.Message):
    __slots__ = ("hello", "ack")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    ack: Ack
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("follower", "ends", "epoch", "from_first_retained")
    class EndsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    FOLLOWER_FIELD_NUMBER: _ClassVar[int]
    ENDS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    FROM_FIRST_RETAINED_FIELD_NUMBER: _ClassVar[int]
    follower: str
    ends: _containers.ScalarMap[str, int]
    epoch: int
    from_first_retained: bool
    def __init__(self, follower: _Optional[str] = ..., ends: _Optional[_Mapping[str, int]] = ..., epoch: _Optional[int] = ..., from_first_retained: _Optional[bool] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("ends",)
    class EndsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ENDS_FIELD_NUMBER: _ClassVar[int]
    ends: _containers.ScalarMap[str, int]
    def __init__(self, ends: _Optional[_Mapping[str, int]] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("stream", "seq", "frame")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    stream: str
    seq: int
    frame: bytes
    def __init__(self, stream: _Optional[str] = ..., seq: _Optional[int] = ..., frame: _Optional[bytes] = ...) -> None: ...

class EpochStart(_message.Message):
    __slots__ = ("epoch", "ends")
    class EndsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    ENDS_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    ends: _containers.ScalarMap[str, int]
    def __init__(self, epoch: _Optional[int] = ..., ends: _Optional[_Mapping[str, int]] = ...) -> None: ...

class LogChunk(_message.Message):
    __slots__ = ("epoch", "records", "ends", "sent_ns", "history", "origin")
    class EndsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    ENDS_FIELD_NUMBER: _ClassVar[int]
    SENT_NS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    records: _containers.RepeatedCompositeFieldContainer[Record]
    ends: _containers.ScalarMap[str, int]
    sent_ns: int
    history: _containers.RepeatedCompositeFieldContainer[EpochStart]
    origin: str
    def __init__(self, epoch: _Optional[int] = ..., records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ..., ends: _Optional[_Mapping[str, int]] = ..., sent_ns: _Optional[int] = ..., history: _Optional[_Iterable[_Union[EpochStart, _Mapping]]] = ..., origin: _Optional[str] = ...) -> None: ...
