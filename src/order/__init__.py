"""Order service: orders, and the stock they reserve in the Product service."""
