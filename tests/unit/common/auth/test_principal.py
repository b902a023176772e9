"""UNAUTHENTICATED / PERMISSION_DENIED reach the wire with their message and no details; the current
principal lives in a context variable like the correlation id."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import status_pb2

from common.auth.principal import AuthMethod, Principal
from common.errors import AppError, PermissionDenied, Unauthenticated
from common.grpc.status import to_grpc_status


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (Unauthenticated("token expired"), grpc.StatusCode.UNAUTHENTICATED),
        (PermissionDenied("needs scope 'catalog:write'"), grpc.StatusCode.PERMISSION_DENIED),
    ],
)
def test_auth_errors_map_to_their_status_without_details(error: AppError, code: grpc.StatusCode) -> None:
    status = to_grpc_status(error)

    assert status.code is code
    assert status.details == error.message
    ((key, value),) = status.trailing_metadata
    assert key == "grpc-status-details-bin"
    assert list(status_pb2.Status.FromString(value).details) == []


def test_a_certificate_principal_is_named_after_its_first_identity() -> None:
    who = Principal.from_peer(frozenset({"spiffe://eshop/order", "order.internal"}))

    assert (who.subject, who.method, who.scopes) == ("order.internal", AuthMethod.MTLS, frozenset())
