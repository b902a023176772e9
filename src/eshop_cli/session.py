"""What every client command needs: where the services are, the deadline, the correlation id to send."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import jwt

from common import correlation
from common.host_port import HostPort, split_host_port

DEFAULT_PRODUCT_ADDRESS = "127.0.0.1:50051"
DEFAULT_ORDER_ADDRESS = "127.0.0.1:50052"
DEFAULT_TIMEOUT_S = 10.0
TOKEN_VARIABLE = "ESHOP_TOKEN"

# A server bound to every interface is reached on loopback.
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def connectable(listen_address: str) -> str:
    """The target a client on this host dials to reach a server listening on ``listen_address``."""
    try:
        host, port = split_host_port(listen_address)
    except ValueError:
        return listen_address
    if not port.isdigit():  # gRPC says what is wrong with it
        return listen_address
    return str(HostPort(_WILDCARD_HOSTS.get(host, host), int(port)))


def product_address() -> str:
    return connectable(os.environ.get("PRODUCT_LISTEN_ADDRESS") or DEFAULT_PRODUCT_ADDRESS)


def order_address() -> str:
    return connectable(os.environ.get("ORDER_LISTEN_ADDRESS") or DEFAULT_ORDER_ADDRESS)


def token_from_environment() -> str | None:
    return os.environ.get(TOKEN_VARIABLE, "").strip() or None


class CallFailed(Exception):
    """A call failed; carries the target and the correlation id sent, for the error report."""

    def __init__(self, error: grpc.RpcError, target: str, sent_correlation_id: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.target = target
        self.sent_correlation_id = sent_correlation_id


@dataclass(frozen=True)
class Tls:
    """TLS to the services: verified with ``ca_file``; a client certificate for mutual TLS; the name to
    verify when it differs from the address's host."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None

    @property
    def enabled(self) -> bool:
        return self.ca_file is not None or self.cert_file is not None


def open_channel(target: str, tls: Tls | None = None) -> grpc.Channel:
    """A plaintext channel, or a TLS one when ``tls`` says so."""
    if tls is None or not tls.enabled:
        return grpc.insecure_channel(target)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=tls.ca_file.read_bytes() if tls.ca_file else None,
        private_key=tls.key_file.read_bytes() if tls.key_file else None,
        certificate_chain=tls.cert_file.read_bytes() if tls.cert_file else None,
    )
    options = [("grpc.ssl_target_name_override", tls.server_name)] if tls.server_name else []
    return grpc.secure_channel(target, credentials, options=options)


@dataclass(frozen=True)
class Session:
    product_address: str
    order_address: str
    timeout_s: float
    correlation_id: str
    json: bool
    # Never printed: error reports quote the status, the details and the correlation id only.
    token: str | None = field(default=None, repr=False)
    tls: Tls | None = None

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        sent = ((correlation.HEADER, self.correlation_id),)
        return sent if self.token is None else (*sent, ("authorization", f"Bearer {self.token}"))

    @property
    def token_subject(self) -> str | None:
        """The token's ``sub`` (a customer token's customer id), read without verifying it: only a
        default for ``--customer``; the server verifies the token."""
        if self.token is None:
            return None
        try:
            subject = jwt.decode(self.token, options={"verify_signature": False}).get("sub")
        except jwt.PyJWTError:
            return None
        return subject if isinstance(subject, str) and subject else None

    @contextmanager
    def channel(self, target: str) -> Iterator[grpc.Channel]:
        """A channel to ``target``; a failed call inside the block comes out as ``CallFailed``."""
        with open_channel(target, self.tls) as channel:
            try:
                yield channel
            except grpc.RpcError as error:
                raise CallFailed(error, target, self.correlation_id) from error
