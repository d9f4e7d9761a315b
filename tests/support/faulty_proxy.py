"""A TCP proxy between a test's client and a real server that injects network faults on
command: refuse connections, hold the server's answers, or cut a connection when the
server's answer arrives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from enum import StrEnum
from typing import Any


class Mode(StrEnum):
    PASS = "pass"  # forward both ways
    RESET = "reset"  # close new connections at once (the client sees UNAVAILABLE)


# Server-to-client chunks at least this long are an answer, not a ping or window update.
ANSWER_BYTES = 64


class FaultyProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode = Mode.PASS
        self.port = 0
        self.accepted = 0
        self.cuts = 0
        self._cut_next_answer = False
        self._holding = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut_next_answer(self) -> None:
        """The next answer of the server is not delivered: the proxy closes the connection
        instead (the server has done the work; the client sees UNAVAILABLE)."""
        self._cut_next_answer = True

    def hold_answers(self) -> None:
        """From now on the server's bytes are held, not delivered: the server acts, the
        client hears nothing (its deadline passes). `set_mode` ends it."""
        self._holding = True

    def set_mode(self, mode: Mode) -> None:
        """The mode of connections from now on; open connections are dropped (with any
        held answers), so that the client connects again (through the new mode)."""
        self.mode = mode
        self._holding = False
        self.drop_all()

    def drop_all(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_all()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode is Mode.RESET:
            writer.close()
            return
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        self._writers.add(up_writer)
        pair = (writer, up_writer)
        self._spawn(self._pipe(reader, up_writer, pair, answers=False))
        self._spawn(self._pipe(up_reader, writer, pair, answers=True))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
        *,
        answers: bool,
    ) -> None:
        try:
            while chunk := await source.read(65536):
                if answers and self._cut_next_answer and len(chunk) >= ANSWER_BYTES:
                    self._cut_next_answer = False
                    self.cuts += 1
                    break
                if answers and self._holding:
                    continue  # dropped with the connection
                sink.write(chunk)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            for writer in pair:
                writer.close()
                self._writers.discard(writer)
