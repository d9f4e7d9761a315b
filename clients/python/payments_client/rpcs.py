"""The RPCs of payments.v1 the client calls, each typed by its request and response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf.message import Message

from payments.v1 import analytics_service_pb2 as an
from payments.v1 import dispute_service_pb2 as ds
from payments.v1 import fx_service_pb2 as fx
from payments.v1 import payment_method_service_pb2 as pm
from payments.v1 import payment_service_pb2 as ps
from payments_client.policy import READS

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


@dataclass(frozen=True)
class Rpc(Generic[Req, Resp]):
    service: str
    method: str
    request_type: type[Req]
    response_type: type[Resp]

    @property
    def path(self) -> str:
        return f"/payments.v1.{self.service}/{self.method}"

    @property
    def read(self) -> bool:
        return self.method in READS

    @property
    def has_request_id(self) -> bool:
        """The request has an idempotency key field (AIP-155)."""
        return "request_id" in self.request_type.DESCRIPTOR.fields_by_name


def _payments(method: str, request: type[Req], response: type[Resp]) -> Rpc[Req, Resp]:
    return Rpc("PaymentService", method, request, response)


def _methods(method: str, request: type[Req], response: type[Resp]) -> Rpc[Req, Resp]:
    return Rpc("PaymentMethodService", method, request, response)


def _analytics(method: str, request: type[Req], response: type[Resp]) -> Rpc[Req, Resp]:
    return Rpc("AnalyticsService", method, request, response)


def _fx(method: str, request: type[Req], response: type[Resp]) -> Rpc[Req, Resp]:
    return Rpc("FxService", method, request, response)


def _disputes(method: str, request: type[Req], response: type[Resp]) -> Rpc[Req, Resp]:
    return Rpc("DisputeService", method, request, response)


CREATE_PAYMENT = _payments("CreatePayment", ps.CreatePaymentRequest, ps.CreatePaymentResponse)
GET_PAYMENT = _payments("GetPayment", ps.GetPaymentRequest, ps.GetPaymentResponse)
AUTHORIZE_PAYMENT = _payments(
    "AuthorizePayment", ps.AuthorizePaymentRequest, ps.AuthorizePaymentResponse
)
CONFIRM_PAYMENT = _payments("ConfirmPayment", ps.ConfirmPaymentRequest, ps.ConfirmPaymentResponse)
CAPTURE_PAYMENT = _payments("CapturePayment", ps.CapturePaymentRequest, ps.CapturePaymentResponse)
CANCEL_PAYMENT = _payments("CancelPayment", ps.CancelPaymentRequest, ps.CancelPaymentResponse)
GET_PAYMENT_STATUS = _payments(
    "GetPaymentStatus", ps.GetPaymentStatusRequest, ps.GetPaymentStatusResponse
)
REFUND_PAYMENT = _payments("RefundPayment", ps.RefundPaymentRequest, ps.RefundPaymentResponse)
GET_REFUND = _payments("GetRefund", ps.GetRefundRequest, ps.GetRefundResponse)
LIST_REFUNDS = _payments("ListRefunds", ps.ListRefundsRequest, ps.ListRefundsResponse)
LIST_PAYMENTS = _payments("ListPayments", ps.ListPaymentsRequest, ps.ListPaymentsResponse)
REVIEW_PAYMENT = _payments("ReviewPayment", ps.ReviewPaymentRequest, ps.ReviewPaymentResponse)

LIST_PAYMENT_METHODS = _methods(
    "ListPaymentMethods", pm.ListPaymentMethodsRequest, pm.ListPaymentMethodsResponse
)
LIST_AVAILABLE_PAYMENT_METHODS = _methods(
    "ListAvailablePaymentMethods",
    pm.ListAvailablePaymentMethodsRequest,
    pm.ListAvailablePaymentMethodsResponse,
)
ADD_PAYMENT_METHOD = _methods(
    "AddPaymentMethod", pm.AddPaymentMethodRequest, pm.AddPaymentMethodResponse
)
DELETE_PAYMENT_METHOD = _methods(
    "DeletePaymentMethod", pm.DeletePaymentMethodRequest, pm.DeletePaymentMethodResponse
)
SET_DEFAULT_PAYMENT_METHOD = _methods(
    "SetDefaultPaymentMethod",
    pm.SetDefaultPaymentMethodRequest,
    pm.SetDefaultPaymentMethodResponse,
)

SET_EXCHANGE_RATE = _fx("SetExchangeRate", fx.SetExchangeRateRequest, fx.SetExchangeRateResponse)
GET_EXCHANGE_RATE = _fx("GetExchangeRate", fx.GetExchangeRateRequest, fx.GetExchangeRateResponse)
LIST_EXCHANGE_RATES = _fx(
    "ListExchangeRates", fx.ListExchangeRatesRequest, fx.ListExchangeRatesResponse
)
CREATE_FX_QUOTE = _fx("CreateFxQuote", fx.CreateFxQuoteRequest, fx.CreateFxQuoteResponse)
GET_PAYMENT_STATS = _analytics(
    "GetPaymentStats", an.GetPaymentStatsRequest, an.GetPaymentStatsResponse
)
GET_REVENUE = _analytics("GetRevenue", an.GetRevenueRequest, an.GetRevenueResponse)
GET_DISPUTE_STATS = _analytics(
    "GetDisputeStats", an.GetDisputeStatsRequest, an.GetDisputeStatsResponse
)

LIST_DISPUTES = _disputes("ListDisputes", ds.ListDisputesRequest, ds.ListDisputesResponse)
GET_DISPUTE = _disputes("GetDispute", ds.GetDisputeRequest, ds.GetDisputeResponse)
