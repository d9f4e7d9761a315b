"""Webhook signature verification against real signatures: Stripe's scheme as computed by the
stripe library, PayPal's SHA256withRSA with a test certificate fetched over HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest
import stripe
from pydantic import ValidationError

from domain.errors import WebhookSignatureInvalid
from infra.webhooks.paypal_certificates import (
    PaypalCertificateStore,
    PaypalCertificateTrust,
    load_trust_roots,
)
from infra.webhooks.paypal_signature import (
    PaypalLocalVerifier,
    PaypalSignatureHeaders,
)
from infra.webhooks.stripe_signature import StripeSignatureVerifier
from tests.support.servers import settings_for_tests
from tests.support.webhook_signing import PaypalTestSigner, PemServer, stripe_body, stripe_header

SECRET, OLD_SECRET = "whsec_test_current", "whsec_test_previous"
BODY = stripe_body("evt_1", "payment_intent.succeeded", {"id": "pi_1", "amount_received": 100})


def verifier(*secrets: str) -> StripeSignatureVerifier:
    return StripeSignatureVerifier(list(secrets))


def now() -> int:
    # The SDK reads the wall clock itself: headers are signed relative to it.
    return int(time.time())


# --- Stripe ----------------------------------------------------------------------------------
def test_stripe_accepts_a_signature_made_by_the_stripe_library() -> None:
    header = stripe_header(BODY, SECRET, now())
    verifier(SECRET).verify(BODY, header)
    assert stripe.Webhook.construct_event(BODY, header, SECRET).id == "evt_1"


def test_stripe_verification_is_the_sdks(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str | None, object]] = []
    real = stripe.WebhookSignature.verify_header

    def spy(payload: bytes, header: str | None, secret: str, tolerance: object = None) -> bool:
        calls.append((header, tolerance))
        return bool(real(payload, header, secret, tolerance))

    monkeypatch.setattr(stripe.WebhookSignature, "verify_header", spy)
    header = stripe_header(BODY, SECRET, now())
    StripeSignatureVerifier([SECRET], tolerance_seconds=120).verify(BODY, header)
    assert calls == [(header, 120)]


@pytest.mark.parametrize(
    ("body", "header"),
    [
        (BODY.replace(b"100", b"999"), lambda: stripe_header(BODY, SECRET, now())),
        (BODY, lambda: stripe_header(BODY, SECRET, now() - 330)),  # stale timestamp
        (BODY, lambda: stripe_header(BODY, SECRET, now() + 330)),  # from the future
        (BODY, lambda: stripe_header(BODY, "whsec_wrong", now())),  # wrong secret
        (BODY, lambda: f"t={now()}"),  # no v1
        (BODY, lambda: "v1=abc"),  # no timestamp
        (BODY, lambda: "t=soon,v1=abc"),
        (BODY, lambda: None),  # missing header
        (BODY, lambda: stripe_header(BODY, SECRET, now()).replace("v1=", "v0=")),  # other scheme
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
def test_stripe_rejects(body: bytes, header: Callable[[], str | None]) -> None:
    with pytest.raises(WebhookSignatureInvalid):
        verifier(SECRET).verify(body, header())


def test_stripe_inside_the_tolerance_is_accepted() -> None:
    verifier(SECRET).verify(BODY, stripe_header(BODY, SECRET, now() - 290))
    verifier(SECRET).verify(BODY, stripe_header(BODY, SECRET, now() + 290))


def test_stripe_rotation_any_v1_and_any_configured_secret() -> None:
    # Stripe signs with both secrets while an endpoint secret rolls over.
    at = now()
    old_v1 = stripe_header(BODY, OLD_SECRET, at).split(",")[1]
    both = f"{stripe_header(BODY, SECRET, at)},{old_v1}"
    verifier(SECRET).verify(BODY, both)
    verifier(OLD_SECRET).verify(BODY, both)
    # We may also hold two secrets: a header signed with only the old one still passes.
    verifier(SECRET, OLD_SECRET).verify(BODY, stripe_header(BODY, OLD_SECRET, at))
    with pytest.raises(WebhookSignatureInvalid):
        verifier("whsec_other").verify(BODY, both)


def test_stripe_without_a_configured_secret_rejects_everything() -> None:
    with pytest.raises(WebhookSignatureInvalid):
        verifier().verify(BODY, stripe_header(BODY, SECRET, now()))


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


def local(
    http: httpx.AsyncClient,
    hosts: tuple[str, ...] = ("127.0.0.1",),
    *,
    trusting: PaypalTestSigner,
    webhook_id: str = WEBHOOK_ID,
) -> PaypalLocalVerifier:
    trust = PaypalCertificateTrust(trusting.roots())
    return PaypalLocalVerifier(webhook_id, PaypalCertificateStore(http, hosts), trust)


async def test_paypal_valid_signature_and_certificate_cached(
    signer: PaypalTestSigner, pem_server: PemServer, http: httpx.AsyncClient
) -> None:
    paypal = local(http, trusting=signer)
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
        await local(http, trusting=signer).verify(PAYPAL_BODY.replace(b"C1", b"C2"), headers)
    with pytest.raises(WebhookSignatureInvalid):
        await local(http, trusting=signer, webhook_id="WH-OTHER").verify(PAYPAL_BODY, headers)


async def test_paypal_certificate_from_a_host_not_allowed_is_never_fetched(
    signer: PaypalTestSigner, pem_server: PemServer, http: httpx.AsyncClient
) -> None:
    headers = signer.headers(PAYPAL_BODY, WEBHOOK_ID, pem_server.cert_url)
    with pytest.raises(WebhookSignatureInvalid):
        await local(http, (".paypal.com",), trusting=signer).verify(
            PAYPAL_BODY, PaypalSignatureHeaders.from_metadata(headers)
        )
    lookalike = signer.headers(PAYPAL_BODY, WEBHOOK_ID, "https://api.paypal.com.evil.example/c")
    with pytest.raises(WebhookSignatureInvalid):
        await local(http, (".paypal.com",), trusting=signer).verify(
            PAYPAL_BODY, PaypalSignatureHeaders.from_metadata(lookalike)
        )
    assert pem_server.fetches == 0


async def test_paypal_signature_by_another_key_is_rejected(
    signer: PaypalTestSigner, pem_server: PemServer, http: httpx.AsyncClient
) -> None:
    impostor = PaypalTestSigner.create()  # signs with a key that is not the served cert's
    headers = impostor.headers(PAYPAL_BODY, WEBHOOK_ID, pem_server.cert_url)
    with pytest.raises(WebhookSignatureInvalid):
        await local(http, trusting=signer).verify(
            PAYPAL_BODY, PaypalSignatureHeaders.from_metadata(headers)
        )


async def test_paypal_missing_headers_or_unknown_algorithm_are_rejected(
    signer: PaypalTestSigner, pem_server: PemServer, http: httpx.AsyncClient
) -> None:
    headers = signer.headers(PAYPAL_BODY, WEBHOOK_ID, pem_server.cert_url)
    with pytest.raises(WebhookSignatureInvalid):
        PaypalSignatureHeaders.from_metadata(headers | {"paypal-transmission-sig": ""})
    with pytest.raises(WebhookSignatureInvalid):
        await local(http, trusting=signer).verify(
            PAYPAL_BODY,
            PaypalSignatureHeaders.from_metadata(headers | {"paypal-auth-algo": "SHA1withRSA"}),
        )


# --- PayPal: the certificate chain ------------------------------------------------------------
async def served_and_verified(signer: PaypalTestSigner, trusted: PaypalTestSigner) -> None:
    """Serves `signer`'s certificate chain and verifies its signature trusting `trusted`'s
    root."""
    server = PemServer(signer.pem)
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            headers = signer.headers(PAYPAL_BODY, WEBHOOK_ID, server.cert_url)
            await local(http, trusting=trusted).verify(
                PAYPAL_BODY, PaypalSignatureHeaders.from_metadata(headers)
            )
    finally:
        await server.close()


async def test_paypal_chain_to_the_trusted_root_verifies(signer: PaypalTestSigner) -> None:
    await served_and_verified(signer, signer)


@pytest.mark.parametrize(
    "untrusted",
    [
        {"self_signed": True},  # a key of its own, vouched for by no CA
        {"with_intermediate": False},  # the chain stops short of the trusted root
        {"valid_days": (-30, -1)},  # expired
        {"valid_days": (1, 30)},  # not valid yet
        {"name": "messageverificationcerts.evil.example"},  # issued to someone else
    ],
    ids=["self-signed", "no-intermediate", "expired", "not-yet-valid", "other-name"],
)
async def test_paypal_certificate_outside_a_trusted_chain_is_rejected(
    untrusted: dict[str, Any],
) -> None:
    # Each signature is good under its own certificate: only the chain check refuses it.
    signer = PaypalTestSigner.create(**untrusted)
    with pytest.raises(WebhookSignatureInvalid, match="not trusted"):
        await served_and_verified(signer, signer)


async def test_paypal_chain_from_another_ca_is_rejected(signer: PaypalTestSigner) -> None:
    with pytest.raises(WebhookSignatureInvalid, match="not trusted"):
        await served_and_verified(PaypalTestSigner.create(), signer)


def test_paypal_trusts_certifis_bundle_by_default() -> None:
    roots = load_trust_roots()
    subjects = {root.subject.rfc4514_string() for root in roots}
    # PayPal's certificates chain to DigiCert's roots, which certifi (Mozilla's list) carries.
    assert any("DigiCert Global Root G2" in subject for subject in subjects)
    assert len(roots) == len(certifi.contents().split("-----BEGIN CERTIFICATE-----")) - 1


def test_a_ca_bundle_that_is_not_there_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="PAYPAL_CERT_CA_BUNDLE"):
        settings_for_tests(paypal_cert_ca_bundle=tmp_path / "missing.pem")
    bundle = tmp_path / "roots.pem"
    bundle.write_bytes(PaypalTestSigner.create().root_pem)
    settings = settings_for_tests(paypal_cert_ca_bundle=bundle)
    [root] = load_trust_roots(settings.paypal_cert_ca_bundle)
    assert "Test Root CA" in root.subject.rfc4514_string()
