"""Adapters: SQLAlchemy tables and repositories, the gRPC product client."""
