"""The one catalogue of domain errors.

Each error has a stable UPPER_SNAKE `reason` (AIP-193 ErrorInfo.reason) and a `kind` that the
server translates to a gRPC status code. Messages are safe to show to callers: they never
contain card data, tokens or secrets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar


class ErrorKind(Enum):
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    ABORTED = "ABORTED"
    UNAVAILABLE = "UNAVAILABLE"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    field: str
    description: str
    reason: str = "INVALID_FIELD"


class DomainError(Exception):
    reason: ClassVar[str] = "DOMAIN_ERROR"
    kind: ClassVar[ErrorKind] = ErrorKind.FAILED_PRECONDITION
    retryable: ClassVar[bool] = False
    # With `retryable`: how long the caller should wait before trying again, when known.
    retry_after_seconds: float | None = None

    def __init__(
        self,
        message: str,
        *,
        metadata: Mapping[str, str] | None = None,
        violations: Sequence[FieldViolation] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.metadata: dict[str, str] = dict(metadata or {})
        self.violations: tuple[FieldViolation, ...] = tuple(violations)


# --- invalid input -------------------------------------------------------------------------
class ValidationFailed(DomainError):
    reason = "VALIDATION_FAILED"
    kind = ErrorKind.INVALID_ARGUMENT

    def __init__(self, violations: Sequence[FieldViolation]) -> None:
        fields = ", ".join(v.field for v in violations)
        super().__init__(f"invalid request: {fields}", violations=violations)


class UnsupportedCurrency(DomainError):
    reason = "UNSUPPORTED_CURRENCY"
    kind = ErrorKind.INVALID_ARGUMENT


class CurrencyMismatch(DomainError):
    reason = "CURRENCY_MISMATCH"
    kind = ErrorKind.INVALID_ARGUMENT


class RawCardDataRejected(DomainError):
    reason = "RAW_CARD_DATA_REJECTED"
    kind = ErrorKind.INVALID_ARGUMENT


class InvalidPaymentMethodToken(DomainError):
    reason = "PAYMENT_METHOD_TOKEN_INVALID"
    kind = ErrorKind.INVALID_ARGUMENT


class WebhookSignatureInvalid(DomainError):
    """A webhook whose signature is missing, malformed, stale or wrong: nothing is stored."""

    reason = "WEBHOOK_SIGNATURE_INVALID"
    kind = ErrorKind.INVALID_ARGUMENT


class WebhookPayloadInvalid(DomainError):
    reason = "WEBHOOK_PAYLOAD_INVALID"
    kind = ErrorKind.INVALID_ARGUMENT


class InvalidOrderEvent(DomainError):
    """A consumed order event that can never be processed (malformed, poison)."""

    reason = "INVALID_ORDER_EVENT"
    kind = ErrorKind.INVALID_ARGUMENT


# --- not found -----------------------------------------------------------------------------
class PaymentNotFound(DomainError):
    reason = "PAYMENT_NOT_FOUND"
    kind = ErrorKind.NOT_FOUND


class RefundNotFound(DomainError):
    reason = "REFUND_NOT_FOUND"
    kind = ErrorKind.NOT_FOUND


class DisputeNotFound(DomainError):
    reason = "DISPUTE_NOT_FOUND"
    kind = ErrorKind.NOT_FOUND


class PaymentMethodNotFound(DomainError):
    reason = "PAYMENT_METHOD_NOT_FOUND"
    kind = ErrorKind.NOT_FOUND


class FxQuoteNotFound(DomainError):
    """No such quote, or another caller's: reported alike."""

    reason = "FX_QUOTE_NOT_FOUND"
    kind = ErrorKind.NOT_FOUND


# --- conflicts with the current state ------------------------------------------------------
class FxRateUnavailable(DomainError):
    """No usable rate for a pair: none known, or only rates older than FX_MAX_RATE_AGE."""

    reason = "FX_RATE_UNAVAILABLE"
    kind = ErrorKind.FAILED_PRECONDITION


class FxQuoteExpired(DomainError):
    reason = "FX_QUOTE_EXPIRED"
    kind = ErrorKind.FAILED_PRECONDITION


class PaymentAlreadyExists(DomainError):
    reason = "PAYMENT_ALREADY_EXISTS"
    kind = ErrorKind.ALREADY_EXISTS


class InvalidStateTransition(DomainError):
    reason = "INVALID_STATE_TRANSITION"
    kind = ErrorKind.FAILED_PRECONDITION


class AmountExceedsCapturable(DomainError):
    reason = "AMOUNT_EXCEEDS_CAPTURABLE"
    kind = ErrorKind.FAILED_PRECONDITION


class AmountExceedsRefundable(DomainError):
    reason = "AMOUNT_EXCEEDS_REFUNDABLE"
    kind = ErrorKind.FAILED_PRECONDITION


class NoGatewayAvailable(DomainError):
    """No configured gateway takes this kind of payment (routing table)."""

    reason = "NO_GATEWAY_AVAILABLE"
    kind = ErrorKind.FAILED_PRECONDITION


class PaymentMethodUnavailable(DomainError):
    """No configured gateway takes this payment method type at all (whatever the currency or
    country): the metadata names the types this deployment can take."""

    reason = "PAYMENT_METHOD_UNAVAILABLE"
    kind = ErrorKind.FAILED_PRECONDITION


