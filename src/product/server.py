"""The Product service, declared: what ``common.service`` starts and stops."""

from __future__ import annotations

from common import service
from common.configuration import variable
from common.events import container as events
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from product.container import ProductContainer
from product.presentation.access_policy import product_access_policy
from product.presentation.servicer import SERVICE_NAME
from product.settings import ProductSettings


def stock_client_warnings(settings: ProductSettings) -> list[str]:
    """Certificate identities that may move stock, where no client certificate is ever verified."""
    if not settings.auth_stock_client_ids or settings.tls_client_ca_file is not None:
        return []
    ids, ca = (variable(settings, f) for f in ("auth_stock_client_ids", "tls_client_ca_file"))
    return [
        f"{ids} is set but {ca} is not: no client certificate is verified, so these identities never "
        f"match and only the stock:reserve scope moves stock (set {ca} to the CA of the Order "
        "service's certificate)"
    ]


PRODUCT = service.Service(
    name="product",
    settings=ProductSettings,
    container=ProductContainer,
    add_servicer=pb_grpc.add_ProductServiceServicer_to_server,
    service_names=[SERVICE_NAME],
    access_policy=lambda settings: product_access_policy(settings.auth_stock_client_ids),
    workers=lambda container: [*events.workers(container.events()), container.product_gauges()],
    # The events' counters too, broker or not.
    outcomes=lambda container: [
        container.outcomes(),
        container.catalogue_outcomes(),
        container.events.metrics(),
    ],
    closing=lambda container: events.closing(container.events()),
    warnings=stock_client_warnings,
)


def serve() -> None:
    service.serve(PRODUCT)
