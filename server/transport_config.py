"""Settings of encryption in transit (PCI DSS 4.2): the listeners' certificates and TLS
towards PostgreSQL. Redis's and Kafka's own TLS settings are in their parts
(server/redis_config.py, server/kafka_config.py). The objects built from them are in
server/tls.py (listeners) and server/transport.py (clients)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from server.settings_part import SettingsPart

# libpq's sslmode values (asyncpg takes the same).
DbSslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class TransportSettings(SettingsPart):
    # The gRPC server and the REST shim serve TLS with this certificate (chain) and key when
    # both are set. With TLS_CLIENT_CA_FILE, client certificates are verified against it;
    # TLS_REQUIRE_CLIENT_CERT makes one mandatory (mutual TLS).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    tls_require_client_cert: bool = False

    # PostgreSQL: unset is the driver's default ("prefer": TLS if the server offers it, no
    # verification). Production: verify-full with DB_SSLROOTCERT (else the system's CAs).
    db_sslmode: DbSslMode | None = None
    db_sslrootcert: Path | None = None
    db_sslcert: Path | None = None
    db_sslkey: Path | None = None

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert_file is not None

    def problems(self) -> list[str]:
        problems = []
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            problems.append("TLS_CERT_FILE and TLS_KEY_FILE go together")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            problems.append("TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE")
        if self.tls_require_client_cert and self.tls_client_ca_file is None:
            problems.append("TLS_REQUIRE_CLIENT_CERT needs TLS_CLIENT_CA_FILE")
        if (self.db_sslcert is None) != (self.db_sslkey is None):
            problems.append("DB_SSLCERT and DB_SSLKEY go together")
        problems += missing_files(
            {
                "TLS_CERT_FILE": self.tls_cert_file,
                "TLS_KEY_FILE": self.tls_key_file,
                "TLS_CLIENT_CA_FILE": self.tls_client_ca_file,
                "DB_SSLROOTCERT": self.db_sslrootcert,
                "DB_SSLCERT": self.db_sslcert,
                "DB_SSLKEY": self.db_sslkey,
            }
        )
        return problems

    def pci_problems(self) -> list[str]:
        """The listeners and the database connection left in plaintext (or unverified)."""
        problems = []
        if not self.tls_enabled:
            problems += [
                "TLS_CERT_FILE and TLS_KEY_FILE are not set: the gRPC port (GRPC_PORT) would "
                "listen in plaintext",
                "TLS_CERT_FILE and TLS_KEY_FILE are not set: the REST port (APP_PORT) would "
                "listen in plaintext",
            ]
        if self.db_sslmode != "verify-full":
            problems.append(
                f"DB_SSLMODE is {self.db_sslmode or 'not set'}: it must be verify-full "
                "(with DB_SSLROOTCERT naming the database server's CA)"
            )
        return problems


def missing_files(files: dict[str, Path | None]) -> list[str]:
    return [
        f"{name}: no such file: {path}"
        for name, path in files.items()
        if path is not None and not path.is_file()
    ]
