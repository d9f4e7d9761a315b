"""Rows holding personal data, written through the repositories: what the encryption,
rotation and retention tests look for in the raw columns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName, PaymentMethodType
from domain.gateway import GatewayOutcome
from domain.money import Money
from domain.payment import Payment
from domain.payment_amounts import PaymentAmounts
from domain.payment_authentication import Authentication
from domain.payment_method import PaymentMethod
from domain.refund import Refund
from domain.webhooks import WebhookReceipt
from infra.db.sealing import Sealer
from infra.db.uow import SqlUnitOfWork
from tests.support.wire import RENDER


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PersonalData:
    """Distinctive strings: finding one in a raw column means it was stored in clear."""

    email: str
    customer: str
    description: str
    reason: str
    return_url: str

    @classmethod
    def unique(cls) -> PersonalData:
        tag = uuid.uuid4().hex[:10]
        return cls(
            email=f"alice.{tag}@example.com",
            customer=f"cus_{tag}",
            description=f"Birthday present for Alice {tag}",
            reason=f"Alice {tag} changed her mind",
            return_url=f"https://shop.example/back?who=alice.{tag}",
        )

    def all(self) -> list[str]:
        return [self.email, self.customer, self.description, self.reason]


def payment_with(data: PersonalData, created_at: datetime | None = None) -> Payment:
    moment = created_at or now()
    return Payment(
        id=new_id(),
        order_id=new_id(),
        user_id=new_id(),
        amounts=PaymentAmounts.of(Money(5000, "EUR")),
        payment_method_type=PaymentMethodType.CREDIT_CARD,
        gateway=GatewayName.SIMULATOR,
        created_at=moment,
        updated_at=moment,
        payment_method_token="pm_card_visa",
        gateway_customer_id=data.customer,
        description=data.description,
        metadata={"customer_email": data.email, "cart": "42"},
        authentication=Authentication(return_url=data.return_url),
        country="GB",
    )


async def store_refunded_payment(
    engine: AsyncEngine, sealer: Sealer, data: PersonalData, created_at: datetime | None = None
) -> tuple[Payment, Refund]:
    """Authorized, captured 5000 and refunded 1500, with the refund's reason."""
    payment = payment_with(data, created_at)
    uow = SqlUnitOfWork(engine, sealer, RENDER)
    async with uow:
        await uow.payments.add(payment)
        await uow.commit()
    async with uow:
        loaded = await uow.payments.get_for_update(payment.id)
        auth = loaded.begin_authorization(transaction_id=new_id(), now=now())
        loaded.record_authorization(auth.id, GatewayOutcome.succeeded(new_id()), now(), new_id())
        capture = loaded.begin_capture(transaction_id=new_id(), now=now())
        loaded.record_capture(capture.id, GatewayOutcome.succeeded(new_id()), now(), new_id())
        refund_id = new_id()
        txn = loaded.begin_refund(
            transaction_id=new_id(), refund_id=refund_id, now=now(), amount_minor=1500
        )
        loaded.record_refund(txn.id, GatewayOutcome.succeeded(new_id()), now(), new_id())
        refund = Refund(
            refund_id, loaded.id, txn.id, txn.amount, data.reason, "user-42", now(), now()
        )
        refund.mark_processed("re_1", now())
        await uow.payments.save(loaded)
        await uow.refunds.add(refund)
        await uow.commit()
    async with uow:
        return await uow.payments.get(payment.id), await uow.refunds.get(refund_id)


def paypal_method(
    data: PersonalData, *, user_id: str | None = None, deleted_at: datetime | None = None
) -> PaymentMethod:
    moment = now()
    return PaymentMethod(
        id=new_id(),
        user_id=user_id or new_id(),
        type=PaymentMethodType.PAYPAL,
        gateway=GatewayName.PAYPAL,
        token=f"vault_{uuid.uuid4().hex[:8]}",
        created_at=moment,
        updated_at=moment,
        paypal_email=data.email,
        gateway_customer_id=data.customer,
        card_last4="4242",
        card_expiry_month=12,
        card_expiry_year=2034,
        deleted_at=deleted_at,
    )


async def store_method(engine: AsyncEngine, sealer: Sealer, method: PaymentMethod) -> None:
    async with SqlUnitOfWork(engine, sealer, RENDER) as uow:
        await uow.payment_methods.add(method)
        await uow.commit()


def webhook_receipt(data: PersonalData, received_at: datetime | None = None) -> WebhookReceipt:
    event_id = f"evt_{uuid.uuid4().hex}"
    return WebhookReceipt(
        gateway=GatewayName.STRIPE,
        event_id=event_id,
        type="charge.refunded",
        payment_id=None,
        received_at=received_at or now(),
        payload={"id": event_id, "data": {"object": {"billing_details": {"email": data.email}}}},
    )


async def record_webhook(engine: AsyncEngine, sealer: Sealer, receipt: WebhookReceipt) -> bool:
    async with SqlUnitOfWork(engine, sealer, RENDER) as uow:
        recorded = await uow.webhook_events.record(receipt)
        await uow.commit()
    return recorded
