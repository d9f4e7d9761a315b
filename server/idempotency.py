"""Idempotency for every RPC whose request has a `request_id` (AIP-155), as an interceptor.

The servicers stay unaware of it: the first request with a key runs, its response (or final
error status) is stored serialized, and later requests with the same key get the stored
bytes back - marked with the `idempotent-replayed: true` trailer.

The calls of a payment's lifecycle (IN_TRANSACTION) keep their key in their own database
transactions: the call's first commit claims it, in the same statement as its writes, and
the transaction that concludes the call stores the answer (infra/db/request_claim.py), so
idempotency adds no transaction and no statement to them. Other keyed calls claim and
answer around the call (Idempotency).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.rpc import status_pb2

from domain.errors import (
    DomainError,
    GatewayOutcomeUnknown,
    OperationInProgress,
    StorageUnavailable,
)
from domain.idempotency import (
    AlreadyAnswered,
    IdempotencyKey,
    IdempotencyStore,
    KeyedRequest,
    KeyTakenMeanwhile,
    StoredAnswer,
    fingerprint,
    is_final,
)
from domain.payment import Payment
from domain.refund import Refund
from domain.usecases.idempotent import Idempotency
from server import mappers as m
from server.context import caller_var, request_claim_var
from server.errors import abort_with_status, domain_error_status
from server.interceptors import Behavior, UnaryInterceptor

log = logging.getLogger("payments.idempotency")

KEY_FIELD = "request_id"
REPLAYED_TRAILER = (("idempotent-replayed", "true"),)
_SERVICE = "/payments.v1.PaymentService/"
# Keyed in the call's own transactions (see above). Their use cases conclude with a payment
# (a refund and its payment for RefundPayment) or a final error.
IN_TRANSACTION = frozenset(
    _SERVICE + name
    for name in (
        "CreatePayment",
        "AuthorizePayment",
        "ConfirmPayment",
        "CapturePayment",
        "CancelPayment",
        "RefundPayment",
    )
)
# Errors after which the request's operation may still be open at the gateway: the key stays
# claimed (until its lease ends) so that the request, sent again, finds that operation.
_KEEPS_THE_KEY = (GatewayOutcomeUnknown, OperationInProgress)
# Errors after which a request that would claim its key with its first commit does not run
# again claiming first: the database did not answer; the same would happen again.
_NOT_RUN = (StorageUnavailable,)

# A result as (the stored answer, the response message when it is a success).
Render = Callable[[object], tuple[StoredAnswer, object | None]]
# Builds the record of one keyed request (infra/db/request_claim.py, from the composition
# root): (key, fingerprint, render, deferred) -> the request the units of work claim and
# answer; deferred, its first commit claims the key.
NewKeyedRequest = Callable[[IdempotencyKey, str, Render, bool], KeyedRequest]


def method_descriptor(full_method: str) -> MethodDescriptor | None:
    """'/payments.v1.PaymentService/CapturePayment' -> its descriptor, if it is ours."""
    service, _, name = full_method.lstrip("/").rpartition("/")
    try:
        return descriptor_pool.Default().FindServiceByName(service).methods_by_name.get(name)
    except KeyError:
        return None


async def _replay(
    answer: StoredAnswer, response_type: Any, context: grpc.aio.ServicerContext
) -> Any:
    context.set_trailing_metadata(REPLAYED_TRAILER)
    if answer.code == 0:
        return response_type.FromString(answer.body)
    await abort_with_status(context, status_pb2.Status.FromString(answer.body))


def request_fingerprint_of(request: Any) -> str:
    """The request minus its key, serialized deterministically."""
    unkeyed = type(request)()
    unkeyed.CopyFrom(request)
    unkeyed.ClearField(KEY_FIELD)
    return fingerprint(unkeyed.SerializeToString(deterministic=True))


def answer_renderer(response_type: Any) -> Render:
    """A use case's result as the call's serialized answer, exactly as the servicer answers."""

    def render(result: object) -> tuple[StoredAnswer, object | None]:
        if isinstance(result, DomainError):
            status = domain_error_status(result)
            return StoredAnswer(status.code, status.SerializeToString()), None
        if isinstance(result, tuple):
            refund, payment = result
            assert isinstance(refund, Refund) and isinstance(payment, Payment)
            message = response_type(
                refund=m.refund_to_proto(refund), payment=m.payment_to_proto(payment)
            )
        else:
            assert isinstance(result, Payment)
            message = response_type(payment=m.payment_to_proto(result))
        return StoredAnswer(0, message.SerializeToString()), message

    return render


class IdempotencyInterceptor(UnaryInterceptor):
    def __init__(
        self, idempotency: Idempotency, store: IdempotencyStore, new_request: NewKeyedRequest
    ) -> None:
        self._idempotency = idempotency
        self._store = store
        self._clock = idempotency.clock
        self._new_request = new_request

    def applies_to(self, method: str) -> bool:
        descriptor = method_descriptor(method)  # reads and foreign services have no key
        return descriptor is not None and KEY_FIELD in descriptor.input_type.fields_by_name

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        descriptor = method_descriptor(method)
        assert descriptor is not None  # applies_to said so
        response_type = message_factory.GetMessageClass(descriptor.output_type)
        if method in IN_TRANSACTION:
            return self._wrap_in_transaction(method, behavior, response_type)
        return self._wrap(method, behavior, response_type)

    def _wrap_in_transaction(self, method: str, behavior: Behavior, response_type: Any) -> Behavior:
        render = answer_renderer(response_type)

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            request_id = getattr(request, KEY_FIELD)
            if not request_id:
                return await behavior(request, context)
            key = IdempotencyKey(caller_var.get(), method, request_id)
            request_fingerprint = request_fingerprint_of(request)
            # First as if the key were new: its first commit claims it (no statement of its
            # own). Ended before that commit, by the key found there or by an error (which
            # the key's record may answer instead: a request sent again), the request runs
            # again claiming first, as a key already there is claimed (request_claim.py).
            for deferred in (True, False):
                claim = self._new_request(key, request_fingerprint, render, deferred)
                token = request_claim_var.set(claim)
                try:
                    response = await behavior(request, context)
                except AlreadyAnswered as replay:
                    return await _replay(replay.answer, response_type, context)
                except KeyTakenMeanwhile:
                    continue
                except DomainError as error:
                    if deferred and claim.claim is None and not isinstance(error, _NOT_RUN):
                        continue
                    await asyncio.shield(self._settle_error(claim, request_fingerprint, error))
                    raise
                finally:
                    request_claim_var.reset(token)
                if claim.answer is None:  # concluded outside a transaction (a rare path)
                    answer = StoredAnswer(0, response.SerializeToString())
                    await self._store_late(claim, request_fingerprint, answer)
                return response
            raise AssertionError("a request claiming first never finds its key taken")

        return wrapped

    async def _settle_error(
        self, claim: KeyedRequest, request_fingerprint: str, error: DomainError
    ) -> None:
        """A final error is the answer (stored unless a transaction already stored it); after
        a retryable one the key is free again, unless the request's operation may be open."""
        if is_final(error):
            if claim.answer is None:
                status = domain_error_status(error)
                answer = StoredAnswer(status.code, status.SerializeToString())
                await self._store_late(claim, request_fingerprint, answer)
        elif claim.claim is not None and not isinstance(error, _KEEPS_THE_KEY):
            try:
                await self._store.release(claim.claim)
            except Exception:  # the lease expires by itself; the key is then claimable again
                log.warning("could not release an idempotency key; its lease will expire")

    async def _store_late(
        self, claim: KeyedRequest, request_fingerprint: str, answer: StoredAnswer
    ) -> None:
        if claim.claim is not None:
            await self._store.complete(claim.claim, answer, self._clock.now())
        else:  # nothing committed: the key was never claimed for good
            await self._store.answer(claim.key, request_fingerprint, answer, self._clock.now())

    def _wrap(self, method: str, behavior: Behavior, response_type: Any) -> Behavior:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            request_id = getattr(request, KEY_FIELD)
            if not request_id:
                return await behavior(request, context)  # no key: no replay protection
            first: dict[str, Any] = {}

            async def execute() -> StoredAnswer:
                try:
                    response = await behavior(request, context)
                except DomainError as error:
                    if not is_final(error):
                        raise
                    first["error"] = error
                    status = domain_error_status(error)
                    return StoredAnswer(status.code, status.SerializeToString())
                first["response"] = response
                return StoredAnswer(0, response.SerializeToString())

            key = IdempotencyKey(caller_var.get(), method, request_id)
            answer, replayed = await self._idempotency.run(
                key, request_fingerprint_of(request), execute
            )
            if not replayed:
                if "error" in first:
                    raise first["error"]
                return first["response"]
            return await _replay(answer, response_type, context)

        return wrapped
