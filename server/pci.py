"""PCI_COMPLIANCE_MODE: a service that handles payments refuses to start with settings that
leave cardholder data or its access unprotected, and names each setting at fault.

The checks come from the parts that own the settings (transport, authentication, encryption
at rest); this module only gathers them, adds what belongs to none of them, and decides."""

from __future__ import annotations

from server.auth_config import auth_settings_problems
from server.config import Settings
from server.encryption import encryption_settings_problems
from server.transport import transport_settings_problems


class PciComplianceError(Exception):
    """The settings are not fit for PCI_COMPLIANCE_MODE; the message lists why."""


def pci_problems(settings: Settings) -> list[str]:
    """Why these settings must not run in PCI compliance mode, one line per setting at fault
    (empty when the mode is off or nothing is wrong)."""
    if not settings.pci_compliance_mode:
        return []
    problems = [
        *transport_settings_problems(settings),
        *auth_settings_problems(settings),
        *encryption_settings_problems(settings),
    ]
    if settings.grpc_reflection_enabled:
        # PCI DSS 2.2.4: only the functions the service needs; reflection is a debugging aid.
        problems.append("GRPC_REFLECTION_ENABLED is true: switch server reflection off")
    return problems


def require_pci_compliance(settings: Settings) -> None:
    """Raises PciComplianceError listing every problem when PCI_COMPLIANCE_MODE is on and the
    settings are not fit for it."""
    problems = pci_problems(settings)
    if problems:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        raise PciComplianceError(f"PCI_COMPLIANCE_MODE=true refuses to start:\n{lines}")
