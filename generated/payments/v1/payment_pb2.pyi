import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_STATUS_UNSPECIFIED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_PENDING: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_REQUIRES_ACTION: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_AUTHORIZED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_CAPTURED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_PARTIALLY_REFUNDED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_REFUNDED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_FAILED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_CANCELLED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_UNDER_REVIEW: _ClassVar[PaymentStatus]

class PaymentMethodType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_METHOD_TYPE_UNSPECIFIED: _ClassVar[PaymentMethodType]
    PAYMENT_METHOD_TYPE_CREDIT_CARD: _ClassVar[PaymentMethodType]
    PAYMENT_METHOD_TYPE_DEBIT_CARD: _ClassVar[PaymentMethodType]
    PAYMENT_METHOD_TYPE_PAYPAL: _ClassVar[PaymentMethodType]
    PAYMENT_METHOD_TYPE_BANK_TRANSFER: _ClassVar[PaymentMethodType]
    PAYMENT_METHOD_TYPE_CRYPTO: _ClassVar[PaymentMethodType]

class Gateway(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GATEWAY_UNSPECIFIED: _ClassVar[Gateway]
    GATEWAY_SIMULATOR: _ClassVar[Gateway]
    GATEWAY_STRIPE: _ClassVar[Gateway]
    GATEWAY_PAYPAL: _ClassVar[Gateway]

class TransactionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSACTION_TYPE_UNSPECIFIED: _ClassVar[TransactionType]
    TRANSACTION_TYPE_AUTHORIZATION: _ClassVar[TransactionType]
    TRANSACTION_TYPE_CAPTURE: _ClassVar[TransactionType]
    TRANSACTION_TYPE_REFUND: _ClassVar[TransactionType]
    TRANSACTION_TYPE_VOID: _ClassVar[TransactionType]

class TransactionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSACTION_STATUS_UNSPECIFIED: _ClassVar[TransactionStatus]
    TRANSACTION_STATUS_PENDING: _ClassVar[TransactionStatus]
    TRANSACTION_STATUS_SUCCEEDED: _ClassVar[TransactionStatus]
    TRANSACTION_STATUS_FAILED: _ClassVar[TransactionStatus]
    TRANSACTION_STATUS_UNKNOWN: _ClassVar[TransactionStatus]
    TRANSACTION_STATUS_REQUIRES_ACTION: _ClassVar[TransactionStatus]

class NextActionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NEXT_ACTION_TYPE_UNSPECIFIED: _ClassVar[NextActionType]
    NEXT_ACTION_TYPE_REDIRECT_TO_URL: _ClassVar[NextActionType]
    NEXT_ACTION_TYPE_DISPLAY_BANK_TRANSFER_INSTRUCTIONS: _ClassVar[NextActionType]

class ScaExemption(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCA_EXEMPTION_UNSPECIFIED: _ClassVar[ScaExemption]
    SCA_EXEMPTION_LOW_VALUE: _ClassVar[ScaExemption]
    SCA_EXEMPTION_MERCHANT_INITIATED: _ClassVar[ScaExemption]
    SCA_EXEMPTION_TRANSACTION_RISK_ANALYSIS: _ClassVar[ScaExemption]

class LiabilityShift(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIABILITY_SHIFT_UNSPECIFIED: _ClassVar[LiabilityShift]
    LIABILITY_SHIFT_SHIFTED: _ClassVar[LiabilityShift]
    LIABILITY_SHIFT_NOT_SHIFTED: _ClassVar[LiabilityShift]

class RiskDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RISK_DECISION_UNSPECIFIED: _ClassVar[RiskDecision]
    RISK_DECISION_ALLOW: _ClassVar[RiskDecision]
    RISK_DECISION_REVIEW: _ClassVar[RiskDecision]
    RISK_DECISION_BLOCK: _ClassVar[RiskDecision]

class ReviewDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_DECISION_UNSPECIFIED: _ClassVar[ReviewDecision]
    REVIEW_DECISION_APPROVE: _ClassVar[ReviewDecision]
    REVIEW_DECISION_REJECT: _ClassVar[ReviewDecision]
PAYMENT_STATUS_UNSPECIFIED: PaymentStatus
PAYMENT_STATUS_PENDING: PaymentStatus
PAYMENT_STATUS_REQUIRES_ACTION: PaymentStatus
PAYMENT_STATUS_AUTHORIZED: PaymentStatus
PAYMENT_STATUS_CAPTURED: PaymentStatus
PAYMENT_STATUS_PARTIALLY_REFUNDED: PaymentStatus
PAYMENT_STATUS_REFUNDED: PaymentStatus
PAYMENT_STATUS_FAILED: PaymentStatus
PAYMENT_STATUS_CANCELLED: PaymentStatus
PAYMENT_STATUS_UNDER_REVIEW: PaymentStatus
PAYMENT_METHOD_TYPE_UNSPECIFIED: PaymentMethodType
PAYMENT_METHOD_TYPE_CREDIT_CARD: PaymentMethodType
PAYMENT_METHOD_TYPE_DEBIT_CARD: PaymentMethodType
PAYMENT_METHOD_TYPE_PAYPAL: PaymentMethodType
PAYMENT_METHOD_TYPE_BANK_TRANSFER: PaymentMethodType
PAYMENT_METHOD_TYPE_CRYPTO: PaymentMethodType
GATEWAY_UNSPECIFIED: Gateway
GATEWAY_SIMULATOR: Gateway
GATEWAY_STRIPE: Gateway
GATEWAY_PAYPAL: Gateway
TRANSACTION_TYPE_UNSPECIFIED: TransactionType
TRANSACTION_TYPE_AUTHORIZATION: TransactionType
TRANSACTION_TYPE_CAPTURE: TransactionType
TRANSACTION_TYPE_REFUND: TransactionType
TRANSACTION_TYPE_VOID: TransactionType
TRANSACTION_STATUS_UNSPECIFIED: TransactionStatus
TRANSACTION_STATUS_PENDING: TransactionStatus
TRANSACTION_STATUS_SUCCEEDED: TransactionStatus
TRANSACTION_STATUS_FAILED: TransactionStatus
TRANSACTION_STATUS_UNKNOWN: TransactionStatus
TRANSACTION_STATUS_REQUIRES_ACTION: TransactionStatus
NEXT_ACTION_TYPE_UNSPECIFIED: NextActionType
NEXT_ACTION_TYPE_REDIRECT_TO_URL: NextActionType
NEXT_ACTION_TYPE_DISPLAY_BANK_TRANSFER_INSTRUCTIONS: NextActionType
SCA_EXEMPTION_UNSPECIFIED: ScaExemption
SCA_EXEMPTION_LOW_VALUE: ScaExemption
SCA_EXEMPTION_MERCHANT_INITIATED: ScaExemption
SCA_EXEMPTION_TRANSACTION_RISK_ANALYSIS: ScaExemption
LIABILITY_SHIFT_UNSPECIFIED: LiabilityShift
LIABILITY_SHIFT_SHIFTED: LiabilityShift
LIABILITY_SHIFT_NOT_SHIFTED: LiabilityShift
RISK_DECISION_UNSPECIFIED: RiskDecision
RISK_DECISION_ALLOW: RiskDecision
RISK_DECISION_REVIEW: RiskDecision
RISK_DECISION_BLOCK: RiskDecision
REVIEW_DECISION_UNSPECIFIED: ReviewDecision
REVIEW_DECISION_APPROVE: ReviewDecision
REVIEW_DECISION_REJECT: ReviewDecision

class RiskReview(_message.Message):
    __slots__ = ("decision", "reviewer", "reason", "reviewed_at")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVIEWED_AT_FIELD_NUMBER: _ClassVar[int]
    decision: ReviewDecision
    reviewer: str
    reason: str
    reviewed_at: _timestamp_pb2.Timestamp
    def __init__(self, decision: _Optional[_Union[ReviewDecision, str]] = ..., reviewer: _Optional[str] = ..., reason: _Optional[str] = ..., reviewed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RiskAssessment(_message.Message):
    __slots__ = ("decision", "score", "rules_hit", "assessed_at", "review")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RULES_HIT_FIELD_NUMBER: _ClassVar[int]
    ASSESSED_AT_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    decision: RiskDecision
    score: int
    rules_hit: _containers.RepeatedScalarFieldContainer[str]
    assessed_at: _timestamp_pb2.Timestamp
    review: RiskReview
    def __init__(self, decision: _Optional[_Union[RiskDecision, str]] = ..., score: _Optional[int] = ..., rules_hit: _Optional[_Iterable[str]] = ..., assessed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., review: _Optional[_Union[RiskReview, _Mapping]] = ...) -> None: ...

class NextAction(_message.Message):
    __slots__ = ("type", "url", "bank_transfer_instructions")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    BANK_TRANSFER_INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    type: NextActionType
    url: str
    bank_transfer_instructions: BankTransferInstructions
    def __init__(self, type: _Optional[_Union[NextActionType, str]] = ..., url: _Optional[str] = ..., bank_transfer_instructions: _Optional[_Union[BankTransferInstructions, _Mapping]] = ...) -> None: ...

class BankTransferInstructions(_message.Message):
    __slots__ = ("type", "reference", "amount_remaining_minor", "currency", "accounts")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_REMAINING_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    type: str
    reference: str
    amount_remaining_minor: int
    currency: str
    accounts: _containers.RepeatedCompositeFieldContainer[BankTransferAccount]
    def __init__(self, type: _Optional[str] = ..., reference: _Optional[str] = ..., amount_remaining_minor: _Optional[int] = ..., currency: _Optional[str] = ..., accounts: _Optional[_Iterable[_Union[BankTransferAccount, _Mapping]]] = ...) -> None: ...

class BankTransferAccount(_message.Message):
    __slots__ = ("type", "account_holder_name", "iban", "bic", "country", "account_number", "sort_code", "routing_number", "bank_name")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_HOLDER_NAME_FIELD_NUMBER: _ClassVar[int]
    IBAN_FIELD_NUMBER: _ClassVar[int]
    BIC_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SORT_CODE_FIELD_NUMBER: _ClassVar[int]
    ROUTING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BANK_NAME_FIELD_NUMBER: _ClassVar[int]
    type: str
    account_holder_name: str
    iban: str
    bic: str
    country: str
    account_number: str
    sort_code: str
    routing_number: str
    bank_name: str
    def __init__(self, type: _Optional[str] = ..., account_holder_name: _Optional[str] = ..., iban: _Optional[str] = ..., bic: _Optional[str] = ..., country: _Optional[str] = ..., account_number: _Optional[str] = ..., sort_code: _Optional[str] = ..., routing_number: _Optional[str] = ..., bank_name: _Optional[str] = ...) -> None: ...

class Transaction(_message.Message):
    __slots__ = ("transaction_id", "payment_id", "type", "status", "amount_minor", "currency", "gateway_transaction_id", "failure_code", "failure_reason", "created_at", "completed_at", "settlement_amount_minor", "settlement_currency")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CODE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    payment_id: str
    type: TransactionType
    status: TransactionStatus
    amount_minor: int
    currency: str
    gateway_transaction_id: str
    failure_code: str
    failure_reason: str
    created_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    settlement_amount_minor: int
    settlement_currency: str
    def __init__(self, transaction_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., type: _Optional[_Union[TransactionType, str]] = ..., status: _Optional[_Union[TransactionStatus, str]] = ..., amount_minor: _Optional[int] = ..., currency: _Optional[str] = ..., gateway_transaction_id: _Optional[str] = ..., failure_code: _Optional[str] = ..., failure_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settlement_amount_minor: _Optional[int] = ..., settlement_currency: _Optional[str] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("payment_id", "order_id", "user_id", "amount_minor", "currency", "status", "payment_method_type", "payment_method_id", "gateway", "gateway_payment_id", "description", "metadata", "authorized_amount_minor", "captured_amount_minor", "refunded_amount_minor", "failure_code", "failure_reason", "retry_count", "next_action", "transactions", "created_at", "updated_at", "authorized_at", "captured_at", "failed_at", "cancelled_at", "refunded_at", "version", "sca_exemption", "liability_shift", "country", "risk", "settlement_currency", "settlement_amount_minor", "exchange_rate", "exchange_rate_source", "exchange_rate_as_of", "fx_markup_bps", "fx_quote_id", "captured_settlement_amount_minor", "refunded_settlement_amount_minor")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZED_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CODE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    RETRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ACTION_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZED_AT_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_AT_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SCA_EXEMPTION_FIELD_NUMBER: _ClassVar[int]
    LIABILITY_SHIFT_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    RISK_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_RATE_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_RATE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_RATE_AS_OF_FIELD_NUMBER: _ClassVar[int]
    FX_MARKUP_BPS_FIELD_NUMBER: _ClassVar[int]
    FX_QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_SETTLEMENT_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_SETTLEMENT_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    order_id: str
    user_id: str
    amount_minor: int
    currency: str
    status: PaymentStatus
    payment_method_type: PaymentMethodType
    payment_method_id: str
    gateway: Gateway
    gateway_payment_id: str
    description: str
    metadata: _containers.ScalarMap[str, str]
    authorized_amount_minor: int
    captured_amount_minor: int
    refunded_amount_minor: int
    failure_code: str
    failure_reason: str
    retry_count: int
    next_action: NextAction
    transactions: _containers.RepeatedCompositeFieldContainer[Transaction]
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    authorized_at: _timestamp_pb2.Timestamp
    captured_at: _timestamp_pb2.Timestamp
    failed_at: _timestamp_pb2.Timestamp
    cancelled_at: _timestamp_pb2.Timestamp
    refunded_at: _timestamp_pb2.Timestamp
    version: int
    sca_exemption: ScaExemption
    liability_shift: LiabilityShift
    country: str
    risk: RiskAssessment
    settlement_currency: str
    settlement_amount_minor: int
    exchange_rate: str
    exchange_rate_source: str
    exchange_rate_as_of: _timestamp_pb2.Timestamp
    fx_markup_bps: int
    fx_quote_id: str
    captured_settlement_amount_minor: int
    refunded_settlement_amount_minor: int
    def __init__(self, payment_id: _Optional[str] = ..., order_id: _Optional[str] = ..., user_id: _Optional[str] = ..., amount_minor: _Optional[int] = ..., currency: _Optional[str] = ..., status: _Optional[_Union[PaymentStatus, str]] = ..., payment_method_type: _Optional[_Union[PaymentMethodType, str]] = ..., payment_method_id: _Optional[str] = ..., gateway: _Optional[_Union[Gateway, str]] = ..., gateway_payment_id: _Optional[str] = ..., description: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., authorized_amount_minor: _Optional[int] = ..., captured_amount_minor: _Optional[int] = ..., refunded_amount_minor: _Optional[int] = ..., failure_code: _Optional[str] = ..., failure_reason: _Optional[str] = ..., retry_count: _Optional[int] = ..., next_action: _Optional[_Union[NextAction, _Mapping]] = ..., transactions: _Optional[_Iterable[_Union[Transaction, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., authorized_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., captured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancelled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refunded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., sca_exemption: _Optional[_Union[ScaExemption, str]] = ..., liability_shift: _Optional[_Union[LiabilityShift, str]] = ..., country: _Optional[str] = ..., risk: _Optional[_Union[RiskAssessment, _Mapping]] = ..., settlement_currency: _Optional[str] = ..., settlement_amount_minor: _Optional[int] = ..., exchange_rate: _Optional[str] = ..., exchange_rate_source: _Optional[str] = ..., exchange_rate_as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fx_markup_bps: _Optional[int] = ..., fx_quote_id: _Optional[str] = ..., captured_settlement_amount_minor: _Optional[int] = ..., refunded_settlement_amount_minor: _Optional[int] = ...) -> None: ...
