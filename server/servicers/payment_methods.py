"""payments.v1.PaymentMethodService."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import grpc

from domain.usecases import payment_methods as use
from domain.usecases.deps import Deps
from payments.v1 import payment_method_service_pb2 as pb
from payments.v1 import payment_method_service_pb2_grpc
from server import mappers as m

Context: TypeAlias = grpc.aio.ServicerContext


class PaymentMethodServicer(payment_method_service_pb2_grpc.PaymentMethodServiceServicer):
    def __init__(self, deps: Callable[[], Deps]) -> None:
        self._deps = deps

    async def ListPaymentMethods(
        self, request: pb.ListPaymentMethodsRequest, context: Context
    ) -> pb.ListPaymentMethodsResponse:
        page = await use.list_payment_methods(
            request.user_id, request.page_size, request.page_token, self._deps()
        )
        return pb.ListPaymentMethodsResponse(
            payment_methods=[m.method_to_proto(x) for x in page.items],
            next_page_token=page.next_page_token,
        )

    async def AddPaymentMethod(
        self, request: pb.AddPaymentMethodRequest, context: Context
    ) -> pb.AddPaymentMethodResponse:
        method = await use.add_payment_method(m.add_method_command(request), self._deps())
        return pb.AddPaymentMethodResponse(payment_method=m.method_to_proto(method))

    async def DeletePaymentMethod(
        self, request: pb.DeletePaymentMethodRequest, context: Context
    ) -> pb.DeletePaymentMethodResponse:
        await use.delete_payment_method(request.payment_method_id, self._deps())
        return pb.DeletePaymentMethodResponse()

    async def SetDefaultPaymentMethod(
        self, request: pb.SetDefaultPaymentMethodRequest, context: Context
    ) -> pb.SetDefaultPaymentMethodResponse:
        method = await use.set_default_payment_method(request.payment_method_id, self._deps())
        return pb.SetDefaultPaymentMethodResponse(payment_method=m.method_to_proto(method))

    async def ListAvailablePaymentMethods(
        self, request: pb.ListAvailablePaymentMethodsRequest, context: Context
    ) -> pb.ListAvailablePaymentMethodsResponse:
        available = use.list_available_payment_methods(
            m.available_methods_query(request), self._deps()
        )
        return pb.ListAvailablePaymentMethodsResponse(
            available_payment_methods=[m.available_method_to_proto(x) for x in available]
        )
