"""The betterproto2 client: dataclass messages over grpclib, with the grpcio client's rules.

    async with PaymentsClient.from_env() as client:      # PAYMENTS_GRPC_TARGET, PAYMENTS_TOKEN
        created = await client.create_payment(v1.CreatePaymentRequest(...))

Deadlines, idempotency keys, retries and typed errors are payments_client's own (policy.py,
retrying.py, errors.py), not a copy: only the transport (transport.py) is grpclib's.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Awaitable, Mapping
from types import TracebackType
from typing import Any, Generic, cast, overload

from betterproto2.grpclib import ServiceStub

from payments_betterproto import rpcs
from payments_betterproto.proto.payments import v1
from payments_betterproto.rpcs import Req, Resp, Rpc
from payments_betterproto.transport import failed_call, make_channel
from payments_betterproto.validation import BetterprotoValidator
from payments_client.aio import AsyncMethod, TokenSource
from payments_client.channels import EnvConfig, Keepalive, Tls, token_metadata
from payments_client.policy import CallSettings, RetryHook
from payments_client.retrying import Attempts, run_async


class _Bound(Generic[Req, Resp]):
    """`client.create_payment`: the RPC bound to a client, typed by its messages."""

    def __init__(self, rpc: Rpc[Req, Resp]) -> None:
        self.rpc = rpc

    @overload
    def __get__(self, client: None, owner: type[Any]) -> _Bound[Req, Resp]: ...
    @overload
    def __get__(self, client: PaymentsClient, owner: type[Any]) -> AsyncMethod[Req, Resp]: ...
    def __get__(
        self, client: PaymentsClient | None, owner: type[Any]
    ) -> _Bound[Req, Resp] | AsyncMethod[Req, Resp]:
        if client is None:
            return self
        rpc = self.rpc

        def call(
            request: Req,
            /,
            *,
            timeout: float | None = None,
            request_id: str | None = None,
            metadata: Mapping[str, str] | None = None,
        ) -> Awaitable[Resp]:
            return client.call(
                rpc, request, timeout=timeout, request_id=request_id, metadata=metadata
            )

        return call


class PaymentsClient:
    """One grpclib channel to the service. Use `async with`, or call `close()`.

    token: a bearer token, or a function (plain or async) returning the current one.
    tls: TLS or mutual TLS (payments_client.Tls; None: plaintext), or ssl_context: your own.
    settings: the deadline of each method's attempts and the retry policy.
    on_retry: called before each retry (method, failed attempt, error, pause), e.g. to log.
    validate: refuse locally, with the server's InvalidArgument, a request that breaks the
    contract's buf.validate rules (needs `payments-client[validate]`).

    `payments`, `payment_methods`, `fx`, `analytics` and `disputes` are the generated stubs on
    the same channel, for callers that want them raw (grpclib's errors, no retries)."""

    def __init__(
        self,
        target: str,
        *,
        token: TokenSource | None = None,
        tls: Tls | None = None,
        ssl_context: ssl.SSLContext | None = None,
        keepalive: Keepalive | None = None,
        settings: CallSettings | None = None,
        on_retry: RetryHook | None = None,
        validate: bool = False,
    ) -> None:
        self.settings = settings if settings is not None else CallSettings()
        # validate=True: the contract's rules are checked before sending (validation.py).
        self._validator = BetterprotoValidator() if validate else None
        self._token = token
        self._on_retry = on_retry
        self.channel = make_channel(
            target, tls=tls, context=ssl_context, keepalive=keepalive or Keepalive()
        )
        self.payments = v1.PaymentServiceStub(self.channel)
        self.payment_methods = v1.PaymentMethodServiceStub(self.channel)
        self.fx = v1.FxServiceStub(self.channel)
        self.analytics = v1.AnalyticsServiceStub(self.channel)
        self.disputes = v1.DisputeServiceStub(self.channel)
        stubs = (self.payments, self.payment_methods, self.fx, self.analytics, self.disputes)
        self._stubs: dict[type[ServiceStub], ServiceStub] = {type(stub): stub for stub in stubs}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> PaymentsClient:
        """A client configured by PAYMENTS_GRPC_TARGET, PAYMENTS_TOKEN, ... (EnvConfig)."""
        config = EnvConfig.read(environ)
        return cls(config.target, **(config.client_kwargs() | overrides))

    # --- PaymentService -------------------------------------------------------------------
    create_payment = _Bound(rpcs.CREATE_PAYMENT)
    get_payment = _Bound(rpcs.GET_PAYMENT)
    authorize_payment = _Bound(rpcs.AUTHORIZE_PAYMENT)
    confirm_payment = _Bound(rpcs.CONFIRM_PAYMENT)
    capture_payment = _Bound(rpcs.CAPTURE_PAYMENT)
    cancel_payment = _Bound(rpcs.CANCEL_PAYMENT)
    get_payment_status = _Bound(rpcs.GET_PAYMENT_STATUS)
    refund_payment = _Bound(rpcs.REFUND_PAYMENT)
    get_refund = _Bound(rpcs.GET_REFUND)
    list_refunds = _Bound(rpcs.LIST_REFUNDS)
    list_payments = _Bound(rpcs.LIST_PAYMENTS)
    review_payment = _Bound(rpcs.REVIEW_PAYMENT)
    # --- PaymentMethodService -------------------------------------------------------------
    list_payment_methods = _Bound(rpcs.LIST_PAYMENT_METHODS)
    list_available_payment_methods = _Bound(rpcs.LIST_AVAILABLE_PAYMENT_METHODS)
    add_payment_method = _Bound(rpcs.ADD_PAYMENT_METHOD)
    delete_payment_method = _Bound(rpcs.DELETE_PAYMENT_METHOD)
    set_default_payment_method = _Bound(rpcs.SET_DEFAULT_PAYMENT_METHOD)
    # --- FxService ------------------------------------------------------------------------
    set_exchange_rate = _Bound(rpcs.SET_EXCHANGE_RATE)
    get_exchange_rate = _Bound(rpcs.GET_EXCHANGE_RATE)
    list_exchange_rates = _Bound(rpcs.LIST_EXCHANGE_RATES)
    create_fx_quote = _Bound(rpcs.CREATE_FX_QUOTE)
    # --- AnalyticsService -----------------------------------------------------------------
    get_payment_stats = _Bound(rpcs.GET_PAYMENT_STATS)
    get_revenue = _Bound(rpcs.GET_REVENUE)
    get_dispute_stats = _Bound(rpcs.GET_DISPUTE_STATS)
    # --- DisputeService -------------------------------------------------------------------
    list_disputes = _Bound(rpcs.LIST_DISPUTES)
    get_dispute = _Bound(rpcs.GET_DISPUTE)

    async def call(
        self,
        rpc: Rpc[Req, Resp],
        request: Req,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a gRPC deadline, as grpclib's own
        request_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Resp:
        """One logical call: attempts with the same request_id until one answers, the
        error is final, or the policy allows no more (payments_client.retrying)."""
        if not isinstance(request, rpc.request_type):
            raise TypeError(f"{rpc.method} takes a {rpc.request_type.__name__}")
        current: str = getattr(request, "request_id", "") if rpc.has_request_id else ""
        attempts = Attempts.plan(
            rpc.method,
            read=rpc.read,
            keyed=rpc.has_request_id,
            settings=self.settings,
            timeout=timeout,
            request_id=request_id,
            request_key=current,
            on_retry=self._on_retry,
        )
        if attempts.request_id != current:
            # The key goes on a copy: the caller's message is left as it was.
            request = dataclasses.replace(request, request_id=attempts.request_id)  # type: ignore[type-var]
        if self._validator is not None:
            self._validator.check(request)
        method = getattr(self._stubs[rpc.stub], rpc.attribute)

        async def attempt() -> Resp:
            headers = [*(metadata or {}).items(), *await token_metadata(self._token)]
            return cast(Resp, await method(request, timeout=attempts.timeout, metadata=headers))

        return await run_async(attempts, attempt, failed_call)

    def close(self) -> None:
        self.channel.close()

    async def __aenter__(self) -> PaymentsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"payments_betterproto.PaymentsClient(settings={self.settings!r})"
