"""``grpc_target`` is the target as gRPC canonicalizes it (gRFC A66): a target that names a resolver's
scheme stays as it is, anything else goes behind gRPC's default scheme, ``dns:///``."""

from __future__ import annotations

import pytest

from common.grpc.client_interceptors import canonical_target


@pytest.mark.parametrize(
    ("target", "canonical"),
    [
        ("127.0.0.1:21051", "dns:///127.0.0.1:21051"),
        ("product:50051", "dns:///product:50051"),
        ("localhost:50051", "dns:///localhost:50051"),  # "localhost:" is no resolver's scheme
        ("[::1]:50051", "dns:///[::1]:50051"),
        ("dns:///product:50051", "dns:///product:50051"),
        ("dns://8.8.8.8/product:50051", "dns://8.8.8.8/product:50051"),
        ("ipv4:10.0.0.1:50051,10.0.0.2:50051", "ipv4:10.0.0.1:50051,10.0.0.2:50051"),
        ("ipv6:[::1]:50051", "ipv6:[::1]:50051"),
        ("unix:/run/product.sock", "unix:/run/product.sock"),
        ("unix-abstract:product", "unix-abstract:product"),
        ("xds:///product", "xds:///product"),
    ],
)
def test_a_target_is_named_as_grpc_canonicalizes_it(target: str, canonical: str) -> None:
    assert canonical_target(target) == canonical
