"""Who may call what: a declarative table of rules per full gRPC method name, deny by default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from common.auth.principal import Principal
from common.errors import PermissionDenied, Unauthenticated

# Anyone may probe health and discover the API; everything else needs a rule.
PUBLIC_SERVICES = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }
)
NOT_AUTHENTICATED = "missing credentials: send 'authorization: Bearer <token>' or a client certificate"


@dataclass(frozen=True)
class AnyAuthenticated:
    def allows(self, principal: Principal) -> bool:
        return True

    def describe(self) -> str:
        return "any authenticated caller"


@dataclass(frozen=True)
class RequireScope:
    """The scope, or (when listed) a client certificate with one of ``or_peers`` among its identities."""

    scope: str
    or_peers: frozenset[str] = frozenset()

    def allows(self, principal: Principal) -> bool:
        return principal.has_scope(self.scope) or not self.or_peers.isdisjoint(principal.peer_identities)

    def describe(self) -> str:
        extra = " (or an allowed client certificate)" if self.or_peers else ""
        return f"scope '{self.scope}'{extra}"


Rule = AnyAuthenticated | RequireScope
ANY_AUTHENTICATED = AnyAuthenticated()


def service_of(method: str) -> str:
    """``/pkg.Service/Method`` -> ``pkg.Service``."""
    return method.lstrip("/").partition("/")[0]


@dataclass(frozen=True)
class AccessPolicy:
    rules: Mapping[str, Rule]

    def is_public(self, method: str) -> bool:
        return service_of(method) in PUBLIC_SERVICES

    def decide(self, method: str, principal: Principal | None) -> None:
        """Return when the call may go ahead; raise Unauthenticated or PermissionDenied otherwise."""
        if self.is_public(method):
            return
        if principal is None:
            raise Unauthenticated(NOT_AUTHENTICATED)
        rule = self.rules.get(method)
        if rule is None:
            raise PermissionDenied(f"{method} is not open to any caller")
        if not rule.allows(principal):
            raise PermissionDenied(f"{method} needs {rule.describe()}")
