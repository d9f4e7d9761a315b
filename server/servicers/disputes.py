"""payments.v1.DisputeService: read-only, the disputes gateways reported by webhook."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import grpc

from domain.usecases import disputes
from domain.usecases.deps import Deps
from payments.v1 import dispute_service_pb2 as pb
from payments.v1 import dispute_service_pb2_grpc
from server.dispute_mappers import dispute_to_proto

Context: TypeAlias = grpc.aio.ServicerContext


class DisputeServicer(dispute_service_pb2_grpc.DisputeServiceServicer):
    def __init__(self, deps: Callable[[], Deps]) -> None:
        self._deps = deps

    async def ListDisputes(
        self, request: pb.ListDisputesRequest, context: Context
    ) -> pb.ListDisputesResponse:
        found, token = await disputes.list_disputes(
            request.page_size, request.page_token, request.filter, self._deps()
        )
        return pb.ListDisputesResponse(
            disputes=[dispute_to_proto(d) for d in found], next_page_token=token
        )

    async def GetDispute(
        self, request: pb.GetDisputeRequest, context: Context
    ) -> pb.GetDisputeResponse:
        dispute = await disputes.get_dispute(request.dispute_id, self._deps())
        return pb.GetDisputeResponse(dispute=dispute_to_proto(dispute))
