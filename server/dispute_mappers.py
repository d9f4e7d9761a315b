"""DisputeService messages <-> the domain's disputes."""

from __future__ import annotations

from domain.dispute import Dispute
from payments.v1 import dispute_pb2, payment_pb2
from server.mappers import _to_proto_enum, _ts


def dispute_to_proto(dispute: Dispute) -> dispute_pb2.Dispute:
    return dispute_pb2.Dispute(
        dispute_id=dispute.id,
        payment_id=dispute.payment_id,
        gateway=_to_proto_enum(payment_pb2.Gateway, "GATEWAY_", dispute.gateway.value),
        gateway_dispute_id=dispute.gateway_dispute_id,
        amount_minor=dispute.amount.amount_minor,
        currency=dispute.amount.currency,
        reason=dispute.reason,
        status=_to_proto_enum(payment_pb2.DisputeStatus, "DISPUTE_STATUS_", dispute.status.value),
        created_at=_ts(dispute.created_at),
        updated_at=_ts(dispute.updated_at),
        closed_at=_ts(dispute.closed_at),
    )
