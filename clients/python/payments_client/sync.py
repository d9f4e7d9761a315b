"""The blocking client (grpc, no event loop): the same methods, rules and errors as the
async one.

    with SyncPaymentsClient.from_env() as client:
        created = client.create_payment(CreatePaymentRequest(...))
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar, cast, overload

import grpc

from payments_client import rpcs
from payments_client.calls import LogicalCall
from payments_client.channels import EnvConfig, Keepalive, SyncTokenProvider, Tls, channel_options
from payments_client.errors import PaymentsError, decode
from payments_client.policy import CallSettings, RetryHook
from payments_client.retrying import run_blocking
from payments_client.rpcs import Req, Resp, Rpc
from payments_client.validation import RequestValidator

R_contra = TypeVar("R_contra", contravariant=True)
S_co = TypeVar("S_co", covariant=True)


class SyncMethod(Protocol[R_contra, S_co]):
    def __call__(
        self,
        request: R_contra,
        /,
        *,
        timeout: float | None = None,
        request_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> S_co: ...


class _Bound(Generic[Req, Resp]):
    def __init__(self, rpc: Rpc[Req, Resp]) -> None:
        self.rpc = rpc

    @overload
    def __get__(self, client: None, owner: type[Any]) -> _Bound[Req, Resp]: ...
    @overload
    def __get__(self, client: SyncPaymentsClient, owner: type[Any]) -> SyncMethod[Req, Resp]: ...
    def __get__(
        self, client: SyncPaymentsClient | None, owner: type[Any]
    ) -> _Bound[Req, Resp] | SyncMethod[Req, Resp]:
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
        ) -> Resp:
            return client.call(
                rpc, request, timeout=timeout, request_id=request_id, metadata=metadata
            )

        return call


class SyncPaymentsClient:
    """One channel to the service. Use `with`, or call `close()`. Arguments as
    PaymentsClient's, but a token provider must be a plain function."""

    def __init__(
        self,
        target: str,
        *,
        token: str | SyncTokenProvider | None = None,
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
            grpc.insecure_channel(target, options=opts)
            if credentials is None
            else grpc.secure_channel(target, credentials, options=opts)
        )
        self._callables: dict[str, Any] = {}

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> SyncPaymentsClient:
        config = EnvConfig.read(environ)
        return cls(config.target, **(config.client_kwargs() | overrides))

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
    list_payment_methods = _Bound(rpcs.LIST_PAYMENT_METHODS)
    list_available_payment_methods = _Bound(rpcs.LIST_AVAILABLE_PAYMENT_METHODS)
    add_payment_method = _Bound(rpcs.ADD_PAYMENT_METHOD)
    delete_payment_method = _Bound(rpcs.DELETE_PAYMENT_METHOD)
    set_default_payment_method = _Bound(rpcs.SET_DEFAULT_PAYMENT_METHOD)
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

    def call(
        self,
        rpc: Rpc[Req, Resp],
        request: Req,
        *,
        timeout: float | None = None,
        request_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Resp:
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

        def attempt() -> Resp:
            headers = [*(metadata or {}).items(), *self._auth()]
            return cast(Resp, method(call.request, timeout=call.timeout, metadata=headers))

        return run_blocking(call, attempt, _failed_call)

    def _callable(self, rpc: Rpc[Any, Any]) -> Any:
        if rpc.path not in self._callables:
            self._callables[rpc.path] = self.channel.unary_unary(
                rpc.path,
                request_serializer=rpc.request_type.SerializeToString,
                response_deserializer=rpc.response_type.FromString,
            )
        return self._callables[rpc.path]

    def _auth(self) -> list[tuple[str, str]]:
        if self._token is None:
            return []
        token = self._token() if callable(self._token) else self._token
        return [("authorization", f"Bearer {token}")]

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> SyncPaymentsClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SyncPaymentsClient(settings={self.settings!r})"


def _failed_call(failed: Exception) -> PaymentsError | None:
    """A failed blocking call (a grpc.RpcError that is also a grpc.Call), typed."""
    if isinstance(failed, grpc.RpcError):
        call: Any = failed
        return decode(call.code(), call.details() or "", call.trailing_metadata())
    return None
