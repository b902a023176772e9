"""A stand-in identity provider: a JWKS document served over HTTP on 127.0.0.1, changeable while it runs,
answering as slowly as a test asks; and verifying a token against it from a test's thread."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import wait
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from common.auth.key_sources import FETCH_TIMEOUT_S
from common.auth.principal import Principal
from common.auth.tokens import TokenVerifier


class IdentityProvider:
    """Serves ``document`` at /jwks (status ``status``) after ``delay_s``, and counts the requests (as
    they arrive, so a test sees a slow fetch in flight)."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.status = 200
        self.delay_s = 0.0
        self.requests = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.requests += 1
                time.sleep(provider.delay_s)
                body = json.dumps(provider.document).encode()
                self.send_response(provider.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"


@contextmanager
def serving_jwks() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    thread = threading.Thread(target=provider.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        provider.server.shutdown()
        provider.server.server_close()
        thread.join()


def verify_waiting(verifier: TokenVerifier, authorization: str | None) -> Principal:
    """What the auth interceptor does, from a thread: wait for the key fetch the token needs, then verify."""
    fetch = verifier.pending_fetch(authorization)
    if fetch is not None:
        wait([fetch], timeout=FETCH_TIMEOUT_S)
    return verifier.verify(authorization)
