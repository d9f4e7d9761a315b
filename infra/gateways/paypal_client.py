"""HTTP and OAuth2 for PayPal's REST API (Orders v2, Payments v2) over httpx.

The client gets an access token with the client-credentials grant, keeps it until shortly
before it expires and fetches a new one when PayPal answers 401 (tokens are revoked early
too). It turns transport failures into the gateway port's two kinds of non-answers:

- `GatewayUnavailable`: PayPal certainly did not act (connection refused, 503, 429, a token
  that cannot be had, any failure of a GET, which has no effect anyway);
- `GatewayOutcomeUnknown`: a POST that may have been acted on (read timeout, dropped
  connection, 500/502/504 - PayPal's idempotency guide puts 5xx answers with timeouts among
  "unclear responses" to retry under the same PayPal-Request-Id).

Definite answers (2xx, 400, 404, 422) are returned as `PayPalResponse` for the gateway to
interpret. The client secret and access tokens appear in no log line, message or repr.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from domain.errors import GatewayOutcomeUnknown, GatewayUnavailable

log = logging.getLogger("payments.gateways.paypal")

BASE_URLS = {
    "sandbox": "https://api-m.sandbox.paypal.com",
    "live": "https://api-m.paypal.com",
}
DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=5.0, pool=5.0)
# Refresh this long before PayPal's stated expiry (at most a tenth of the token's lifetime).
REFRESH_MARGIN_SECONDS = 300.0
# Rejected at the door: nothing was done, try later.
_REFUSED = frozenset({403, 429, 503})


def base_url_for(mode: str, override: str | None = None) -> str:
    """PAYPAL_MODE (sandbox | live) to the API host; an override (a test server) wins."""
    if override:
        return override.rstrip("/")
    try:
        return BASE_URLS[mode.lower()]
    except KeyError:
        raise ValueError(f"PAYPAL_MODE must be sandbox or live, not {mode!r}") from None


@dataclass(frozen=True, slots=True)
class PayPalResponse:
    """A definite answer: the status and the JSON body (empty for 204)."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def issue(self) -> str:
        """The first `details[].issue` of an error body, else its `name`."""
        for detail in self.body.get("details") or ():
            if isinstance(detail, dict) and detail.get("issue"):
                return str(detail["issue"])
        return str(self.body.get("name") or f"HTTP_{self.status}")

    @property
    def description(self) -> str:
        for detail in self.body.get("details") or ():
            if isinstance(detail, dict) and detail.get("description"):
                return str(detail["description"])
        return str(self.body.get("message") or "PayPal refused the request")

    @property
    def debug_id(self) -> str:
        return str(self.body.get("debug_id") or "")


class PayPalClient:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        base_url: str,
        http: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._auth = httpx.BasicAuth(client_id, client_secret)
        self._base_url = base_url.rstrip("/")
        self._http = http if http is not None else httpx.AsyncClient(timeout=timeout)
        self._owns_http = http is None
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._token_good_until = 0.0

    def __repr__(self) -> str:  # never the credentials or the token
        return f"PayPalClient(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # --- OAuth2 -----------------------------------------------------------------------------
    async def _access_token(self, rejected: str | None = None) -> str:
        """The cached token, or a new one if it is about to expire or PayPal just rejected
        it. Concurrent callers share one token request."""
        async with self._lock:
            current = self._token
            fresh = self._clock() < self._token_good_until
            if current is not None and current != rejected and fresh:
                return current
            self._token = None
            asked_at = self._clock()  # the lifetime counts from before the request
            token, lifetime = await self._fetch_token()
            margin = min(self._refresh_margin, lifetime / 10)
            self._token, self._token_good_until = token, asked_at + lifetime - margin
            return token

    async def _fetch_token(self) -> tuple[str, float]:
        url = f"{self._base_url}/v1/oauth2/token"
        try:
            response = await self._http.post(
                url,
                auth=self._auth,
                data={"grant_type": "client_credentials"},
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as error:
            raise GatewayUnavailable(f"paypal: no access token ({type(error).__name__})") from None
        if response.status_code != 200:
            # invalid_client and friends: the credentials are wrong; nothing was charged.
            raise GatewayUnavailable(f"paypal: token request refused ({response.status_code})")
        try:
            body = response.json()
            return str(body["access_token"]), float(body["expires_in"])
        except (ValueError, KeyError, TypeError):
            raise GatewayUnavailable("paypal: unreadable token response") from None

    # --- API calls --------------------------------------------------------------------------
    async def get(self, path: str) -> PayPalResponse:
        return await self._call("GET", path, None, None)

    async def post(self, path: str, body: dict[str, Any], *, request_id: str) -> PayPalResponse:
        """POST under `PayPal-Request-Id: request_id`: a repeat of the same id replays
        PayPal's answer instead of acting twice."""
        return await self._call("POST", path, body, request_id)

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None, request_id: str | None
    ) -> PayPalResponse:
        token = await self._access_token()
        response = await self._send(method, path, body, request_id, token)
        if response.status_code == 401:
            # Expired or revoked early: nothing was done; again with a fresh token, same id.
            token = await self._access_token(rejected=token)
            response = await self._send(method, path, body, request_id, token)
            if response.status_code == 401:
                raise GatewayUnavailable("paypal: access token rejected after a refresh")
        return self._interpret(method, path, response)

    async def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        request_id: str | None,
        token: str,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if request_id is not None:
            headers["PayPal-Request-Id"] = request_id
            headers["Prefer"] = "return=representation"
        where = f"paypal: {method} {path}"
        try:
            return await self._http.request(
                method, f"{self._base_url}{path}", json=body, headers=headers
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise GatewayUnavailable(f"{where}: not sent ({type(error).__name__})") from None
        except httpx.TransportError as error:
            if method == "GET":
                raise GatewayUnavailable(f"{where}: {type(error).__name__}") from None
            raise GatewayOutcomeUnknown(
                f"{where}: no answer after sending ({type(error).__name__})"
            ) from None

    def _interpret(self, method: str, path: str, response: httpx.Response) -> PayPalResponse:
        status = response.status_code
        where = f"paypal: {method} {path} answered {status}"
        body = _json_object(response)
        debug_id = str(body.get("debug_id") or response.headers.get("paypal-debug-id") or "")
        log.debug("paypal call", extra={"path": path, "status": status, "debug_id": debug_id})
        if status in _REFUSED or (status >= 500 and method == "GET"):
            raise GatewayUnavailable(where, metadata={"debug_id": debug_id})
        if status >= 500 or status == 409:  # 409: the same PayPal-Request-Id is in flight
            raise GatewayOutcomeUnknown(where, metadata={"debug_id": debug_id})
        if 200 <= status < 300 and response.content and not body:
            if method == "GET":
                raise GatewayUnavailable(f"{where} with an unreadable body")
            raise GatewayOutcomeUnknown(f"{where} with an unreadable body")
        return PayPalResponse(status, body)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
