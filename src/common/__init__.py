"""Shared kernel of the eshop services: mediator, errors, correlation ids, logging, db and gRPC helpers."""
