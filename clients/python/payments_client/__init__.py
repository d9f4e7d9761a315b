"""Python client of the payment service (payments.v1 over gRPC), safe by default.

    async with PaymentsClient.from_env() as client:      # PAYMENTS_GRPC_TARGET, PAYMENTS_TOKEN
        created = await client.create_payment(CreatePaymentRequest(...))

- Every attempt has a deadline (per method, `CallSettings`).
- Every mutating call carries a `request_id` (idempotency key), made once per logical call and
  sent again on each retry; pass `request_id=` (or set it on the request) to use your own.
- Retries with exponential backoff and jitter only where another attempt cannot act twice
  (policy.py): UNAVAILABLE and DEADLINE_EXCEEDED for reads and keyed calls, ABORTED
  IDEMPOTENCY_KEY_IN_USE, RESOURCE_EXHAUSTED after the server's RetryInfo delay.
- Failures raise a typed `PaymentsError` by family: `NotFound`, `InvalidArgument` (with
  `field_violations`), `PaymentDeclined` (`decline_code`), `RateLimited`
  (`retry_delay_seconds`), `Conflict`, ...

- `validate=True` (with `pip install 'payments-client[validate]'`) refuses a request that
  breaks the contract's rules before sending it, as the server would (`validate_request`).

`SyncPaymentsClient` is the blocking twin. `client.payments` / `client.payment_methods` are the
raw generated stubs of the async client (errors typed, no retries).
"""

from payments_client.aio import PaymentsClient
from payments_client.channels import EnvConfig, Keepalive, Tls
from payments_client.errors import (
    AlreadyExists,
    Conflict,
    DeadlineExceeded,
    FailedPrecondition,
    InternalError,
    InvalidArgument,
    NotFound,
    PaymentDeclined,
    PaymentsError,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from payments_client.interceptors import BearerToken
from payments_client.policy import CallSettings, RetryPolicy
from payments_client.sync import SyncPaymentsClient
from payments_client.validation import RequestValidator, validate_request

__all__ = [
    "AlreadyExists",
    "BearerToken",
    "CallSettings",
    "Conflict",
    "DeadlineExceeded",
    "EnvConfig",
    "FailedPrecondition",
    "InternalError",
    "InvalidArgument",
    "Keepalive",
    "NotFound",
    "PaymentDeclined",
    "PaymentsClient",
    "PaymentsError",
    "PermissionDenied",
    "RateLimited",
    "RequestValidator",
    "RetryPolicy",
    "SyncPaymentsClient",
    "Tls",
    "Unauthenticated",
    "Unavailable",
    "validate_request",
]
