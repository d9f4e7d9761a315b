"""ListPayments over gRPC: filters, keyset paging in both orders, page tokens bound to their
listing and caller, invalid filters, and the per-user access rule.

Every test lists its own fresh user's payments (the session's database holds every other
test's too), so the expectations are exact."""

from __future__ import annotations

import base64
import json

import grpc
import pytest

from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.access_matrix import service_token, user_token
from tests.e2e.helpers import create_request, new_id, rpc_error
from tests.support.channels import open_channel

CAPTURED = payment_pb2.PAYMENT_STATUS_CAPTURED


async def listing(
    stub: PaymentServiceStub, filter_text: str, order_by: str = "", page_size: int = 2
) -> list[payment_pb2.Payment]:
    """Every page, following next_page_token to the end."""
    found: list[payment_pb2.Payment] = []
    token = ""
    for _ in range(100):
        page = await stub.ListPayments(
            pb.ListPaymentsRequest(
                filter=filter_text, order_by=order_by, page_size=page_size, page_token=token
            )
        )
        assert len(page.payments) <= page_size
        found += list(page.payments)
        if not (token := page.next_page_token):
            return found
    raise AssertionError("the listing did not end")


async def seed(stub: PaymentServiceStub, user: str) -> list[payment_pb2.Payment]:
    """Seven payments of `user`, oldest first: four EUR (two captured), three USD pending."""
    made = []
    for index in range(7):
        currency = "EUR" if index < 4 else "USD"
        created = await stub.CreatePayment(
            create_request(user_id=user, currency=currency, authorize=index in (1, 3))
        )
        made.append(created.payment)
    for payment in (made[1], made[3]):
        await stub.CapturePayment(
            pb.CapturePaymentRequest(payment_id=payment.payment_id, request_id=new_id())
        )
    return made


def ids(payments: list[payment_pb2.Payment]) -> list[str]:
    return [p.payment_id for p in payments]


async def test_paging_visits_every_payment_once_in_both_orders(
    payments_stub: PaymentServiceStub,
) -> None:
    user = new_id()
    made = await seed(payments_stub, user)
    mine = f'user_id = "{user}"'
    for page_size in (1, 2, 3, 7, 50):
        newest_first = await listing(payments_stub, mine, page_size=page_size)
        assert ids(newest_first) == ids(made)[::-1], page_size
        oldest_first = await listing(payments_stub, mine, "create_time asc", page_size)
        assert ids(oldest_first) == ids(made), page_size


async def test_filters_by_status_currency_gateway_method_and_time(
    payments_stub: PaymentServiceStub,
) -> None:
    user = new_id()
    made = await seed(payments_stub, user)
    mine = f'user_id = "{user}"'
    captured = await listing(payments_stub, f"{mine} AND status = PAYMENT_STATUS_CAPTURED")
    assert ids(captured) == [made[3].payment_id, made[1].payment_id]
    assert all(p.status == CAPTURED and p.transactions for p in captured)  # with transactions
    assert len(captured[0].transactions) == 2  # authorization and capture
    usd = await listing(payments_stub, f'{mine} AND currency = "USD"', "create_time asc")
    assert ids(usd) == ids(made[4:])
    not_usd = await listing(payments_stub, f"{mine} AND currency != USD AND status != CAPTURED")
    assert ids(not_usd) == [made[2].payment_id, made[0].payment_id]
    gateway = payment_pb2.Gateway.Name(made[0].gateway)
    assert len(await listing(payments_stub, f"{mine} AND gateway = {gateway}")) == 7
    other = "GATEWAY_PAYPAL" if gateway != "GATEWAY_PAYPAL" else "GATEWAY_STRIPE"
    assert await listing(payments_stub, f"{mine} AND gateway = {other}") == []
    method = f"{mine} AND payment_method_type = PAYMENT_METHOD_TYPE_CREDIT_CARD"
    assert len(await listing(payments_stub, method)) == 7
    since = made[2].created_at.ToDatetime().isoformat() + "Z"
    later = await listing(payments_stub, f'{mine} AND create_time >= "{since}"', "create_time asc")
    assert ids(later) == ids(made[2:])
    before = await listing(payments_stub, f'{mine} AND create_time < "{since}"')
    assert ids(before) == [made[1].payment_id, made[0].payment_id]


