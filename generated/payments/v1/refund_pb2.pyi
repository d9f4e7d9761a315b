import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RefundStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFUND_STATUS_UNSPECIFIED: _ClassVar[RefundStatus]
    REFUND_STATUS_PENDING: _ClassVar[RefundStatus]
    REFUND_STATUS_PROCESSED: _ClassVar[RefundStatus]
    REFUND_STATUS_FAILED: _ClassVar[RefundStatus]
REFUND_STATUS_UNSPECIFIED: RefundStatus
REFUND_STATUS_PENDING: RefundStatus
REFUND_STATUS_PROCESSED: RefundStatus
REFUND_STATUS_FAILED: RefundStatus

class Refund(_message.Message):
    __slots__ = ("refund_id", "payment_id", "transaction_id", "amount_minor", "currency", "reason", "status", "gateway_refund_id", "failure_code", "failure_reason", "requested_by", "requested_at", "processed_at", "created_at", "settlement_amount_minor", "settlement_currency")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CODE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    payment_id: str
    transaction_id: str
    amount_minor: int
    currency: str
    reason: str
    status: RefundStatus
    gateway_refund_id: str
    failure_code: str
    failure_reason: str
    requested_by: str
    requested_at: _timestamp_pb2.Timestamp
    processed_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    settlement_amount_minor: int
    settlement_currency: str
    def __init__(self, refund_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., transaction_id: _Optional[str] = ..., amount_minor: _Optional[int] = ..., currency: _Optional[str] = ..., reason: _Optional[str] = ..., status: _Optional[_Union[RefundStatus, str]] = ..., gateway_refund_id: _Optional[str] = ..., failure_code: _Optional[str] = ..., failure_reason: _Optional[str] = ..., requested_by: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., processed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settlement_amount_minor: _Optional[int] = ..., settlement_currency: _Optional[str] = ...) -> None: ...