class ScaExemptionUnsupported(DomainError):
    """The SCA exemption asked for cannot be requested through the gateway that would take
    the payment (in its API's terms), or not for this payment: refused at creation rather
    than dropped, so no merchant believes an exemption was asked for when it was not."""

    reason = "SCA_EXEMPTION_UNSUPPORTED"
    kind = ErrorKind.FAILED_PRECONDITION


class PaymentMethodUnusable(DomainError):
    reason = "PAYMENT_METHOD_UNUSABLE"
    kind = ErrorKind.FAILED_PRECONDITION


class OperationInProgress(DomainError):
    """Another gateway operation on the payment has not finished (or its outcome is unknown)."""

    reason = "OPERATION_IN_PROGRESS"
    kind = ErrorKind.ABORTED
    retryable = True


class ConcurrentModification(DomainError):
    reason = "CONCURRENT_MODIFICATION"
    kind = ErrorKind.ABORTED
    retryable = True


# --- gateway answers -----------------------------------------------------------------------
class PaymentDeclined(DomainError):
    """The gateway refused the operation. `reason` is the decline code (CARD_DECLINED, ...)."""

    kind = ErrorKind.FAILED_PRECONDITION

    def __init__(self, code: str, message: str, *, metadata: Mapping[str, str]) -> None:
        super().__init__(message, metadata=metadata)
        self.code = code


class FraudSuspected(PaymentDeclined):
    """The fraud checks refused the authorization (BLOCK, or a review rejected it): the
    payment FAILED and its gateway was never called. A decline of ours, so everything that
    handles declines (order events, retries: never retried) handles it too."""

    def __init__(self, message: str, *, metadata: Mapping[str, str]) -> None:
        super().__init__("FRAUD_SUSPECTED", message, metadata=metadata)


class PaymentNotUnderReview(DomainError):
    reason = "PAYMENT_NOT_UNDER_REVIEW"
    kind = ErrorKind.FAILED_PRECONDITION


class RateLimited(DomainError):
    """The caller sent more requests than its rate allows; it may try again after a while."""

    reason = "RATE_LIMITED"
    kind = ErrorKind.RESOURCE_EXHAUSTED
    retryable = True

    def __init__(self, retry_after_seconds: float) -> None:
        super().__init__(
            "too many requests: slow down",
            metadata={"retry_after_ms": str(max(1, round(retry_after_seconds * 1000)))},
        )
        self.retry_after_seconds = retry_after_seconds


class GatewayUnavailable(DomainError):
    """The gateway could not be reached and certainly did not act on the request."""

    reason = "GATEWAY_UNAVAILABLE"
    kind = ErrorKind.UNAVAILABLE
    retryable = True


class GatewayOutcomeUnknown(DomainError):
    """The gateway may or may not have acted (timeout after sending). Reconciliation decides."""

    reason = "GATEWAY_OUTCOME_UNKNOWN"
    kind = ErrorKind.UNAVAILABLE
    retryable = True


class StorageUnavailable(DomainError):
    """The database could not be reached; nothing was changed."""

    reason = "STORAGE_UNAVAILABLE"
    kind = ErrorKind.UNAVAILABLE
    retryable = True


class IdempotencyKeyReused(DomainError):
    """The request_id was used before for a different request."""

    reason = "IDEMPOTENCY_KEY_REUSED"
    kind = ErrorKind.INVALID_ARGUMENT


class IdempotencyKeyInUse(DomainError):
    """A request with this request_id is still running; retry after it finishes."""

    reason = "IDEMPOTENCY_KEY_IN_USE"
    kind = ErrorKind.ABORTED
    retryable = True


# --- who may call, and on whose behalf ---------------------------------------------------
# Messages never contain the token: they say which check failed, nothing more.
class TokenMissing(DomainError):
    reason = "TOKEN_MISSING"
    kind = ErrorKind.UNAUTHENTICATED


class TokenInvalid(DomainError):
    """Malformed, badly signed, wrong issuer or audience, an algorithm we do not accept."""

    reason = "TOKEN_INVALID"
    kind = ErrorKind.UNAUTHENTICATED


class TokenExpired(DomainError):
    reason = "TOKEN_EXPIRED"
    kind = ErrorKind.UNAUTHENTICATED


class TokenNotYetValid(DomainError):
    reason = "TOKEN_NOT_YET_VALID"
    kind = ErrorKind.UNAUTHENTICATED


class SigningKeysUnavailable(DomainError):
    """The issuer's keys (JWKS) could not be fetched and none are cached: nobody can be
    authenticated right now, which is our problem rather than the caller's."""

    reason = "SIGNING_KEYS_UNAVAILABLE"
    kind = ErrorKind.UNAVAILABLE
    retryable = True


class InsufficientScope(DomainError):
    reason = "INSUFFICIENT_SCOPE"
    kind = ErrorKind.PERMISSION_DENIED


class ActingForAnotherUser(DomainError):
    """An end user's token naming another user as the owner of a new payment or method.
    (Reading or changing another user's objects answers NOT_FOUND instead: see access.py.)"""

    reason = "ACTING_FOR_ANOTHER_USER"
    kind = ErrorKind.PERMISSION_DENIED


def reason_of(error: DomainError) -> str:
    """The ErrorInfo reason; declines carry the gateway's decline code."""
    if isinstance(error, PaymentDeclined):
        return error.code
    return error.reason
