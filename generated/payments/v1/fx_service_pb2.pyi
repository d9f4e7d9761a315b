from google.api import annotations_pb2 as _annotations_pb2
from payments.v1 import fx_pb2 as _fx_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SetExchangeRateRequest(_message.Message):
    __slots__ = ("request_id", "base_currency", "quote_currency", "rate")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BASE_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    QUOTE_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    base_currency: str
    quote_currency: str
    rate: str
    def __init__(self, request_id: _Optional[str] = ..., base_currency: _Optional[str] = ..., quote_currency: _Optional[str] = ..., rate: _Optional[str] = ...) -> None: ...

class SetExchangeRateResponse(_message.Message):
    __slots__ = ("exchange_rate",)
    EXCHANGE_RATE_FIELD_NUMBER: _ClassVar[int]
    exchange_rate: _fx_pb2.ExchangeRate
    def __init__(self, exchange_rate: _Optional[_Union[_fx_pb2.ExchangeRate, _Mapping]] = ...) -> None: ...

class GetExchangeRateRequest(_message.Message):
    __slots__ = ("base_currency", "quote_currency")
    BASE_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    QUOTE_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    base_currency: str
    quote_currency: str
    def __init__(self, base_currency: _Optional[str] = ..., quote_currency: _Optional[str] = ...) -> None: ...

class GetExchangeRateResponse(_message.Message):
    __slots__ = ("exchange_rate",)
    EXCHANGE_RATE_FIELD_NUMBER: _ClassVar[int]
    exchange_rate: _fx_pb2.ExchangeRate
    def __init__(self, exchange_rate: _Optional[_Union[_fx_pb2.ExchangeRate, _Mapping]] = ...) -> None: ...

class ListExchangeRatesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListExchangeRatesResponse(_message.Message):
    __slots__ = ("exchange_rates", "next_page_token")
    EXCHANGE_RATES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    exchange_rates: _containers.RepeatedCompositeFieldContainer[_fx_pb2.ExchangeRate]
    next_page_token: str
    def __init__(self, exchange_rates: _Optional[_Iterable[_Union[_fx_pb2.ExchangeRate, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateFxQuoteRequest(_message.Message):
    __slots__ = ("request_id", "source_currency", "target_currency", "source_amount_minor")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TARGET_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    source_currency: str
    target_currency: str
    source_amount_minor: int
    def __init__(self, request_id: _Optional[str] = ..., source_currency: _Optional[str] = ..., target_currency: _Optional[str] = ..., source_amount_minor: _Optional[int] = ...) -> None: ...

class CreateFxQuoteResponse(_message.Message):
    __slots__ = ("fx_quote",)
    FX_QUOTE_FIELD_NUMBER: _ClassVar[int]
    fx_quote: _fx_pb2.FxQuote
    def __init__(self, fx_quote: _Optional[_Union[_fx_pb2.FxQuote, _Mapping]] = ...) -> None: ...
