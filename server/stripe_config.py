"""Settings of the Stripe gateway: enabled when STRIPE_API_KEY (or STRIPE_API_KEY_FILE) is
set; its webhooks' secrets (several, comma-separated, while rotating)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr

from server.secret_settings import secret_from, unreadable
from server.settings_part import SettingsPart


class StripeSettings(SettingsPart):
    stripe_api_key: SecretStr | None = None
    stripe_api_key_file: Path | None = None
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_secret: SecretStr | None = None
    stripe_webhook_secret_file: Path | None = None
    stripe_publishable_key: str | None = None
    # STRIPE_WEBHOOK_SECRET may list several secrets, comma-separated (rotation).
    stripe_webhook_tolerance_seconds: Annotated[int, Field(ge=1, le=3600)] = 300
    # Our page running Stripe.js for 3-D Secure when Stripe gives no redirect URL.
    stripe_next_action_url: str = "https://checkout.invalid/stripe/next-action"

    def problems(self) -> list[str]:
        return unreadable(self.stripe_key, self.stripe_webhook_key)

    def stripe_key(self) -> SecretStr | None:
        return secret_from(self.stripe_api_key, self.stripe_api_key_file, "STRIPE_API_KEY")

    def stripe_webhook_key(self) -> SecretStr | None:
        return secret_from(
            self.stripe_webhook_secret, self.stripe_webhook_secret_file, "STRIPE_WEBHOOK_SECRET"
        )

    def stripe_webhook_secrets(self) -> list[str]:
        key = self.stripe_webhook_key()
        value = key.get_secret_value() if key is not None else ""
        return [part.strip() for part in value.split(",") if part.strip()]