@pytest.mark.parametrize(
    ("filter_text", "problem"),
    [
        ("amount = 5", 'unknown field "amount"'),
        ("status = SHIPPED", 'status has no value "SHIPPED"'),
        ("status = CAPTURED OR currency = EUR", "OR is not supported"),
        ("user_id = nobody", "user_id must be a UUID"),
        ("create_time > 2026", "create_time must be an RFC 3339 timestamp"),
    ],
)
async def test_invalid_filters_are_invalid_argument_naming_the_problem(
    payments_stub: PaymentServiceStub, filter_text: str, problem: str
) -> None:
    error = await rpc_error(payments_stub.ListPayments(pb.ListPaymentsRequest(filter=filter_text)))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "VALIDATION_FAILED"
    assert list(error.field_violations) == ["filter"]
    assert problem in error.field_violations["filter"]


async def test_an_unknown_order_is_invalid(payments_stub: PaymentServiceStub) -> None:
    error = await rpc_error(payments_stub.ListPayments(pb.ListPaymentsRequest(order_by="amount")))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert list(error.field_violations) == ["order_by"]


def _target(app: PaymentApplication) -> str:
    return f"127.0.0.1:{app.grpc_port}"


async def test_an_end_user_lists_only_their_own_payments(
    app: PaymentApplication, payments_stub: PaymentServiceStub
) -> None:
    alice, bob = new_id(), new_id()
    alices = await seed(payments_stub, alice)
    await seed(payments_stub, bob)
    async with open_channel(_target(app), token=user_token(alice)) as channel:
        as_alice = PaymentServiceStub(channel)
        assert ids(await listing(as_alice, "", page_size=3)) == ids(alices)[::-1]
        assert await listing(as_alice, f'user_id = "{bob}"') == []
        assert await listing(as_alice, f'user_id != "{alice}"') == []


async def test_a_page_token_serves_only_its_caller_and_listing(
    app: PaymentApplication, payments_stub: PaymentServiceStub
) -> None:
    alice, bob = new_id(), new_id()
    await seed(payments_stub, alice)
    bobs = await seed(payments_stub, bob)
    async with (
        open_channel(_target(app), token=user_token(alice)) as alice_channel,
        open_channel(_target(app), token=user_token(bob)) as bob_channel,
    ):
        as_alice, as_bob = PaymentServiceStub(alice_channel), PaymentServiceStub(bob_channel)
        page = await as_bob.ListPayments(pb.ListPaymentsRequest(page_size=2))
        bobs_token = page.next_page_token
        assert bobs_token
        for stub, request in [
            (as_alice, pb.ListPaymentsRequest(page_token=bobs_token)),  # another caller
            (as_bob, pb.ListPaymentsRequest(page_token=bobs_token, filter="currency = EUR")),
            (as_bob, pb.ListPaymentsRequest(page_token=bobs_token, order_by="create_time asc")),
            (as_bob, pb.ListPaymentsRequest(page_token="bm90IGEgdG9rZW4")),
        ]:
            error = await rpc_error(stub.ListPayments(request))
            assert error.code == grpc.StatusCode.INVALID_ARGUMENT
            assert list(error.field_violations) == ["page_token"]

        # A token whose cursor alice edits (she can recompute the fingerprint: it is not a
        # secret) only moves her through her own payments: the access rule is in the query.
        own = await as_alice.ListPayments(pb.ListPaymentsRequest(page_size=1))
        data = json.loads(base64.urlsafe_b64decode(own.next_page_token + "=="))
        data["t"], data["i"] = "9999-01-01T00:00:00+00:00", bobs[0].payment_id
        forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
        resumed = await as_alice.ListPayments(pb.ListPaymentsRequest(page_token=forged))
        assert {p.user_id for p in resumed.payments} == {alice}
        assert len(resumed.payments) == 7


async def test_a_service_lists_any_users_payments(
    app: PaymentApplication, payments_stub: PaymentServiceStub
) -> None:
    user = new_id()
    made = await seed(payments_stub, user)
    async with open_channel(_target(app), token=service_token()) as channel:
        found = await listing(PaymentServiceStub(channel), f'user_id = "{user}"', page_size=4)
    assert ids(found) == ids(made)[::-1]
