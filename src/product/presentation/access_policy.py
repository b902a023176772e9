"""Who may call the Product service.

Staff change the catalogue; only the Order service moves stock.
"""

from __future__ import annotations

from common.auth.policy import ANY_AUTHENTICATED, AccessPolicy, RequireScope

SERVICE = "/eshop.product.v1.ProductService"
CATALOG_WRITE = "catalog:write"
STOCK_RESERVE = "stock:reserve"


def product_access_policy(stock_client_ids: frozenset[str]) -> AccessPolicy:
    """``stock_client_ids``: the Order service's certificate identities (PRODUCT_AUTH_STOCK_CLIENT_IDS)."""
    stock = RequireScope(STOCK_RESERVE, or_peers=stock_client_ids)
    return AccessPolicy(
        {
            f"{SERVICE}/GetProduct": ANY_AUTHENTICATED,
            f"{SERVICE}/ListProducts": ANY_AUTHENTICATED,
            f"{SERVICE}/BatchGetProducts": ANY_AUTHENTICATED,
            f"{SERVICE}/CreateProduct": RequireScope(CATALOG_WRITE),
            f"{SERVICE}/RestockProduct": RequireScope(CATALOG_WRITE),
            f"{SERVICE}/UpdateProduct": RequireScope(CATALOG_WRITE),
            f"{SERVICE}/DeleteProduct": RequireScope(CATALOG_WRITE),
            f"{SERVICE}/UndeleteProduct": RequireScope(CATALOG_WRITE),
            f"{SERVICE}/ReserveStock": stock,
            f"{SERVICE}/ReleaseStock": stock,
            f"{SERVICE}/GetReservation": stock,
        }
    )
