"""Who may call the Order service: any authenticated caller reaches every method; which
customer's orders it may touch is decided per request by ``order.application.customer_access``."""

from __future__ import annotations

from common.auth.policy import ANY_AUTHENTICATED, AccessPolicy

SERVICE = "/eshop.order.v1.OrderService"

ORDER_ACCESS_POLICY = AccessPolicy(
    {
        f"{SERVICE}/CreateOrder": ANY_AUTHENTICATED,
        f"{SERVICE}/CancelOrder": ANY_AUTHENTICATED,
        f"{SERVICE}/GetOrder": ANY_AUTHENTICATED,
        f"{SERVICE}/ListOrders": ANY_AUTHENTICATED,
    }
)
