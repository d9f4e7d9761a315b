"""Settings of the ops port: probes and metrics for the cluster, apart from the public ports.
`Settings` (server/config.py) inherits them; server/ops_port.py serves them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OpsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # /livez, /readyz and /metrics over plaintext HTTP, without a token, whatever TLS the
    # public ports use: kubelet probes and Prometheus scrapes cannot present the callers'
    # tokens or client certificates. Reachable from the cluster network only (the
    # NetworkPolicy in deploy/kubernetes/ lets in Prometheus and the kubelet, nobody else);
    # it serves no cardholder data. 0: any free port (tests). OPS_ENABLED=false: no ops port.
    ops_enabled: bool = True
    ops_host: str = "0.0.0.0"  # noqa: S104 - probes come from the node, scrapes from the cluster
    ops_port: Annotated[int, Field(ge=0, le=65535)] = 9091
    # Each readiness check (database, Kafka) gives up after this long: a probe must answer
    # before the kubelet's timeoutSeconds.
    ops_check_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 2.0
    # The dispute ratio (disputes per captured payment) above which the alert
    # PaymentsDisputeRatioHigh fires: exported as payments_dispute_ratio_alert_threshold, which
    # the rule compares with payments_dispute_ratio (deploy/prometheus/). Card networks act
    # on ratios near 0.9 % (Visa) and 1.5 % (Mastercard): warn before that.
    dispute_ratio_alert_threshold: Annotated[float, Field(gt=0, le=1)] = 0.0075
