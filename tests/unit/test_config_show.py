"""`payment-service config show` and `--version` (server/config_show.py)."""

from __future__ import annotations

import pytest

from server.cli import main
from server.config import Settings
from server.config_show import MASK, UNSET, effective


def test_every_setting_shows_under_its_variable_and_no_secret_is_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_hush")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:pa55word@db/payments")
    monkeypatch.setenv("GRPC_PORT", "9191")
    main(["config", "show"])
    printed = capsys.readouterr().out
    shown = dict(line.split("=", 1) for line in printed.splitlines())
    assert shown["STRIPE_API_KEY"] == MASK
    assert shown["DATABASE_URL"] == MASK
    assert shown["PAYPAL_CLIENT_SECRET"] == UNSET
    assert shown["GRPC_PORT"] == "9191"
    assert "sk_test_hush" not in printed and "pa55word" not in printed
    assert len(shown) == len(Settings.model_fields)  # every setting, defaults included
    assert list(shown) == sorted(shown)


def test_values_are_shown_as_they_are_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTO_CAPTURE", "true")
    monkeypatch.setenv("KAFKA_BROKERS", "a:9092,b:9092")
    shown = dict(effective(Settings()))
    assert shown["AUTO_CAPTURE"] == "true"
    assert shown["KAFKA_BROKERS"] == "a:9092,b:9092"
    assert shown["APP_ENV"] == "development"


def test_version_names_the_service_and_its_contract(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("payment-service ") and "(contract payments.v1 " in out
