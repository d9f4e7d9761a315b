import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentSuccessfulEvent(_message.Message):
    __slots__ = ("event_id", "payment_id", "order_id", "amount", "currency", "payment_method", "transaction_id", "timestamp", "amount_minor", "settlement_amount", "settlement_currency", "settlement_amount_minor", "exchange_rate")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_RATE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    payment_id: str
    order_id: str
    amount: str
    currency: str
    payment_method: str
    transaction_id: str
    timestamp: _timestamp_pb2.Timestamp
    amount_minor: int
    settlement_amount: str
    settlement_currency: str
    settlement_amount_minor: int
    exchange_rate: str
    def __init__(self, event_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., order_id: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., payment_method: _Optional[str] = ..., transaction_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., amount_minor: _Optional[int] = ..., settlement_amount: _Optional[str] = ..., settlement_currency: _Optional[str] = ..., settlement_amount_minor: _Optional[int] = ..., exchange_rate: _Optional[str] = ...) -> None: ...

class PaymentFailedEvent(_message.Message):
    __slots__ = ("event_id", "payment_id", "order_id", "reason", "retry_attempt", "timestamp", "failure_code")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RETRY_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CODE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    payment_id: str
    order_id: str
    reason: str
    retry_attempt: int
    timestamp: _timestamp_pb2.Timestamp
    failure_code: str
    def __init__(self, event_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., order_id: _Optional[str] = ..., reason: _Optional[str] = ..., retry_attempt: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failure_code: _Optional[str] = ...) -> None: ...

class PaymentRefundedEvent(_message.Message):
    __slots__ = ("event_id", "payment_id", "refund_id", "amount", "timestamp", "order_id", "currency", "amount_minor", "transaction_id", "settlement_amount", "settlement_currency", "settlement_amount_minor", "exchange_rate")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_RATE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    payment_id: str
    refund_id: str
    amount: str
    timestamp: _timestamp_pb2.Timestamp
    order_id: str
    currency: str
    amount_minor: int
    transaction_id: str
    settlement_amount: str
    settlement_currency: str
    settlement_amount_minor: int
    exchange_rate: str
    def __init__(self, event_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., amount: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., order_id: _Optional[str] = ..., currency: _Optional[str] = ..., amount_minor: _Optional[int] = ..., transaction_id: _Optional[str] = ..., settlement_amount: _Optional[str] = ..., settlement_currency: _Optional[str] = ..., settlement_amount_minor: _Optional[int] = ..., exchange_rate: _Optional[str] = ...) -> None: ...

class PaymentAuthorizedEvent(_message.Message):
    __slots__ = ("event_id", "payment_id", "order_id", "amount", "currency", "payment_method", "transaction_id", "timestamp", "amount_minor", "settlement_amount", "settlement_currency", "settlement_amount_minor", "exchange_rate")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_RATE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    payment_id: str
    order_id: str
    amount: str
    currency: str
    payment_method: str
    transaction_id: str
    timestamp: _timestamp_pb2.Timestamp
    amount_minor: int
    settlement_amount: str
    settlement_currency: str
    settlement_amount_minor: int
    exchange_rate: str
    def __init__(self, event_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., order_id: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., payment_method: _Optional[str] = ..., transaction_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., amount_minor: _Optional[int] = ..., settlement_amount: _Optional[str] = ..., settlement_currency: _Optional[str] = ..., settlement_amount_minor: _Optional[int] = ..., exchange_rate: _Optional[str] = ...) -> None: ...

class PaymentCancelledEvent(_message.Message):
    __slots__ = ("event_id", "payment_id", "order_id", "reason", "timestamp")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    payment_id: str
    order_id: str
    reason: str
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., order_id: _Optional[str] = ..., reason: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PaymentRequiresActionEvent(_message.Message):
    __slots__ = ("event_id", "payment_id", "order_id", "next_action_url", "timestamp")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_ACTION_URL_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    payment_id: str
    order_id: str
    next_action_url: str
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., order_id: _Optional[str] = ..., next_action_url: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PaymentRequiresReviewEvent(_message.Message):
    __slots__ = ("event_id", "payment_id", "order_id", "rules_hit", "timestamp")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    RULES_HIT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    payment_id: str
    order_id: str
    rules_hit: _containers.RepeatedScalarFieldContainer[str]
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., order_id: _Optional[str] = ..., rules_hit: _Optional[_Iterable[str]] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OrderConfirmedEvent(_message.Message):
    __slots__ = ("event_id", "order_id", "user_id", "total", "currency", "timestamp")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    order_id: str
    user_id: str
    total: str
    currency: str
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., order_id: _Optional[str] = ..., user_id: _Optional[str] = ..., total: _Optional[str] = ..., currency: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
