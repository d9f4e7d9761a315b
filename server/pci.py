"""PCI_COMPLIANCE_MODE: a service that handles payments refuses to start with settings that
leave cardholder data or its access unprotected, and names each setting at fault.

The checks come from the parts that own the settings (transport, Redis, Kafka,
authentication, encryption at rest), summed by Settings.pci_problems(); this module decides."""

from __future__ import annotations

from server.config import Settings


class PciComplianceError(Exception):
    """The settings are not fit for PCI_COMPLIANCE_MODE; the message lists why."""


def pci_problems(settings: Settings) -> list[str]:
    """Why these settings must not run in PCI compliance mode, one line per setting at fault
    (empty when the mode is off or nothing is wrong)."""
    return settings.pci_problems()


def require_pci_compliance(settings: Settings) -> None:
    """Raises PciComplianceError listing every problem when PCI_COMPLIANCE_MODE is on and the
    settings are not fit for it."""
    problems = pci_problems(settings)
    if problems:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        raise PciComplianceError(f"PCI_COMPLIANCE_MODE=true refuses to start:\n{lines}")
