"""The durable retry schedule: what to do when a soft failure leaves work undone."""

from __future__ import annotations

from domain.errors import DomainError, GatewayUnavailable, PaymentDeclined
from domain.ports import UnitOfWork
from domain.retry import RetryOperation, ScheduledRetry, is_soft
from domain.usecases.deps import Deps


async def schedule_retry(
    uow: UnitOfWork,
    deps: Deps,
    *,
    payment_id: str,
    operation: RetryOperation,
    target_id: str,
    attempt: int,
    failure: str | None,
) -> bool:
    """Schedule retry number `attempt` in the caller's transaction; False when the policy
    has no attempts left."""
    now = deps.clock.now()
    run_at = deps.retry_policy.next_run(attempt, now, deps.rng)
    if run_at is None:
        return False
    await uow.retries.schedule(
        ScheduledRetry(payment_id, operation, target_id, attempt, run_at, failure or "")
    )
    return True


async def schedule_authorization_retry(
    deps: Deps, payment_id: str, attempt: int, failure: str
) -> bool:
    async with deps.uow as uow:
        scheduled = await schedule_retry(
            uow,
            deps,
            payment_id=payment_id,
            operation=RetryOperation.AUTHORIZE,
            target_id=payment_id,
            attempt=attempt,
            failure=failure,
        )
        await uow.commit()
    return scheduled


def soft_failure_of(error: DomainError) -> str | None:
    """The failure code when `error` is worth an automatic retry."""
    if isinstance(error, GatewayUnavailable):
        return error.reason
    if isinstance(error, PaymentDeclined) and is_soft(error.code):
        return error.code
    return None
