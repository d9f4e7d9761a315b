"""FxService messages <-> the domain's rates, quotes and commands."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from domain.commands import CreateFxQuote, SetExchangeRate
from domain.fx import ExchangeRate, FxQuote, format_rate
from payments.v1 import fx_pb2, fx_service_pb2


def _ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def rate_to_proto(rate: ExchangeRate) -> fx_pb2.ExchangeRate:
    return fx_pb2.ExchangeRate(
        base_currency=rate.base,
        quote_currency=rate.quote,
        rate=format_rate(rate.rate),
        source=rate.source,
        as_of=_ts(rate.as_of),
    )


def quote_to_proto(quote: FxQuote) -> fx_pb2.FxQuote:
    return fx_pb2.FxQuote(
        fx_quote_id=quote.id,
        source_currency=quote.source_currency,
        target_currency=quote.target_currency,
        source_amount_minor=quote.source_amount_minor,
        target_amount_minor=quote.target_amount_minor,
        rate=format_rate(quote.rate),
        expire_time=_ts(quote.expire_time),
    )


def set_rate_command(request: fx_service_pb2.SetExchangeRateRequest) -> SetExchangeRate:
    return SetExchangeRate(
        base_currency=request.base_currency,
        quote_currency=request.quote_currency,
        rate=request.rate,
        request_id=request.request_id,
    )


def create_quote_command(request: fx_service_pb2.CreateFxQuoteRequest) -> CreateFxQuote:
    return CreateFxQuote(
        source_currency=request.source_currency,
        target_currency=request.target_currency,
        source_amount_minor=request.source_amount_minor,
        request_id=request.request_id,
    )
