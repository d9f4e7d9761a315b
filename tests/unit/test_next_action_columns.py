"""A payment's next action in its two columns, bank-transfer instructions included."""

from __future__ import annotations

from domain.enums import NextActionType
from domain.gateway import BankTransferAccount, BankTransferInstructions, NextAction
from domain.money import Money
from infra.db.next_action import next_action_columns, next_action_from_columns

INSTRUCTIONS = NextAction(
    NextActionType.DISPLAY_BANK_TRANSFER_INSTRUCTIONS,
    "https://payments.stripe.com/bank_transfers/instructions/pi_1",
    BankTransferInstructions(
        "eu_bank_transfer",
        "REF123",
        Money(25_000, "EUR"),
        (BankTransferAccount("iban", "Shop GmbH", "DE37STRP0123456789", "SXPYDEXXXXX", "DE"),),
    ),
)


def test_instructions_survive_the_columns() -> None:
    columns = next_action_columns(INSTRUCTIONS)
    assert columns["next_action_type"] == "BANK_TRANSFER"  # fits String(32)
    assert next_action_from_columns(**_args(columns)) == INSTRUCTIONS


def test_a_redirect_keeps_its_plain_url() -> None:
    redirect = NextAction(NextActionType.REDIRECT_TO_URL, "https://3ds.example/1")
    columns = next_action_columns(redirect)
    assert columns == {"next_action_type": "REDIRECT_TO_URL", "next_action_url": redirect.url}
    assert next_action_from_columns(**_args(columns)) == redirect
    assert next_action_columns(None) == {"next_action_type": None, "next_action_url": None}


def test_cleared_instructions_read_back_without_details() -> None:
    # The retention job clears next_action_url and keeps the type.
    action = next_action_from_columns("BANK_TRANSFER", None)
    assert action == NextAction(NextActionType.DISPLAY_BANK_TRANSFER_INSTRUCTIONS, "", None)


def _args(columns: dict[str, str | None]) -> dict[str, str | None]:
    return {"kind": columns["next_action_type"], "url": columns["next_action_url"]}
