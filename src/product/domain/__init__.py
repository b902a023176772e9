"""Plain-Python model of products and stock reservations; imports nothing outward."""
