"""The RPCs of payments.v1 the betterproto2 client calls, each typed by its dataclass
request and response, with the generated grpclib stub whose method makes the call."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import betterproto2
from betterproto2.grpclib import ServiceStub

from payments_betterproto.proto.payments import v1
from payments_client.policy import READS

Req = TypeVar("Req", bound=betterproto2.Message)
Resp = TypeVar("Resp", bound=betterproto2.Message)


@dataclass(frozen=True)
class Rpc(Generic[Req, Resp]):
    stub: type[ServiceStub]
    method: str
    request_type: type[Req]
    response_type: type[Resp]

    @property
    def path(self) -> str:
        return f"/payments.v1.{self.stub.__name__.removesuffix('Stub')}/{self.method}"

    @property
    def attribute(self) -> str:
        """The stub's method: CreateFxQuote -> create_fx_quote."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.method).lower()

    @property
    def read(self) -> bool:
        return self.method in READS

    @property
    def has_request_id(self) -> bool:
        """The request has an idempotency key field (AIP-155)."""
        message: Any = self.request_type  # a dataclass, which mypy cannot see through the bound
        return any(f.name == "request_id" for f in dataclasses.fields(message))


def _payments(method: str, request: type[Req], response: type[Resp]) -> Rpc[Req, Resp]:
    return Rpc(v1.PaymentServiceStub, method, request, response)


def _methods(method: str, request: type[Req], response: type[Resp]) -> Rpc[Req, Resp]:
    return Rpc(v1.PaymentMethodServiceStub, method, request, response)


def _fx(method: str, request: type[Req], response: type[Resp]) -> Rpc[Req, Resp]:
    return Rpc(v1.FxServiceStub, method, request, response)


def _analytics(method: str, request: type[Req], response: type[Resp]) -> Rpc[Req, Resp]:
    return Rpc(v1.AnalyticsServiceStub, method, request, response)


def _disputes(method: str, request: type[Req], response: type[Resp]) -> Rpc[Req, Resp]:
    return Rpc(v1.DisputeServiceStub, method, request, response)


CREATE_PAYMENT = _payments("CreatePayment", v1.CreatePaymentRequest, v1.CreatePaymentResponse)
GET_PAYMENT = _payments("GetPayment", v1.GetPaymentRequest, v1.GetPaymentResponse)
AUTHORIZE_PAYMENT = _payments(
    "AuthorizePayment", v1.AuthorizePaymentRequest, v1.AuthorizePaymentResponse
)
CONFIRM_PAYMENT = _payments("ConfirmPayment", v1.ConfirmPaymentRequest, v1.ConfirmPaymentResponse)
CAPTURE_PAYMENT = _payments("CapturePayment", v1.CapturePaymentRequest, v1.CapturePaymentResponse)
CANCEL_PAYMENT = _payments("CancelPayment", v1.CancelPaymentRequest, v1.CancelPaymentResponse)
GET_PAYMENT_STATUS = _payments(
    "GetPaymentStatus", v1.GetPaymentStatusRequest, v1.GetPaymentStatusResponse
)
REFUND_PAYMENT = _payments("RefundPayment", v1.RefundPaymentRequest, v1.RefundPaymentResponse)
GET_REFUND = _payments("GetRefund", v1.GetRefundRequest, v1.GetRefundResponse)
LIST_REFUNDS = _payments("ListRefunds", v1.ListRefundsRequest, v1.ListRefundsResponse)
LIST_PAYMENTS = _payments("ListPayments", v1.ListPaymentsRequest, v1.ListPaymentsResponse)
REVIEW_PAYMENT = _payments("ReviewPayment", v1.ReviewPaymentRequest, v1.ReviewPaymentResponse)

LIST_PAYMENT_METHODS = _methods(
    "ListPaymentMethods", v1.ListPaymentMethodsRequest, v1.ListPaymentMethodsResponse
)
LIST_AVAILABLE_PAYMENT_METHODS = _methods(
    "ListAvailablePaymentMethods",
    v1.ListAvailablePaymentMethodsRequest,
    v1.ListAvailablePaymentMethodsResponse,
)
ADD_PAYMENT_METHOD = _methods(
    "AddPaymentMethod", v1.AddPaymentMethodRequest, v1.AddPaymentMethodResponse
)
DELETE_PAYMENT_METHOD = _methods(
    "DeletePaymentMethod", v1.DeletePaymentMethodRequest, v1.DeletePaymentMethodResponse
)
SET_DEFAULT_PAYMENT_METHOD = _methods(
    "SetDefaultPaymentMethod",
    v1.SetDefaultPaymentMethodRequest,
    v1.SetDefaultPaymentMethodResponse,
)

SET_EXCHANGE_RATE = _fx("SetExchangeRate", v1.SetExchangeRateRequest, v1.SetExchangeRateResponse)
GET_EXCHANGE_RATE = _fx("GetExchangeRate", v1.GetExchangeRateRequest, v1.GetExchangeRateResponse)
LIST_EXCHANGE_RATES = _fx(
    "ListExchangeRates", v1.ListExchangeRatesRequest, v1.ListExchangeRatesResponse
)
CREATE_FX_QUOTE = _fx("CreateFxQuote", v1.CreateFxQuoteRequest, v1.CreateFxQuoteResponse)
GET_PAYMENT_STATS = _analytics(
    "GetPaymentStats", v1.GetPaymentStatsRequest, v1.GetPaymentStatsResponse
)
GET_REVENUE = _analytics("GetRevenue", v1.GetRevenueRequest, v1.GetRevenueResponse)
GET_DISPUTE_STATS = _analytics(
    "GetDisputeStats", v1.GetDisputeStatsRequest, v1.GetDisputeStatsResponse
)

LIST_DISPUTES = _disputes("ListDisputes", v1.ListDisputesRequest, v1.ListDisputesResponse)
GET_DISPUTE = _disputes("GetDispute", v1.GetDisputeRequest, v1.GetDisputeResponse)
