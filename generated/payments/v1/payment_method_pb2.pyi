import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from payments.v1 import payment_pb2 as _payment_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentMethod(_message.Message):
    __slots__ = ("payment_method_id", "user_id", "type", "gateway", "card_brand", "card_last4", "card_expiry_month", "card_expiry_year", "paypal_email", "is_default", "created_at", "updated_at")
    PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    CARD_BRAND_FIELD_NUMBER: _ClassVar[int]
    CARD_LAST4_FIELD_NUMBER: _ClassVar[int]
    CARD_EXPIRY_MONTH_FIELD_NUMBER: _ClassVar[int]
    CARD_EXPIRY_YEAR_FIELD_NUMBER: _ClassVar[int]
    PAYPAL_EMAIL_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    payment_method_id: str
    user_id: str
    type: _payment_pb2.PaymentMethodType
    gateway: _payment_pb2.Gateway
    card_brand: str
    card_last4: str
    card_expiry_month: int
    card_expiry_year: int
    paypal_email: str
    is_default: bool
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, payment_method_id: _Optional[str] = ..., user_id: _Optional[str] = ..., type: _Optional[_Union[_payment_pb2.PaymentMethodType, str]] = ..., gateway: _Optional[_Union[_payment_pb2.Gateway, str]] = ..., card_brand: _Optional[str] = ..., card_last4: _Optional[str] = ..., card_expiry_month: _Optional[int] = ..., card_expiry_year: _Optional[int] = ..., paypal_email: _Optional[str] = ..., is_default: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
