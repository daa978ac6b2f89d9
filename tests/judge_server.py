"""A local OpenAI-compatible chat-completions server for judge tests (127.0.0.1, own thread).

Verdict rules, from the answer line of the prompt: "MALFORMED" -> a reply that is not JSON;
"SLOW" -> sleeps past the client's timeout; "RATE" -> 429 (Retry-After: 0) the first time, then a
verdict; otherwise correct iff the answer contains "Paris". Every request is counted and its
Authorization header kept. The server shuts itself down after `lifetime_s`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JudgeServer:
    """Start with `with JudgeServer() as s:`; `s.base_url`, `s.requests`, `s.auth_headers`."""

    def __init__(self, lifetime_s: float = 60.0, slow_s: float = 3.0) -> None:
        self.requests = 0
        self.auth_headers: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.rate_limited: set[str] = set()
        self.slow_s = slow_s
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.timer = threading.Timer(lifetime_s, self.httpd.shutdown)

    def __enter__(self) -> JudgeServer:
        # a short poll interval: shutdown() returns within 20 ms instead of serve_forever's 0.5 s
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _reply(self, body: dict[str, Any]) -> tuple[int, str]:
        prompt = body["messages"][-1]["content"]
        answer = prompt.split("Answer to grade:", 1)[-1].split("\n", 1)[0]
        if "RATE" in answer:
            with self.lock:
                first = answer not in self.rate_limited
                self.rate_limited.add(answer)
            if first:
                return 429, json.dumps({"error": {"message": "slow down"}})
        if "SLOW" in answer:
            time.sleep(self.slow_s)
        if "MALFORMED" in answer:
            content = "I think the answer is right."
        else:
            verdict = "correct" if "Paris" in answer else "incorrect"
            content = json.dumps({"verdict": verdict, "reason": "compared with the reference"})
        return 200, json.dumps(
            {
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
            }
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with server.lock:
                    server.requests += 1
                    server.auth_headers.append(self.headers.get("Authorization", ""))
                    server.bodies.append(body)
                status, text = server._reply(body)
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if status == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler
