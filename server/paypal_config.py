"""Settings of the PayPal gateway: enabled when PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET (or
_FILE) are set; how its webhooks are verified."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from infra.webhooks.paypal_certificates import DEFAULT_CERT_NAMES
from server.secret_settings import secret_from, unreadable
from server.settings_part import SettingsPart


class PayPalSettings(SettingsPart):
    paypal_client_id: str | None = None
    paypal_client_secret: SecretStr | None = None
    paypal_client_secret_file: Path | None = None
    paypal_mode: Literal["sandbox", "live"] = "sandbox"
    paypal_api_base: str | None = None
    # Webhooks: the id PayPal gave our webhook; verified here (`local`, with the certificate
    # from PAYPAL-CERT-URL) or by PayPal's verify-webhook-signature API (`api`).
    paypal_webhook_id: str | None = None
    paypal_webhook_verification: Literal["local", "api"] = "local"
    # Hosts certificates may come from, comma-separated; ".paypal.com" allows its subdomains.
    paypal_cert_hosts: str = ".paypal.com"
    # Local verification trusts a certificate only through its chain to a CA of this PEM
    # bundle (default: certifi's), issued to one of these names (comma-separated).
    paypal_cert_ca_bundle: Path | None = None
    paypal_cert_names: str = ",".join(DEFAULT_CERT_NAMES)

    def problems(self) -> list[str]:
        problems = unreadable(self.paypal_secret)
        if not problems and (self.paypal_client_id is None) != (self.paypal_secret() is None):
            problems.append("PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET go together")
        bundle = self.paypal_cert_ca_bundle
        if bundle is not None and not bundle.is_file():
            # Refused at start, not at the first webhook: a typo would reject every one.
            problems.append("PAYPAL_CERT_CA_BUNDLE is not a readable file")
        return problems

    def paypal_secret(self) -> SecretStr | None:
        return secret_from(
            self.paypal_client_secret, self.paypal_client_secret_file, "PAYPAL_CLIENT_SECRET"
        )

    def paypal_cert_host_list(self) -> list[str]:
        return [part.strip() for part in self.paypal_cert_hosts.split(",") if part.strip()]

    def paypal_cert_name_list(self) -> list[str]:
        return [part.strip() for part in self.paypal_cert_names.split(",") if part.strip()]
