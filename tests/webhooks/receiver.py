"""A real HTTP receiver on 127.0.0.1 for the webhook tests: it records what it got and answers
with the statuses it is told to."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    url: str = ""
    statuses: list[int] = field(default_factory=list)  # answered in turn; then 200
    delay_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    overlaps: list[str] = field(default_factory=list)  # webhook-ids received twice at once
    peak_in_flight: int = 0  # the most requests it held at once
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        message_id = headers.get("webhook-id", "")
        with self.lock:
            if self.in_flight.get(message_id):
                self.overlaps.append(message_id)
            self.in_flight[message_id] = self.in_flight.get(message_id, 0) + 1
            self.peak_in_flight = max(self.peak_in_flight, sum(self.in_flight.values()))
            status = self.statuses.pop(0) if self.statuses else 200
            delay = self.delay_seconds
        time.sleep(delay)
        with self.lock:
            self.in_flight[message_id] -= 1
            self.received.append(Received(headers, body, status))
        return status

    def ids(self, status: int = 200) -> list[str]:
        with self.lock:
            return [r.headers["webhook-id"] for r in self.received if r.status == status]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"received {len(self.received)} of {count} webhooks in {timeout} s")


@contextmanager
def running_receiver(**options: Any) -> Iterator[Receiver]:
    receiver = Receiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status = receiver.answer(headers, body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
