"""A real local HTTP SMS gateway for tests, shaped like 46elks' POST /a1/sms.

It answers as scripted per request (200, a 4xx, a 5xx, or no answer at all), keeps
every request it received (headers and form fields), and, like a gateway that honours
an idempotency key, stores a message once per ``Idempotency-Key``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    fields: dict[str, str]


@dataclass
class Gateway:
    """The scripted gateway; ``answers`` is consumed one per request, then ``default``."""

    answers: list[int | str] = field(default_factory=list)  # 200, 400, 503, "hang"
    default: int | str = 200
    hang_seconds: float = 3.0
    on_request: Callable[[Received], None] | None = None
    received: list[Received] = field(default_factory=list)
    stored: dict[str, Received] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def next_answer(self) -> int | str:
        with self.lock:
            return self.answers.pop(0) if self.answers else self.default

    def start(self) -> Gateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    fields = {k: str(v) for k, v in json.loads(raw).items()}
                else:
                    fields = {k: v[0] for k, v in parse_qs(raw).items()}
                got = Received(self.path, dict(self.headers.items()), fields)
                with gateway.lock:
                    gateway.received.append(got)
                if gateway.on_request is not None:
                    gateway.on_request(got)
                answer = gateway.next_answer()
                if answer == "hang":
                    time.sleep(gateway.hang_seconds)
                    return
                status = int(answer)
                body: bytes
                if status == 200:
                    key = got.headers.get("Idempotency-Key") or str(len(gateway.received))
                    with gateway.lock:
                        gateway.stored.setdefault(key, got)
                    body = json.dumps(
                        {"id": f"s{len(gateway.stored)}", "status": "created"}
                    ).encode()
                else:
                    body = b"Invalid 'to' number +46701234567" if status < 500 else b"busy"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
