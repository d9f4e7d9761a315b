"""payments.v1.PaymentService."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias, TypeVar

import grpc

from domain.usecases import operations, payments, refunds, reviews
from domain.usecases.deps import Deps
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc
from server import mappers as m
from server.context import request_claim_var
from server.risk_mappers import review_command

Context: TypeAlias = grpc.aio.ServicerContext
R = TypeVar("R")


def respond(response_type: type[R], build: Callable[[], R]) -> R:
    """The response the call's transaction already built and stored as its idempotent answer
    (server/idempotency.py), so that it is not built twice; else `build()`."""
    claim = request_claim_var.get()
    message = claim.message if claim is not None else None
    return message if isinstance(message, response_type) else build()


class PaymentServicer(payment_service_pb2_grpc.PaymentServiceServicer):
    def __init__(self, deps: Callable[[], Deps]) -> None:
        self._deps = deps

    async def CreatePayment(
        self, request: pb.CreatePaymentRequest, context: Context
    ) -> pb.CreatePaymentResponse:
        payment = await operations.create_and_authorize(
            m.create_payment_command(request), self._deps()
        )
        return respond(
            pb.CreatePaymentResponse,
            lambda: pb.CreatePaymentResponse(payment=m.payment_to_proto(payment)),
        )

    async def GetPayment(
        self, request: pb.GetPaymentRequest, context: Context
    ) -> pb.GetPaymentResponse:
        payment = await payments.get_payment(request.payment_id, self._deps())
        return pb.GetPaymentResponse(payment=m.payment_to_proto(payment))

    async def AuthorizePayment(
        self, request: pb.AuthorizePaymentRequest, context: Context
    ) -> pb.AuthorizePaymentResponse:
        payment = await operations.authorize_payment(m.authorize_command(request), self._deps())
        return respond(
            pb.AuthorizePaymentResponse,
            lambda: pb.AuthorizePaymentResponse(payment=m.payment_to_proto(payment)),
        )

    async def ConfirmPayment(
        self, request: pb.ConfirmPaymentRequest, context: Context
    ) -> pb.ConfirmPaymentResponse:
        payment = await operations.confirm_payment(m.confirm_command(request), self._deps())
        return respond(
            pb.ConfirmPaymentResponse,
            lambda: pb.ConfirmPaymentResponse(payment=m.payment_to_proto(payment)),
        )

    async def CapturePayment(
        self, request: pb.CapturePaymentRequest, context: Context
    ) -> pb.CapturePaymentResponse:
        payment = await operations.capture_payment(m.capture_command(request), self._deps())
        return respond(
            pb.CapturePaymentResponse,
            lambda: pb.CapturePaymentResponse(payment=m.payment_to_proto(payment)),
        )

    async def CancelPayment(
        self, request: pb.CancelPaymentRequest, context: Context
    ) -> pb.CancelPaymentResponse:
        payment = await operations.cancel_payment(m.cancel_command(request), self._deps())
        return respond(
            pb.CancelPaymentResponse,
            lambda: pb.CancelPaymentResponse(payment=m.payment_to_proto(payment)),
        )

    async def ListPayments(
        self, request: pb.ListPaymentsRequest, context: Context
    ) -> pb.ListPaymentsResponse:
        found, token = await payments.list_payments(
            request.page_size, request.page_token, request.filter, request.order_by, self._deps()
        )
        return pb.ListPaymentsResponse(
            payments=[m.payment_to_proto(p) for p in found], next_page_token=token
        )

    async def GetPaymentStatus(
        self, request: pb.GetPaymentStatusRequest, context: Context
    ) -> pb.GetPaymentStatusResponse:
        payment = await payments.get_payment(request.payment_id, self._deps())
        return m.payment_status_to_proto(payment)

    async def RefundPayment(
        self, request: pb.RefundPaymentRequest, context: Context
    ) -> pb.RefundPaymentResponse:
        refund, payment = await refunds.refund_payment(m.refund_command(request), self._deps())
        return respond(
            pb.RefundPaymentResponse,
            lambda: pb.RefundPaymentResponse(
                refund=m.refund_to_proto(refund), payment=m.payment_to_proto(payment)
            ),
        )

    async def GetRefund(
        self, request: pb.GetRefundRequest, context: Context
    ) -> pb.GetRefundResponse:
        refund = await refunds.get_refund(request.refund_id, self._deps())
        return pb.GetRefundResponse(refund=m.refund_to_proto(refund))

    async def ListRefunds(
        self, request: pb.ListRefundsRequest, context: Context
    ) -> pb.ListRefundsResponse:
        page = await refunds.list_refunds(
            request.payment_id, request.page_size, request.page_token, self._deps()
        )
        return pb.ListRefundsResponse(
            refunds=[m.refund_to_proto(r) for r in page.items],
            next_page_token=page.next_page_token,
        )

    async def ReviewPayment(
        self, request: pb.ReviewPaymentRequest, context: Context
    ) -> pb.ReviewPaymentResponse:
        """Admin only: the scope check is authentication's (scope `admin`)."""
        payment = await reviews.review_payment(review_command(request), self._deps())
        return pb.ReviewPaymentResponse(payment=m.payment_to_proto(payment))
