"""betterproto2 client of the payment service (payments.v1 over grpclib), safe by default.

    from payments_betterproto import PaymentsClient, v1

    async with PaymentsClient.from_env() as client:      # PAYMENTS_GRPC_TARGET, PAYMENTS_TOKEN
        created = await client.create_payment(v1.CreatePaymentRequest(...))

Messages are betterproto2 dataclasses generated from the same protos/ (`v1`). The rules are
the grpcio client's (payments_client), shared rather than copied: a deadline per method, a
`request_id` made once per logical call and reused on every retry, retries only where they
cannot act twice, and the same typed errors (`NotFound`, `PaymentDeclined`, ...), which are
payments_client's classes: one `except` catches a failure of either client.
"""

from payments_betterproto import rpcs
from payments_betterproto.client import PaymentsClient
from payments_betterproto.proto.payments import v1
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
from payments_client.policy import CallSettings, RetryPolicy

__all__ = [
    "AlreadyExists",
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
    "RetryPolicy",
    "Tls",
    "Unauthenticated",
    "Unavailable",
    "rpcs",
    "v1",
]
