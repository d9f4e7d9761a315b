"""The betterproto2 client over mutual TLS to a real server, configured from the environment
as a deployment would (PAYMENTS_TLS_CA, PAYMENTS_TLS_CERT, PAYMENTS_TLS_KEY): the same
variables and the same `Tls` as the grpcio client, turned into an ssl context for grpclib."""

from __future__ import annotations

import pytest

from payments_betterproto import PaymentsClient, Unavailable, v1
from server.app import PaymentApplication
from tests.e2e.helpers import new_id
from tests.e2e.test_python_client_tls import env, mtls_app, pki
from tests.support.certificates import Pki

# The grpcio client's fixtures (module-scoped: a mutual-TLS server of this module's own).
__all__ = ["mtls_app", "pki"]


async def test_mutual_tls_from_the_environment(mtls_app: PaymentApplication, pki: Pki) -> None:
    request = v1.CreatePaymentRequest(
        order_id=new_id(),
        user_id=new_id(),
        amount_minor=1099,
        currency="EUR",
        payment_method_type=v1.PaymentMethodType.CREDIT_CARD,
        payment_method_token="pm_card_visa",
    )
    async with PaymentsClient.from_env(env(mtls_app, pki, certificate=True)) as client:
        created = await client.create_payment(request)
        assert created.payment is not None
        got = await client.get_payment(v1.GetPaymentRequest(payment_id=created.payment.payment_id))
    assert got.payment is not None and got.payment.order_id == request.order_id


async def test_without_a_client_certificate_the_server_refuses(
    mtls_app: PaymentApplication, pki: Pki
) -> None:
    async with PaymentsClient.from_env(env(mtls_app, pki, certificate=False)) as client:
        with pytest.raises(Unavailable):
            await client.get_payment(v1.GetPaymentRequest(payment_id=new_id()), timeout=5)
