"""Saved payment methods through the generated stubs and the published client."""

from __future__ import annotations

import grpc

from payments.v1 import payment_method_pb2
from payments.v1 import payment_method_service_pb2 as mpb
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_method_service_pb2_grpc import PaymentMethodServiceStub
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from payments_client import PaymentsClient, PaymentsError
from server.app import PaymentApplication
from tests.e2e.helpers import create_request, new_id, rpc_error
from tests.support.auth import admin_token

CARD = "PAYMENT_METHOD_TYPE_CREDIT_CARD"


async def add(
    stub: PaymentMethodServiceStub, user: str, token: str, *, set_default: bool = False
) -> str:
    response = await stub.AddPaymentMethod(
        mpb.AddPaymentMethodRequest(
            user_id=user,
            type=CARD,
            payment_method_token=token,
            request_id=new_id(),
            set_default=set_default,
        )
    )
    return response.payment_method.payment_method_id


async def listing(
    stub: PaymentMethodServiceStub, user: str
) -> list[payment_method_pb2.PaymentMethod]:
    methods, token = [], ""
    while True:
        page = await stub.ListPaymentMethods(
            mpb.ListPaymentMethodsRequest(user_id=user, page_size=2, page_token=token)
        )
        methods += list(page.payment_methods)
        if not (token := page.next_page_token):
            return methods


async def test_add_list_default_delete(methods_stub: PaymentMethodServiceStub) -> None:
    user = new_id()
    visa = await add(methods_stub, user, "pm_card_visa")
    master = await add(methods_stub, user, "pm_card_mastercard")
    amex = await add(methods_stub, user, "pm_card_amex")

    methods = await listing(methods_stub, user)
    assert [m.payment_method_id for m in methods] == [visa, master, amex]
    assert [m.is_default for m in methods] == [True, False, False]
    assert (methods[0].card_brand, methods[0].card_last4) == ("visa", "4242")
    assert methods[0].card_expiry_year > 2000

    await methods_stub.SetDefaultPaymentMethod(
        mpb.SetDefaultPaymentMethodRequest(payment_method_id=master)
    )
    assert [m.is_default for m in await listing(methods_stub, user)] == [False, True, False]

    await methods_stub.DeletePaymentMethod(mpb.DeletePaymentMethodRequest(payment_method_id=master))
    remaining = await listing(methods_stub, user)
    assert [(m.payment_method_id, m.is_default) for m in remaining] == [(visa, False), (amex, True)]

    error = await rpc_error(
        methods_stub.DeletePaymentMethod(mpb.DeletePaymentMethodRequest(payment_method_id=master))
    )
    assert error.code is grpc.StatusCode.NOT_FOUND
    assert error.reason == "PAYMENT_METHOD_NOT_FOUND"


async def test_set_default_flag_moves_the_default(methods_stub: PaymentMethodServiceStub) -> None:
    user = new_id()
    await add(methods_stub, user, "pm_card_visa")
    newest = await add(methods_stub, user, "pm_card_mastercard", set_default=True)
    defaults = [m.payment_method_id for m in await listing(methods_stub, user) if m.is_default]
    assert defaults == [newest]


async def test_unknown_token_is_refused(methods_stub: PaymentMethodServiceStub) -> None:
    error = await rpc_error(
        methods_stub.AddPaymentMethod(
            mpb.AddPaymentMethodRequest(
                user_id=new_id(), type=CARD, payment_method_token="pm_card_unknown"
            )
        )
    )
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "PAYMENT_METHOD_TOKEN_INVALID"


async def test_pay_with_a_saved_method(
    methods_stub: PaymentMethodServiceStub, payments_stub: PaymentServiceStub
) -> None:
    user = new_id()
    method = await add(methods_stub, user, "pm_card_visa")
    created = await payments_stub.CreatePayment(
        create_request(user_id=user, payment_method_token="", payment_method_id=method)
    )
    assert created.payment.payment_method_id == method
    auth = await payments_stub.AuthorizePayment(
        pb.AuthorizePaymentRequest(payment_id=created.payment.payment_id)
    )
    assert auth.payment.authorized_amount_minor == 1099


async def test_another_users_method_cannot_be_used(
    methods_stub: PaymentMethodServiceStub, payments_stub: PaymentServiceStub
) -> None:
    method = await add(methods_stub, new_id(), "pm_card_visa")
    error = await rpc_error(
        payments_stub.CreatePayment(
            create_request(user_id=new_id(), payment_method_token="", payment_method_id=method)
        )
    )
    assert error.code is grpc.StatusCode.NOT_FOUND
    assert error.reason == "PAYMENT_METHOD_NOT_FOUND"


async def test_published_client_raises_typed_errors(app: PaymentApplication) -> None:
    async with PaymentsClient(f"127.0.0.1:{app.grpc_port}", token=admin_token()) as client:
        created = await client.payments.CreatePayment(create_request())
        assert created.payment.payment_id
        try:
            await client.payments.CreatePayment(create_request(currency="EURO"))
        except PaymentsError as error:
            assert error.code is grpc.StatusCode.INVALID_ARGUMENT
            assert "currency" in error.field_violations
        else:
            raise AssertionError("expected PaymentsError")


async def test_naming_a_gateway_the_deployment_lacks_is_the_callers_mistake(
    methods_stub: PaymentMethodServiceStub,
) -> None:
    """Found by the fuzz suite: it answered 503 GATEWAY_UNAVAILABLE (retryable) before."""
    error = await rpc_error(
        methods_stub.AddPaymentMethod(
            mpb.AddPaymentMethodRequest(
                user_id=new_id(),
                type=CARD,
                payment_method_token="pm_card_visa",
                gateway="GATEWAY_PAYPAL",
            )
        )
    )
    assert (error.code, error.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_GATEWAY_AVAILABLE",
    )
    assert error.metadata == {"gateway": "PAYPAL"} and not error.retryable
