"""A fake PayPal REST API: a real HTTP server on loopback that follows PayPal's documented
shapes for OAuth2 client credentials, Orders v2 (intent AUTHORIZE), Payments v2 and
Transaction Search (paypal_transactions.py).

PayPal has no emulator, so this is the one third party the tests fake (DESIGN.md section 7).
It is stateful (orders, authorizations, captures, refunds), requires a bearer token from
/v1/oauth2/token on every API call, and honours PayPal-Request-Id: a repeated id replays
the stored answer without acting again. Error bodies carry name, message, debug_id and
details[{issue, description}].

Test controls stand in for the buyer and for PayPal's bad days: `approve` an order, `decline`
it (INSTRUMENT_DECLINED) or `deny` its authorization (processor response), `save_wallet` (a
vault payment token that authorizes without the buyer, or declines), `expire_tokens`, and
make the next matching request fail (`fail_next`: 500/503/429) or hang (`stall_next`: a read
timeout for the client), before or after acting. `requests` records what arrived.
"""

from __future__ import annotations

import base64
import contextlib
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from tests.fakes import paypal_transactions as transactions
from tests.fakes.http_server import STALL, HttpServer, Request, Response
from tests.fakes.paypal_operations import PayPalOperations, invalid_request, paypal_error

ERROR_NAMES = {
    429: ("RATE_LIMIT_REACHED", "Too many requests. Blocked due to rate limiting."),
    500: ("INTERNAL_SERVER_ERROR", "An internal server error has occurred."),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable."),
}


@dataclass
class Fault:
    method: str
    path_contains: str
    status: int | None  # None: stall (no answer)
    after_acting: bool

    def matches(self, request: Request) -> bool:
        return request.method == self.method and self.path_contains in request.path


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakePayPal(PayPalOperations):
    def __init__(
        self,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        token_lifetime: int = 32400,
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.token_lifetime = token_lifetime
        self.token_requests = 0
        # True: every bearer token is refused (a revoked app, clock skew at PayPal...).
        self.reject_bearer_tokens = False
        self.issued_tokens: list[str] = []
        self.requests: list[Recorded] = []
        self._server = HttpServer(self._handle)
        self._tokens: dict[str, float] = {}  # token -> monotonic expiry
        self._replays: dict[str, Response] = {}
        self._faults: list[Fault] = []

    @property
    def url(self) -> str:
        return self._server.url

    async def start(self) -> None:
        await self._server.start()

    async def close(self) -> None:
        await self._server.close()

    # --- test controls ----------------------------------------------------------------------
    def expire_tokens(self) -> None:
        """Every token issued so far stops working (PayPal may revoke them early)."""
        self._tokens.clear()

    def fail_next(
        self,
        status: int,
        *,
        method: str = "POST",
        path_contains: str = "/v2/",
        after_acting: bool = False,
    ) -> None:
        self._faults.append(Fault(method, path_contains, status, after_acting))

    def stall_next(
        self, *, method: str = "POST", path_contains: str = "/v2/", after_acting: bool = False
    ) -> None:
        self._faults.append(Fault(method, path_contains, None, after_acting))

    def posts(self, path_contains: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and path_contains in r.path]

    # --- HTTP -------------------------------------------------------------------------------
    async def _handle(self, request: Request) -> Response | object:
        try:
            body = request.form() if "oauth2" in request.path else request.json()
        except ValueError:
            return invalid_request("MALFORMED_REQUEST_JSON", "The request JSON is malformed.")
        self.requests.append(Recorded(request.method, request.path, request.headers, body))
        if request.path == "/v1/oauth2/token" and request.method == "POST":
            return self._token(request)
        if not self._authenticated(request):
            return Response(
                401,
                {"error": "invalid_token", "error_description": "Access Token not found in cache"},
            )
        fault = next((f for f in self._faults if f.matches(request)), None)
        if fault is not None:
            self._faults.remove(fault)
            if not fault.after_acting:
                return self._fault_answer(fault)
        answer = self._idempotent(request)
        return answer if fault is None else self._fault_answer(fault)

    def _fault_answer(self, fault: Fault) -> Response | object:
        if fault.status is None:
            return STALL
        name, message = ERROR_NAMES.get(fault.status, ("INTERNAL_SERVER_ERROR", "Error."))
        return paypal_error(fault.status, name, message)

    def _token(self, request: Request) -> Response:
        self.token_requests += 1
        expected = f"{self.client_id}:{self.client_secret}".encode()
        given = request.headers.get("authorization", "")
        if given != "Basic " + base64.b64encode(expected).decode():
            return Response(
                401,
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
            )
        if request.form().get("grant_type") != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type"})
        token = "A21AA" + secrets.token_urlsafe(48)
        self._tokens[token] = time.monotonic() + self.token_lifetime
        self.issued_tokens.append(token)
        return Response(
            200,
            {
                "scope": "https://uri.paypal.com/services/payments/payment/authcapture",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": self.token_lifetime,
                "nonce": secrets.token_hex(16),
            },
        )

    def _authenticated(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expiry = self._tokens.get(token)
        if self.reject_bearer_tokens or scheme != "Bearer" or expiry is None:
            return False
        return time.monotonic() < expiry

    def _idempotent(self, request: Request) -> Response:
        key = request.headers.get("paypal-request-id")
        if request.method == "POST" and key is not None and key in self._replays:
            return self._replays[key]
        answer = self._route(request)
        if request.method == "POST" and key is not None and answer.status < 500:
            self._replays[key] = answer
        return answer

    def _route(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/v1/reporting/transactions":
            rows = transactions.events(
                list(self.authorizations.values()), list(self.captures.values()),
                list(self.refunds.values()),
            )  # fmt: skip
            return transactions.search(request.query, rows)
        prefer = request.headers.get("prefer", "return=minimal")
        for method, pattern, operation in ROUTES:
            match = re.fullmatch(pattern, request.path)
            if match and request.method == method:
                return getattr(self, operation)(*match.groups(), request.json() or {}, prefer)
        return paypal_error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.")


_ID = r"([A-Z0-9]+)"
ROUTES = [
    ("POST", r"/v2/checkout/orders", "create_order"),
    ("GET", rf"/v2/checkout/orders/{_ID}", "show_order"),
    ("POST", rf"/v2/checkout/orders/{_ID}/authorize", "authorize_order"),
    ("GET", rf"/v2/payments/authorizations/{_ID}", "show_authorization"),
    ("POST", rf"/v2/payments/authorizations/{_ID}/capture", "capture_authorization"),
    ("POST", rf"/v2/payments/authorizations/{_ID}/void", "void_authorization"),
    ("GET", rf"/v2/payments/captures/{_ID}", "show_capture"),
    ("POST", rf"/v2/payments/captures/{_ID}/refund", "refund_capture"),
    ("GET", rf"/v2/payments/refunds/{_ID}", "show_refund"),
    ("POST", r"/v1/notifications/verify-webhook-signature", "verify_webhook_signature"),
]


@contextlib.asynccontextmanager
async def running_fake_paypal(**options: Any) -> AsyncIterator[FakePayPal]:
    """A fake PayPal on a free loopback port for the duration of the block."""
    fake = FakePayPal(**options)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
