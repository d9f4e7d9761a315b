"""payments.v1.AnalyticsService: reads the buckets the projector maintains (no unit of work:
the figures are no one user's objects; the scope check is the authentication interceptor's)."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from domain.analytics import AnalyticsReader
from domain.usecases import analytics as use
from payments.v1 import analytics_service_pb2 as pb
from payments.v1 import analytics_service_pb2_grpc
from server import analytics_mappers as m

Context: TypeAlias = grpc.aio.ServicerContext


class AnalyticsServicer(analytics_service_pb2_grpc.AnalyticsServiceServicer):
    def __init__(self, reader: AnalyticsReader) -> None:
        self._reader = reader

    async def GetPaymentStats(
        self, request: pb.GetPaymentStatsRequest, context: Context
    ) -> pb.GetPaymentStatsResponse:
        report = await use.get_payment_stats(
            m.moment(request, "start_time"),
            m.moment(request, "end_time"),
            m.granularity(request.granularity),
            m.dimensions(request.group_by),
            self._reader,
        )
        return m.payment_stats_response(report)

    async def GetRevenue(
        self, request: pb.GetRevenueRequest, context: Context
    ) -> pb.GetRevenueResponse:
        report = await use.get_revenue(
            m.moment(request, "start_time"),
            m.moment(request, "end_time"),
            m.granularity(request.granularity),
            self._reader,
        )
        return m.revenue_response(report)

    async def GetDisputeStats(
        self, request: pb.GetDisputeStatsRequest, context: Context
    ) -> pb.GetDisputeStatsResponse:
        report = await use.get_dispute_stats(
            m.moment(request, "start_time"), m.moment(request, "end_time"), self._reader
        )
        return m.dispute_stats_response(report)
