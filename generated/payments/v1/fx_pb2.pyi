import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExchangeRate(_message.Message):
    __slots__ = ("base_currency", "quote_currency", "rate", "source", "as_of")
    BASE_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    QUOTE_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    base_currency: str
    quote_currency: str
    rate: str
    source: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, base_currency: _Optional[str] = ..., quote_currency: _Optional[str] = ..., rate: _Optional[str] = ..., source: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FxQuote(_message.Message):
    __slots__ = ("fx_quote_id", "source_currency", "target_currency", "source_amount_minor", "target_amount_minor", "rate", "expire_time")
    FX_QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TARGET_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    TARGET_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    fx_quote_id: str
    source_currency: str
    target_currency: str
    source_amount_minor: int
    target_amount_minor: int
    rate: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, fx_quote_id: _Optional[str] = ..., source_currency: _Optional[str] = ..., target_currency: _Optional[str] = ..., source_amount_minor: _Optional[int] = ..., target_amount_minor: _Optional[int] = ..., rate: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
