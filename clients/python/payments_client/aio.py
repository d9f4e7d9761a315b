"""The async client (grpc.aio).

    async with PaymentsClient.from_env() as client:
        created = await client.create_payment(CreatePaymentRequest(...))

Every method takes its request message and returns its response message, typed; a failed
call raises a typed `PaymentsError` (errors.py) after the retries policy.py allows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar, cast, overload

import grpc

from payments.v1 import payment_method_service_pb2_grpc, payment_service_pb2_grpc
from payments_client import rpcs
from payments_client.calls import LogicalCall
from payments_client.channels import (
    AsyncTokenProvider,
    EnvConfig,
    Keepalive,
    SyncTokenProvider,
    Tls,
    channel_options,
    token_metadata,
)
from payments_client.errors import PaymentsError, decode
from payments_client.interceptors import BearerToken, RaisePaymentsError
from payments_client.policy import CallSettings, RetryHook
from payments_client.retrying import run_async
from payments_client.rpcs import Req, Resp, Rpc
from payments_client.validation import RequestValidator

TokenSource = str | SyncTokenProvider | AsyncTokenProvider

R_contra = TypeVar("R_contra", contravariant=True)
S_co = TypeVar("S_co", covariant=True)


class AsyncMethod(Protocol[R_contra, S_co]):
    def __call__(
        self,
        request: R_contra,
        /,
        *,
        timeout: float | None = None,
        request_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Awaitable[S_co]: ...


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
    """One channel to the service. Use `async with`, or call `close()`.

    token: a bearer token, or a function (plain or async) returning the current one.
    tls: TLS or mutual TLS (None: plaintext, for local development).
    settings: the deadline of each method's attempts and the retry policy.
    on_retry: called before each retry (method, failed attempt, error, pause), e.g. to log.

    `payments` and `payment_methods` are the generated stubs on the same channel, for
    callers that want them raw (their failures raise PaymentsError, without retries)."""

    def __init__(
        self,
        target: str,
        *,
        token: TokenSource | None = None,
        tls: Tls | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        keepalive: Keepalive | None = None,
        settings: CallSettings | None = None,
        options: list[tuple[str, Any]] | None = None,
        on_retry: RetryHook | None = None,
        validate: bool = False,
    ) -> None:
        self.settings = settings if settings is not None else CallSettings()
        self._token = token
        self._on_retry = on_retry
        # validate=True: the contract's rules are checked before sending (validation.py).
        self._validator = RequestValidator() if validate else None
        opts = channel_options(tls, keepalive or Keepalive(), options)
        if tls is not None and credentials is None:
            credentials = tls.credentials()
        self.channel = (
            grpc.aio.insecure_channel(target, options=opts)
            if credentials is None
            else grpc.aio.secure_channel(target, credentials, options=opts)
        )
        # The raw stubs, on a channel of their own interceptors (same connection).
        interceptors: list[Any] = [RaisePaymentsError()]
        if token is not None:
            interceptors.append(BearerToken(token))
        self._raw_channel = (
            grpc.aio.insecure_channel(target, options=opts, interceptors=interceptors)
            if credentials is None
            else grpc.aio.secure_channel(
                target, credentials, options=opts, interceptors=interceptors
            )
        )
        self.payments = payment_service_pb2_grpc.PaymentServiceStub(self._raw_channel)
        self.payment_methods = payment_method_service_pb2_grpc.PaymentMethodServiceStub(
            self._raw_channel
        )
        self._callables: dict[str, Any] = {}

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
        timeout: float | None = None,  # noqa: ASYNC109 - a gRPC deadline, as grpc.aio's own
        request_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Resp:
        """One logical call: attempts with the same request_id until one answers, the
        error is final, or the policy allows no more."""
        if self._validator is not None:
            self._validator.check(request)  # refused here, as the server would refuse it
        call = LogicalCall.start(
            rpc,
            request,
            self.settings,
            timeout=timeout,
            request_id=request_id,
            on_retry=self._on_retry,
        )
        method = self._callable(rpc)

        async def attempt() -> Resp:
            headers = [*(metadata or {}).items(), *await self._auth()]
            response = await method(call.request, timeout=call.timeout, metadata=headers)
            return cast(Resp, response)

        return await run_async(call, attempt, _failed_call)

    def _callable(self, rpc: Rpc[Any, Any]) -> Any:
        if rpc.path not in self._callables:
            self._callables[rpc.path] = self.channel.unary_unary(
                rpc.path,
                request_serializer=rpc.request_type.SerializeToString,
                response_deserializer=rpc.response_type.FromString,
            )
        return self._callables[rpc.path]

    async def _auth(self) -> list[tuple[str, str]]:
        return await token_metadata(self._token)

    async def close(self) -> None:
        await self.channel.close()
        await self._raw_channel.close()

    async def __aenter__(self) -> PaymentsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"PaymentsClient(settings={self.settings!r})"


def _failed_call(failed: Exception) -> PaymentsError | None:
    """A failed grpc.aio call, typed; anything else is not a call's failure."""
    if isinstance(failed, grpc.aio.AioRpcError):
        return decode(failed.code(), failed.details() or "", failed.trailing_metadata())
    return None


__all__ = ["AsyncMethod", "PaymentsClient", "PaymentsError"]
