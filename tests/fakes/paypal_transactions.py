"""The fake PayPal's Transaction Search (GET /v1/reporting/transactions), as PayPal documents
it (https://developer.paypal.com/docs/api/transaction-search/v1/): the money events of the
fake's books between start_date and end_date (at most 31 days apart), one
`transaction_details[].transaction_info` each, oldest first, paged by page_size (at most 500)
and page, with total_items and total_pages.

T-codes: T1300 authorization, T1302 authorization void, T0006 capture (PayPal Checkout
APIs), T1107 payment refund (a negative amount). transaction_status: S success, D denied.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.fakes.http_server import Response
from tests.fakes.paypal_operations import invalid_request
from tests.fakes.paypal_resources import Authorization, Capture, Refund, money

MAX_RANGE = timedelta(days=31)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _row(
    code: str, transaction_id: str, reference: str | None, currency: str, value: Decimal,
    at: str, status: str = "S",
) -> dict[str, Any]:  # fmt: skip
    info: dict[str, Any] = {
        "transaction_id": transaction_id,
        "transaction_event_code": code,
        "transaction_initiation_date": at,
        "transaction_updated_date": at,
        "transaction_amount": money(currency, value),
        "transaction_status": status,
    }
    if reference is not None:
        info |= {"paypal_reference_id": reference, "paypal_reference_id_type": "TXN"}
    return {"transaction_info": info}


def events(
    authorizations: list[Authorization], captures: list[Capture], refunds: list[Refund]
) -> list[dict[str, Any]]:
    rows = []
    for auth in authorizations:
        status = "D" if auth.status == "DENIED" else "S"
        rows.append(_row("T1300", auth.id, None, auth.currency, auth.amount, auth.create_time,
                         status))  # fmt: skip
        if auth.void_time is not None:
            rows.append(_row("T1302", f"V{auth.id[1:]}", auth.id, auth.currency, auth.amount,
                             auth.void_time))  # fmt: skip
    for capture in captures:
        rows.append(_row("T0006", capture.id, capture.authorization_id, capture.currency,
                         capture.amount, capture.create_time))  # fmt: skip
    for refund in refunds:
        rows.append(_row("T1107", refund.id, refund.capture_id, refund.currency, -refund.amount,
                         refund.create_time))  # fmt: skip
    return sorted(rows, key=lambda r: r["transaction_info"]["transaction_initiation_date"])


def search(query: dict[str, str], rows: list[dict[str, Any]]) -> Response:
    try:
        start, end = _when(query["start_date"]), _when(query["end_date"])
        page_size = int(query.get("page_size", "100"))
        page = int(query.get("page", "1"))
    except (KeyError, ValueError):
        return invalid_request("INVALID_REQUEST", "start_date and end_date are required.")
    if end - start > MAX_RANGE or end < start:
        return invalid_request("INVALID_REQUEST", "Date range is greater than 31 days.")
    if not 1 <= page_size <= 500 or page < 1:
        return invalid_request("INVALID_REQUEST", "Invalid page or page_size.")
    found = [
        r for r in rows
        if start <= _when(r["transaction_info"]["transaction_initiation_date"]) <= end
    ]  # fmt: skip
    pages = max(1, math.ceil(len(found) / page_size))
    return Response(200, {
        "transaction_details": found[(page - 1) * page_size : page * page_size],
        "account_number": "FAKEMERCHANT1",
        "start_date": query["start_date"],
        "end_date": query["end_date"],
        "page": page,
        "total_items": len(found),
        "total_pages": pages,
        "links": [],
    })  # fmt: skip
