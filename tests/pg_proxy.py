"""A TCP proxy between the app and PostgreSQL that can play each way a database goes away.

Modes (switch at any time with `set_mode`; each switch applies to open sessions and new ones):

* `forward`: a transparent proxy.
* `refuse`: the listening socket is closed and every open session cut: "connection refused".
* `freeze`: connections are accepted but nothing is forwarded, neither on new sessions nor on
  open ones (mid-statement): a hung server or a silent network. Healing forwards what was held.
* `starting`: open sessions are cut and each new one is answered, after its startup packet, with
  the ErrorResponse PostgreSQL sends while it recovers: FATAL 57P03 "the database system is
  starting up".
"""

import asyncio
import socket
import struct
import threading
from typing import Literal

Mode = Literal["forward", "refuse", "freeze", "starting"]

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


def error_response(sqlstate: str, message: str, severity: str = "FATAL") -> bytes:
    """A backend ErrorResponse ('E'): S and V severity, C SQLSTATE, M message, then a zero byte."""
    fields = b"".join(
        code + value.encode() + b"\0"
        for code, value in ((b"S", severity), (b"V", severity), (b"C", sqlstate), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


class PostgresProxy:
    """Runs on its own event loop thread, so the app under test keeps its loop to itself."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.mode: Mode = "forward"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.flowing = asyncio.Event()
        self.accepted = 0

    def _run(self, coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)  # type: ignore[arg-type]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()  # frozen: the bytes are held, not lost
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.writers.add(client_writer)
        try:
            if self.mode == "starting":
                await self._answer_starting_up(client_reader, client_writer)
                return
            await self.flowing.wait()  # frozen: accepted, then silence
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            client_writer.close()
            return
        self.writers.add(server_writer)
        await asyncio.gather(
            self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer)
        )

    async def _answer_starting_up(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            length = struct.unpack("!I", await reader.readexactly(4))[0]
            payload = await reader.readexactly(length - 4)
            code = struct.unpack("!I", payload[:4])[0]
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                writer.write(b"N")  # no encryption here; the client goes on with its startup packet
                await writer.drain()
                continue
            break
        writer.write(error_response("57P03", "the database system is starting up"))
        await writer.drain()
        writer.close()

    def _cut_open_sessions(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    async def _set_mode(self, mode: Mode) -> None:
        if mode == "freeze":
            self.flowing.clear()
        else:
            self.flowing.set()
        if mode in ("refuse", "starting"):
            self._cut_open_sessions()
        if mode == "refuse" and self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        if mode != "refuse" and self.server is None:
            self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.mode = mode

    def set_mode(self, mode: Mode) -> None:
        self._run(self._set_mode(mode))

    def close(self) -> None:
        self.set_mode("refuse")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
