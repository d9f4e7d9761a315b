"""ISO 4217 minor units: stored amounts in currencies whose minor unit CLDR counted otherwise

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

Until this revision the service took minor units from CLDR's display precision (Babel
2.17-2.19), which differs from ISO 4217 for the currencies below: 150000 HUF minor units
meant 1,500.00 HUF under Babel 2.18 and 150,000 HUF under Babel 2.19. From now on every
stored amount is counted in ISO 4217 minor units. Rows in these currencies are ambiguous:
only the operator knows which Babel counted them. So the upgrade refuses to run over such
rows until the operator declares, per currency, the minor units the stored amounts were
counted in:

    MINOR_UNITS_DECLARED="HUF=2,IQD=0" payment-service migrate

A declared count below ISO 4217's multiplies every amount of those payments (and of their
transactions, refunds and disputes) by the difference's power of ten, exactly, in this
transaction; a declaration equal to ISO 4217 keeps them. Nothing else is touched: the audit
trail keeps what was recorded at the time, and idempotent answers saved in the last hours
replay what was answered then.
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen with this revision: currency -> (ISO 4217 minor units per the 2026-01-01 list, the
# CLDR precisions Babel 2.17.0, 2.18.0 or 2.19.0 gave). Computed from those releases' data.
AMBIGUOUS: dict[str, tuple[int, tuple[int, ...]]] = {
    "AFN": (2, (0,)), "ALL": (2, (0,)), "COP": (2, (0, 2)), "HUF": (2, (0, 2)),
    "IDR": (2, (0, 2)), "IQD": (3, (0,)), "IRR": (2, (0,)), "KPW": (2, (0,)),
    "LAK": (2, (0,)), "LBP": (2, (0,)), "MGA": (2, (0,)), "MMK": (2, (0,)),
    "RSD": (2, (0, 2)), "SOS": (2, (0,)), "SYP": (2, (0,)), "YER": (2, (0,)),
}  # fmt: skip
DECLARATION = "MINOR_UNITS_DECLARED"
# Tables whose amounts belong to a payment, and their amount columns.
PAYMENT_AMOUNTS = ("amount_minor", "authorized_minor", "captured_minor", "refunded_minor")
CHILD_TABLES = ("transactions", "refunds", "disputes")


class AmbiguousMinorUnits(RuntimeError):
    pass


def declared() -> dict[str, int]:
    text = os.environ.get(DECLARATION, "").strip()
    pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
    if any(len(pair) != 2 or not pair[1].strip().isdigit() for pair in pairs):
        raise AmbiguousMinorUnits(f"{DECLARATION} takes CODE=DIGITS,…; got {text!r}")
    return {code.strip().upper(): int(digits) for code, digits in pairs}


def stored_counts(conn: sa.Connection) -> dict[str, int]:
    rows = conn.execute(
        sa.text(
            "SELECT currency, count(*) FROM payments WHERE currency = ANY(:codes)"
            " GROUP BY currency ORDER BY currency"
        ),
        {"codes": sorted(AMBIGUOUS)},
    )
    return {currency: count for currency, count in rows}


def check(counts: dict[str, int], declaration: dict[str, int]) -> list[str]:
    """What stops the upgrade: every ambiguous currency with rows and no valid declaration."""
    problems = []
    for currency, count in counts.items():
        iso, cldr = AMBIGUOUS[currency]
        digits = declaration.get(currency)
        if digits is None:
            problems.append(
                f"{currency}: {count} payment(s) counted in {' or '.join(map(str, cldr))}"
                f" decimal(s) by CLDR, {iso} by ISO 4217; declare which"
            )
        elif digits > iso or digits not in (*cldr, iso):
            problems.append(f"{currency}: declared {digits} decimals, expected one of {cldr}")
    return problems


def rescale(conn: sa.Connection, currency: str, factor: int) -> None:
    payment_columns = ", ".join(f"{c} = {c} * :factor" for c in PAYMENT_AMOUNTS)
    params = {"factor": factor, "currency": currency}
    conn.execute(
        sa.text(
            f"UPDATE payments SET {payment_columns}, version = version + 1"  # noqa: S608
            " WHERE currency = :currency"
        ),
        params,
    )
    for table in CHILD_TABLES:
        conn.execute(
            sa.text(
                f"UPDATE {table} SET amount_minor = amount_minor * :factor"  # noqa: S608
                " WHERE currency = :currency"
            ),
            params,
        )


def upgrade() -> None:
    conn = op.get_bind()
    counts = stored_counts(conn)
    if not counts:
        return
    declaration = declared()
    problems = check(counts, declaration)
    if problems:
        raise AmbiguousMinorUnits(
            "stored payments are in currencies whose minor unit CLDR and ISO 4217 count"
            f" differently; set {DECLARATION}=CODE=DIGITS,… to what they were recorded in"
            " (the Babel release that ran: 2.19 counts HUF and RSD in 0 and 2 decimals,"
            " 2.17 and 2.18 in 2 and 0) and migrate again:\n  " + "\n  ".join(problems)
        )
    for currency in counts:
        iso, _ = AMBIGUOUS[currency]
        if declaration[currency] < iso:
            rescale(conn, currency, 10 ** (iso - declaration[currency]))


def downgrade() -> None:
    # Amounts are not scaled back: ISO 4217 minor units are what every later revision means.
    pass
