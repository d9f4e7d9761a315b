"""localstripe, the stateful Stripe emulator, as a child process on a free loopback port with
its own in-memory state (see localstripe_launcher), and what a test does in it on the
customer's side: tokenize a test card, pass 3-D Secure.

Only this test harness ever sends card numbers, to localstripe's /v1/payment_methods, the
way Stripe.js would in a browser; the payment service itself only ever sees `pm_...` tokens.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from tests.support.polling import eventually, free_port

REPO = Path(__file__).resolve().parents[2]
API_KEY = "sk_test_localstripe"  # localstripe accepts any sk_... key
PUBLISHABLE_KEY = "pk_test_localstripe"

# Stripe's test card numbers by what they do when charged (localstripe_launcher teaches
# localstripe the declines it lacks).
CARDS = {
    "success": "4242424242424242",
    "declined": "4000000000000002",
    "insufficient_funds": "4000000000009995",
    "expired_card": "4000000000000069",
    "incorrect_cvc": "4000000000000127",
    "processing_error": "4000000000000119",
    "requires_action": "4000002760003184",
}


class LocalStripe:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # Output goes to a file: a pipe nobody reads would stall the server.
        self.log = Path(tempfile.mkstemp(prefix="localstripe-", suffix=".log")[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, within: float = 30.0) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
                [sys.executable, "-m", "tests.support.localstripe_launcher", str(self.port)],
                cwd=REPO,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        await eventually(self._answers, within=within)

    async def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            output = self.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"localstripe exited: {output}")
        try:
            async with httpx.AsyncClient(timeout=1) as client:
                response = await client.get(f"{self.url}/v1/balance", auth=(API_KEY, ""))
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def stop(self) -> None:
        """Terminate it: its clients see connections refused."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
            self.process.wait(10)
            self.process = None

    def close(self) -> None:
        self.stop()
        self.log.unlink(missing_ok=True)


async def create_card_payment_method(
    base_url: str, number: str, *, exp_month: int = 12, exp_year: int = 2034, cvc: str = "123"
) -> str:
    """Tokenize a test card in localstripe, as Stripe.js does in the customer's browser."""
    async with httpx.AsyncClient(base_url=base_url, auth=(API_KEY, ""), timeout=10) as client:
        response = await client.post(
            "/v1/payment_methods",
            data={
                "type": "card",
                "card[number]": number,
                "card[exp_month]": str(exp_month),
                "card[exp_year]": str(exp_year),
                "card[cvc]": cvc,
            },
        )
    response.raise_for_status()
    return str(response.json()["id"])


async def pass_three_d_secure(base_url: str, next_action_url: str, *, success: bool = True) -> None:
    """The customer completes (or fails) the 3-D Secure challenge of the PaymentIntent named
    in the adapter's next-action URL, as Stripe.js would with the client secret."""
    query = parse_qs(urlparse(next_action_url).query)
    intent = query["payment_intent"][0]
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.post(
            f"/v1/payment_intents/{intent}/_authenticate",
            data={
                "client_secret": query["payment_intent_client_secret"][0],
                "success": "true" if success else "false",
                "key": PUBLISHABLE_KEY,
            },
        )
    response.raise_for_status()


async def send_bank_transfer(
    base_url: str, customer: str, amount: int, currency: str, reference: str = ""
) -> dict[str, Any]:
    """The customer's bank transfer arrives at Stripe (Stripe's test helper
    fund_cash_balance, which localstripe_bank_transfers teaches localstripe)."""
    data = {"amount": str(amount), "currency": currency.lower()}
    if reference:
        data["reference"] = reference
    async with httpx.AsyncClient(base_url=base_url, auth=(API_KEY, ""), timeout=10) as client:
        response = await client.post(
            f"/v1/test_helpers/customers/{customer}/fund_cash_balance", data=data
        )
    response.raise_for_status()
    funded: dict[str, Any] = response.json()
    return funded
