"""Webhook signature verification against real signatures: Stripe's scheme as computed by the
stripe library, PayPal's SHA256withRSA with a test certificate fetched over HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
import stripe

from domain.errors import WebhookSignatureInvalid
from infra.webhooks.paypal_signature import (
    PaypalCertificateStore,
    PaypalLocalVerifier,
    PaypalSignatureHeaders,
)
from infra.webhooks.stripe_signature import StripeSignatureVerifier
from tests.support.webhook_signing import PaypalTestSigner, PemServer, stripe_body, stripe_header

SECRET, OLD_SECRET = "whsec_test_current", "whsec_test_previous"
BODY = stripe_body("evt_1", "payment_intent.succeeded", {"id": "pi_1", "amount_received": 100})
NOW = 1_700_000_000


def verifier(*secrets: str) -> StripeSignatureVerifier:
    return StripeSignatureVerifier(list(secrets), clock=lambda: float(NOW))


# --- Stripe ----------------------------------------------------------------------------------
def test_stripe_accepts_a_signature_made_by_the_stripe_library() -> None:
    header = stripe_header(BODY, SECRET, NOW)
    verifier(SECRET).verify(BODY, header)
    # And stripe-python agrees with our check of the same header (its own clock: fresh t).
    fresh = stripe_header(BODY, SECRET, int(time.time()))
    StripeSignatureVerifier([SECRET]).verify(BODY, fresh)
    assert stripe.Webhook.construct_event(BODY, fresh, SECRET).id == "evt_1"


@pytest.mark.parametrize(
    ("body", "header"),
    [
        (BODY.replace(b"100", b"999"), stripe_header(BODY, SECRET, NOW)),  # tampered body
        (BODY, stripe_header(BODY, SECRET, NOW - 301)),  # stale timestamp
        (BODY, stripe_header(BODY, SECRET, NOW + 301)),  # from the future
        (BODY, stripe_header(BODY, "whsec_wrong", NOW)),  # wrong secret
        (BODY, f"t={NOW}"),  # no v1
        (BODY, "v1=abc"),  # no timestamp
        (BODY, "t=soon,v1=abc"),
        (BODY, None),  # missing header
        (BODY, stripe_header(BODY, SECRET, NOW).replace("v1=", "v0=")),  # other scheme only
    ],
    ids=[
        "tampered",
        "stale",
        "future",
        "wrong-secret",
        "no-v1",
        "no-t",
        "bad-t",
        "missing",
        "v0-only",
    ],
)
def test_stripe_rejects(body: bytes, header: str | None) -> None:
    with pytest.raises(WebhookSignatureInvalid):
        verifier(SECRET).verify(body, header)


def test_stripe_tolerance_edge_is_accepted() -> None:
    verifier(SECRET).verify(BODY, stripe_header(BODY, SECRET, NOW - 300))


def test_stripe_rotation_any_v1_and_any_configured_secret() -> None:
    # Stripe signs with both secrets while an endpoint secret rolls over.
    old_v1 = stripe_header(BODY, OLD_SECRET, NOW).split(",")[1]
    both = f"{stripe_header(BODY, SECRET, NOW)},{old_v1}"
    verifier(SECRET).verify(BODY, both)
    verifier(OLD_SECRET).verify(BODY, both)
    # We may also hold two secrets: a header signed with only the old one still passes.
    verifier(SECRET, OLD_SECRET).verify(BODY, stripe_header(BODY, OLD_SECRET, NOW))
    with pytest.raises(WebhookSignatureInvalid):
        verifier("whsec_other").verify(BODY, both)


def test_stripe_without_a_configured_secret_rejects_everything() -> None:
    with pytest.raises(WebhookSignatureInvalid):
        verifier().verify(BODY, stripe_header(BODY, SECRET, NOW))


# --- PayPal ----------------------------------------------------------------------------------
WEBHOOK_ID = "WH-ID-TEST"
PAYPAL_BODY = b'{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"id":"C1"}}'


@pytest.fixture(scope="module")
def signer() -> PaypalTestSigner:
    return PaypalTestSigner.create()


@pytest.fixture
async def pem_server(signer: PaypalTestSigner) -> AsyncIterator[PemServer]:
    server = PemServer(signer.pem)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def local(http: httpx.AsyncClient, hosts: tuple[str, ...] = ("127.0.0.1",)) -> PaypalLocalVerifier:
    return PaypalLocalVerifier(WEBHOOK_ID, PaypalCertificateStore(http, hosts))


async def test_paypal_valid_signature_and_certificate_cached(
    signer: PaypalTestSigner, pem_server: PemServer, http: httpx.AsyncClient
) -> None:
    paypal = local(http)
    headers = signer.headers(PAYPAL_BODY, WEBHOOK_ID, pem_server.cert_url)
    await paypal.verify(PAYPAL_BODY, PaypalSignatureHeaders.from_metadata(headers))
    await paypal.verify(PAYPAL_BODY, PaypalSignatureHeaders.from_metadata(headers))
    assert pem_server.fetches == 1


async def test_paypal_tampered_body_or_other_webhook_id_is_rejected(
    signer: PaypalTestSigner, pem_server: PemServer, http: httpx.AsyncClient
) -> None:
    headers = PaypalSignatureHeaders.from_metadata(
        signer.headers(PAYPAL_BODY, WEBHOOK_ID, pem_server.cert_url)
    )
    with pytest.raises(WebhookSignatureInvalid):
        await local(http).verify(PAYPAL_BODY.replace(b"C1", b"C2"), headers)
    other = PaypalLocalVerifier("WH-OTHER", PaypalCertificateStore(http, ("127.0.0.1",)))
    with pytest.raises(WebhookSignatureInvalid):
        await other.verify(PAYPAL_BODY, headers)


async def test_paypal_certificate_from_a_host_not_allowed_is_never_fetched(
    signer: PaypalTestSigner, pem_server: PemServer, http: httpx.AsyncClient
) -> None:
    headers = signer.headers(PAYPAL_BODY, WEBHOOK_ID, pem_server.cert_url)
    with pytest.raises(WebhookSignatureInvalid):
        await local(http, (".paypal.com",)).verify(
            PAYPAL_BODY, PaypalSignatureHeaders.from_metadata(headers)
        )
    lookalike = signer.headers(PAYPAL_BODY, WEBHOOK_ID, "https://api.paypal.com.evil.example/c")
    with pytest.raises(WebhookSignatureInvalid):
        await local(http, (".paypal.com",)).verify(
            PAYPAL_BODY, PaypalSignatureHeaders.from_metadata(lookalike)
        )
    assert pem_server.fetches == 0


async def test_paypal_signature_by_another_key_is_rejected(
    pem_server: PemServer, http: httpx.AsyncClient
) -> None:
    impostor = PaypalTestSigner.create()  # signs with a key that is not the served cert's
    headers = impostor.headers(PAYPAL_BODY, WEBHOOK_ID, pem_server.cert_url)
    with pytest.raises(WebhookSignatureInvalid):
        await local(http).verify(PAYPAL_BODY, PaypalSignatureHeaders.from_metadata(headers))


async def test_paypal_missing_headers_or_unknown_algorithm_are_rejected(
    signer: PaypalTestSigner, pem_server: PemServer, http: httpx.AsyncClient
) -> None:
    headers = signer.headers(PAYPAL_BODY, WEBHOOK_ID, pem_server.cert_url)
    with pytest.raises(WebhookSignatureInvalid):
        PaypalSignatureHeaders.from_metadata(headers | {"paypal-transmission-sig": ""})
    with pytest.raises(WebhookSignatureInvalid):
        await local(http).verify(
            PAYPAL_BODY,
            PaypalSignatureHeaders.from_metadata(headers | {"paypal-auth-algo": "SHA1withRSA"}),
        )
