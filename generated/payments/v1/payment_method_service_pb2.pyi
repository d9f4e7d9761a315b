from google.api import annotations_pb2 as _annotations_pb2
from payments.v1 import payment_pb2 as _payment_pb2
from payments.v1 import payment_method_pb2 as _payment_method_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListPaymentMethodsRequest(_message.Message):
    __slots__ = ("user_id", "page_size", "page_token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page_size: int
    page_token: str
    def __init__(self, user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPaymentMethodsResponse(_message.Message):
    __slots__ = ("payment_methods", "next_page_token")
    PAYMENT_METHODS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    payment_methods: _containers.RepeatedCompositeFieldContainer[_payment_method_pb2.PaymentMethod]
    next_page_token: str
    def __init__(self, payment_methods: _Optional[_Iterable[_Union[_payment_method_pb2.PaymentMethod, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AddPaymentMethodRequest(_message.Message):
    __slots__ = ("request_id", "user_id", "type", "payment_method_token", "paypal_email", "set_default", "gateway")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PAYPAL_EMAIL_FIELD_NUMBER: _ClassVar[int]
    SET_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    user_id: str
    type: _payment_pb2.PaymentMethodType
    payment_method_token: str
    paypal_email: str
    set_default: bool
    gateway: _payment_pb2.Gateway
    def __init__(self, request_id: _Optional[str] = ..., user_id: _Optional[str] = ..., type: _Optional[_Union[_payment_pb2.PaymentMethodType, str]] = ..., payment_method_token: _Optional[str] = ..., paypal_email: _Optional[str] = ..., set_default: _Optional[bool] = ..., gateway: _Optional[_Union[_payment_pb2.Gateway, str]] = ...) -> None: ...

class AddPaymentMethodResponse(_message.Message):
    __slots__ = ("payment_method",)
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    payment_method: _payment_method_pb2.PaymentMethod
    def __init__(self, payment_method: _Optional[_Union[_payment_method_pb2.PaymentMethod, _Mapping]] = ...) -> None: ...

class DeletePaymentMethodRequest(_message.Message):
    __slots__ = ("payment_method_id", "request_id")
    PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    payment_method_id: str
    request_id: str
    def __init__(self, payment_method_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DeletePaymentMethodResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SetDefaultPaymentMethodRequest(_message.Message):
    __slots__ = ("payment_method_id", "request_id")
    PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    payment_method_id: str
    request_id: str
    def __init__(self, payment_method_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetDefaultPaymentMethodResponse(_message.Message):
    __slots__ = ("payment_method",)
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    payment_method: _payment_method_pb2.PaymentMethod
    def __init__(self, payment_method: _Optional[_Union[_payment_method_pb2.PaymentMethod, _Mapping]] = ...) -> None: ...

class ListAvailablePaymentMethodsRequest(_message.Message):
    __slots__ = ("country", "currency", "amount_minor")
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    country: str
    currency: str
    amount_minor: int
    def __init__(self, country: _Optional[str] = ..., currency: _Optional[str] = ..., amount_minor: _Optional[int] = ...) -> None: ...

class ListAvailablePaymentMethodsResponse(_message.Message):
    __slots__ = ("available_payment_methods",)
    AVAILABLE_PAYMENT_METHODS_FIELD_NUMBER: _ClassVar[int]
    available_payment_methods: _containers.RepeatedCompositeFieldContainer[AvailablePaymentMethod]
    def __init__(self, available_payment_methods: _Optional[_Iterable[_Union[AvailablePaymentMethod, _Mapping]]] = ...) -> None: ...

class AvailablePaymentMethod(_message.Message):
    __slots__ = ("type", "gateway")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    type: _payment_pb2.PaymentMethodType
    gateway: _payment_pb2.Gateway
    def __init__(self, type: _Optional[_Union[_payment_pb2.PaymentMethodType, str]] = ..., gateway: _Optional[_Union[_payment_pb2.Gateway, str]] = ...) -> None: ...
