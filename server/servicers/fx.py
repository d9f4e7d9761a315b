"""payments.v1.FxService."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import grpc

from domain.usecases import fx as use
from domain.usecases.deps import Deps
from payments.v1 import fx_service_pb2 as pb
from payments.v1 import fx_service_pb2_grpc
from server import fx_mappers as m

Context: TypeAlias = grpc.aio.ServicerContext


class FxServicer(fx_service_pb2_grpc.FxServiceServicer):
    def __init__(self, deps: Callable[[], Deps]) -> None:
        self._deps = deps

    async def SetExchangeRate(
        self, request: pb.SetExchangeRateRequest, context: Context
    ) -> pb.SetExchangeRateResponse:
        rate = await use.set_exchange_rate(m.set_rate_command(request), self._deps())
        return pb.SetExchangeRateResponse(exchange_rate=m.rate_to_proto(rate))

    async def GetExchangeRate(
        self, request: pb.GetExchangeRateRequest, context: Context
    ) -> pb.GetExchangeRateResponse:
        rate = await use.get_exchange_rate(
            request.base_currency, request.quote_currency, self._deps()
        )
        return pb.GetExchangeRateResponse(exchange_rate=m.rate_to_proto(rate))

    async def ListExchangeRates(
        self, request: pb.ListExchangeRatesRequest, context: Context
    ) -> pb.ListExchangeRatesResponse:
        page = await use.list_exchange_rates(request.page_size, request.page_token, self._deps())
        return pb.ListExchangeRatesResponse(
            exchange_rates=[m.rate_to_proto(r) for r in page.items],
            next_page_token=page.next_page_token,
        )

    async def CreateFxQuote(
        self, request: pb.CreateFxQuoteRequest, context: Context
    ) -> pb.CreateFxQuoteResponse:
        quote = await use.create_fx_quote(m.create_quote_command(request), self._deps())
        return pb.CreateFxQuoteResponse(fx_quote=m.quote_to_proto(quote))
