"""Plain-Python model of orders and their lifecycle; imports nothing outward."""
