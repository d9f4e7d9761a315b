import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from payments.v1 import payment_pb2 as _payment_pb2
from payments.v1 import refund_pb2 as _refund_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreatePaymentRequest(_message.Message):
    __slots__ = ("request_id", "order_id", "user_id", "amount_minor", "currency", "payment_method_type", "payment_method_id", "payment_method_token", "description", "metadata", "gateway", "authorize", "return_url", "sca_exemption", "country", "settlement_currency", "fx_quote_id")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZE_FIELD_NUMBER: _ClassVar[int]
    RETURN_URL_FIELD_NUMBER: _ClassVar[int]
    SCA_EXEMPTION_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    FX_QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    order_id: str
    user_id: str
    amount_minor: int
    currency: str
    payment_method_type: _payment_pb2.PaymentMethodType
    payment_method_id: str
    payment_method_token: str
    description: str
    metadata: _containers.ScalarMap[str, str]
    gateway: _payment_pb2.Gateway
    authorize: bool
    return_url: str
    sca_exemption: _payment_pb2.ScaExemption
    country: str
    settlement_currency: str
    fx_quote_id: str
    def __init__(self, request_id: _Optional[str] = ..., order_id: _Optional[str] = ..., user_id: _Optional[str] = ..., amount_minor: _Optional[int] = ..., currency: _Optional[str] = ..., payment_method_type: _Optional[_Union[_payment_pb2.PaymentMethodType, str]] = ..., payment_method_id: _Optional[str] = ..., payment_method_token: _Optional[str] = ..., description: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., gateway: _Optional[_Union[_payment_pb2.Gateway, str]] = ..., authorize: _Optional[bool] = ..., return_url: _Optional[str] = ..., sca_exemption: _Optional[_Union[_payment_pb2.ScaExemption, str]] = ..., country: _Optional[str] = ..., settlement_currency: _Optional[str] = ..., fx_quote_id: _Optional[str] = ...) -> None: ...

class CreatePaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: _payment_pb2.Payment
    def __init__(self, payment: _Optional[_Union[_payment_pb2.Payment, _Mapping]] = ...) -> None: ...

class GetPaymentRequest(_message.Message):
    __slots__ = ("payment_id",)
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    def __init__(self, payment_id: _Optional[str] = ...) -> None: ...

class GetPaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: _payment_pb2.Payment
    def __init__(self, payment: _Optional[_Union[_payment_pb2.Payment, _Mapping]] = ...) -> None: ...

class AuthorizePaymentRequest(_message.Message):
    __slots__ = ("payment_id", "request_id", "payment_method_id", "payment_method_token")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_TOKEN_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    request_id: str
    payment_method_id: str
    payment_method_token: str
    def __init__(self, payment_id: _Optional[str] = ..., request_id: _Optional[str] = ..., payment_method_id: _Optional[str] = ..., payment_method_token: _Optional[str] = ...) -> None: ...

class AuthorizePaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: _payment_pb2.Payment
    def __init__(self, payment: _Optional[_Union[_payment_pb2.Payment, _Mapping]] = ...) -> None: ...

class ConfirmPaymentRequest(_message.Message):
    __slots__ = ("payment_id", "request_id")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    request_id: str
    def __init__(self, payment_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ConfirmPaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: _payment_pb2.Payment
    def __init__(self, payment: _Optional[_Union[_payment_pb2.Payment, _Mapping]] = ...) -> None: ...

class CapturePaymentRequest(_message.Message):
    __slots__ = ("payment_id", "request_id", "amount_minor")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    request_id: str
    amount_minor: int
    def __init__(self, payment_id: _Optional[str] = ..., request_id: _Optional[str] = ..., amount_minor: _Optional[int] = ...) -> None: ...

class CapturePaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: _payment_pb2.Payment
    def __init__(self, payment: _Optional[_Union[_payment_pb2.Payment, _Mapping]] = ...) -> None: ...

class CancelPaymentRequest(_message.Message):
    __slots__ = ("payment_id", "request_id", "reason")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    request_id: str
    reason: str
    def __init__(self, payment_id: _Optional[str] = ..., request_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelPaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: _payment_pb2.Payment
    def __init__(self, payment: _Optional[_Union[_payment_pb2.Payment, _Mapping]] = ...) -> None: ...

class GetPaymentStatusRequest(_message.Message):
    __slots__ = ("payment_id",)
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    def __init__(self, payment_id: _Optional[str] = ...) -> None: ...

class GetPaymentStatusResponse(_message.Message):
    __slots__ = ("payment_id", "status", "failure_code", "failure_reason", "next_action", "updated_at")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CODE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    NEXT_ACTION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    status: _payment_pb2.PaymentStatus
    failure_code: str
    failure_reason: str
    next_action: _payment_pb2.NextAction
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, payment_id: _Optional[str] = ..., status: _Optional[_Union[_payment_pb2.PaymentStatus, str]] = ..., failure_code: _Optional[str] = ..., failure_reason: _Optional[str] = ..., next_action: _Optional[_Union[_payment_pb2.NextAction, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RefundPaymentRequest(_message.Message):
    __slots__ = ("payment_id", "request_id", "amount_minor", "reason", "requested_by")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    request_id: str
    amount_minor: int
    reason: str
    requested_by: str
    def __init__(self, payment_id: _Optional[str] = ..., request_id: _Optional[str] = ..., amount_minor: _Optional[int] = ..., reason: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class RefundPaymentResponse(_message.Message):
    __slots__ = ("refund", "payment")
    REFUND_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    refund: _refund_pb2.Refund
    payment: _payment_pb2.Payment
    def __init__(self, refund: _Optional[_Union[_refund_pb2.Refund, _Mapping]] = ..., payment: _Optional[_Union[_payment_pb2.Payment, _Mapping]] = ...) -> None: ...

class GetRefundRequest(_message.Message):
    __slots__ = ("refund_id",)
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    def __init__(self, refund_id: _Optional[str] = ...) -> None: ...

class GetRefundResponse(_message.Message):
    __slots__ = ("refund",)
    REFUND_FIELD_NUMBER: _ClassVar[int]
    refund: _refund_pb2.Refund
    def __init__(self, refund: _Optional[_Union[_refund_pb2.Refund, _Mapping]] = ...) -> None: ...

class ListRefundsRequest(_message.Message):
    __slots__ = ("payment_id", "page_size", "page_token")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    page_size: int
    page_token: str
    def __init__(self, payment_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRefundsResponse(_message.Message):
    __slots__ = ("refunds", "next_page_token")
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refunds: _containers.RepeatedCompositeFieldContainer[_refund_pb2.Refund]
    next_page_token: str
    def __init__(self, refunds: _Optional[_Iterable[_Union[_refund_pb2.Refund, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReviewPaymentRequest(_message.Message):
    __slots__ = ("payment_id", "request_id", "decision", "reason")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    request_id: str
    decision: _payment_pb2.ReviewDecision
    reason: str
    def __init__(self, payment_id: _Optional[str] = ..., request_id: _Optional[str] = ..., decision: _Optional[_Union[_payment_pb2.ReviewDecision, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class ReviewPaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: _payment_pb2.Payment
    def __init__(self, payment: _Optional[_Union[_payment_pb2.Payment, _Mapping]] = ...) -> None: ...
