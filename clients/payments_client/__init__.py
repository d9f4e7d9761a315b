"""Async client of the payment service.

    async with PaymentsClient("127.0.0.1:9090", token=token) as client:
        payment = await client.payments.CreatePayment(CreatePaymentRequest(...))

`client.payments` and `client.payment_methods` are the generated stubs; any failed call
raises `PaymentsError`, which exposes the AIP-193 details (reason, metadata, field violations)
instead of a bare grpc.aio.AioRpcError.
"""

from payments_client.client import BearerToken, PaymentsClient
from payments_client.errors import PaymentsError

__all__ = ["BearerToken", "PaymentsClient", "PaymentsError"]
