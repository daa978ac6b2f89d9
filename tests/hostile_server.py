"""A misbehaving OpenAI-compatible server on 127.0.0.1 (own thread) for judge hardening tests.

`mode` picks the reply to every request: "empty" (200, empty body), "not-json" (200, HTML),
"content-dict" (content is an object), "choices-str" (choices is a string), "no-choices",
"echo-auth" (a verdict whose reason echoes the Authorization header), "drip" (headers, then one
byte of the body per `drip_s` seconds, forever). Requests are counted; the server shuts itself
down after `lifetime_s`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _completion(content: Any, choices: Any = None) -> bytes:
    body = {"id": "x", "object": "chat.completion", "created": 0, "model": "m"}
    body["choices"] = (
        choices
        if choices is not None
        else [{"index": 0, "message": {"role": "assistant", "content": content},
               "finish_reason": "stop"}]
    )  # fmt: skip
    return json.dumps(body).encode()


class HostileServer:
    """`with HostileServer("empty") as s:`; `s.base_url`, `s.requests`."""

    def __init__(self, mode: str, lifetime_s: float = 30.0, drip_s: float = 0.5) -> None:
        self.mode, self.drip_s, self.requests = mode, drip_s, 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.timer = threading.Timer(lifetime_s, self.httpd.shutdown)
        self.stopping = threading.Event()

    def __enter__(self) -> HostileServer:
        # a short poll interval: shutdown() returns within 20 ms instead of serve_forever's 0.5 s
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()

    def body(self, auth: str) -> bytes:
        verdict = json.dumps({"verdict": "correct", "reason": f"saw {auth}"})
        return {
            "empty": b"",
            "not-json": b"<html>oops</html>",
            "content-dict": _completion({"verdict": "correct"}),
            "choices-str": _completion(None, choices="nope"),
            "no-choices": _completion(None, choices=[]),
            "echo-auth": _completion(verdict),
        }[self.mode]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with server.lock:
                    server.requests += 1
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    if server.mode == "drip":
                        self.send_header("Content-Length", "100000")
                        self.end_headers()
                        while not server.stopping.is_set():
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(server.drip_s)
                        return
                    data = server.body(self.headers.get("Authorization", ""))
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler
