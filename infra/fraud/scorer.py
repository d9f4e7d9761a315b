"""The optional external risk scorer, over HTTP (FRAUD_SCORER_URL).

Request: POST FRAUD_SCORER_URL with a JSON object describing the payment (no card data:
amount in minor units, currency, country, method type, BIN when known, the user id, and an
opaque card key). Answer: HTTP 2xx with {"score": <number from 0 to 100>}; the score is
rounded half up to an integer. Anything else - a timeout, a refused connection, another
status, a malformed body - is "unavailable", and FRAUD_SCORER_FAIL_MODE decides.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from domain.risk import RiskSignalUnavailable, RiskSubject


def scorer_request(subject: RiskSubject) -> dict[str, Any]:
    return {
        "paymentId": subject.payment_id,
        "userId": subject.user_id,
        "amountMinor": subject.amount.amount_minor,
        "currency": subject.amount.currency,
        "country": subject.country,
        "paymentMethodType": subject.method_type.value,
        "cardBin": subject.card_bin or "",
        "cardKey": subject.card_key or "",
    }


def parse_score(body: bytes) -> int:
    """The integer score of a scorer's answer; raises ValueError when there is none."""
    try:
        answer = json.loads(body, parse_float=Decimal)  # never through a binary float
    except (ValueError, RecursionError) as exc:
        raise ValueError("the answer is not JSON") from exc
    raw = answer.get("score") if isinstance(answer, dict) else None
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
        raise ValueError("the answer has no numeric score")
    score = Decimal(raw)
    if not Decimal(0) <= score <= Decimal(100):
        raise ValueError(f"the score {score} is outside 0-100")
    return int(score.to_integral_value(ROUND_HALF_UP))


class HttpRiskScorer:
    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        timeout_seconds: float,
        api_key: str | None = None,
    ) -> None:
        self._client = client
        self._url = url
        self._timeout = httpx.Timeout(timeout_seconds)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    async def score(self, subject: RiskSubject) -> int:
        try:
            response = await self._client.post(
                self._url,
                json=scorer_request(subject),
                headers=self._headers,
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise RiskSignalUnavailable("the risk scorer did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise RiskSignalUnavailable(f"the risk scorer is unreachable: {exc!r}") from exc
        if not response.is_success:
            raise RiskSignalUnavailable(f"the risk scorer answered HTTP {response.status_code}")
        try:
            return parse_score(response.content)
        except ValueError as exc:
            raise RiskSignalUnavailable(f"the risk scorer's answer is unusable: {exc}") from exc
