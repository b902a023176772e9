"""SQLAlchemy helpers shared by both services' infrastructure layers."""
