"""A payment's next action in its two columns (`next_action_type`, `next_action_url`).

A redirect stores its URL. Bank-transfer instructions have more to them (accounts, the
reference, the amount still due): they are stored as one JSON document in the URL column,
under the short type name `BANK_TRANSFER` (the column holds 32 characters), so that no
schema change is needed for them. They are the merchant's receiving accounts at the
gateway, never the customer's bank details.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from domain.enums import NextActionType
from domain.gateway import BankTransferAccount, BankTransferInstructions, NextAction
from domain.money import Money

BANK_TRANSFER = "BANK_TRANSFER"


def next_action_columns(action: NextAction | None) -> dict[str, str | None]:
    if action is None:
        return {"next_action_type": None, "next_action_url": None}
    if action.type is NextActionType.DISPLAY_BANK_TRANSFER_INSTRUCTIONS:
        shown = action.bank_transfer
        document: dict[str, Any] = {"url": action.url}
        if shown is not None:
            document["bank_transfer"] = {
                "type": shown.type,
                "reference": shown.reference,
                "amount_remaining_minor": shown.amount_remaining.amount_minor,
                "currency": shown.amount_remaining.currency,
                "accounts": [asdict(account) for account in shown.accounts],
            }
        return {"next_action_type": BANK_TRANSFER, "next_action_url": json.dumps(document)}
    return {"next_action_type": action.type.value, "next_action_url": action.url}


def next_action_from_columns(kind: str | None, url: str | None) -> NextAction | None:
    if not kind:
        return None
    if kind != BANK_TRANSFER:
        return NextAction(NextActionType(kind), url or "")
    document = json.loads(url) if url else {}
    shown = document.get("bank_transfer")
    instructions = (
        BankTransferInstructions(
            type=shown["type"],
            reference=shown["reference"],
            amount_remaining=Money(shown["amount_remaining_minor"], shown["currency"]),
            accounts=tuple(BankTransferAccount(**account) for account in shown["accounts"]),
        )
        if shown
        else None
    )
    return NextAction(
        NextActionType.DISPLAY_BANK_TRANSFER_INSTRUCTIONS, document.get("url", ""), instructions
    )
